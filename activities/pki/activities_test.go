package pki

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

const ns = "team-a"

type harness struct {
	kube *fake.Clientset
	keys *keys.Activities
	pki  *Activities
	env  *testsuite.TestActivityEnvironment
	now  time.Time
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{kube: fake.NewClientset(objs...), now: testNow}
	h.keys = &keys.Activities{Kube: h.kube}
	h.pki = &Activities{Kube: h.kube, Now: func() time.Time { return h.now }}
	var suite testsuite.WorkflowTestSuite
	h.env = suite.NewTestActivityEnvironment()
	h.env.RegisterActivity(h.keys)
	h.env.RegisterActivity(h.pki)
	return h
}

func (h *harness) genKey(t *testing.T, name string, alg cmapi.PrivateKeyAlgorithm) keys.KeyRef {
	t.Helper()
	val, err := h.env.ExecuteActivity(h.keys.GeneratePrivateKey, keys.GenerateKeyInput{Namespace: ns, SecretName: name, Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	var ref keys.KeyRef
	if err := val.Get(&ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func (h *harness) createCSR(t *testing.T, spec cmapi.CertificateSpec, ref keys.KeyRef) []byte {
	t.Helper()
	val, err := h.env.ExecuteActivity(h.pki.CreateCSR, CreateCSRInput{Spec: spec, Key: ref})
	if err != nil {
		t.Fatal(err)
	}
	var csr []byte
	if err := val.Get(&csr); err != nil {
		t.Fatal(err)
	}
	return csr
}

func (h *harness) selfSign(in SelfSignInput) (SignedCertificate, error) {
	val, err := h.env.ExecuteActivity(h.pki.SignSelfSigned, in)
	if err != nil {
		return SignedCertificate{}, err
	}
	var out SignedCertificate
	err = val.Get(&out)
	return out, err
}

func (h *harness) signWithCA(in SignWithCAInput) (SignedCertificate, error) {
	val, err := h.env.ExecuteActivity(h.pki.SignWithCA, in)
	if err != nil {
		return SignedCertificate{}, err
	}
	var out SignedCertificate
	err = val.Get(&out)
	return out, err
}

func (h *harness) keyPEM(t *testing.T, ref keys.KeyRef) []byte {
	t.Helper()
	s, err := h.kube.CoreV1().Secrets(ns).Get(context.Background(), ref.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data["tls.key"]
}

// assertNoPrivateKey fails if anything an activity returned (or its error)
// contains private key material.
func assertNoPrivateKey(t *testing.T, keyPEM []byte, values ...any) {
	t.Helper()
	body := strings.Join(strings.Split(strings.TrimSpace(string(keyPEM)), "\n")[1:2], "")
	for _, v := range values {
		var b []byte
		switch v := v.(type) {
		case error:
			b = []byte(v.Error())
		case []byte:
			b = v
		case SignedCertificate:
			b = append(append(append([]byte{}, v.CertificatePEM...), v.CAPEM...), strings.Join(v.Warnings, "\n")...)
		default:
			b, _ = json.Marshal(v)
		}
		if strings.Contains(string(b), "PRIVATE KEY") || (len(body) > 20 && strings.Contains(string(b), body[:20])) {
			t.Fatalf("private key material leaked: %s", b)
		}
	}
}

func TestSelfSignedActivities(t *testing.T) {
	for _, alg := range []cmapi.PrivateKeyAlgorithm{cmapi.RSAKeyAlgorithm, cmapi.ECDSAKeyAlgorithm, cmapi.Ed25519KeyAlgorithm} {
		t.Run(string(alg), func(t *testing.T) {
			h := newHarness(t)
			ref := h.genKey(t, "cert-next", alg)
			spec := cmapi.CertificateSpec{
				SecretName: "cert",
				CommonName: "svc.team-a",
				DNSNames:   []string{"svc.team-a", "svc.team-a.svc"},
				OtherNames: []cmapi.OtherName{{OID: "1.3.6.1.4.1.311.20.2.3", UTF8Value: "svc@team-a"}},
				Usages:     []cmapi.KeyUsage{"digital signature", "server auth"},
			}
			csrPEM := h.createCSR(t, spec, ref)
			out, err := h.selfSign(SelfSignInput{
				CSRPEM: csrPEM, Key: ref, Duration: 24 * time.Hour, Usages: spec.Usages,
				CRLDistributionPoints: []string{"http://crl.example/self.crl"},
			})
			if err != nil {
				t.Fatal(err)
			}
			assertNoPrivateKey(t, h.keyPEM(t, ref), csrPEM, out)
			if string(out.CAPEM) != string(out.CertificatePEM) {
				t.Fatal("self-signed ca.crt must be the certificate itself")
			}
			certs, err := ParseCertificatesPEM(out.CertificatePEM)
			if err != nil || len(certs) != 1 {
				t.Fatalf("%d certs, %v", len(certs), err)
			}
			cert := certs[0]
			verifySelfSigned(t, cert)
			facts := FactsOf(cert)
			if facts.PublicKeySHA256 != ref.PublicKeySHA256 {
				t.Fatal("certificate is not for the referenced key")
			}
			if !facts.NotBefore.Equal(testNow) || !facts.NotAfter.Equal(testNow.Add(24*time.Hour)) {
				t.Fatalf("validity %v - %v", facts.NotBefore, facts.NotAfter)
			}
			if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || len(cert.CRLDistributionPoints) != 1 {
				t.Fatalf("usages / CRL DPs: %v %v", cert.ExtKeyUsage, cert.CRLDistributionPoints)
			}
			ext, _ := findExt(cert.Extensions, OIDExtensionSubjectAltName)
			names, err := UnmarshalSANs(ext.Value)
			if err != nil || len(names.OtherNames) != 1 || names.OtherNames[0].UTF8Value != "svc@team-a" {
				t.Fatalf("otherName lost: %+v %v", names, err)
			}
			if len(out.Warnings) != 0 {
				t.Fatalf("unexpected warnings %v", out.Warnings)
			}
		})
	}
}

func TestSignSelfSignedEmptySubjectWarns(t *testing.T) {
	h := newHarness(t)
	ref := h.genKey(t, "k", cmapi.ECDSAKeyAlgorithm)
	csrPEM := h.createCSR(t, cmapi.CertificateSpec{DNSNames: []string{"only-san.example"}}, ref)
	out, err := h.selfSign(SelfSignInput{CSRPEM: csrPEM, Key: ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Warnings) != 1 {
		t.Fatalf("warnings %v", out.Warnings)
	}
}

func TestSignSelfSignedErrors(t *testing.T) {
	h := newHarness(t)
	ref := h.genKey(t, "k1", cmapi.ECDSAKeyAlgorithm)
	other := h.genKey(t, "k2", cmapi.ECDSAKeyAlgorithm)
	csrPEM := h.createCSR(t, cmapi.CertificateSpec{CommonName: "x"}, ref)

	// CSR made with k1, signed with k2.
	_, err := h.selfSign(SelfSignInput{CSRPEM: csrPEM, Key: other})
	assertErrType(t, err, ErrTypeKeyMismatch)
	assertNoPrivateKey(t, h.keyPEM(t, ref), err)
	assertNoPrivateKey(t, h.keyPEM(t, other), err)

	// The key in the Secret was replaced after the reference was taken.
	_, err = h.env.ExecuteActivity(h.keys.GeneratePrivateKey, keys.GenerateKeyInput{Namespace: ns, SecretName: "k1", Algorithm: cmapi.Ed25519KeyAlgorithm})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.selfSign(SelfSignInput{CSRPEM: csrPEM, Key: ref})
	assertErrType(t, err, ErrTypeKeyMismatch)

	// Missing key Secret.
	_, err = h.selfSign(SelfSignInput{CSRPEM: csrPEM, Key: keys.KeyRef{Namespace: ns, SecretName: "nope"}})
	assertErrType(t, err, keys.ErrTypePrivateKeySecretNotFound)

	// Garbage CSR.
	_, err = h.selfSign(SelfSignInput{CSRPEM: []byte("junk"), Key: other})
	assertErrType(t, err, ErrTypeInvalidCSR)

	// Usages that contradict the CSR.
	csr2 := h.createCSR(t, cmapi.CertificateSpec{CommonName: "x", IsCA: true}, other)
	_, err = h.selfSign(SelfSignInput{CSRPEM: csr2, Key: other, IsCA: false})
	assertErrType(t, err, ErrTypeInvalidCSR)

	// CreateCSR with a bad spec.
	_, err = h.env.ExecuteActivity(h.pki.CreateCSR, CreateCSRInput{Spec: cmapi.CertificateSpec{IPAddresses: []string{"bad"}}, Key: other})
	assertErrType(t, err, ErrTypeInvalidCertificateSpec)
	_, err = h.env.ExecuteActivity(h.pki.CreateCSR, CreateCSRInput{Spec: cmapi.CertificateSpec{CommonName: "x"}, Key: keys.KeyRef{Namespace: ns, SecretName: "absent"}})
	assertErrType(t, err, keys.ErrTypePrivateKeySecretNotFound)
}

// caSecret self-signs a CA through the activities and stores it as a
// kubernetes.io/tls Secret, as a CA issuer would find it.
func (h *harness) makeCA(t *testing.T, name string, chainPEM []byte, keyRef keys.KeyRef) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": chainPEM, "tls.key": h.keyPEM(t, keyRef)},
	}
	if _, err := h.kube.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestSignWithCA(t *testing.T) {
	h := newHarness(t)
	// Root CA, 10 years.
	rootKey := h.genKey(t, "root-key", cmapi.ECDSAKeyAlgorithm)
	rootCSR := h.createCSR(t, cmapi.CertificateSpec{CommonName: "Root CA", IsCA: true}, rootKey)
	root, err := h.selfSign(SelfSignInput{CSRPEM: rootCSR, Key: rootKey, IsCA: true, Duration: 87600 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h.makeCA(t, "root-ca", root.CertificatePEM, rootKey)

	// Intermediate signed by the root, RSA key.
	intKey := h.genKey(t, "int-key", cmapi.RSAKeyAlgorithm)
	intCSR := h.createCSR(t, cmapi.CertificateSpec{CommonName: "Intermediate CA", IsCA: true}, intKey)
	inter, err := h.signWithCA(SignWithCAInput{CSRPEM: intCSR, CA: CAKeyPairRef{ns, "root-ca"}, IsCA: true, Duration: 8760 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(mustCerts(t, inter.CertificatePEM)); got != 1 {
		t.Fatalf("chain under a root: %d certificates, want 1 (root left out)", got)
	}
	if string(inter.CAPEM) != string(root.CertificatePEM) {
		t.Fatal("ca.crt should be the root")
	}
	h.makeCA(t, "int-ca", append(append([]byte{}, inter.CertificatePEM...), root.CertificatePEM...), intKey)

	// Leaf signed by the intermediate.
	leafKey := h.genKey(t, "leaf-key", cmapi.Ed25519KeyAlgorithm)
	leafCSR := h.createCSR(t, cmapi.CertificateSpec{CommonName: "leaf", DNSNames: []string{"leaf.example"}, Usages: []cmapi.KeyUsage{"server auth", "digital signature"}}, leafKey)
	leaf, err := h.signWithCA(SignWithCAInput{
		CSRPEM: leafCSR, CA: CAKeyPairRef{ns, "int-ca"}, Usages: []cmapi.KeyUsage{"server auth", "digital signature"},
		CRLDistributionPoints:  []string{"http://crl.example/int.crl"},
		OCSPServers:            []string{"http://ocsp.example"},
		IssuingCertificateURLs: []string{"http://ca.example/int.crt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	assertNoPrivateKey(t, h.keyPEM(t, intKey), leaf)
	chain := mustCerts(t, leaf.CertificatePEM)
	if len(chain) != 2 || chain[1].Subject.CommonName != "Intermediate CA" {
		t.Fatalf("chain: %d certs", len(chain))
	}
	if string(leaf.CAPEM) != string(root.CertificatePEM) {
		t.Fatal("ca.crt should be the root")
	}
	roots := x509.NewCertPool()
	roots.AddCert(mustCerts(t, root.CertificatePEM)[0])
	inters := x509.NewCertPool()
	inters.AddCert(chain[1])
	if _, err := chain[0].Verify(x509.VerifyOptions{
		DNSName: "leaf.example", Roots: roots, Intermediates: inters, CurrentTime: testNow.Add(time.Hour),
	}); err != nil {
		t.Fatalf("leaf does not verify: %v", err)
	}
	if chain[0].SignatureAlgorithm != x509.SHA256WithRSA {
		t.Fatalf("signed with %v, want the CA key's default", chain[0].SignatureAlgorithm)
	}
	if len(chain[0].OCSPServer) != 1 || len(chain[0].IssuingCertificateURL) != 1 || len(chain[0].CRLDistributionPoints) != 1 {
		t.Fatal("AIA / CRL DP missing")
	}
	if string(chain[0].AuthorityKeyId) != string(chain[1].SubjectKeyId) {
		t.Fatal("authority key id should be the intermediate's subject key id")
	}
	if !FactsOf(chain[0]).NotAfter.Equal(testNow.Add(2160 * time.Hour)) {
		t.Fatal("default duration")
	}

	// Longer than the intermediate: capped, with a warning.
	long, err := h.signWithCA(SignWithCAInput{CSRPEM: leafCSR, CA: CAKeyPairRef{ns, "int-ca"}, Usages: []cmapi.KeyUsage{"server auth", "digital signature"}, Duration: 20000 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustCerts(t, long.CertificatePEM)[0].NotAfter; !got.Equal(chain[1].NotAfter) || len(long.Warnings) != 1 {
		t.Fatalf("NotAfter %v not capped at %v (warnings %v)", got, chain[1].NotAfter, long.Warnings)
	}

	// CA expired.
	h.now = testNow.Add(9000 * time.Hour)
	_, err = h.signWithCA(SignWithCAInput{CSRPEM: leafCSR, CA: CAKeyPairRef{ns, "int-ca"}, Usages: []cmapi.KeyUsage{"server auth", "digital signature"}})
	assertErrType(t, err, ErrTypeInvalidCAKeyPair)
}

func mustCerts(t *testing.T, p []byte) []*x509.Certificate {
	t.Helper()
	certs, err := ParseCertificatesPEM(p)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func TestSignWithCAInvalidKeyPairs(t *testing.T) {
	h := newHarness(t)
	caKey := h.genKey(t, "ca-key", cmapi.ECDSAKeyAlgorithm)
	otherKey := h.genKey(t, "other-key", cmapi.ECDSAKeyAlgorithm)
	caCSR := h.createCSR(t, cmapi.CertificateSpec{CommonName: "CA", IsCA: true}, caKey)
	ca, err := h.selfSign(SelfSignInput{CSRPEM: caCSR, Key: caKey, IsCA: true})
	if err != nil {
		t.Fatal(err)
	}
	leafCSR := h.createCSR(t, cmapi.CertificateSpec{CommonName: "leaf"}, otherKey)
	notCA, err := h.selfSign(SelfSignInput{CSRPEM: leafCSR, Key: otherKey})
	if err != nil {
		t.Fatal(err)
	}
	h.makeCA(t, "mismatched", ca.CertificatePEM, otherKey)
	h.makeCA(t, "not-a-ca", notCA.CertificatePEM, otherKey)
	h.makeCA(t, "no-cert", nil, caKey)
	bad := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bad-key", Namespace: ns}, Data: map[string][]byte{"tls.crt": ca.CertificatePEM, "tls.key": []byte("junk")}}
	if _, err := h.kube.CoreV1().Secrets(ns).Create(context.Background(), bad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"missing", "mismatched", "not-a-ca", "no-cert", "bad-key"} {
		t.Run(name, func(t *testing.T) {
			_, err := h.signWithCA(SignWithCAInput{CSRPEM: leafCSR, CA: CAKeyPairRef{ns, name}})
			want := ErrTypeInvalidCAKeyPair
			if name == "missing" {
				want = ErrTypeCASecretNotFound
			}
			assertErrType(t, err, want)
			assertNoPrivateKey(t, h.keyPEM(t, caKey), err)
			assertNoPrivateKey(t, h.keyPEM(t, otherKey), err)
		})
	}
	_, err = h.signWithCA(SignWithCAInput{CSRPEM: leafCSR})
	assertErrType(t, err, ErrTypeInvalidInput)
}

func TestChainFor(t *testing.T) {
	h := newHarness(t)
	rootKey := h.genKey(t, "r", cmapi.ECDSAKeyAlgorithm)
	root, _ := h.selfSign(SelfSignInput{CSRPEM: h.createCSR(t, cmapi.CertificateSpec{CommonName: "R", IsCA: true}, rootKey), Key: rootKey, IsCA: true})
	h.makeCA(t, "root", root.CertificatePEM, rootKey)
	leafKey := h.genKey(t, "l", cmapi.ECDSAKeyAlgorithm)
	leafOut, err := h.signWithCA(SignWithCAInput{CSRPEM: h.createCSR(t, cmapi.CertificateSpec{CommonName: "L"}, leafKey), CA: CAKeyPairRef{ns, "root"}})
	if err != nil {
		t.Fatal(err)
	}
	leaf := mustCerts(t, leafOut.CertificatePEM)[0]
	rootCert := mustCerts(t, root.CertificatePEM)[0]
	unrelated := mustCerts(t, leafOut.CertificatePEM)[0]

	chain, ca := ChainFor(leaf, []*x509.Certificate{unrelated, rootCert})
	if len(chain) != 1 || ca != rootCert {
		t.Fatalf("chain %d, ca %v", len(chain), ca.Subject)
	}
	// Without the root in the bundle, the leaf is its own top.
	chain, ca = ChainFor(leaf, nil)
	if len(chain) != 1 || ca != leaf {
		t.Fatal("lonely leaf")
	}
	// A self-signed certificate alone.
	chain, ca = ChainFor(rootCert, []*x509.Certificate{rootCert})
	if len(chain) != 1 || ca != rootCert {
		t.Fatal("self-signed")
	}
}
