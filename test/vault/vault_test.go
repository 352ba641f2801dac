// Package vault tests the Vault issuer against a real HashiCorp Vault dev server
// (bin/vault, a test fixture only) on the local stack: one Certificate per auth method
// (token, AppRole, Kubernetes through a requested ServiceAccount token, TLS client
// certificate), a wrong token and a missing Secret as Ready=False reasons, and no
// credential in any workflow history.
package vault

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/internal/testkit/vaultdev"
	"github.com/certflow/certflow/workflows"
)

const ns = "vault-test"

var (
	env   *testkit.System
	vault *vaultdev.Server
	// What the setup made in Vault.
	rootPEM                   []byte
	signToken, roleID, secret string
	clientCertPEM, clientKey  []byte
)

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	ctx := context.Background()
	sys, err := testkit.Start(ctx, testkit.Options{Namespaces: []string{ns}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "vault setup:", err)
		os.Exit(1)
	}
	env = sys
	if vault, err = vaultdev.Start(ctx, sys.Root+"/bin", sys.Stack.StateDir); err == nil {
		err = setupVault(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vault setup:", err)
		vault.Stop()
		sys.Stop(true)
		os.Exit(1)
	}
	code := m.Run()
	vault.Stop()
	sys.Stop(code != 0)
	os.Exit(code)
}

// setupVault mounts pki with a root CA and a role, and enables the token, AppRole,
// Kubernetes (reviewing tokens at the stack's kube-apiserver) and cert auth methods,
// each with a policy that may sign.
func setupVault(ctx context.Context) error {
	api := vault.API
	var root struct {
		Data struct {
			Certificate string `json:"certificate"`
		} `json:"data"`
	}
	steps := []func() error{
		func() error {
			return api(ctx, "POST", "sys/mounts/pki", map[string]any{"type": "pki", "config": map[string]any{"max_lease_ttl": "87600h"}}, nil)
		},
		func() error {
			return api(ctx, "POST", "pki/root/generate/internal", map[string]any{"common_name": "certflow Vault test root", "ttl": "87600h"}, &root)
		},
		func() error {
			return api(ctx, "POST", "pki/roles/example", map[string]any{"allowed_domains": "example.com", "allow_subdomains": true, "max_ttl": "2160h", "key_type": "any"}, nil)
		},
		func() error {
			return api(ctx, "PUT", "sys/policies/acl/pki-sign", map[string]any{"policy": `path "pki/sign/*" { capabilities = ["create", "update"] }
path "pki/sign-verbatim/*" { capabilities = ["create", "update"] }`}, nil)
		},
		func() error {
			var tok struct {
				Auth struct {
					ClientToken string `json:"client_token"`
				} `json:"auth"`
			}
			err := api(ctx, "POST", "auth/token/create", map[string]any{"policies": []string{"pki-sign"}, "ttl": "4h"}, &tok)
			signToken = tok.Auth.ClientToken
			return err
		},
		func() error { return api(ctx, "POST", "sys/auth/approle", map[string]any{"type": "approle"}, nil) },
		func() error {
			return api(ctx, "POST", "auth/approle/role/certflow", map[string]any{"token_policies": []string{"pki-sign"}}, nil)
		},
		func() error {
			var r struct {
				Data struct {
					RoleID string `json:"role_id"`
				} `json:"data"`
			}
			err := api(ctx, "GET", "auth/approle/role/certflow/role-id", nil, &r)
			roleID = r.Data.RoleID
			return err
		},
		func() error {
			var r struct {
				Data struct {
					SecretID string `json:"secret_id"`
				} `json:"data"`
			}
			err := api(ctx, "POST", "auth/approle/role/certflow/secret-id", nil, &r)
			secret = r.Data.SecretID
			return err
		},
		func() error { return setupKubernetesAuth(ctx) },
		func() error { return setupCertAuth(ctx) },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("vault setup step %d: %w", i, err)
		}
	}
	rootPEM = []byte(root.Data.Certificate)
	return nil
}

