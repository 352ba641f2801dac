package chaos

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// workerKillEvery is how often the worker is SIGKILLed while Certificates are issued.
const workerKillEvery = 10 * time.Second

// fault is one failure of the run besides the worker kills. It strikes once the share
// `at` of the Certificates is Ready (or, should issuance outrun it, at the end).
type fault struct {
	at   float64
	name string
	do   func(context.Context) error
	// What happened, once it struck.
	struck bool
	ready  int           // Certificates Ready when it struck
	took   time.Duration // until the server was back
	// successor is the number of the watcher process started in place of a killed one.
	successor int
}

// TestChaos issues the Certificates under the faults and then checks, and prints, that
// each was issued exactly once and that nothing is left behind or stuck.
func TestChaos(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	nCA := size(t, "CERTFLOW_CHAOS_CA", 100)
	nACME := size(t, "CERTFLOW_CHAOS_ACME", 10)
	sys := env.System
	sup := newSupervisor(t, "")
	sup.startWatcher()
	sup.startWorker()
	setupIssuers(t)

	began := time.Now()
	acmeNames := createCertificates(t, nCA, nACME)
	total := nCA + nACME + 1 // and the CA's own Certificate, Ready before the chaos
	t.Logf("%d Certificates created in %.1fs", nCA+nACME, time.Since(began).Seconds())

	killWatcher := func(at float64) *fault {
		f := &fault{at: at, name: "watcher SIGKILLed"}
		f.do = func(context.Context) error { sup.killWatcher(); f.successor = sup.watches; return nil }
		return f
	}
	faults := []*fault{
		killWatcher(0.10),
		{at: 0.30, name: "Temporal dev server restarted (database kept)", do: func(ctx context.Context) error { return sys.Stack.Restart(ctx, "temporal") }},
		{at: 0.50, name: "kube-apiserver restarted (etcd kept)", do: func(ctx context.Context) error { return sys.Stack.Restart(ctx, "kube-apiserver") }},
		killWatcher(0.70),
	}
	// Enough for the full run on a loaded 2-core machine, with room for backoffs.
	timeout := 10*time.Minute + time.Duration(total)*time.Second
	kills := issueUnderFaults(t, sup, faults, total, timeout)
	allReady := time.Since(began)

	settleStart := time.Now()
	running := waitWorkflowsAsleep(t, 3*time.Minute)
	settled := time.Since(settleStart)

	checks := checkOutcome(t, nCA, nACME, acmeNames, running)

	var b strings.Builder
	fmt.Fprintf(&b, "\ncertflow chaos: %d CA + %d ACME DNS-01 Certificates (and the CA's own), all Ready %s after they were created; workflows asleep %s later\n",
		nCA, nACME, allReady.Round(time.Second), settled.Round(time.Second))
	fmt.Fprintf(&b, "machine: %s\n", loadAverage())
	fmt.Fprintf(&b, "faults:\n  worker SIGKILLed %d times, every %s (%d workers started, %d exited before polling)\n",
		kills, workerKillEvery, sup.workers, sup.workerStartFailures)
	for _, f := range faults {
		back := "back in " + f.took.Round(100*time.Millisecond).String()
		if f.successor > 0 {
			back = "its successor leading " + sup.leadDelay(f.successor) + " later (once the Lease expired)"
		}
		fmt.Fprintf(&b, "  %-46s at %4d/%d Ready, %s\n", f.name, f.ready, total, back)
	}
	b.WriteString("checks:\n")
	for _, c := range checks {
		mark := "ok"
		if !c.ok {
			mark = "FAILED"
		}
		fmt.Fprintf(&b, "  %-44s %-8s %s\n", c.name, c.value, mark)
		if !c.ok && c.detail != "" {
			fmt.Fprintf(&b, "      %s\n", c.detail)
		}
	}
	fmt.Print(b.String())
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: %s %s", c.name, c.value, c.detail)
		}
	}
}

// setupIssuers creates, before any fault: a SelfSigned Issuer, a CA Certificate from
// it and a CA Issuer reading its Secret, and an ACME Issuer solving DNS-01 through the
// fake Cloudflare API; it waits until both issuers are Ready.
func setupIssuers(t *testing.T) {
	t.Helper()
	sys := env.System
	acmetest.Kubectl(t, sys, testkit.Manifest(
		testkit.SelfSignedIssuer("root"),
		testkit.Cert{Name: "chaos-ca", IsCA: true, CommonName: "certflow chaos CA", PrivateKey: "{algorithm: ECDSA}", Issuer: "root"}.String(),
	), "apply", "-n", ns, "-f", "-")
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "chaos-ca", 2*time.Minute)
	acmetest.Kubectl(t, sys, testkit.Manifest(testkit.CAIssuer("ca", "chaos-ca-tls"), string(acmetest.CloudflareTokenSecret("cloudflare-token"))),
		"apply", "-n", ns, "-f", "-")
	acmetest.Kubectl(t, sys, acmetest.Issuer(sys, "Issuer", "acme", acmetest.CloudflareSolver("cloudflare-token")), "apply", "-n", ns, "-f", "-")
	testkit.WaitIssuerReady(t, sys.CertFlow, ns, "ca", 2*time.Minute)
	acmetest.WaitIssuerReady(t, sys, ns, "acme")
}

