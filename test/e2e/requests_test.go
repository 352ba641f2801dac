package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

// CertificateRequests that no Certificate made (as `cmctl create certificaterequest`,
// istio-csr or csi-driver make them) are approved and signed; Certificates of issuers of
// other groups get their request signed by that group's signer.

// newCSR makes a key and a CSR for dnsName, as a requester does.
func newCSR(t *testing.T, dnsName string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// createRequest creates a CertificateRequest with client-go, without owner.
func createRequest(t *testing.T, ns, name string, issuer cmmeta.IssuerReference, csr []byte, annotations map[string]string) *cmapi.CertificateRequest {
	t.Helper()
	cr, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).Create(context.Background(), &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: cmapi.CertificateRequestSpec{
			Request: csr, IssuerRef: issuer, Duration: &metav1.Duration{Duration: 24 * time.Hour},
			Usages: []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageServerAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

// waitRequestIssued waits for a request to be Ready with a certificate for key, and
// returns the certificate.
func waitRequestIssued(t *testing.T, ns, name string, key crypto.Signer) (*cmapi.CertificateRequest, *x509.Certificate) {
	t.Helper()
	var cr *cmapi.CertificateRequest
	eventually(t, time.Minute, "CertificateRequest "+ns+"/"+name+" issued", func() (bool, string) {
		var err error
		if cr, err = env.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady)
		return ready != nil && ready.Status == cmmeta.ConditionTrue && len(cr.Status.Certificate) > 0, fmt.Sprintf("%+v", cr.Status.Conditions)
	})
	leaf, err := testkit.ParseLeaf(cr.Status.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		t.Errorf("the certificate of %s is not for the request's key", name)
	}
	if ap := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionApproved); ap == nil || ap.Status != cmmeta.ConditionTrue || ap.Reason != cmapi.ApprovedReasonCertManager {
		t.Errorf("%s: Approved = %+v, want True by %s", name, ap, cmapi.ApprovedReasonCertManager)
	}
	return cr, leaf
}

func TestRequestFromAnyoneSignedByCAAndSelfSigned(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	const ns = "requests"
	testkit.CreateNamespace(t, env.Kube, ns)
	mustKubectl(t, testkit.Manifest(
		testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "root", CommonName: "requests root", IsCA: true, Issuer: "selfsigned"}.String(),
		testkit.CAIssuer("ca", "root-tls"),
	), "apply", "-n", ns, "-f", "-")
	waitIssuerReady(t, ns, "ca")

	// A CA issuer signs a request made with client-go, as cmctl makes one.
	key, csr := newCSR(t, "svc.requests.example.com")
	createRequest(t, ns, "by-hand", cmmeta.IssuerReference{Name: "ca", Kind: "Issuer", Group: "cert-manager.io"}, csr, nil)
	got, leaf := waitRequestIssued(t, ns, "by-hand", key)
	ca, err := testkit.ParseLeaf(got.Status.CA)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil || leaf.DNSNames[0] != "svc.requests.example.com" {
		t.Errorf("certificate %v not signed by the CA in status.ca (%v)", leaf.DNSNames, err)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("certificate valid for %v, want the requested 24h", d)
	}
	// Visible in Temporal like a Certificate: a workflow of its own, completed.
	if st := testkit.WaitWorkflowClosed(t, env.Temporal, workflows.CertificateRequestWorkflowID(ns, "by-hand"), time.Minute).String(); st != "Completed" {
		t.Errorf("request workflow status %s, want Completed", st)
	}

	// SelfSigned signs with the key the cert-manager.io/private-key-secret-name Secret holds.
	key2, csr2 := newCSR(t, "self.requests.example.com")
	der, err := x509.MarshalPKCS8PrivateKey(key2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "self-key"},
		Data:       map[string][]byte{"tls.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	createRequest(t, ns, "self", cmmeta.IssuerReference{Name: "selfsigned"}, csr2,
		map[string]string{cmapi.CertificateRequestPrivateKeyAnnotationKey: "self-key"})
	_, self := waitRequestIssued(t, ns, "self", key2)
	if err := self.CheckSignature(self.SignatureAlgorithm, self.RawTBSCertificate, self.Signature); err != nil {
		t.Errorf("SelfSigned request: certificate not signed by its own key: %v", err)
	}

	// Without the annotation a SelfSigned issuer cannot sign: Failed, with the reason.
	_, csr3 := newCSR(t, "nokey.requests.example.com")
	createRequest(t, ns, "nokey", cmmeta.IssuerReference{Name: "selfsigned"}, csr3, nil)
	eventually(t, time.Minute, "request without key annotation failed", func() (bool, string) {
		cr, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(ctx, "nokey", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady)
		return ready != nil && ready.Reason == cmapi.CertificateRequestReasonFailed && strings.Contains(ready.Message, cmapi.CertificateRequestPrivateKeyAnnotationKey) &&
			cr.Status.FailureTime != nil, fmt.Sprintf("%+v", cr.Status.Conditions)
	})
}

