package starter

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	sharedpki "github.com/certflow/certflow/pki"
)

func TestCreateRequestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		o    createRequestOptions
		want string // "" is valid
	}{
		{"valid", []string{"cr"}, createRequestOptions{certificateFile: "c.yaml"}, ""},
		{"valid with fetch", []string{"cr"}, createRequestOptions{certificateFile: "c.yaml", fetch: true, timeout: time.Minute, certFile: "x.crt", keyFile: "x.key"}, ""},
		{"no name", nil, createRequestOptions{certificateFile: "c.yaml"}, "the name of the CertificateRequest to be created has to be provided as argument"},
		{"two names", []string{"a", "b"}, createRequestOptions{certificateFile: "c.yaml"}, "only one argument can be passed in"},
		{"no file", []string{"cr"}, createRequestOptions{}, "please specify by using --from-certificate-file flag"},
		{"same files", []string{"cr"}, createRequestOptions{certificateFile: "c.yaml", fetch: true, timeout: time.Minute, certFile: "x", keyFile: "x"}, "the file to store private key cannot be the same as the file to store certificate"},
		{"cert file without fetch", []string{"cr"}, createRequestOptions{certificateFile: "c.yaml", certFile: "x.crt"}, "please set --fetch-certificate flag"},
		{"zero timeout", []string{"cr"}, createRequestOptions{certificateFile: "c.yaml", fetch: true}, "--timeout must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.validate(tc.args)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("validate = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("validate = %v, want %q", err, tc.want)
			}
		})
	}
	k, c := createRequestOptions{}.files("my-cr")
	if k != "my-cr.key" || c != "my-cr.crt" {
		t.Errorf("default files = %s, %s", k, c)
	}
	k, c = createRequestOptions{keyFile: "a.pem", certFile: "b.pem"}.files("my-cr")
	if k != "a.pem" || c != "b.pem" {
		t.Errorf("files = %s, %s", k, c)
	}
}

func TestRequestNamespace(t *testing.T) {
	for _, tc := range []struct {
		manifest, command string
		explicit          bool
		want, err         string
	}{
		{"", "default", false, "default", ""},
		{"", "team", true, "team", ""},
		{"shop", "default", false, "shop", ""},
		{"shop", "shop", true, "shop", ""},
		{"shop", "team", true, "", `the namespace from the provided object "shop" does not match the namespace "team". You must pass '--namespace=shop'`},
	} {
		got, err := requestNamespace(tc.manifest, tc.command, tc.explicit)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("requestNamespace(%q, %q, %v) = %q, %v; want %q, %q", tc.manifest, tc.command, tc.explicit, got, err, tc.want, tc.err)
		}
	}
}

