package venafi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/Venafi/vcert/v5/pkg/venafi/fake"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	cffake "github.com/certflow/certflow/client/clientset/versioned/fake"
)

const testFakeURL = "https://fake.test/vedsdk"

// The activities against fake API servers and vcert's fake connector.
func newActivities(t *testing.T, kubeObjs []runtime.Object, cfObjs ...runtime.Object) *Activities {
	t.Helper()
	return &Activities{Kube: kubefake.NewSimpleClientset(kubeObjs...), CertFlow: cffake.NewSimpleClientset(cfObjs...),
		ClusterResourceNamespace: "cert-manager", TestOnlyFakeConnectorURL: testFakeURL}
}

func venafiIssuer(name, url, fields string) *cmapi.Issuer {
	iss := &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "uid-i"},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Venafi: &cmapi.VenafiIssuer{Zone: "z", TPP: &cmapi.VenafiTPP{
			URL: url, CredentialsRef: cmmeta.LocalObjectReference{Name: "creds"}}}}},
	}
	if fields != "" {
		iss.Annotations = map[string]string{cmapi.VenafiCustomFieldsAnnotationKey: fields}
	}
	return iss
}

var credsSecret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ns"},
	Data: map[string][]byte{"username": []byte("u"), "password": []byte("secret-password")}}

func TestCheckVenafiIssuer(t *testing.T) {
	ref := IssuerRef{Kind: cmapi.IssuerKind, Namespace: "ns", Name: "v", UID: "uid-i"}
	for _, tc := range []struct {
		name       string
		kube       []runtime.Object
		issuer     *cmapi.Issuer
		ref        IssuerRef
		wantReady  bool
		wantReason string
		wantMsg    string
	}{
		{name: "fake connector", kube: []runtime.Object{credsSecret}, issuer: venafiIssuer("v", testFakeURL, ""), ref: ref,
			wantReady: true, wantReason: ReasonVerified},
		{name: "no credentials Secret", issuer: venafiIssuer("v", testFakeURL, ""), ref: ref,
			wantReason: ReasonSecretMissing, wantMsg: "Secret ns/creds, the TPP credentials (spec.venafi.tpp.credentialsRef), not found"},
		{name: "empty credentials", kube: []runtime.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ns"}}},
			issuer: venafiIssuer("v", testFakeURL, ""), ref: ref, wantReason: ReasonInvalidConfig, wantMsg: "has neither"},
		{name: "gone", ref: ref, wantReason: ReasonInvalidConfig, wantMsg: "Issuer ns/v not found"},
		{name: "replaced", kube: []runtime.Object{credsSecret}, issuer: venafiIssuer("v", testFakeURL, ""),
			ref: IssuerRef{Namespace: "ns", Name: "v", UID: "old"}, wantReason: ReasonInvalidConfig, wantMsg: "was replaced"},
		{name: "invalid TPP URL", kube: []runtime.Object{credsSecret}, issuer: venafiIssuer("v", "https://bad_host/vedsdk", ""), ref: ref,
			wantReason: ReasonInvalidConfig, wantMsg: "TPP URL is invalid"},
		{name: "unreachable TPP", kube: []runtime.Object{credsSecret}, issuer: venafiIssuer("v", "https://127.0.0.1:1/vedsdk", ""), ref: ref,
			wantReason: ReasonErrorSetup, wantMsg: "error pinging Venafi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cf []runtime.Object
			if tc.issuer != nil {
				cf = append(cf, tc.issuer)
			}
			a := newActivities(t, tc.kube, cf...)
			res, err := a.CheckVenafiIssuer(context.Background(), tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ready != tc.wantReady || res.Reason != tc.wantReason || !strings.Contains(res.Message, tc.wantMsg) {
				t.Errorf("got %+v, want ready=%t %s %q", res, tc.wantReady, tc.wantReason, tc.wantMsg)
			}
			if strings.Contains(res.Message, "secret-password") {
				t.Errorf("message holds the password: %q", res.Message)
			}
		})
	}
}

