package kube

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"maps"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// activitiesOnKube returns the activities on a kube-apiserver with certflow's CRDs, and
// its client of certflow's objects.
func activitiesOnKube(t *testing.T) (context.Context, *Activities, versioned.Interface) {
	t.Helper()
	ctx, cfg := integration.KubeWithCRDs(t, testNS)
	cf := versioned.NewForConfigOrDie(cfg)
	return ctx, &Activities{Kube: kubernetes.NewForConfigOrDie(cfg), CertFlow: cf}, cf
}

// A CertificateRequest's status on a real kube-apiserver: the first write to a request
// just created goes out without reading it, and a person's decision in between is
// noticed (the write conflicts, the retry reads the request).
func TestRequestStatusAfterCreate(t *testing.T) {
	ctx, stackCfg := integration.KubeWithCRDs(t, testNS)
	cfg, counter := integration.RecordRequests(stackCfg)
	kc := kubernetes.NewForConfigOrDie(cfg)
	cf := versioned.NewForConfigOrDie(cfg)
	// The Certificate the requests are for: creating one confirms it first.
	web, err := cf.CertmanagerV1().Certificates(testNS).Create(ctx, &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"solver": "dns"},
			Annotations: map[string]string{acmev1.ACMECertificateHTTP01IngressNameOverride: "web", "team": "web"}},
		Spec: cmapi.CertificateSpec{SecretName: testSecret, DNSNames: []string{"web.example.com"}, IssuerRef: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := &Activities{Kube: kc, CertFlow: cf}
	pair := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	csr := csrFor(t, pair.key)
	create := func(rev int) RequestRef {
		ref, err := a.CreateCertificateRequest(ctx, CreateRequestInput{
			Namespace: testNS, CertificateName: "web", CertificateUID: string(web.UID), Revision: rev, CSRPEM: csr,
			IssuerRef: cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer"}, PrivateKeySecretName: testKeyName,
		})
		if err != nil {
			t.Fatal(err)
		}
		if ref.CreatedVersion == "" {
			t.Fatalf("a new request's ref has no CreatedVersion: %+v", ref)
		}
		if !ref.LabelsRead || !maps.Equal(ref.CertificateLabels, web.Labels) {
			t.Fatalf("CreateCertificateRequest returned labels %v (read %v), want the Certificate's %v", ref.CertificateLabels, ref.LabelsRead, web.Labels)
		}
		if want := map[string]string{acmev1.ACMECertificateHTTP01IngressNameOverride: "web"}; !maps.Equal(ref.HTTP01Overrides, want) {
			t.Fatalf("CreateCertificateRequest returned HTTP-01 overrides %v, want %v", ref.HTTP01Overrides, want)
		}
		return ref.RequestRef
	}
	issued := RequestStatusInput{
		CertificatePEM: pair.certPEM, CAPEM: pair.caPEM, RecordApproval: true,
		Ready: Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.CertificateRequestReasonIssued, Message: "Certificate fetched from issuer successfully"},
	}

	t.Run("unread", func(t *testing.T) {
		issued.Request = create(1)
		counter.Take()
		if err := a.SetCertificateRequestStatus(ctx, issued); err != nil {
			t.Fatal(err)
		}
		if got := counter.Take(); len(got) != 1 || !strings.HasPrefix(got[0], "PUT ") || !strings.HasSuffix(got[0], "/status") {
			t.Errorf("requests %q, want one PUT of the status", got)
		}
		cr, err := cf.CertmanagerV1().CertificateRequests(testNS).Get(ctx, issued.Request.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ap := approvalOf(cr)
		if !ap.Approved || ap.Reason != cmapi.ApprovedReasonCertManager || string(cr.Status.Certificate) != string(pair.certPEM) || len(cr.Spec.Request) == 0 {
			t.Errorf("status %+v (spec.request %d bytes), want approved, issued, spec intact", cr.Status, len(cr.Spec.Request))
		}
	})

	t.Run("denied in between", func(t *testing.T) {
		issued.Request = create(2)
		cr, err := cf.CertmanagerV1().CertificateRequests(testNS).Get(ctx, issued.Request.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
			Type: cmapi.CertificateRequestConditionDenied, Status: cmmeta.ConditionTrue, Reason: "Policy", Message: "not this one", LastTransitionTime: &now,
		})
		if _, err := cf.CertmanagerV1().CertificateRequests(testNS).UpdateStatus(ctx, cr, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		err = a.SetCertificateRequestStatus(ctx, issued)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != "Denied" || !appErr.NonRetryable() {
			t.Fatalf("want a non-retryable Denied error, got %v", err)
		}
		cr, err = cf.CertmanagerV1().CertificateRequests(testNS).Get(ctx, issued.Request.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ap := approvalOf(cr); !ap.Denied || ap.Approved || cr.Status.Certificate != nil {
			t.Errorf("a denied request was overwritten: %+v", cr.Status)
		}
	})

	t.Run("deleted in between", func(t *testing.T) {
		issued.Request = create(3)
		if err := cf.CertmanagerV1().CertificateRequests(testNS).Delete(ctx, issued.Request.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		err := a.SetCertificateRequestStatus(ctx, issued)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != "RequestGone" || !appErr.NonRetryable() {
			t.Fatalf("want a non-retryable RequestGone error, got %v", err)
		}
	})
}

func csrFor(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "web.example.com"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