// externalSigner signs the approved requests of issuers of group example.com with its
// own CA, as an external issuer's controller does; requests for issuer "broken" it fails.
type externalSigner struct {
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
	caPEM  []byte
}

func newExternalSigner(t *testing.T) *externalSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.com external CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &externalSigner{caKey: key, caCert: cert, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// signPending signs (or fails) every approved, unanswered request of group example.com
// in ns once; it reports how many it answered.
func (s *externalSigner) signPending(t *testing.T, ns string) int {
	ctx := context.Background()
	list, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Log(err)
		return 0
	}
	n := 0
	for i := range list.Items {
		cr := &list.Items[i]
		ap := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionApproved)
		if cr.Spec.IssuerRef.Group != "example.com" || ap == nil || ap.Status != cmmeta.ConditionTrue ||
			testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady) != nil {
			continue
		}
		cond := cmapi.CertificateRequestCondition{Type: cmapi.CertificateRequestConditionReady, LastTransitionTime: &metav1.Time{Time: time.Now()}}
		if cr.Spec.IssuerRef.Name == "broken" {
			cond.Status, cond.Reason, cond.Message = cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed, "the HSM of example.com refused: quota exhausted"
			cr.Status.FailureTime = cond.LastTransitionTime
		} else {
			block, _ := pem.Decode(cr.Spec.Request)
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				t.Errorf("external signer: CSR of %s: %v", cr.Name, err)
				continue
			}
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: csr.Subject, DNSNames: csr.DNSNames,
				NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(12 * time.Hour),
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, s.caCert, csr.PublicKey, s.caKey)
			if err != nil {
				t.Errorf("external signer: %v", err)
				continue
			}
			cr.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
			cr.Status.CA = s.caPEM
			cond.Status, cond.Reason, cond.Message = cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, "signed by example.com"
		}
		cr.Status.Conditions = append(cr.Status.Conditions, cond)
		if _, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).UpdateStatus(ctx, cr, metav1.UpdateOptions{}); err != nil {
			t.Logf("external signer: %v", err)
			continue
		}
		n++
	}
	return n
}

func TestCertificateOfExternalIssuer(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	const ns = "external"
	testkit.CreateNamespace(t, env.Kube, ns)
	// As upstream: the internal approver approves requests of another group's signer
	// once the cluster admin lets it (approve on signers).
	rules := []rbacv1.PolicyRule{{APIGroups: []string{"cert-manager.io"}, Resources: []string{"signers"}, Verbs: []string{"approve"},
		ResourceNames: []string{"issuers.example.com/*"}}}
	if _, err := env.Kube.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "certflow-approve-example-com"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "certflow-approve-example-com"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "certflow-approve-example-com"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "certflow", Name: "certflow-worker"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"good", "broken"} {
		mustKubectl(t, []byte(fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %[1]s}
spec:
  secretName: %[1]s-tls
  dnsNames: [%[1]s.external.example.com]
  issuerRef: {name: %[1]s, kind: Issuer, group: example.com}
`, name)), "apply", "-n", ns, "-f", "-")
	}
	// The requests are made and approved, and certflow's signers leave them alone.
	eventually(t, time.Minute, "both requests approved", func() (bool, string) {
		list, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		approved := 0
		for i := range list.Items {
			if ap := testkit.RequestCondition(&list.Items[i], cmapi.CertificateRequestConditionApproved); ap != nil && ap.Status == cmmeta.ConditionTrue {
				approved++
			}
		}
		return approved == 2, fmt.Sprintf("%d requests, %d approved", len(list.Items), approved)
	})
	time.Sleep(2 * time.Second) // a signer of certflow's would have acted by now
	list, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range list.Items {
		if testkit.RequestCondition(&cr, cmapi.CertificateRequestConditionReady) != nil || len(cr.Status.Certificate) > 0 {
			t.Errorf("certflow wrote the result of %s, a request of group example.com: %+v", cr.Name, cr.Status.Conditions)
		}
	}
	cert, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(ctx, "good", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if issuing := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing); issuing == nil || issuing.Status != cmmeta.ConditionTrue {
		t.Errorf("while the signer works, Issuing = %+v, want True", issuing)
	}

	signer := newExternalSigner(t)
	if n := signer.signPending(t, ns); n != 2 {
		t.Fatalf("external signer answered %d requests, want 2", n)
	}
	waitCertificateReady(t, ns, "good")
	secret, leaf := readTLSSecret(t, ns, "good-tls")
	if err := leaf.CheckSignatureFrom(signer.caCert); err != nil || string(secret.Data["ca.crt"]) != string(signer.caPEM) {
		t.Errorf("Secret good-tls: certificate not the external signer's (%v) or ca.crt not its CA", err)
	}
	testkit.WaitCertificate(t, env.CertFlow, ns, "broken", time.Minute, "the signer's failure shown", func(c *cmapi.Certificate) bool {
		issuing := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return issuing != nil && issuing.Status == cmmeta.ConditionFalse && strings.Contains(issuing.Message, "quota exhausted")
	})
}
