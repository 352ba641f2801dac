package acme

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/localstack/fakedns"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// route53Issuer creates Secret aws-creds (key secret-access-key) holding secret and an
// ACME Issuer solving DNS-01 through the stack's fake Route 53 with the stack's access
// key ID and the extra route53 fields in extra (indented for the solver).
func route53Issuer(t *testing.T, ns, name, secret, extra string) {
	t.Helper()
	mustKubectl(t, []byte(`apiVersion: v1
kind: Secret
metadata: {name: aws-creds}
stringData: {secret-access-key: `+secret+`}
`), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, acmetest.Issuer(env, "Issuer", name, `    - dns01:
        route53:
          region: eu-west-1
          accessKeyID: `+localstack.Route53AccessKeyID+`
          secretAccessKeySecretRef: {name: aws-creds, key: secret-access-key}
`+extra), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, name)
}

// route53TXTLeft lists the TXT records left in the fake Route 53's zone.
func route53TXTLeft() (bool, string) {
	var left []string
	for _, r := range env.Stack.Route53().Records(localstack.Route53Zones[0]) {
		if r.Type == "TXT" {
			left = append(left, r.Name+"="+r.Data)
		}
	}
	return len(left) == 0, strings.Join(left, ", ")
}

// A wildcard and its apex through the route53 solver with static keys: both values go
// into one TXT record set through the fake's API (Route 53's wire format, SigV4
// checked), Pebble validates them through challtestsrv, and the set is gone afterwards;
// the secret access key is in no ChallengeWorkflow history.
func TestDNS01Route53Wildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-route53"
	createNamespace(t, ns)
	route53Issuer(t, ns, "route53", localstack.Route53SecretAccessKey, "")
	mustKubectl(t, acmetest.Certificate("wildcard", "Issuer", "route53", "example.biz", "*.example.biz"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "wildcard", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "example.biz", "*.example.biz")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
	testkit.Eventually(t, 30*time.Second, "no TXT record left at Route 53", route53TXTLeft)
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.example.biz.")
	assertNotInChallengeHistories(t, ns, "AWS secret access key", localstack.Route53SecretAccessKey)
}

// The role is assumed through the fake STS with the static keys, and hostedZoneID
// names the zone: a Certificate is issued with the role's temporary credentials.
func TestDNS01Route53RoleAndHostedZoneID(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-route53-role"
	createNamespace(t, ns)
	route53Issuer(t, ns, "route53-role", localstack.Route53SecretAccessKey,
		"          role: "+localstack.Route53Role+"\n          hostedZoneID: "+fakedns.Route53ZoneID(localstack.Route53Zones[0])+"\n")
	mustKubectl(t, acmetest.Certificate("role", "Issuer", "route53-role", "role.example.biz"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "role", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "role.example.biz")
	assertNothingLeft(t, ns)
	testkit.Eventually(t, 30*time.Second, "no TXT record left at Route 53", route53TXTLeft)
	assertNotInChallengeHistories(t, ns, "AWS secret access key", localstack.Route53SecretAccessKey)
}

// assertNotInChallengeHistories: the ChallengeWorkflows of ns (at least one) do not
// hold value in their histories, plain or base64.
func assertNotInChallengeHistories(t *testing.T, ns, label, value string) {
	t.Helper()
	resp, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = 'ChallengeWorkflow'"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range resp.Executions {
		if id := e.Execution.WorkflowId; strings.Contains(id, "/"+ns+"/") {
			n++
			testkit.AssertNoSecretInHistory(t, env.Temporal, id, map[string][]byte{label: []byte(value)})
		}
	}
	if n == 0 {
		t.Errorf("no ChallengeWorkflow of %s found", ns)
	}
}

// A wrong secret access key: the Challenge says what Route 53 answered (403
// SignatureDoesNotMatch in AWS's words, without the key), nothing is written, and the
// issuance fails.
func TestDNS01Route53WrongSecretKey(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const wrong = "not-the-route53-secret-access-key"
	ns := "dns01-route53-denied"
	createNamespace(t, ns)
	route53Issuer(t, ns, "route53", wrong, "")
	// The Challenge is deleted with its failed Order at once: watch every reason it had.
	w, err := env.CertFlow.AcmeV1().Challenges(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	reasons := map[string]bool{}
	go func() {
		for ev := range w.ResultChan() {
			if ch, ok := ev.Object.(*acmev1.Challenge); ok {
				mu.Lock()
				reasons[ch.Status.Reason] = true
				mu.Unlock()
			}
		}
	}()
	mustKubectl(t, acmetest.Certificate("denied", "Issuer", "route53", "denied.example.biz"), "apply", "-n", ns, "-f", "-")
	const words = "HTTP 403: SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided."
	cert := acmetest.WaitCertificate(t, env, ns, "denied", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "a Challenge reason with Route 53's words", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, "via route53") && strings.Contains(r, words) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("reasons seen: %q", keys(reasons))
	})
	mu.Lock()
	for r := range reasons {
		if strings.Contains(r, wrong) {
			t.Errorf("a Challenge reason shows the secret key: %q", r)
		}
	}
	mu.Unlock()
	issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing)
	if !strings.Contains(issuing.Message, words) || strings.Contains(issuing.Message, wrong) {
		t.Errorf("Certificate Issuing message %q: want Route 53's %q and no secret key", issuing.Message, words)
	}
	if ok, left := route53TXTLeft(); !ok {
		t.Errorf("records written with a wrong secret key: %s", left)
	}
	assertNothingLeft(t, ns)
	assertNotInChallengeHistories(t, ns, "AWS secret access key", wrong)
}
