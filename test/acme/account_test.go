package acme

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// ACME accounts: registered with an external account binding; the account key is
// generated once into privateKeySecretRef and reused (a re-created issuer recovers the
// same account); a binding the server refuses, or a server that is not there, gives
// Ready=False with the reason and the server's words.
func TestACMEAccounts(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "accounts"
	createNamespace(t, ns)
	ctx := context.Background()
	mustKubectl(t, []byte(`apiVersion: v1
kind: Secret
metadata: {name: eab}
stringData: {good: `+localstack.PebbleEABHMACKey+`, bad: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA}
`), "apply", "-n", ns, "-f", "-")
	issuer := func(name, server, eabKey string) []byte {
		eab := ""
		if eabKey != "" {
			eab = fmt.Sprintf("    externalAccountBinding: {keyID: %s, keySecretRef: {name: eab, key: %s}}\n", localstack.PebbleEABKeyID, eabKey)
		}
		return []byte(fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: %s}
spec:
  acme:
    server: %s
    email: ops@example.com
    privateKeySecretRef: {name: %s-account}
%s    solvers: [{http01: {ingress: {}}}]
`, name, server, name, eab))
	}
	withCA := func(b []byte) []byte { return pointAtPebble(t, b) }

	// With a binding the server knows.
	mustKubectl(t, withCA(issuer("eab", letsEncryptProduction, "good")), "apply", "-n", ns, "-f", "-")
	waitIssuerReady(t, ns, "eab")
	first, err := env.CertFlow.CertmanagerV1().Issuers(ns).Get(ctx, "eab", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Status.ACME.LastRegisteredEmail != "ops@example.com" || first.Status.ACME.LastPrivateKeyHash == "" {
		t.Errorf("status.acme = %+v, want the email and key hash", first.Status.ACME)
	}
	key1, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, "eab-account", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("account key Secret: %v", err)
	}

	// Re-created: the same key, so the same account.
	mustKubectl(t, nil, "delete", "issuer", "eab", "-n", ns)
	mustKubectl(t, withCA(issuer("eab", letsEncryptProduction, "good")), "apply", "-n", ns, "-f", "-")
	waitIssuerReady(t, ns, "eab")
	again, err := env.CertFlow.CertmanagerV1().Issuers(ns).Get(ctx, "eab", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Status.ACME.URI != first.Status.ACME.URI {
		t.Errorf("re-created issuer got account %s, want the existing %s", again.Status.ACME.URI, first.Status.ACME.URI)
	}
	key2, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, "eab-account", metav1.GetOptions{})
	if err != nil || string(key2.Data["tls.key"]) != string(key1.Data["tls.key"]) {
		t.Errorf("the account key changed (or is gone: %v)", err)
	}

	// A binding the server refuses, and a server that does not answer.
	mustKubectl(t, withCA(issuer("badeab", letsEncryptProduction, "bad")), "apply", "-n", ns, "-f", "-")
	waitIssuerNotReady(t, ns, "badeab", "external account")
	mustKubectl(t, issuer("noserver", "https://127.0.0.1:1/directory", ""), "apply", "-n", ns, "-f", "-")
	waitIssuerNotReady(t, ns, "noserver", "127.0.0.1:1")
}

// waitIssuerNotReady waits for Ready=False ErrRegisterACMEAccount whose message says want.
func waitIssuerNotReady(t *testing.T, ns, name, want string) {
	t.Helper()
	testkit.Eventually(t, time.Minute, "Issuer "+ns+"/"+name+" Ready=False "+cmapi.IssuerReasonErrorRegisterAccount, func() (bool, string) {
		iss, err := env.CertFlow.CertmanagerV1().Issuers(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range iss.Status.Conditions {
			if c.Type == cmapi.IssuerConditionReady {
				ok := c.Status == cmmeta.ConditionFalse && c.Reason == cmapi.IssuerReasonErrorRegisterAccount && strings.Contains(strings.ToLower(c.Message), strings.ToLower(want))
				return ok, c.Reason + ": " + c.Message
			}
		}
		return false, "no Ready condition"
	})
	iss, _ := env.CertFlow.CertmanagerV1().Issuers(ns).Get(context.Background(), name, metav1.GetOptions{})
	for _, c := range iss.Status.Conditions {
		t.Logf("%s: Ready=%s %s: %s", name, c.Status, c.Reason, c.Message)
	}
}
