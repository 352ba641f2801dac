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
	"github.com/certflow/certflow/internal/localstack/fakedns"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// akamaiIssuer creates Secret akamai (keys client-token, client-secret, access-token)
// holding creds and an ACME Issuer "akamai" solving DNS-01 through the stack's fake
// Akamai Edge DNS API (over TLS; the worker trusts its CA).
func akamaiIssuer(t *testing.T, ns string, creds fakedns.AkamaiCredentials) {
	t.Helper()
	mustKubectl(t, fmt.Appendf(nil, `apiVersion: v1
kind: Secret
metadata: {name: akamai}
stringData: {client-token: %s, client-secret: %s, access-token: %s}
`, creds.ClientToken, creds.ClientSecret, creds.AccessToken), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, acmetest.Issuer(env, "Issuer", "akamai", `    - dns01:
        akamai:
          serviceConsumerDomain: `+env.Stack.AkamaiHost()+`
          clientTokenSecretRef: {name: akamai, key: client-token}
          clientSecretSecretRef: {name: akamai, key: client-secret}
          accessTokenSecretRef: {name: akamai, key: access-token}
`), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "akamai")
}

func akamaiSecrets(c fakedns.AkamaiCredentials) map[string][]byte {
	return map[string][]byte{"Akamai client token": []byte(c.ClientToken), "Akamai client secret": []byte(c.ClientSecret),
		"Akamai access token": []byte(c.AccessToken)}
}

// A name and its wildcard through the Akamai solver: the values go into one TXT record
// set through the fake's config-dns v2 API (EdgeGrid signatures checked, over TLS),
// Pebble validates them through challtestsrv, and the set is gone afterwards.
func TestDNS01AkamaiWildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "dns01-akamai"
	createNamespace(t, ns)
	akamaiIssuer(t, ns, localstack.AkamaiCredentials)
	mustKubectl(t, acmetest.Certificate("wildcard", "Issuer", "akamai", "example.co", "*.example.co"), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "wildcard", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, "example.co", "*.example.co")
	assertOneValidOrder(t, ns)
	assertNothingLeft(t, ns)
	testkit.Eventually(t, 30*time.Second, "no TXT record left at Akamai", func() (bool, string) {
		var left []string
		for _, r := range env.Stack.Akamai().Records("example.co") {
			left = append(left, r.Name+"="+r.Data)
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.example.co.")
	assertSecretsNotInChallengeHistories(t, ns, akamaiSecrets(localstack.AkamaiCredentials))
}

// A wrong client secret: the signature does not match, the Challenge says so in
// Akamai's words (without the secret), nothing is written, and the issuance fails.
func TestDNS01AkamaiWrongSecret(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	wrong := localstack.AkamaiCredentials
	wrong.ClientSecret = "not-the-akamai-client-secret"
	ns := "dns01-akamai-denied"
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
	akamaiIssuer(t, ns, wrong)
	mustKubectl(t, acmetest.Certificate("denied", "Issuer", "akamai", "denied.example.co"), "apply", "-n", ns, "-f", "-")
	const words = "HTTP 401: Not authorized: The signature does not match"
	cert := acmetest.WaitCertificate(t, env, ns, "denied", failureTimeout, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "a Challenge reason with Akamai's words", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, "via akamai") && strings.Contains(r, words) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("reasons seen: %q", keys(reasons))
	})
	mu.Lock()
	for r := range reasons {
		if strings.Contains(r, wrong.ClientSecret) {
			t.Errorf("a Challenge reason shows the client secret: %q", r)
		}
	}
	mu.Unlock()
	issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing)
	if !strings.Contains(issuing.Message, words) || strings.Contains(issuing.Message, wrong.ClientSecret) {
		t.Errorf("Certificate Issuing message %q: want Akamai's %q and no secret", issuing.Message, words)
	}
	if recs := env.Stack.Akamai().Records("example.co"); len(recs) != 0 {
		t.Errorf("records written with a wrong secret: %+v", recs)
	}
	assertNothingLeft(t, ns)
	assertSecretsNotInChallengeHistories(t, ns, akamaiSecrets(wrong))
}
