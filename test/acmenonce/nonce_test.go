// Package acmenonce issues certificates from a Pebble that rejects 30% of good nonces
// as badNonce (PEBBLE_WFE_NONCEREJECT=30), as RFC 8555 allows any server to: account
// registration and every certificate, over DNS-01 and HTTP-01, must still succeed at
// the first attempt, leaving nothing behind.
package acmenonce

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	legolog "github.com/go-acme/lego/v4/log"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

const (
	ns          = "nonce"
	nonceReject = 30
)

var env *testkit.System

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	legolog.Logger = log.New(legoLog, "lego: ", 0)
	sys, err := testkit.Start(context.Background(), testkit.Options{ACME: true, PebbleNonceReject: nonceReject, Namespaces: []string{ns}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "acmenonce setup:", err)
		os.Exit(1)
	}
	env = sys
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

func TestIssuanceWithBadNonces(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	if got := pebbleEnv(t, "PEBBLE_WFE_NONCEREJECT"); got != fmt.Sprint(nonceReject) {
		t.Fatalf("pebble runs with PEBBLE_WFE_NONCEREJECT=%q, want %d", got, nonceReject)
	}
	acmetest.Kubectl(t, env, acmetest.CloudflareTokenSecret("cloudflare-token"), "apply", "-n", ns, "-f", "-")
	acmetest.Kubectl(t, env, acmetest.Issuer(env, "Issuer", "dns", acmetest.CloudflareSolver("cloudflare-token")), "apply", "-n", ns, "-f", "-")
	acmetest.Kubectl(t, env, acmetest.Issuer(env, "Issuer", "http", acmetest.IngressSolver), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "dns")
	acmetest.WaitIssuerReady(t, env, ns, "http")

	certs := []struct {
		name, issuer string
		dnsNames     []string
	}{
		{"dns-a", "dns", []string{"nonce-a.example.com"}},
		{"dns-wildcard", "dns", []string{"nonce.example.com", "*.nonce.example.com"}},
		{"dns-c", "dns", []string{"nonce-c.example.org"}},
		{"http-a", "http", []string{"nonce-http-a.example.org"}},
		{"http-b", "http", []string{"nonce-http-b.example.com", "www.nonce-http-b.example.com"}},
	}
	var manifest strings.Builder
	for _, c := range certs {
		manifest.WriteString("---\n")
		manifest.Write(acmetest.Certificate(c.name, "Issuer", c.issuer, c.dnsNames...))
	}
	start := time.Now()
	acmetest.Kubectl(t, env, []byte(manifest.String()), "apply", "-n", ns, "-f", "-")

	issued := make([]*cmapi.Certificate, len(certs))
	testkit.Eventually(t, 2*time.Minute, "every Certificate Ready", func() (bool, string) {
		var waiting []string
		for i, c := range certs {
			cert, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), c.name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			issued[i] = cert
			if r := testkit.CertificateCondition(cert, cmapi.CertificateConditionReady); r == nil || r.Status != cmmeta.ConditionTrue {
				waiting = append(waiting, fmt.Sprintf("%s %+v", c.name, cert.Status.Conditions))
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ") + "; " + acmetest.DescribeACME(env, ns)
	})
	t.Logf("%d certificates Ready %.1fs after apply", len(certs), time.Since(start).Seconds())

	for i, c := range certs {
		cert := issued[i]
		acmetest.VerifyChain(t, env, ns, cert.Spec.SecretName, c.dnsNames...)
		if cert.Status.Revision == nil || *cert.Status.Revision != 1 || cert.Status.FailedIssuanceAttempts != nil {
			t.Errorf("Certificate %s: revision %v, failedIssuanceAttempts %v; want issued at the first attempt",
				c.name, deref(cert.Status.Revision), deref(cert.Status.FailedIssuanceAttempts))
		}
	}
	acmetest.AssertOrdersValid(t, env, ns, len(certs))
	acmetest.AssertNothingLeft(t, env, ns)
	acmetest.AssertNoCloudflareTXT(t, env, "example.com")
	acmetest.AssertNoCloudflareTXT(t, env, "example.org")
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.nonce-a.example.com", "_acme-challenge.nonce.example.com", "_acme-challenge.nonce-c.example.org")

	// The rejections happened: Pebble was configured for them, and the ACME client
	// (lego, in this process's worker) retried requests Pebble answered badNonce.
	if n := countInLog(t, env.Stack.LogPath("pebble"), fmt.Sprintf("Configured to reject %d%% of good nonces", nonceReject)); n != 1 {
		t.Errorf("pebble's log does not say it rejects %d%% of good nonces", nonceReject)
	}
	if n := legoLog.count("urn:ietf:params:acme:error:badNonce"); n == 0 {
		t.Errorf("the ACME client retried no badNonce answer: the certificates were not issued under nonce rejection")
	} else {
		t.Logf("the ACME client retried %d requests Pebble answered badNonce", n)
	}
}

// legoLog receives the ACME client's log ("retry due to: ... badNonce ..."), counted
// instead of printed.
var legoLog = &lineCounter{}

type lineCounter struct {
	mu    sync.Mutex
	lines []string
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, strings.Split(strings.TrimRight(string(p), "\n"), "\n")...)
	return len(p), nil
}

func (c *lineCounter) count(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// pebbleEnv reads a variable of the running pebble's environment.
func pebbleEnv(t *testing.T, name string) string {
	t.Helper()
	pid, ok := env.Stack.PIDs()["pebble"]
	if !ok {
		t.Fatal("no pebble process in the stack")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

func countInLog(t *testing.T, path, s string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