// setupKubernetesAuth enables Kubernetes auth against the stack's kube-apiserver,
// reviewing tokens as ServiceAccount vault-reviewer (system:auth-delegator), and a role
// for ServiceAccount vault-issuer of ns with the audience certflow asks for.
func setupKubernetesAuth(ctx context.Context) error {
	kc := env.Kube
	for _, sa := range []string{"vault-reviewer", "vault-issuer"} {
		if _, err := kc.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "vault-reviewer", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// As upstream asks of its users: the worker may request tokens for this one
	// ServiceAccount only.
	if _, err := kc.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-issuer-token"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: []string{"vault-issuer"}, Verbs: []string{"create"}}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := kc.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-issuer-token"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "vault-issuer-token"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "certflow-worker", Namespace: "certflow"}},
	}, metav1.CreateOptions{}); err != nil {
		return err
	}
	seconds := int64(4 * 3600)
	tr, err := kc.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "vault-reviewer", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	rc := env.Stack.RESTConfig
	ca := rc.CAData
	if len(ca) == 0 && rc.CAFile != "" {
		if ca, err = os.ReadFile(rc.CAFile); err != nil {
			return err
		}
	}
	if err := vault.API(ctx, "POST", "sys/auth/kubernetes", map[string]any{"type": "kubernetes"}, nil); err != nil {
		return err
	}
	if err := vault.API(ctx, "POST", "auth/kubernetes/config", map[string]any{
		"kubernetes_host": rc.Host, "kubernetes_ca_cert": string(ca), "token_reviewer_jwt": tr.Status.Token, "disable_local_ca_jwt": true,
	}, nil); err != nil {
		return err
	}
	return vault.API(ctx, "POST", "auth/kubernetes/role/certflow", map[string]any{
		"bound_service_account_names": []string{"vault-issuer"}, "bound_service_account_namespaces": []string{ns},
		"audience": "vault://" + ns + "/vault-kubernetes", "token_policies": []string{"pki-sign"}, "token_ttl": "10m",
	}, nil)
}

// setupCertAuth enables cert auth trusting a client certificate made here.
func setupCertAuth(ctx context.Context) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "certflow vault client"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	clientCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	clientKey = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := vault.API(ctx, "POST", "sys/auth/cert", map[string]any{"type": "cert"}, nil); err != nil {
		return err
	}
	return vault.API(ctx, "POST", "auth/cert/certs/certflow", map[string]any{"certificate": string(clientCertPEM), "token_policies": []string{"pki-sign"}}, nil)
}

func mustKubectl(t *testing.T, stdin []byte, args ...string) {
	t.Helper()
	if out, err := env.Kubectl(stdin, args...); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// indent puts n spaces before every line of s.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
}

