package cainjector

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

func TestSourceOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ann     map[string]string
		want    Source
		wantErr string
	}{
		{name: "none", ann: nil, want: Source{}},
		{name: "other annotations", ann: map[string]string{"a": "b"}, want: Source{}},
		{name: "certificate", ann: map[string]string{cmapi.WantInjectAnnotation: "ns/ca"}, want: Source{Kind: FromCertificate, Namespace: "ns", Name: "ca"}},
		{name: "secret", ann: map[string]string{cmapi.WantInjectFromSecretAnnotation: "ns/ca-tls"}, want: Source{Kind: FromSecret, Namespace: "ns", Name: "ca-tls"}},
		{name: "apiserver", ann: map[string]string{cmapi.WantInjectAPIServerCAAnnotation: "true"}, want: Source{Kind: FromAPIServer}},
		{name: "apiserver false", ann: map[string]string{cmapi.WantInjectAPIServerCAAnnotation: "false"}, want: Source{}},
		{name: "apiserver True", ann: map[string]string{cmapi.WantInjectAPIServerCAAnnotation: "True"}, wantErr: `inject-apiserver-ca: "True" is neither`},
		// Upstream's precedence: secret, then certificate, then the API server.
		{name: "secret before certificate", ann: map[string]string{cmapi.WantInjectAnnotation: "ns/ca", cmapi.WantInjectFromSecretAnnotation: "ns/s", cmapi.WantInjectAPIServerCAAnnotation: "true"},
			want: Source{Kind: FromSecret, Namespace: "ns", Name: "s"}},
		{name: "certificate before apiserver", ann: map[string]string{cmapi.WantInjectAnnotation: "ns/ca", cmapi.WantInjectAPIServerCAAnnotation: "true"},
			want: Source{Kind: FromCertificate, Namespace: "ns", Name: "ca"}},
		// A bad value is reported, not passed over for the next annotation.
		{name: "bad secret does not fall through", ann: map[string]string{cmapi.WantInjectFromSecretAnnotation: "s", cmapi.WantInjectAnnotation: "ns/ca"}, wantErr: `inject-ca-from-secret: "s" is not <namespace>/<name>`},
		{name: "no namespace", ann: map[string]string{cmapi.WantInjectAnnotation: "ca"}, wantErr: `inject-ca-from: "ca" is not <namespace>/<name>`},
		{name: "empty namespace", ann: map[string]string{cmapi.WantInjectAnnotation: "/ca"}, wantErr: "is not <namespace>/<name>"},
		{name: "empty name", ann: map[string]string{cmapi.WantInjectAnnotation: "ns/"}, wantErr: "is not <namespace>/<name>"},
		{name: "empty", ann: map[string]string{cmapi.WantInjectAnnotation: ""}, wantErr: "is not <namespace>/<name>"},
		{name: "two slashes", ann: map[string]string{cmapi.WantInjectAnnotation: "ns/a/b"}, wantErr: `name "a/b" is not valid`},
		{name: "bad namespace", ann: map[string]string{cmapi.WantInjectAnnotation: "Ns/ca"}, wantErr: `namespace "Ns" is not valid`},
		{name: "bad name", ann: map[string]string{cmapi.WantInjectAnnotation: "ns/CA_1"}, wantErr: `name "CA_1" is not valid`},
		{name: "long value cut", ann: map[string]string{cmapi.WantInjectAnnotation: strings.Repeat("x", 5000)}, wantErr: "...\" is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SourceOf(tc.ann)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				if len(err.Error()) > 1000 {
					t.Errorf("message of %d bytes", len(err.Error()))
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestHasInjectAnnotation(t *testing.T) {
	for ann, want := range map[string]bool{
		"": false, "x": false,
		cmapi.WantInjectAnnotation: true, cmapi.WantInjectFromSecretAnnotation: true, cmapi.WantInjectAPIServerCAAnnotation: true,
		cmapi.AllowsInjectionFromSecretAnnotation: false,
	} {
		if got := HasInjectAnnotation(map[string]string{ann: "whatever"}); got != want {
			t.Errorf("%q: %t, want %t", ann, got, want)
		}
	}
}

func TestTargetIndexes(t *testing.T) {
	for _, tc := range []struct {
		ann  map[string]string
		want map[string][]string
	}{
		{nil, nil},
		{map[string]string{cmapi.WantInjectAnnotation: "ns/ca"}, map[string][]string{indexCertificate: {"ns/ca"}}},
		{map[string]string{cmapi.WantInjectFromSecretAnnotation: "ns/s"}, map[string][]string{indexSecret: {"ns/s"}}},
		// Only the source in effect: a change of the Certificate does not touch a target
		// that injects from a Secret.
		{map[string]string{cmapi.WantInjectFromSecretAnnotation: "ns/s", cmapi.WantInjectAnnotation: "ns/ca"}, map[string][]string{indexSecret: {"ns/s"}}},
		{map[string]string{cmapi.WantInjectAPIServerCAAnnotation: "true"}, nil},
		{map[string]string{cmapi.WantInjectAnnotation: "bad"}, nil},
	} {
		if got := targetIndexes(tc.ann); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.ann, got, tc.want)
		}
	}
}

