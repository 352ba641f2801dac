package acme

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack/fakedns"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// acmeDNSIssuer registers an account at the stack's fake acme-dns server for domain,
// delegates _acme-challenge.<domain> to its fulldomain with a CNAME (in challtestsrv,
// which Pebble and the DNS-01 check resolve with), as a user does once, and creates
// Secret acme-dns (key acmedns.json: the accounts JSON, with the password replaced
// when password is set) and an ACME Issuer "acmedns" solving DNS-01 through acme-dns.
func acmeDNSIssuer(t *testing.T, ns, domain, password string) fakedns.AcmeDNSAccount {
	t.Helper()
	acct, err := env.Stack.AcmeDNS().Register()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Stack.SetCNAME(context.Background(), "_acme-challenge."+domain, acct.FullDomain); err != nil {
		t.Fatal(err)
	}
	inSecret := acct
	if password != "" {
		inSecret.Password = password
	}
	accounts, err := json.Marshal(map[string]fakedns.AcmeDNSAccount{domain: inSecret})
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: acme-dns}
stringData:
  acmedns.json: '%s'
`, accounts), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, acmetest.Issuer(env, "Issuer", "acmedns", `    - dns01:
        acmeDNS:
          host: `+env.Stack.AcmeDNSURL()+`
          accountSecretRef: {name: acme-dns, key: acmedns.json}
`), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "acmedns")
	return inSecret
}

// A wildcard and its apex through the acmeDNS solver: both values go to the one
// account of the domain through acme-dns's /update (its wire format and auth), Pebble
// follows the _acme-challenge CNAME to the account's fulldomain, and so does the self
// check (no cnameStrategy set, as upstream's acme-dns guide has it). acme-dns cannot
// delete: the two values stay until newer ones replace them.
func TestDNS01AcmeDNSWildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-acmedns"
	createNamespace(t, ns)
	acct := acmeDNSIssuer(t, ns, "example.app", "")
	mustKubectl(t, acmetest.Certificate("wildcard", "Issuer", "acmedns", "example.app", "*.example.app"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "wildcard", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "example.app", "*.example.app")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
	got := env.Stack.AcmeDNS().Store.TXT(acct.FullDomain)
	if len(got) != 2 {
		t.Errorf("acme-dns holds %q at %s, want the two challenges' values", got, acct.FullDomain)
	}
	served, err := acmetest.TXT(env.Stack.ChallTestSrvDNS, acct.FullDomain+".")
	if err != nil || !slices.Equal(served, got) {
		t.Errorf("DNS serves %q (%v) at %s, want acme-dns's %q", served, err, acct.FullDomain, got)
	}
	assertSecretsNotInChallengeHistories(t, ns, map[string][]byte{"acme-dns password": []byte(acct.Password), "acme-dns username": []byte(acct.Username)})
}

// assertSecretsNotInChallengeHistories: the ChallengeWorkflows of ns (at least one) hold none
// of secrets in their histories, plain or base64.
func assertSecretsNotInChallengeHistories(t *testing.T, ns string, secrets map[string][]byte) {
	t.Helper()
	resp, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = 'ChallengeWorkflow'"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range resp.Executions {
		if id := e.Execution.WorkflowId; strings.Contains(id, "/"+ns+"/") {
			n++
			testkit.AssertNoSecretInHistory(t, env.Temporal, id, secrets)
		}
	}
	if n == 0 {
		t.Errorf("no ChallengeWorkflow of %s found", ns)
	}
}

// A wrong password: the Challenge says what acme-dns answered (HTTP 401 forbidden,
// without the password), nothing is written, and the issuance fails.
func TestDNS01AcmeDNSWrongPassword(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const wrong = "notthepasswordnotthepasswordnotthepasswo"
	ns := "dns01-acmedns-denied"
	createNamespace(t, ns)
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
	acct := acmeDNSIssuer(t, ns, "denied.example.app", wrong)
	mustKubectl(t, acmetest.Certificate("denied", "Issuer", "acmedns", "denied.example.app"), "apply", "-n", ns, "-f", "-")
	const words = "HTTP 401: forbidden"
	cert := acmetest.WaitCertificate(t, env, ns, "denied", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "a Challenge reason with acme-dns's words", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, "via acmeDNS") && strings.Contains(r, words) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("reasons seen: %q", keys(reasons))
	})
	mu.Lock()
	for r := range reasons {
		if strings.Contains(r, wrong) {
			t.Errorf("a Challenge reason shows the password: %q", r)
		}
	}
	mu.Unlock()
	issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing)
	if !strings.Contains(issuing.Message, words) || strings.Contains(issuing.Message, wrong) {
		t.Errorf("Certificate Issuing message %q: want acme-dns's %q and no password", issuing.Message, words)
	}
	if got := env.Stack.AcmeDNS().Store.TXT(acct.FullDomain); len(got) != 0 {
		t.Errorf("values written with a wrong password: %q", got)
	}
	assertNothingLeft(t, ns)
	assertSecretsNotInChallengeHistories(t, ns, map[string][]byte{"acme-dns password": []byte(wrong)})
}
