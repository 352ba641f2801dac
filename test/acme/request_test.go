package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

// A CertificateRequest made with client-go for an ACME issuer, as `cmctl create
// certificaterequest` makes one: approved, ordered (DNS-01 through Cloudflare), signed,
// the chain in its status; its Challenges cleaned up.
func TestRequestFromAnyoneOrderedFromACME(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	ns := "acme-request"
	createNamespace(t, ns)
	cloudflareIssuer(t, ns)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "req.example.com"}, DNSNames: []string{"req.example.com", "*.req.example.com"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).Create(ctx, &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Namespace: ns},
		Spec: cmapi.CertificateRequestSpec{
			Request:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			IssuerRef: cmmeta.IssuerReference{Name: "cloudflare", Kind: "Issuer"},
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageServerAuth},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var cr *cmapi.CertificateRequest
	testkit.Eventually(t, 3*time.Minute, "request issued", func() (bool, string) {
		if cr, err = env.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(ctx, "by-hand", metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		ready := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionReady)
		return ready != nil && ready.Status == cmmeta.ConditionTrue && len(cr.Status.Certificate) > 0, fmt.Sprintf("%+v", cr.Status.Conditions)
	})
	leaf, err := testkit.ParseLeaf(cr.Status.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Errorf("the certificate is not for the request's key")
	}
	if len(leaf.DNSNames) != 2 {
		t.Errorf("certificate names %v, want the CSR's two", leaf.DNSNames)
	}
	if ap := testkit.RequestCondition(cr, cmapi.CertificateRequestConditionApproved); ap == nil || ap.Status != cmmeta.ConditionTrue {
		t.Errorf("request not approved: %+v", cr.Status.Conditions)
	}
	if st := testkit.WaitWorkflowClosed(t, env.Temporal, workflows.CertificateRequestWorkflowID(ns, "by-hand"), time.Minute); st.String() != "Completed" {
		t.Errorf("request workflow %v, want Completed", st)
	}
	// Its Order is deleted with the request served (nothing would delete it later), and
	// nothing else is left.
	orders, err := env.CertFlow.AcmeV1().Orders(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(orders.Items) != 0 {
		t.Errorf("Orders left: %v (%v)", orders, err)
	}
	assertNothingLeft(t, ns)
}