func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestCertificateFromObject(t *testing.T) {
	crt, err := certificateFromObject(object(t, `apiVersion: cert-manager.io/v1alpha2
kind: Certificate
metadata: {name: web, namespace: shop, labels: {team: web}, annotations: {a: b}}
spec:
  secretName: web-tls
  dnsNames: [web.example.com]
  organization: [Example]
  keyAlgorithm: ecdsa
  keySize: 384
  keyEncoding: pkcs8
  duration: 1h
  isCA: true
  usages: [cert sign]
  issuerRef: {name: ca, kind: ClusterIssuer}
`))
	if err != nil {
		t.Fatal(err)
	}
	if crt.Spec.PrivateKey == nil || crt.Spec.PrivateKey.Algorithm != cmapi.ECDSAKeyAlgorithm || crt.Spec.PrivateKey.Size != 384 || crt.Spec.PrivateKey.Encoding != cmapi.PKCS8 {
		t.Errorf("privateKey = %+v", crt.Spec.PrivateKey)
	}
	if crt.Spec.Subject == nil || !slices.Equal(crt.Spec.Subject.Organizations, []string{"Example"}) {
		t.Errorf("subject = %+v", crt.Spec.Subject)
	}
	if crt.Namespace != "shop" || crt.Labels["team"] != "web" || crt.Spec.IssuerRef.Kind != "ClusterIssuer" || crt.Spec.Duration.Duration != time.Hour || !crt.Spec.IsCA {
		t.Errorf("certificate = %+v", crt)
	}

	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: ca}\nspec: {ca: {secretName: x}}", "Issuer cert-manager.io/v1 ca is not a Certificate (cert-manager.io/v1, Kind=Certificate)"},
		{"apiVersion: v1\nkind: Secret\nmetadata: {name: s}", "is not a Certificate"},
		{"apiVersion: cert-manager.io/v1alpha1\nkind: Certificate\nmetadata: {name: c}", `unknown version "v1alpha1"`},
		{"apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {dnsNames: 3}", "Certificate cert-manager.io/v1 c:"},
	} {
		_, err := certificateFromObject(object(t, tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("certificateFromObject(%q) = %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestReadCertificateFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := write("one.yaml", "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {secretName: s, dnsNames: [a.example.com], issuerRef: {name: ca}}\n")
	crt, err := readCertificateFile(one)
	if err != nil || crt.Name != "c" || !slices.Equal(crt.Spec.DNSNames, []string{"a.example.com"}) {
		t.Errorf("readCertificateFile = %+v, %v", crt, err)
	}
	two := write("two.yaml", "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: d}\n")
	if _, err := readCertificateFile(two); err == nil || !strings.Contains(err.Error(), "multiple objects found in manifest file") {
		t.Errorf("two objects: %v", err)
	}
	if _, err := readCertificateFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestKeyAndCSR(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pk      *cmapi.CertificatePrivateKey
		pemType string
		check   func(any) bool
	}{
		{"default RSA 2048 PKCS1", nil, keys.PEMTypeRSAPrivateKey, func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 2048 }},
		{"RSA 3072 PKCS8", &cmapi.CertificatePrivateKey{Algorithm: cmapi.RSAKeyAlgorithm, Size: 3072, Encoding: cmapi.PKCS8}, keys.PEMTypePKCS8PrivateKey, func(k any) bool { r, ok := k.(*rsa.PrivateKey); return ok && r.N.BitLen() == 3072 }},
		{"ECDSA P-384 PKCS1", &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 384}, keys.PEMTypeECPrivateKey, func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve.Params().BitSize == 384 }},
		{"ECDSA default PKCS8", &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Encoding: cmapi.PKCS8}, keys.PEMTypePKCS8PrivateKey, func(k any) bool { e, ok := k.(*ecdsa.PrivateKey); return ok && e.Curve.Params().BitSize == 256 }},
		{"Ed25519", &cmapi.CertificatePrivateKey{Algorithm: cmapi.Ed25519KeyAlgorithm}, keys.PEMTypePKCS8PrivateKey, func(k any) bool { _, ok := k.(ed25519.PrivateKey); return ok }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crt := &cmapi.Certificate{Spec: cmapi.CertificateSpec{
				CommonName: "web.example.com", DNSNames: []string{"web.example.com", "www.example.com"},
				IPAddresses: []string{"192.0.2.7"}, EmailAddresses: []string{"ops@example.com"},
				Subject: &cmapi.X509Subject{Organizations: []string{"Example"}}, IsCA: true,
				PrivateKey: tc.pk,
			}}
			keyPEM, csrPEM, err := keyAndCSR(crt)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(keyPEM)
			if block == nil || block.Type != tc.pemType {
				t.Fatalf("key PEM type = %v, want %s", block, tc.pemType)
			}
			signer, err := keys.ParsePrivateKeyPEM(keyPEM)
			if err != nil || !tc.check(signer) {
				t.Fatalf("key = %T, %v", signer, err)
			}
			csr, err := pki.ParseCSRPEM(csrPEM)
			if err != nil {
				t.Fatal(err)
			}
			if csr.Subject.CommonName != "web.example.com" || !slices.Equal(csr.Subject.Organization, []string{"Example"}) {
				t.Errorf("CSR subject = %v", csr.Subject)
			}
			if !slices.Equal(csr.DNSNames, []string{"web.example.com", "www.example.com"}) || len(csr.IPAddresses) != 1 || csr.IPAddresses[0].String() != "192.0.2.7" || !slices.Equal(csr.EmailAddresses, []string{"ops@example.com"}) {
				t.Errorf("CSR SANs = %v %v %v", csr.DNSNames, csr.IPAddresses, csr.EmailAddresses)
			}
			if !sharedpki.PublicKeysEqual(signer.Public(), csr.PublicKey) {
				t.Errorf("the CSR's public key is not the key's")
			}
		})
	}
	for _, tc := range []struct {
		pk   cmapi.CertificatePrivateKey
		want string
	}{
		{cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 300}, "error when generating new private key for CertificateRequest: ECDSA key size must be 256, 384 or 521, got 300"},
		{cmapi.CertificatePrivateKey{Algorithm: "DSA"}, `unsupported private key algorithm "DSA"`},
		{cmapi.CertificatePrivateKey{Encoding: "PEM"}, `unsupported private key encoding "PEM"`},
	} {
		_, _, err := keyAndCSR(&cmapi.Certificate{Spec: cmapi.CertificateSpec{CommonName: "a", PrivateKey: &tc.pk}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "retryable") {
			t.Errorf("keyAndCSR(%+v) = %v, want %q", tc.pk, err, tc.want)
		}
	}
}