// vaultIssuer applies Issuer name of type Vault with the given auth block (YAML under
// auth), the dev server's CA as caBundle, at path.
func vaultIssuer(t *testing.T, name, path, auth string) {
	t.Helper()
	caB64 := base64Std(vault.CAPEM)
	mustKubectl(t, []byte(fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: %s}
spec:
  vault:
    server: %s
    path: %s
    caBundle: %s
    auth:
%s
`, name, vault.URL, path, caB64, indent(auth, 6))), "apply", "-n", ns, "-f", "-")
}

// pemDER is the DER of the first PEM block of b (nil without one): Vault's PEM has no
// trailing newline, a Secret's has.
func pemDER(b []byte) []byte {
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes
	}
	return nil
}

func secretManifest(name string, data map[string]string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata: {name: %s}\ndata:\n", name)
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %s\n", k, base64Std([]byte(v)))
	}
	return []byte(b.String())
}

// verifyIssued checks the Certificate's Secret: a chain that verifies against Vault's
// root, ca.crt that root, the names asked for.
func verifyIssued(t *testing.T, certName, dnsName string) {
	t.Helper()
	c := testkit.WaitCertificateReady(t, env.CertFlow, ns, certName, 2*time.Minute)
	s, leaf := testkit.ReadTLSSecret(t, env.Kube, ns, c.Spec.SecretName)
	if got, want := pemDER(s.Data["ca.crt"]), pemDER(rootPEM); got == nil || !bytes.Equal(got, want) {
		t.Errorf("ca.crt is not Vault's root:\n%s", s.Data["ca.crt"])
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: dnsName}); err != nil {
		t.Errorf("the certificate does not verify against Vault's root for %s: %v", dnsName, err)
	}
	if leaf.Issuer.CommonName != "certflow Vault test root" {
		t.Errorf("issued by %q", leaf.Issuer.CommonName)
	}
}

// One Issuer and one Certificate per auth method, each issued by Vault; none of the
// credentials is in the issuers' or certificates' workflow histories.
func TestVaultIssuesWithEachAuthMethod(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	mustKubectl(t, secretManifest("vault-token", map[string]string{"token": signToken}), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, secretManifest("vault-approle", map[string]string{"secretId": secret}), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, []byte(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: vault-client}\ntype: kubernetes.io/tls\ndata: {tls.crt: %s, tls.key: %s}\n",
		base64Std(clientCertPEM), base64Std(clientKey))), "apply", "-n", ns, "-f", "-")
	methods := []struct{ issuer, path, auth string }{
		{"vault-token", "pki/sign/example", "tokenSecretRef: {name: vault-token, key: token}"},
		{"vault-approle", "pki/sign/example", "appRole: {path: approle, roleId: " + roleID + ", secretRef: {name: vault-approle, key: secretId}}"},
		{"vault-kubernetes", "pki/sign/example", "kubernetes: {role: certflow, serviceAccountRef: {name: vault-issuer}}"},
		{"vault-cert", "pki/sign-verbatim/example", "clientCertificate: {name: certflow, secretName: vault-client}"},
	}
	for _, m := range methods {
		vaultIssuer(t, m.issuer, m.path, m.auth)
	}
	for _, m := range methods {
		t.Run(m.issuer, func(t *testing.T) {
			testkit.WaitIssuerCondition(t, env.CertFlow, ns, m.issuer, 2*time.Minute, func(c cmapi.IssuerCondition) bool {
				return c.Status == "True" && c.Reason == "VaultVerified"
			})
			name := strings.TrimPrefix(m.issuer, "vault-")
			dns := name + ".example.com"
			mustKubectl(t, []byte(testkit.Cert{Name: name, CommonName: dns, DNSNames: []string{dns}, Duration: "240h", Issuer: m.issuer, PrivateKey: "{algorithm: ECDSA}"}.String()),
				"apply", "-n", ns, "-f", "-")
			verifyIssued(t, name, dns)
			_, leaf := testkit.ReadTLSSecret(t, env.Kube, ns, name+"-tls")
			if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 239*time.Hour || d > 241*time.Hour {
				t.Errorf("validity %v, want the Certificate's duration (240h) as Vault's ttl", d)
			}
			creds := map[string][]byte{"Vault token": []byte(signToken), "AppRole secret ID": []byte(secret), "client key": clientKey}
			for _, id := range []string{workflows.IssuerWorkflowID(ns, m.issuer), workflows.CertificateWorkflowID(ns, name)} {
				if n := testkit.AssertNoSecretInHistory(t, env.Temporal, id, creds); n == 0 {
					t.Errorf("no history read for %s", id)
				}
			}
		})
	}
}

// A token Vault does not know: Ready=False VaultError with Vault's own words, and the
// token in no history.
func TestVaultWrongToken(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const wrong = "hvs.not-a-token-vault-knows"
	mustKubectl(t, secretManifest("wrong-token", map[string]string{"token": wrong}), "apply", "-n", ns, "-f", "-")
	vaultIssuer(t, "vault-wrong", "pki/sign/example", "tokenSecretRef: {name: wrong-token, key: token}")
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "vault-wrong", time.Minute, func(c cmapi.IssuerCondition) bool {
		return c.Status == "False" && c.Reason == "VaultError" && strings.Contains(c.Message, "permission denied") && !strings.Contains(c.Message, wrong)
	})
	testkit.AssertNoSecretInHistory(t, env.Temporal, workflows.IssuerWorkflowID(ns, "vault-wrong"), map[string][]byte{"wrong token": []byte(wrong)})
}

// An Issuer whose token Secret does not exist: Ready=False naming the Secret, checked
// again on a backoff (not in a loop: a handful of checks a minute at most), and Ready
// once the Secret appears, without any other change.
func TestVaultMissingSecret(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	vaultIssuer(t, "vault-missing", "pki/sign/example", "tokenSecretRef: {name: later-token, key: token}")
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "vault-missing", time.Minute, func(c cmapi.IssuerCondition) bool {
		return c.Status == "False" && c.Reason == "VaultError" && strings.Contains(c.Message, "Secret "+ns+"/later-token not found")
	})
	first := countChecks(t, workflows.IssuerWorkflowID(ns, "vault-missing"))
	time.Sleep(20 * time.Second) // a window to count re-checks in, not an assertion of a state
	if n := countChecks(t, workflows.IssuerWorkflowID(ns, "vault-missing")) - first; n > 6 {
		t.Errorf("%d checks of Vault in 20s while the Secret is missing: a hot loop", n)
	}
	mustKubectl(t, secretManifest("later-token", map[string]string{"token": signToken}), "apply", "-n", ns, "-f", "-")
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "vault-missing", 3*time.Minute, func(c cmapi.IssuerCondition) bool {
		return c.Status == "True" && c.Reason == "VaultVerified"
	})
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// countChecks counts the CheckVault activities the current run of an IssuerWorkflow
// scheduled.
func countChecks(t *testing.T, workflowID string) int {
	t.Helper()
	n := 0
	it := env.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "CheckVault" {
			n++
		}
	}
	return n
}