// createCertificates creates the ACME Certificates (one name each in the fake
// Cloudflare's example.com) and the CA ones, and returns the ACME DNS names.
func createCertificates(t *testing.T, nCA, nACME int) []string {
	t.Helper()
	var certs []*cmapi.Certificate
	var acmeNames []string
	for i := range nACME {
		name := fmt.Sprintf("acme-%03d", i)
		dnsName := name + ".example.com"
		acmeNames = append(acmeNames, dnsName)
		certs = append(certs, leaf(name, dnsName, "acme"))
	}
	for i := range nCA {
		name := fmt.Sprintf("ca-%04d", i)
		certs = append(certs, leaf(name, name+".chaos.example", "ca"))
	}
	work := make(chan *cmapi.Certificate)
	errs := make(chan error, len(certs))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for c := range work {
				if _, err := env.CertFlow.CertmanagerV1().Certificates(ns).Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("create Certificate %s: %w", c.Name, err)
				}
			}
		})
	}
	for _, c := range certs {
		work <- c
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return acmeNames
}

func leaf(name, dnsName, issuer string) *cmapi.Certificate {
	return &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cmapi.CertificateSpec{
			DNSNames:   []string{dnsName},
			SecretName: name + "-tls",
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
			IssuerRef:  cmmeta.IssuerReference{Name: issuer, Kind: "Issuer", Group: "cert-manager.io"},
		},
	}
}

// issueUnderFaults SIGKILLs the worker every workerKillEvery and strikes each fault
// at its share of Ready Certificates, until every Certificate is Ready and every fault
// has struck. It returns how many workers it killed.
func issueUnderFaults(t *testing.T, sup *supervisor, faults []*fault, total int, timeout time.Duration) (kills int) {
	t.Helper()
	start := time.Now()
	nextKill := start.Add(workerKillEvery)
	lastLog := start
	ready := 0
	for {
		n, notReady, err := countReady()
		if err == nil { // the API server may be restarting
			ready = n
		}
		pending := 0
		for _, f := range faults {
			if f.struck {
				continue
			}
			pending++
			if pending == 1 && (float64(ready) >= f.at*float64(total) || ready == total) {
				t.Logf("%s at %d/%d Ready", f.name, ready, total)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				begin := time.Now()
				if err := f.do(ctx); err != nil {
					cancel()
					t.Fatalf("%s: %v", f.name, err)
				}
				cancel()
				f.struck, f.ready, f.took = true, ready, time.Since(begin)
			}
		}
		if ready == total && pending == 0 {
			return kills
		}
		if time.Now().After(nextKill) {
			sup.killWorker()
			kills++
			nextKill = time.Now().Add(workerKillEvery)
		}
		if time.Since(lastLog) >= 30*time.Second {
			t.Logf("%s: %d/%d Ready, %d workers killed", time.Since(start).Round(time.Second), ready, total, kills)
			lastLog = time.Now()
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %s only %d/%d Certificates are Ready; some that are not:\n%s", timeout, ready, total, notReady)
		}
		time.Sleep(time.Second)
	}
}

// countReady counts the Ready Certificates of the namespace and describes a few of
// the others.
func countReady() (int, string, error) {
	l, err := env.CertFlow.CertmanagerV1().Certificates(ns).List(context.Background(), metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return 0, "", err
	}
	n := 0
	var others []string
	for i := range l.Items {
		c := &l.Items[i]
		if testkit.CertificateReady(c) {
			n++
		} else if len(others) < 5 {
			others = append(others, fmt.Sprintf("  %s: %s", c.Name, conditions(c)))
		}
	}
	return n, strings.Join(others, "\n"), nil
}

func conditions(c *cmapi.Certificate) string {
	var s []string
	for _, cond := range c.Status.Conditions {
		s = append(s, fmt.Sprintf("%s=%s %s: %s", cond.Type, cond.Status, cond.Reason, cond.Message))
	}
	if len(s) == 0 {
		return "no conditions"
	}
	return strings.Join(s, "; ")
}

// loadAverage is the machine's load for the report (the figures depend on it).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load unknown"
	}
	return fmt.Sprintf("load average %s %s %s at the end", f[0], f[1], f[2])
}
