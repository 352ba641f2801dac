package acme

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// azureDNSIssuer creates Secret azure-sp (key client-secret) holding secret and an
// ACME Issuer "azuredns" solving DNS-01 through the stack's fake Azure DNS API with
// the stack's service principal.
func azureDNSIssuer(t *testing.T, ns, secret string) {
	t.Helper()
	mustKubectl(t, []byte(`apiVersion: v1
kind: Secret
metadata: {name: azure-sp}
stringData: {client-secret: `+secret+`}
`), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, acmetest.Issuer(env, "Issuer", "azuredns", `    - dns01:
        azureDNS:
          subscriptionID: `+localstack.AzureSubscriptionID+`
          resourceGroupName: `+localstack.AzureResourceGroup+`
          tenantID: `+localstack.AzureTenantID+`
          clientID: `+localstack.AzureClientID+`
          clientSecretSecretRef: {name: azure-sp, key: client-secret}
          environment: AzurePublicCloud
`), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "azuredns")
}

// assertAzureSecretNotInChallengeHistories: the ChallengeWorkflows of ns (at least
// one) do not hold secret, plain or base64.
func assertAzureSecretNotInChallengeHistories(t *testing.T, ns, secret string) {
	t.Helper()
	ids := challengeWorkflowIDs(t, ns)
	for _, id := range ids {
		testkit.AssertNoSecretInHistory(t, env.Temporal, id, map[string][]byte{"Azure client secret": []byte(secret)})
	}
	if len(ids) == 0 {
		t.Errorf("no ChallengeWorkflow of %s found", ns)
	}
}

// A wildcard and its apex through the azureDNS solver: a token from the fake Entra
// ID for the service principal, the record set written through the fake's Resource
// Manager API (over TLS, with the SDK's api-version and ETags), Pebble validates the
// values through challtestsrv, and the set is removed afterwards.
func TestDNS01AzureDNSWildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-azuredns"
	createNamespace(t, ns)
	azureDNSIssuer(t, ns, localstack.AzureClientSecret)
	mustKubectl(t, acmetest.Certificate("wildcard", "Issuer", "azuredns", "example.site", "*.example.site"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "wildcard", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "example.site", "*.example.site")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
	testkit.Eventually(t, 30*time.Second, "no TXT record left at Azure DNS", func() (bool, string) {
		var left []string
		for _, r := range env.Stack.AzureDNS().Records("example.site") {
			if r.Type == "TXT" {
				left = append(left, r.Name+"="+r.Data)
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.example.site.")
	assertAzureSecretNotInChallengeHistories(t, ns, localstack.AzureClientSecret)
}

// A wrong client secret: the Challenge says what Entra ID answered (AADSTS7000215,
// without the secret), nothing is written, and the issuance fails.
func TestDNS01AzureDNSWrongSecret(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const wrong = "not-the-azure-client-secret"
	ns := "dns01-azuredns-denied"
	createNamespace(t, ns)
	azureDNSIssuer(t, ns, wrong)
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
	mustKubectl(t, acmetest.Certificate("denied", "Issuer", "azuredns", "denied.example.site"), "apply", "-n", ns, "-f", "-")
	const words = "get an access token: HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided."
	cert := acmetest.WaitCertificate(t, env, ns, "denied", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "a Challenge reason with Entra ID's words", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, "via azuredns") && strings.Contains(r, words) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("reasons seen: %q", keys(reasons))
	})
	mu.Lock()
	for r := range reasons {
		if strings.Contains(r, wrong) {
			t.Errorf("a Challenge reason shows the secret: %q", r)
		}
	}
	mu.Unlock()
	issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing)
	if !strings.Contains(issuing.Message, words) || strings.Contains(issuing.Message, wrong) {
		t.Errorf("Certificate Issuing message %q: want Entra ID's %q and no secret", issuing.Message, words)
	}
	if recs := env.Stack.AzureDNS().Records("example.site"); len(recs) != 0 {
		t.Errorf("records written with a wrong secret: %+v", recs)
	}
	assertNothingLeft(t, ns)
	assertAzureSecretNotInChallengeHistories(t, ns, wrong)
}