func csrPEM(t *testing.T, cn string, dns ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func request(name, uid string, csr []byte, fields string) *cmapi.CertificateRequest {
	cr := &cmapi.CertificateRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + uid)},
		Spec: cmapi.CertificateRequestSpec{Request: csr, IssuerRef: cmmeta.IssuerReference{Name: "v"}}}
	if fields != "" {
		cr.Annotations = map[string]string{cmapi.VenafiCustomFieldsAnnotationKey: fields}
	}
	return cr
}

func TestSignWithFakeConnector(t *testing.T) {
	csr := csrPEM(t, "app.example.com", "app.example.com", "www.example.com")
	a := newActivities(t, []runtime.Object{credsSecret},
		venafiIssuer("v", testFakeURL, `[{"name":"team","value":"ops"}]`),
		request("ok", "ok", csr, `[{"name":"app","value":"web"}]`),
		request("badfields", "badfields", csr, `[{"type":"Bool","name":"x","value":"y"}]`),
		request("refused", "refused", csrPEM(t, "www.venafi.com"), ""),
	)
	issuer := IssuerRef{Namespace: "ns", Name: "v"}
	in := SignInput{Request: RequestRef{Namespace: "ns", Name: "ok", UID: "uid-ok"}, Issuer: issuer}
	got, err := a.RequestVenafiCertificate(context.Background(), in)
	if err != nil || got.PickupID == "" {
		t.Fatalf("request: %+v, %v", got, err)
	}
	signed, err := a.RetrieveVenafiCertificate(context.Background(), PickupInput{SignInput: in, PickupID: got.PickupID})
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(signed.CertificatePEM)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "app.example.com" || len(leaf.DNSNames) != 2 || leaf.Issuer.CommonName != "VCert Test Mode CA" {
		t.Errorf("issued %q %v by %q", leaf.Subject.CommonName, leaf.DNSNames, leaf.Issuer.CommonName)
	}
	if strings.TrimSpace(string(signed.CAPEM)) != strings.TrimSpace(fake.CaCertPEM) {
		t.Errorf("CA is not the fake's:\n%s", signed.CAPEM)
	}

	for _, tc := range []struct {
		name     string
		in       SignInput
		wantType string
		wantMsg  string
	}{
		{name: "custom field type", in: SignInput{Request: RequestRef{Namespace: "ns", Name: "badfields", UID: "uid-badfields"}, Issuer: issuer},
			wantType: ErrTypeCustomFields, wantMsg: `invalid custom fields type: "Bool"`},
		{name: "refused by Venafi", in: SignInput{Request: RequestRef{Namespace: "ns", Name: "refused", UID: "uid-refused"}, Issuer: issuer},
			wantType: ErrTypeRequestFailed, wantMsg: "www.venafi.com certificate cannot be requested"},
		{name: "request replaced", in: SignInput{Request: RequestRef{Namespace: "ns", Name: "ok", UID: "other"}, Issuer: issuer},
			wantType: ErrTypeRequestGone, wantMsg: "was replaced"},
		{name: "request gone", in: SignInput{Request: RequestRef{Namespace: "ns", Name: "nope", UID: "x"}, Issuer: issuer},
			wantType: ErrTypeRequestGone, wantMsg: "is gone"},
		{name: "issuer gone", in: SignInput{Request: RequestRef{Namespace: "ns", Name: "ok", UID: "uid-ok"}, Issuer: IssuerRef{Namespace: "ns", Name: "nope"}},
			wantType: ErrTypeNotVenafi, wantMsg: "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.RequestVenafiCertificate(context.Background(), tc.in)
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != tc.wantType || !appErr.NonRetryable() || !strings.Contains(appErr.Message(), tc.wantMsg) {
				t.Errorf("err = %v, want non-retryable %s %q", err, tc.wantType, tc.wantMsg)
			}
		})
	}
}