func TestSecretTouches(t *testing.T) {
	owned := SecretRef{Namespace: "ns", Name: "ca-tls", Annotations: map[string]string{cmapi.CertificateNameKey: "ca"}}
	plain := SecretRef{Namespace: "ns", Name: "ca-tls"}
	other := SecretRef{Namespace: "ns", Name: "ca-tls", Annotations: map[string]string{cmapi.CertificateNameKey: "other"}}
	for _, tc := range []struct {
		name    string
		secrets []SecretRef
		want    Touched
	}{
		{"not a Certificate's", []SecretRef{plain}, Touched{indexSecret: {"ns/ca-tls": true}}},
		{"a Certificate's", []SecretRef{owned}, Touched{indexSecret: {"ns/ca-tls": true}, indexCertificate: {"ns/ca": true}}},
		// An update that drops or changes the annotation touches the old Certificate's
		// targets too, so they see that the Secret is no longer theirs.
		{"annotation dropped", []SecretRef{owned, plain}, Touched{indexSecret: {"ns/ca-tls": true}, indexCertificate: {"ns/ca": true}}},
		{"annotation changed", []SecretRef{owned, other}, Touched{indexSecret: {"ns/ca-tls": true}, indexCertificate: {"ns/ca": true, "ns/other": true}}},
	} {
		if got := SecretTouches(tc.secrets...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCertificateTouches(t *testing.T) {
	cert := func(secret string) *cmapi.Certificate {
		return &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca"}, Spec: cmapi.CertificateSpec{SecretName: secret}}
	}
	renewed := cert("ca-tls")
	renewed.Status.Revision = new(int)
	touched := Touched{indexCertificate: {"ns/ca": true}}
	for _, tc := range []struct {
		name     string
		old, new *cmapi.Certificate
		want     Touched
	}{
		{"created", nil, cert("ca-tls"), touched},
		{"deleted", cert("ca-tls"), nil, touched},
		{"another Secret", cert("ca-tls"), cert("other-tls"), touched},
		// The CA changes with the Secret, whose own event says so.
		{"status only", cert("ca-tls"), renewed, Touched{}},
		{"nothing", nil, nil, Touched{}},
	} {
		if got := CertificateTouches(tc.old, tc.new); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNeedsWrite(t *testing.T) {
	ca := []byte("CA")
	for _, tc := range []struct {
		name  string
		slots []Slot
		want  bool
	}{
		{"no slot", nil, false},
		{"all current", []Slot{{"a", ca}, {"b", []byte("CA")}}, false},
		{"one empty", []Slot{{"a", ca}, {"b", nil}}, true},
		{"one old", []Slot{{"a", []byte("OLD")}, {"b", ca}}, true},
	} {
		if got := NeedsWrite(tc.slots, ca); got != tc.want {
			t.Errorf("%s: %t, want %t", tc.name, got, tc.want)
		}
	}
}

func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCheckCA(t *testing.T) {
	ca := testCAPEM(t)
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}})
	for _, tc := range []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"one", ca, ""},
		{"two", append(append([]byte{}, ca...), ca...), ""},
		{"trailing newline", append(append([]byte{}, ca...), '\n'), ""},
		{"empty", nil, "is empty"},
		{"blank", []byte(" \n"), "is empty"},
		{"not PEM", []byte("hello"), "holds no PEM certificate"},
		{"a key", append(append([]byte{}, ca...), key...), `type "EC PRIVATE KEY"`},
		{"garbage after", append(append([]byte{}, ca...), "junk"...), "data after its last PEM certificate"},
		{"too large", make([]byte, MaxCABundle+1), "more than"},
	} {
		err := CheckCA(tc.data)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestCAOfSecrets(t *testing.T) {
	ca := testCAPEM(t)
	secret := func(ann map[string]string, data map[string][]byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca-tls", Annotations: ann}, Data: data}
	}
	owned := map[string]string{cmapi.CertificateNameKey: "ca"}
	allowed := map[string]string{cmapi.AllowsInjectionFromSecretAnnotation: "true"}
	withCA := map[string][]byte{"ca.crt": ca, "tls.crt": ca}
	for _, tc := range []struct {
		name       string
		fromCert   bool
		secret     *corev1.Secret
		wantReason string
	}{
		{"certificate's", true, secret(owned, withCA), ""},
		{"not annotated", true, secret(nil, withCA), ReasonSecretNotOwned},
		{"another certificate's", true, secret(map[string]string{cmapi.CertificateNameKey: "other"}, withCA), ReasonSecretNotOwned},
		{"certificate's without ca.crt", true, secret(owned, map[string][]byte{"tls.crt": ca}), ReasonInvalidCA},
		{"certificate's with a bad ca.crt", true, secret(owned, map[string][]byte{"ca.crt": []byte("x")}), ReasonInvalidCA},
		{"allowed", false, secret(allowed, withCA), ""},
		{"not allowed", false, secret(nil, withCA), ReasonDirectInjectionNotOK},
		{"allowed False", false, secret(map[string]string{cmapi.AllowsInjectionFromSecretAnnotation: "True"}, withCA), ReasonDirectInjectionNotOK},
		// A Certificate's Secret is not injectable directly just because it is one.
		{"certificate's, directly", false, secret(owned, withCA), ReasonDirectInjectionNotOK},
		{"allowed without ca.crt", false, secret(allowed, nil), ReasonInvalidCA},
	} {
		var got []byte
		var p *Problem
		if tc.fromCert {
			got, p = CAOfCertificateSecret("ns", "ca", tc.secret)
		} else {
			got, p = CAOfSecret(tc.secret)
		}
		switch {
		case tc.wantReason == "" && (p != nil || string(got) != string(ca)):
			t.Errorf("%s: %v, want the CA", tc.name, p)
		case tc.wantReason != "" && (p == nil || p.Reason != tc.wantReason || got != nil):
			t.Errorf("%s: %v, want %s", tc.name, p, tc.wantReason)
		case p != nil && !strings.Contains(p.Message, "ns/ca-tls"):
			t.Errorf("%s: message %q does not name the Secret", tc.name, p.Message)
		}
	}
}

// The caches hold lean copies; the view of a lean copy is the view of the object.
func TestLeanTargets(t *testing.T) {
	ann := map[string]string{cmapi.WantInjectAnnotation: "ns/ca", "kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 1000)}
	meta := metav1.ObjectMeta{Name: "t", UID: "u", ResourceVersion: "7", Annotations: ann, Labels: map[string]string{"a": "b"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
	fail := admissionv1.Fail
	webhookCfg := admissionv1.WebhookClientConfig{CABundle: []byte("old"), URL: new("https://x.example")}
	rules := []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Create}}}
	for _, tc := range []struct {
		name      string
		obj       any
		wantSlots []Slot
		noSlot    bool
	}{
		{"validating", &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: meta, Webhooks: []admissionv1.ValidatingWebhook{
			{Name: "a.example.com", ClientConfig: webhookCfg, Rules: rules, FailurePolicy: &fail}, {Name: "b.example.com", ClientConfig: admissionv1.WebhookClientConfig{URL: new("https://y")}}}},
			[]Slot{{"a.example.com", []byte("old")}, {"b.example.com", nil}}, false},
		{"mutating", &admissionv1.MutatingWebhookConfiguration{ObjectMeta: meta, Webhooks: []admissionv1.MutatingWebhook{{Name: "a.example.com", ClientConfig: webhookCfg, Rules: rules}}},
			[]Slot{{"a.example.com", []byte("old")}}, false},
		{"apiservice", &apiregv1.APIService{ObjectMeta: meta, Spec: apiregv1.APIServiceSpec{Group: "g", Version: "v1", CABundle: []byte("old"), GroupPriorityMinimum: 10}},
			[]Slot{{"spec.caBundle", []byte("old")}}, false},
		{"crd webhook", &apiextv1.CustomResourceDefinition{ObjectMeta: meta, Spec: apiextv1.CustomResourceDefinitionSpec{Group: "g",
			Versions: []apiextv1.CustomResourceDefinitionVersion{{Name: "v1", Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{Type: "object"}}}},
			Conversion: &apiextv1.CustomResourceConversion{Strategy: apiextv1.WebhookConverter, Webhook: &apiextv1.WebhookConversion{
				ClientConfig: &apiextv1.WebhookClientConfig{CABundle: []byte("old"), URL: new("https://x")}, ConversionReviewVersions: []string{"v1"}}}}},
			[]Slot{{"spec.conversion.webhook.clientConfig.caBundle", []byte("old")}}, false},
		{"crd none", &apiextv1.CustomResourceDefinition{ObjectMeta: meta, Spec: apiextv1.CustomResourceDefinitionSpec{Conversion: &apiextv1.CustomResourceConversion{Strategy: apiextv1.NoneConverter}}}, nil, true},
		{"crd no conversion", &apiextv1.CustomResourceDefinition{ObjectMeta: meta}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full, ok := TargetOf(tc.obj)
			if !ok {
				t.Fatal("not a target")
			}
			l, err := leanTarget(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			lean, ok := TargetOf(l)
			if !ok {
				t.Fatal("lean copy not a target")
			}
			if !reflect.DeepEqual(lean.Slots, tc.wantSlots) || !reflect.DeepEqual(full.Slots, tc.wantSlots) || (lean.NoSlot != "") != tc.noSlot || (full.NoSlot != "") != tc.noSlot {
				t.Errorf("slots %v / %v (%q), want %v", lean.Slots, full.Slots, lean.NoSlot, tc.wantSlots)
			}
			if lean.Name != "t" || lean.UID != "u" || lean.ResourceVersion != "7" || !reflect.DeepEqual(lean.Annotations, map[string]string{cmapi.WantInjectAnnotation: "ns/ca"}) {
				t.Errorf("lean metadata %+v", lean)
			}
			m := l.(metav1.Object)
			if m.GetLabels() != nil || m.GetManagedFields() != nil {
				t.Errorf("lean copy keeps labels or managedFields")
			}
			// Idempotent: a transform may see its own output again.
			again, _ := leanTarget(l)
			if !reflect.DeepEqual(again, l) {
				t.Errorf("transform not idempotent")
			}
		})
	}
	// Without an injector annotation nothing but the metadata is kept.
	l, _ := leanTarget(&apiextv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Spec: apiextv1.CustomResourceDefinitionSpec{Conversion: &apiextv1.CustomResourceConversion{Strategy: apiextv1.WebhookConverter,
		Webhook: &apiextv1.WebhookConversion{ClientConfig: &apiextv1.WebhookClientConfig{CABundle: []byte("x")}}}}})
	if l.(*apiextv1.CustomResourceDefinition).Spec.Conversion != nil {
		t.Errorf("unannotated CRD keeps its conversion")
	}
}

func TestLeanSources(t *testing.T) {
	c, _ := leanCertificate(&cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca", Annotations: map[string]string{"a": "b"}},
		Spec: cmapi.CertificateSpec{SecretName: "ca-tls", DNSNames: []string{"x"}, IsCA: true}})
	if want := (&cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca"}, Spec: cmapi.CertificateSpec{SecretName: "ca-tls"}}); !reflect.DeepEqual(c, want) {
		t.Errorf("lean Certificate %+v", c)
	}
	s, _ := leanSecret(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca-tls", ResourceVersion: "3",
		Annotations: map[string]string{cmapi.CertificateNameKey: "ca", "big": strings.Repeat("x", 100)}, Labels: map[string]string{"a": "b"}}})
	if want := (&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "ca-tls", ResourceVersion: "3",
		Annotations: map[string]string{cmapi.CertificateNameKey: "ca"}}}); !reflect.DeepEqual(s, want) {
		t.Errorf("lean Secret %+v", s)
	}
}
