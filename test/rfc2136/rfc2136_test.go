// Package rfc2136 issues a wildcard certificate through the RFC2136 DNS-01 solver
// against a real BIND (internal/localstack/bind): the worker writes the TXT records with
// TSIG-signed dynamic updates, its propagation check and Pebble both ask BIND, and the
// records are deleted from BIND afterwards.
package rfc2136

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/localstack/bind"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

const (
	zone = "rfc2136.test"
	ns   = "rfc2136"
)

func TestRFC2136WildcardAgainstBIND(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	named := integration.StartBIND(t, bind.Options{
		Zones:         []string{zone},
		Records:       []string{zone + ". 300 IN A 127.0.0.1", "www." + zone + ". 300 IN A 127.0.0.1"},
		TSIGAlgorithm: "HMACSHA256",
	})
	// Pebble resolves through BIND, and so does the worker's propagation check.
	sys, err := testkit.Start(context.Background(), testkit.Options{
		ACME: true, PebbleDNSServer: named.Addr(), DNS01RecursiveNameservers: []string{named.Addr()}, Namespaces: []string{ns},
	})
	if err != nil {
		t.Fatalf("start the system: %v", err)
	}
	t.Cleanup(func() { sys.Stop(t.Failed()) })
	if log, err := os.ReadFile(sys.Stack.LogPath("pebble")); err != nil || !strings.Contains(string(log), "Using custom DNS resolver for ACME challenges: "+named.Addr()) {
		t.Fatalf("pebble does not resolve through BIND at %s (log read error %v)", named.Addr(), err)
	}

	acmetest.Kubectl(t, sys, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: tsig}
stringData: {secret: %s}
`, named.TSIGSecret()), "apply", "-n", ns, "-f", "-")
	acmetest.Kubectl(t, sys, acmetest.Issuer(sys, "Issuer", "bind", fmt.Sprintf(`    - dns01:
        rfc2136:
          nameserver: %s
          tsigKeyName: %s
          tsigAlgorithm: HMACSHA256
          tsigSecretSecretRef: {name: tsig, key: secret}
`, named.Addr(), named.TSIGKeyName())), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, sys, ns, "bind")

	start := time.Now()
	acmetest.Kubectl(t, sys, acmetest.Certificate("wildcard", "Issuer", "bind", "*."+zone, zone), "apply", "-n", ns, "-f", "-")
	// The two challenges (the wildcard's and the apex's) share one name: BIND holds
	// both values at once while they are validated.
	fqdn := "_acme-challenge." + zone
	watch := watchTXT(named.Addr(), fqdn)
	cert := acmetest.WaitCertificateReady(t, sys, ns, "wildcard", 90*time.Second)
	maxSeen, lastErr := watch()
	t.Logf("Certificate Ready %.1fs after apply", time.Since(start).Seconds())
	acmetest.VerifyChain(t, sys, ns, cert.Spec.SecretName, "*."+zone, zone)
	acmetest.AssertOrdersValid(t, sys, ns, 1)
	acmetest.AssertNothingLeft(t, sys, ns)
	if maxSeen != 2 {
		t.Errorf("BIND served at most %d TXT values at %s during issuance, want 2 (one per challenge); last query error: %v", maxSeen, fqdn, lastErr)
	}
	acmetest.AssertNoTXT(t, named.Addr(), fqdn)
}

// watchTXT asks server for the TXT records at fqdn every 10 ms until the returned stop
// is called, which returns the most values seen at once and the last query error.
func watchTXT(server, fqdn string) (stop func() (int, error)) {
	done := make(chan struct{})
	var most int
	var lastErr error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			vals, err := acmetest.TXT(server, fqdn)
			if err != nil {
				lastErr = err
			}
			most = max(most, len(vals))
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() (int, error) {
		close(done)
		<-finished
		return most, lastErr
	}
}
