package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

func testCSR(t *testing.T, cn string, dns []string, ips []net.IP, uris []*url.URL) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: dns, IPAddresses: ips, URIs: uris}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestSignParameters(t *testing.T) {
	u, _ := url.Parse("spiffe://example.com/a")
	csr := testCSR(t, "example.com", []string{"a.example.com", "b.example.com"}, []net.IP{net.ParseIP("10.0.0.1")}, []*url.URL{u})
	tests := []struct {
		name     string
		path     string
		duration time.Duration
		want     map[string]string
	}{
		{name: "sign/ROLE sends the CSR's names, the CN out of the SANs", path: "pki/sign/example", duration: 90 * time.Minute,
			want: map[string]string{"csr": string(csr), "ttl": "1h30m0s", "common_name": "example.com", "alt_names": "a.example.com,b.example.com",
				"ip_sans": "10.0.0.1", "uri_sans": "spiffe://example.com/a", "exclude_cn_from_sans": "true"}},
		{name: "sign-verbatim keeps the CSR's own fields", path: "/pki_int/sign-verbatim/example", duration: time.Hour,
			want: map[string]string{"csr": string(csr), "ttl": "1h0m0s"}},
		{name: "sign-verbatim without a role", path: "pki/sign-verbatim", want: map[string]string{"csr": string(csr)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SignParameters(tt.path, csr, tt.duration)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
	if _, err := SignParameters("pki/sign/x", []byte("not a CSR"), time.Hour); err == nil {
		t.Error("a CSR that does not parse gave no error")
	}
}

func TestLoginPathAndAudiences(t *testing.T) {
	for _, tt := range []struct{ mount, def, want string }{
		{"", "/v1/auth/kubernetes", "/v1/auth/kubernetes/login"},
		{"/v1/auth/k8s-cluster/", "/v1/auth/kubernetes", "/v1/auth/k8s-cluster/login"},
		{"v1/auth/cert2", "/v1/auth/cert", "/v1/auth/cert2/login"},
	} {
		if got := LoginPath(tt.mount, tt.def); got != tt.want {
			t.Errorf("LoginPath(%q, %q) = %q, want %q", tt.mount, tt.def, got, tt.want)
		}
	}
	for _, tt := range []struct {
		ref   IssuerRef
		extra []string
		want  []string
	}{
		{IssuerRef{Kind: cmapi.IssuerKind, Namespace: "team", Name: "vault"}, nil, []string{"vault://team/vault"}},
		{IssuerRef{Kind: cmapi.ClusterIssuerKind, Name: "vault"}, []string{"extra"}, []string{"extra", "vault://vault"}},
	} {
		if got := ServiceAccountAudiences(tt.ref, tt.extra); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ServiceAccountAudiences(%+v, %v) = %v, want %v", tt.ref, tt.extra, got, tt.want)
		}
	}
}

// fakeVault answers the few endpoints the activities use, as Vault does.
type fakeVault struct {
	mu       sync.Mutex
	token    string // the token tokenSecretRef must hold
	roleID   string
	secretID string
	jwts     []string // JWTs of Kubernetes logins
	headers  []string // X-Vault-Namespace of each request
	signed   map[string]string
	leaf     *testCert
	root     *testCert
}

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.headers = append(f.headers, r.Header.Get("X-Vault-Namespace"))
	var body map[string]string
	_ = json.NewDecoder(r.Body).Decode(&body)
	deny := func() {
		w.WriteHeader(403)
		_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
	}
	login := func(tok string) {
		_ = json.NewEncoder(w).Encode(map[string]any{"auth": map[string]any{"client_token": tok}})
	}
	switch r.URL.Path {
	case "/v1/sys/health":
		_, _ = w.Write([]byte(`{"initialized":true,"sealed":false}`))
	case "/v1/auth/token/lookup-self":
		if r.Header.Get("X-Vault-Token") != f.token {
			deny()
			return
		}
		_, _ = w.Write([]byte(`{"data":{}}`))
	case "/v1/auth/approle/login":
		if body["role_id"] != f.roleID || body["secret_id"] != f.secretID {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"errors":["invalid role or secret ID"]}`))
			return
		}
		login(f.token)
	case "/v1/auth/kubernetes/login":
		f.jwts = append(f.jwts, body["jwt"])
		if body["role"] != "certflow" {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"errors":["invalid role name \"` + body["role"] + `\""]}`))
			return
		}
		login(f.token)
	case "/v1/pki/sign/example":
		if r.Header.Get("X-Vault-Token") != f.token {
			deny()
			return
		}
		f.signed = body
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"certificate": f.leaf.pem, "issuing_ca": f.root.pem, "ca_chain": []string{f.root.pem}}})
	case "/v1/pki/sign/broken":
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"errors":["internal error"]}`))
	default:
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"errors":["no handler for route"]}`))
	}
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func errType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func TestActivitiesAgainstAFakeVault(t *testing.T) {
	const token = "s.the-real-token"
	root := newTestCert(t, "root", true, nil)
	fv := &fakeVault{token: token, roleID: "role-1", secretID: "secret-1", leaf: newTestCert(t, "leaf", false, root), root: root}
	srv := httptest.NewServer(fv)
	defer srv.Close()
	kube := fake.NewClientset(
		secret("team", "vault-token", map[string]string{"token": token}),
		secret("team", "wrong-token", map[string]string{"token": "s.wrong"}),
		secret("team", "approle", map[string]string{"secretId": "secret-1"}),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "vault-issuer"}},
	)
	var audiences []string
	kube.PrependReactor("create", "serviceaccounts", func(action k8stesting.Action) (bool, runtime.Object, error) {
		ca, ok := action.(k8stesting.CreateActionImpl)
		if !ok || action.GetSubresource() != "token" {
			return false, nil, nil
		}
		if ca.Name != "vault-issuer" {
			return true, nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), ca.Name)
		}
		tr := ca.GetObject().(*authv1.TokenRequest)
		audiences = tr.Spec.Audiences
		return true, &authv1.TokenRequest{Status: authv1.TokenRequestStatus{Token: "jwt-for-" + ca.Name}}, nil
	})
	a := &Activities{Kube: kube, ClusterResourceNamespace: "cert-manager"}
	ref := IssuerRef{Kind: cmapi.IssuerKind, Namespace: "team", Name: "vault"}
	spec := func(auth cmapi.VaultAuth) cmapi.VaultIssuer {
		return cmapi.VaultIssuer{Server: srv.URL, Path: "pki/sign/example", Namespace: "ns1", Auth: auth}
	}
	sel := func(name string) *cmmeta.SecretKeySelector {
		return &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: name}}
	}
	ctx := context.Background()
	csr := testCSR(t, "leaf", []string{"leaf.example.com"}, nil, nil)

	t.Run("token: checked and signs; chain and ca.crt as upstream", func(t *testing.T) {
		s := spec(cmapi.VaultAuth{TokenSecretRef: sel("vault-token")})
		if err := a.CheckVault(ctx, CheckInput{Issuer: ref, Spec: s}); err != nil {
			t.Fatal(err)
		}
		got, err := a.SignWithVault(ctx, SignInput{Issuer: ref, Spec: s, CSRPEM: csr, Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.CertificatePEM) != fv.leaf.pem || string(got.CAPEM) != root.pem {
			t.Errorf("got chain %q and ca %q", got.CertificatePEM, got.CAPEM)
		}
		if fv.signed["ttl"] != "1h0m0s" || fv.signed["common_name"] != "leaf" || fv.signed["alt_names"] != "leaf.example.com" {
			t.Errorf("Vault was sent %v", fv.signed)
		}
	})
	t.Run("every request carries the Vault namespace", func(t *testing.T) {
		for i, h := range fv.headers {
			if h != "ns1" {
				t.Errorf("request %d had X-Vault-Namespace %q", i, h)
			}
		}
	})
	t.Run("a wrong token: Vault's words, non-retryable, no token", func(t *testing.T) {
		err := a.CheckVault(ctx, CheckInput{Issuer: ref, Spec: spec(cmapi.VaultAuth{TokenSecretRef: sel("wrong-token")})})
		if errType(err) != ErrTypeRefused || !strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "s.wrong") {
			t.Errorf("got %v (type %q)", err, errType(err))
		}
	})
	t.Run("AppRole", func(t *testing.T) {
		s := spec(cmapi.VaultAuth{AppRole: &cmapi.VaultAppRole{Path: "approle", RoleId: "role-1", SecretRef: *sel("approle")}})
		if _, err := a.SignWithVault(ctx, SignInput{Issuer: ref, Spec: s, CSRPEM: csr}); err != nil {
			t.Fatal(err)
		}
		s.Auth.AppRole.RoleId = "role-2"
		err := a.CheckVault(ctx, CheckInput{Issuer: ref, Spec: s})
		if errType(err) != ErrTypeRefused || !strings.Contains(err.Error(), "invalid role or secret ID") || strings.Contains(err.Error(), "secret-1") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("Kubernetes with serviceAccountRef: a requested token with upstream's audiences", func(t *testing.T) {
		s := spec(cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Role: "certflow",
			ServiceAccountRef: &cmapi.ServiceAccountRef{Name: "vault-issuer", TokenAudiences: []string{"extra"}}}})
		if _, err := a.SignWithVault(ctx, SignInput{Issuer: ref, Spec: s, CSRPEM: csr}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"extra", "vault://team/vault"}; !reflect.DeepEqual(audiences, want) {
			t.Errorf("audiences %v, want %v", audiences, want)
		}
		if got := fv.jwts[len(fv.jwts)-1]; got != "jwt-for-vault-issuer" {
			t.Errorf("Vault got JWT %q", got)
		}
	})
	for _, tt := range []struct {
		name    string
		spec    cmapi.VaultIssuer
		errType string
		words   string
	}{
		{"a missing token Secret", spec(cmapi.VaultAuth{TokenSecretRef: sel("nope")}), ErrTypeConfig, "Secret team/nope not found"},
		{"a missing key", spec(cmapi.VaultAuth{TokenSecretRef: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-token"}, Key: "other"}}),
			ErrTypeConfig, `has no key "other"`},
		{"no auth method", spec(cmapi.VaultAuth{}), ErrTypeConfig, "no auth method"},
		{"client certificate auth without a certificate", spec(cmapi.VaultAuth{ClientCertificate: &cmapi.VaultClientCertificateAuth{}}), ErrTypeConfig, "no client certificate"},
		{"half a client key pair", func() cmapi.VaultIssuer {
			s := spec(cmapi.VaultAuth{TokenSecretRef: sel("vault-token")})
			s.ClientCertSecretRef = sel("vault-token")
			return s
		}(), ErrTypeConfig, "must be set together"},
		{"a server that is no URL", cmapi.VaultIssuer{Server: "vault:8200", Path: "pki/sign/example", Auth: cmapi.VaultAuth{TokenSecretRef: sel("vault-token")}}, ErrTypeConfig, "not an http(s) URL"},
		{"a CA bundle without a certificate", func() cmapi.VaultIssuer {
			s := spec(cmapi.VaultAuth{TokenSecretRef: sel("vault-token")})
			s.CABundle = []byte("nothing")
			return s
		}(), ErrTypeConfig, "no PEM certificate"},
		{"a missing ServiceAccount", spec(cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Role: "certflow", ServiceAccountRef: &cmapi.ServiceAccountRef{Name: "gone"}}}),
			ErrTypeConfig, "ServiceAccount team/gone"},
		{"a Kubernetes role Vault does not know", spec(cmapi.VaultAuth{Kubernetes: &cmapi.VaultKubernetesAuth{Role: "other", ServiceAccountRef: &cmapi.ServiceAccountRef{Name: "vault-issuer"}}}),
			ErrTypeRefused, `invalid role name "other"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := a.CheckVault(ctx, CheckInput{Issuer: ref, Spec: tt.spec})
			if errType(err) != tt.errType || !strings.Contains(err.Error(), tt.words) {
				t.Errorf("got %v (type %q), want type %s with %q", err, errType(err), tt.errType, tt.words)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
	t.Run("a path that fails in Vault: retryable, with Vault's words", func(t *testing.T) {
		s := spec(cmapi.VaultAuth{TokenSecretRef: sel("vault-token")})
		s.Path = "pki/sign/broken"
		_, err := a.SignWithVault(ctx, SignInput{Issuer: ref, Spec: s, CSRPEM: csr})
		if err == nil || errType(err) != "" || !strings.Contains(err.Error(), "internal error") {
			t.Errorf("got %v", err)
		}
		s.Path = "pki/sign/unknown"
		_, err = a.SignWithVault(ctx, SignInput{Issuer: ref, Spec: s, CSRPEM: csr})
		if errType(err) != ErrTypeRefused || !strings.Contains(err.Error(), "404") {
			t.Errorf("got %v", err)
		}
	})
}
