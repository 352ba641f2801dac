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
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// digitalOceanIssuer creates Secret do-token (key access-token) holding token and an
// ACME Issuer "digitalocean" solving DNS-01 through the stack's fake DigitalOcean API.
func digitalOceanIssuer(t *testing.T, ns, token string) {
	t.Helper()
	mustKubectl(t, []byte(`apiVersion: v1
kind: Secret
metadata: {name: do-token}
stringData: {access-token: `+token+`}
`), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, acmetest.Issuer(env, "Issuer", "digitalocean", `    - dns01:
        digitalocean:
          tokenSecretRef: {name: do-token, key: access-token}
`), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "digitalocean")
}

// A wildcard and its apex through the DigitalOcean solver: the records go through the
// fake's API (DigitalOcean's wire format), Pebble validates them through challtestsrv,
// and they are removed afterwards.
func TestDNS01DigitalOceanWildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-digitalocean"
	createNamespace(t, ns)
	digitalOceanIssuer(t, ns, localstack.DigitalOceanToken)
	mustKubectl(t, acmetest.Certificate("wildcard", "Issuer", "digitalocean", "example.net", "*.example.net"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "wildcard", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "example.net", "*.example.net")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
	testkit.Eventually(t, 30*time.Second, "no TXT record left at DigitalOcean", func() (bool, string) {
		var left []string
		for _, r := range env.Stack.DigitalOcean().Records("example.net") {
			if r.Type == "TXT" {
				left = append(left, r.Name+"="+r.Data)
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.example.net.")
	assertTokenNotInChallengeHistories(t, ns, localstack.DigitalOceanToken)
}

// assertTokenNotInChallengeHistories: the ChallengeWorkflows of ns (at least one) do
// not hold token in their histories, plain or base64.
func assertTokenNotInChallengeHistories(t *testing.T, ns, token string) {
	t.Helper()
	resp, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = 'ChallengeWorkflow'"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range resp.Executions {
		if id := e.Execution.WorkflowId; strings.Contains(id, "/"+ns+"/") {
			n++
			testkit.AssertNoSecretInHistory(t, env.Temporal, id, map[string][]byte{"DigitalOcean token": []byte(token)})
		}
	}
	if n == 0 {
		t.Errorf("no ChallengeWorkflow of %s found", ns)
	}
}

// A wrong token: the Challenge says what DigitalOcean's API answered (HTTP 401 in its
// words, without the token), nothing is written, and the issuance fails.
func TestDNS01DigitalOceanWrongToken(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const wrong = "not-the-digitalocean-token"
	ns := "dns01-digitalocean-denied"
	createNamespace(t, ns)
	digitalOceanIssuer(t, ns, wrong)
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
	mustKubectl(t, acmetest.Certificate("denied", "Issuer", "digitalocean", "denied.example.net"), "apply", "-n", ns, "-f", "-")
	const words = "HTTP 401: Unable to authenticate you (unauthorized)"
	cert := acmetest.WaitCertificate(t, env, ns, "denied", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "a Challenge reason with DigitalOcean's words", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, "via digitalocean") && strings.Contains(r, words) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("reasons seen: %q", keys(reasons))
	})
	mu.Lock()
	for r := range reasons {
		if strings.Contains(r, wrong) {
			t.Errorf("a Challenge reason shows the token: %q", r)
		}
	}
	mu.Unlock()
	issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing)
	if !strings.Contains(issuing.Message, words) || strings.Contains(issuing.Message, wrong) {
		t.Errorf("Certificate Issuing message %q: want DigitalOcean's %q and no token", issuing.Message, words)
	}
	if recs := env.Stack.DigitalOcean().Records("example.net"); len(recs) != 0 {
		t.Errorf("records written with a wrong token: %+v", recs)
	}
	assertNothingLeft(t, ns)
	assertTokenNotInChallengeHistories(t, ns, wrong)
}
