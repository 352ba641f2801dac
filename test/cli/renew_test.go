package cli

import (
	"testing"
	"time"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// renew, approve and deny need only Kubernetes: with Temporal unreachable, renew marks
// the Certificate, the watcher relays it, and the Certificate is re-issued.
func TestRenewWithTemporalUnreachable(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-renew"
	apply(t, ns, testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "web", DNSNames: []string{"web.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned", Labels: map[string]string{"team": "web"}}.String())
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "web", 90*time.Second)

	unreachable := []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}
	r := kubectlCertManager(t, unreachable, "renew", "web", "-n", ns)
	if r.err != nil {
		t.Fatalf("renew with Temporal unreachable:\n%s", r)
	}
	wantAll(t, "renew", r.stdout, "Manually triggered issuance of Certificate "+ns+"/web")
	testkit.WaitRevision(t, sys.CertFlow, ns, "web", 2, 90*time.Second)

	r = kubectlCertManager(t, unreachable, "renew", "-A", "-l", "team=web")
	if r.err != nil {
		t.Fatalf("renew -A -l with Temporal unreachable:\n%s", r)
	}
	wantAll(t, "renew -A -l", r.stdout, ns+"/web")
	testkit.WaitRevision(t, sys.CertFlow, ns, "web", 3, 90*time.Second)

	r = kubectlCertManager(t, nil, "renew", "-n", ns, "--all", "-l", "team=web")
	if r.err == nil {
		t.Errorf("renew --all -l was accepted:\n%s", r)
	}
	wantAll(t, "renew --all -l", r.stderr, "cannot specify the --all flag in conjunction with a label selector")
	r = kubectlCertManager(t, nil, "renew", "-n", ns, "-l", "team=nobody")
	wantAll(t, "renew of nothing", r.stderr, "No Certificates found in "+ns+" namespace.")
}
