package acme

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	corev1 "k8s.io/api/core/v1"
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

// cloudDNSIssuer creates Secret gcp-sa (key key.json) holding key and an ACME Issuer
// "clouddns" solving DNS-01 through the stack's fake Cloud DNS API.
func cloudDNSIssuer(t *testing.T, ns string, key []byte) {
	t.Helper()
	_, err := env.Kube.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "gcp-sa"}, Data: map[string][]byte{"key.json": key}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, acmetest.Issuer(env, "Issuer", "clouddns", `    - dns01:
        cloudDNS:
          project: `+localstack.CloudDNSProject+`
          serviceAccountSecretRef: {name: gcp-sa, key: key.json}
`), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "clouddns")
}

// assertKeyNotInChallengeHistories: the ChallengeWorkflows of ns (at least one) hold
// neither the service account key's JSON nor its private key (PEM, DER, base64).
func assertKeyNotInChallengeHistories(t *testing.T, ns string, key []byte) {
	t.Helper()
	var k struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(key, &k); err != nil {
		t.Fatal(err)
	}
	ids := challengeWorkflowIDs(t, ns)
	for _, id := range ids {
		testkit.AssertNoSecretInHistory(t, env.Temporal, id, map[string][]byte{"service account key": key}, []byte(k.PrivateKey))
	}
	if len(ids) == 0 {
		t.Errorf("no ChallengeWorkflow of %s found", ns)
	}
}

// challengeWorkflowIDs are the IDs of the ChallengeWorkflows of ns.
func challengeWorkflowIDs(t *testing.T, ns string) []string {
	t.Helper()
	resp, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = 'ChallengeWorkflow'"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range resp.Executions {
		if id := e.Execution.WorkflowId; strings.Contains(id, "/"+ns+"/") {
			ids = append(ids, id)
		}
	}
	return ids
}

// A wildcard and its apex through the cloudDNS solver: the key's JWT is exchanged at
// its token_uri, the record sets go through the fake's API (Cloud DNS's wire format),
// Pebble validates them through challtestsrv, and they are removed afterwards.
func TestDNS01CloudDNSWildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-clouddns"
	createNamespace(t, ns)
	key := env.Stack.CloudDNSServiceAccountKey()
	cloudDNSIssuer(t, ns, key)
	mustKubectl(t, acmetest.Certificate("wildcard", "Issuer", "clouddns", "example.info", "*.example.info"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "wildcard", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "example.info", "*.example.info")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
	testkit.Eventually(t, 30*time.Second, "no TXT record left at Cloud DNS", func() (bool, string) {
		var left []string
		for _, r := range env.Stack.CloudDNS().Records("example.info") {
			if r.Type == "TXT" {
				left = append(left, r.Name+"="+r.Data)
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.example.info.")
	assertKeyNotInChallengeHistories(t, ns, key)
}

// A key of the service account that Google does not know (another key pair): the
// Challenge says what the token endpoint answered, nothing is written, and the
// issuance fails.
func TestDNS01CloudDNSWrongKey(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-clouddns-denied"
	createNamespace(t, ns)
	var k struct {
		TokenURI string `json:"token_uri"`
	}
	if err := json.Unmarshal(env.Stack.CloudDNSServiceAccountKey(), &k); err != nil {
		t.Fatal(err)
	}
	wrong, _, err := fakedns.NewServiceAccountKey(localstack.CloudDNSProject, localstack.CloudDNSServiceAccount, k.TokenURI)
	if err != nil {
		t.Fatal(err)
	}
	cloudDNSIssuer(t, ns, wrong)
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
	mustKubectl(t, acmetest.Certificate("denied", "Issuer", "clouddns", "denied.example.info"), "apply", "-n", ns, "-f", "-")
	const words = "get an access token: HTTP 400: invalid_grant: Invalid JWT Signature."
	cert := acmetest.WaitCertificate(t, env, ns, "denied", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "a Challenge reason with the token endpoint's words", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, "via clouddns") && strings.Contains(r, words) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("reasons seen: %q", keys(reasons))
	})
	issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing)
	if !strings.Contains(issuing.Message, words) || strings.Contains(issuing.Message, "PRIVATE KEY") {
		t.Errorf("Certificate Issuing message %q: want Google's %q and no key", issuing.Message, words)
	}
	if recs := env.Stack.CloudDNS().Records("example.info"); len(recs) != 0 {
		t.Errorf("records written with a wrong key: %+v", recs)
	}
	assertNothingLeft(t, ns)
	assertKeyNotInChallengeHistories(t, ns, wrong)
}