func TestBuildRequest(t *testing.T) {
	crt := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"team": "web"}, Annotations: map[string]string{"note": "x"}},
		Spec: cmapi.CertificateSpec{
			Duration: &metav1.Duration{Duration: time.Hour}, IsCA: true, Usages: []cmapi.KeyUsage{cmapi.UsageCertSign},
			IssuerRef: cmmeta.ObjectReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"},
		},
	}
	cr := buildRequest(crt, "my-cr", []byte("CSR"))
	if cr.Name != "my-cr" || cr.Namespace != "" || cr.Labels["team"] != "web" || cr.Annotations["note"] != "x" {
		t.Errorf("metadata = %+v", cr.ObjectMeta)
	}
	if string(cr.Spec.Request) != "CSR" || cr.Spec.Duration.Duration != time.Hour || !cr.Spec.IsCA || cr.Spec.IssuerRef != crt.Spec.IssuerRef || !slices.Equal(cr.Spec.Usages, crt.Spec.Usages) {
		t.Errorf("spec = %+v", cr.Spec)
	}
}

func TestRequestOutcome(t *testing.T) {
	cond := func(typ cmapi.CertificateRequestConditionType, status cmmeta.ConditionStatus, reason, message string) cmapi.CertificateRequestCondition {
		return cmapi.CertificateRequestCondition{Type: typ, Status: status, Reason: reason, Message: message}
	}
	approved := cond(cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, "certflow", "approved")
	for _, tc := range []struct {
		name     string
		conds    []cmapi.CertificateRequestCondition
		cert     string
		done     bool
		err      string
		progress string
	}{
		{name: "new", progress: "not approved, with no Ready condition"},
		{name: "pending", conds: []cmapi.CertificateRequestCondition{approved, cond("Ready", "False", "Pending", `Referenced "Issuer" not found`)}, progress: `approved, Ready=False Pending: Referenced "Issuer" not found`},
		{name: "signed", conds: []cmapi.CertificateRequestCondition{approved, cond("Ready", "True", "Issued", "ok")}, cert: "PEM", done: true, progress: "approved, Ready=True Issued: ok"},
		{name: "ready without certificate yet", conds: []cmapi.CertificateRequestCondition{approved, cond("Ready", "True", "Issued", "ok")}},
		{name: "denied", conds: []cmapi.CertificateRequestCondition{cond("Denied", "True", "Security", "not for you")}, done: true, err: "CertificateRequest shop/cr was denied: Security: not for you"},
		{name: "denied with Ready", conds: []cmapi.CertificateRequestCondition{cond("Ready", "False", "Denied", "The CertificateRequest was denied by an approval controller"), cond("Denied", "True", "Ops", "no")}, done: true, err: "was denied: Ops: no"},
		{name: "denied by Ready alone", conds: []cmapi.CertificateRequestCondition{cond("Ready", "False", "Denied", "denied")}, done: true, err: "was denied: Denied: denied"},
		{name: "failed", conds: []cmapi.CertificateRequestCondition{approved, cond("Ready", "False", "Failed", "the CA refused")}, done: true, err: "CertificateRequest shop/cr failed: Failed: the CA refused"},
		{name: "invalid", conds: []cmapi.CertificateRequestCondition{cond("InvalidRequest", "True", "BadCSR", "garbage")}, done: true, err: "CertificateRequest shop/cr is invalid: BadCSR: garbage"},
		{name: "denied false is not final", conds: []cmapi.CertificateRequestCondition{cond("Denied", "False", "", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := &cmapi.CertificateRequest{ObjectMeta: metav1.ObjectMeta{Name: "cr", Namespace: "shop"}}
			cr.Status.Conditions = tc.conds
			cr.Status.Certificate = []byte(tc.cert)
			done, err := requestOutcome(cr)
			if done != tc.done || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("requestOutcome = %v, %v; want %v, %q", done, err, tc.done, tc.err)
			}
			if tc.progress != "" {
				if got := requestProgress(cr); got != tc.progress {
					t.Errorf("requestProgress = %q, want %q", got, tc.progress)
				}
			}
		})
	}
}
