package cli

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
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

// Two manual renewals within one second (cmctl renew run twice, or by two people) carry
// the same token, the condition's lastTransitionTime, which is to the second. The second
// one, written after the first one's issuance removed the condition, is a new request:
// the Certificate is issued twice.
func TestRenewTwiceWithinOneSecond(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-renew-same-second"
	apply(t, ns, testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "web", DNSNames: []string{"web.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String())
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "web", 90*time.Second)

	at := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	markManualRenewal(t, ns, "web", at)
	testkit.WaitRevision(t, sys.CertFlow, ns, "web", 2, 90*time.Second)
	markManualRenewal(t, ns, "web", at)
	testkit.WaitRevision(t, sys.CertFlow, ns, "web", 3, 90*time.Second)
}

// markManualRenewal writes what cmctl renew writes, Issuing=True ManuallyTriggered, with
// the lastTransitionTime at.
func markManualRenewal(t *testing.T, ns, name string, at metav1.Time) {
	t.Helper()
	certs := sys.CertFlow.CertmanagerV1().Certificates(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := certs.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds := cur.Status.Conditions[:0:0]
		for _, c := range cur.Status.Conditions {
			if c.Type != cmapi.CertificateConditionIssuing {
				conds = append(conds, c)
			}
		}
		cur.Status.Conditions = append(conds, cmapi.CertificateCondition{
			Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue, Reason: cmapi.ReasonManuallyTriggered,
			Message: "Certificate re-issuance manually triggered", ObservedGeneration: cur.Generation, LastTransitionTime: &at,
		})
		_, err = certs.UpdateStatus(context.Background(), cur, metav1.UpdateOptions{FieldManager: "cmctl"})
		return err
	})
	if err != nil {
		t.Fatalf("mark Certificate %s/%s for renewal: %v", ns, name, err)
	}
}
