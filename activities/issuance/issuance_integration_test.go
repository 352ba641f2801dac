package issuance

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/testkit/integration"
	certpki "github.com/certflow/certflow/pki"
)

const ns = "issuance"

type fixture struct {
	ctx      context.Context
	a        *Activities
	kc       kubernetes.Interface
	cf       versioned.Interface
	requests *integration.Requests
}

func start(t *testing.T) fixture {
	t.Helper()
	ctx, stackCfg := integration.KubeWithCRDs(t, ns)
	cfg, requests := integration.RecordRequests(stackCfg)
	kc, cf := kubernetes.NewForConfigOrDie(cfg), versioned.NewForConfigOrDie(cfg)
	return fixture{ctx: ctx, kc: kc, cf: cf, requests: requests,
		a: &Activities{Kube: &kube.Activities{Kube: kc, CertFlow: cf}, PKI: &pki.Activities{Kube: kc}}}
}

// writes is the API writes since the last call.
func (f fixture) writes() []string { return integration.Writes(f.requests.Take()) }

// certificate creates a Certificate and returns the issuance input a workflow builds
// for its revision 1 with a SelfSigned issuer.
func (f fixture) certificate(t *testing.T, name string) Input {
	t.Helper()
	spec := cmapi.CertificateSpec{SecretName: name + "-tls", DNSNames: []string{name + ".example.com"},
		IssuerRef: cmmeta.IssuerReference{Name: "selfsigned", Kind: "Issuer"}, PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256}}
	c, err := f.cf.CertmanagerV1().Certificates(ns).Create(f.ctx, &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.writes()
	return Input{
		Key: keys.GenerateKeyInput{Namespace: ns, SecretName: spec.SecretName, Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
		CSR: pki.CreateCSRInput{Spec: spec},
		Request: kube.CreateRequestInput{Namespace: ns, CertificateName: name, CertificateUID: string(c.UID), Revision: 1,
			IssuerRef: spec.IssuerRef},
		SelfSign: &pki.SelfSignInput{Duration: 24 * time.Hour},
		Secret: kube.WriteSecretInput{Namespace: ns, CertificateName: name, CertificateUID: string(c.UID), SecretName: spec.SecretName,
			Revision: 1, IssuerName: "selfsigned", IssuerKind: "Issuer", IssuerGroup: "cert-manager.io"},
		Status: &kube.CertificateStatusInput{Namespace: ns, Name: name, UID: string(c.UID), ObservedGeneration: c.Generation, Revision: &one,
			Ready:  kube.Condition{Status: cmmeta.ConditionTrue, Reason: "Ready", Message: "Certificate is up to date and has not expired"},
			Events: []kube.Event{{Type: "Normal", Reason: "Issued", Message: "The certificate has been successfully issued"}}},
	}
}

var one = 1

// One issuance: five API writes (the request, its final status, the Secret with key
// and certificate together, the Certificate's status and its Event), no Secret but
// the target, and nothing secret in the result.
func TestIssueWithinTask(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	f := start(t)
	in := f.certificate(t, "web")
	res, err := f.a.IssueWithinTask(f.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// The Certificate is read once, to confirm it before the first write: the
	// confirmation stands for the Secret and the status writes.
	requests := f.requests.Take()
	var certReads []string
	for _, r := range integration.Reads(requests) {
		if strings.Contains(r, "/certificates/") {
			certReads = append(certReads, r)
		}
	}
	if len(certReads) != 1 {
		t.Errorf("Certificate reads %q, want one", certReads)
	}
	got := integration.Writes(requests)
	if len(got) != 5 || !strings.HasPrefix(got[0], "POST ") || !strings.HasSuffix(got[1], "/certificaterequests/web-1/status") ||
		!strings.HasSuffix(got[2], "/secrets/web-tls") || !strings.HasSuffix(got[3], "/certificates/web/status") || !strings.HasSuffix(got[4], "/events") {
		t.Errorf("API writes %q, want the request, its status, the Secret, the Certificate's status and its Event", got)
	}
	if want := []string{"generate ECDSA 256 private key (in memory)", "build CSR", "create CertificateRequest web-1", "approve web-1",
		"self-sign certificate", "record certificate on web-1", "write Secret web-tls", "update Certificate status: Ready"}; !slices.Equal(res.Steps, want) {
		t.Errorf("steps %q, want %q", res.Steps, want)
	}

	s, err := f.kc.CoreV1().Secrets(ns).Get(f.ctx, "web-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := certpki.FirstCertificate(s.Data["tls.crt"])
	if err != nil {
		t.Fatal(err)
	}
	signer, err := keys.ParsePrivateKeyPEM(s.Data["tls.key"])
	if err != nil || !certpki.PublicKeysEqual(signer.Public(), leaf.PublicKey) || keys.PublicKeySHA256(signer.Public()) != res.Key.PublicKeySHA256 {
		t.Fatalf("the Secret's key does not match its certificate or the result's key reference (%v)", err)
	}
	if !res.Facts.NotAfter.Equal(leaf.NotAfter) {
		t.Errorf("facts %+v, certificate NotAfter %s", res.Facts, leaf.NotAfter)
	}
	c, err := f.cf.CertmanagerV1().Certificates(ns).Get(f.ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 24 hours, renewed at 2/3 of its life.
	if c.Status.Revision == nil || *c.Status.Revision != 1 || c.Status.NotAfter == nil || !c.Status.NotAfter.Time.Equal(leaf.NotAfter) ||
		c.Status.RenewalTime == nil || !c.Status.RenewalTime.Time.Equal(leaf.NotBefore.Add(16*time.Hour)) || res.Status.Revision != 1 {
		t.Errorf("Certificate status %+v (result %+v), want revision 1, the certificate's notAfter and renewal at 2/3", c.Status, res.Status)
	}
	secrets, err := f.kc.CoreV1().Secrets(ns).List(f.ctx, metav1.ListOptions{})
	if err != nil || len(secrets.Items) != 1 {
		t.Errorf("Secrets in %s: %d, want the target only (%v)", ns, len(secrets.Items), err)
	}
	cr, err := f.cf.CertmanagerV1().CertificateRequests(ns).Get(f.ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cr.Status.Certificate, s.Data["tls.crt"]) || !condition(cr, cmapi.CertificateRequestConditionApproved) || !condition(cr, cmapi.CertificateRequestConditionReady) {
		t.Errorf("request status %+v, want approved, ready, with the Secret's certificate", cr.Status.Conditions)
	}
	if cr.Annotations[cmapi.CertificateRequestPrivateKeyAnnotationKey] != "web-tls" {
		t.Errorf("request annotations %v: the key's Secret is the target", cr.Annotations)
	}
	if b, _ := pem.Decode(s.Data["tls.key"]); b == nil || bytes.Contains(mustJSON(t, res), b.Bytes) || bytes.Contains(mustJSON(t, res), s.Data["tls.key"]) {
		t.Error("the result holds the private key")
	}

	// A retry (the activity ran again: its result was lost) makes a new key and
	// replaces the request that named the old one: one request for the revision.
	if _, err := f.a.IssueWithinTask(f.ctx, in); err != nil {
		t.Fatal(err)
	}
	crs, err := f.cf.CertmanagerV1().CertificateRequests(ns).List(f.ctx, metav1.ListOptions{})
	if err != nil || len(crs.Items) != 1 || crs.Items[0].Name != "web-1" || crs.Items[0].UID == cr.UID {
		t.Errorf("requests after a retry: %d (%v), want web-1 replaced", len(crs.Items), err)
	}
}

// With the internal approver off, nothing is done: the request will wait for a person,
// and a key that lives in memory only must not wait with it.
func TestIssueWithinTaskApproverOff(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	f := start(t)
	in := f.certificate(t, "manual")
	f.a.Kube.DisableApprover = true
	res, err := f.a.IssueWithinTask(f.ctx, in)
	if err != nil || !res.ApproverOff {
		t.Fatalf("result %+v (%v), want ApproverOff", res, err)
	}
	if got := f.writes(); len(got) != 0 {
		t.Errorf("API writes %q, want none", got)
	}
}

// A CA that cannot sign (its Secret is missing) marks the request Failed and returns
// the signer's error, as the step-by-step issuance does.
func TestIssueWithinTaskCAFails(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	f := start(t)
	in := f.certificate(t, "orphan")
	in.SelfSign = nil
	in.CA = &pki.SignWithCAInput{CA: pki.CAKeyPairRef{Namespace: ns, SecretName: "no-such-ca"}, Duration: time.Hour}
	if _, err := f.a.IssueWithinTask(f.ctx, in); err == nil || !strings.Contains(err.Error(), "no-such-ca") {
		t.Fatalf("error %v, want the CA Secret's", err)
	}
	cr, err := f.cf.CertmanagerV1().CertificateRequests(ns).Get(f.ctx, "orphan-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cr.Status.Conditions {
		if c.Type == cmapi.CertificateRequestConditionReady && c.Reason == cmapi.CertificateRequestReasonFailed && cr.Status.FailureTime != nil {
			return
		}
	}
	t.Errorf("request status %+v, want Ready=False Failed with a failure time", cr.Status)
}

func condition(cr *cmapi.CertificateRequest, typ cmapi.CertificateRequestConditionType) bool {
	for _, c := range cr.Status.Conditions {
		if c.Type == typ && c.Status == cmmeta.ConditionTrue {
			return true
		}
	}
	return false
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A renewal in one step deletes the request that fell out of the revision history, as
// its last write; a request that is not the Certificate's stays.
func TestIssueWithinTaskDeletesOldRequest(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	f := start(t)
	in := f.certificate(t, "web")
	if _, err := f.a.IssueWithinTask(f.ctx, in); err != nil {
		t.Fatal(err)
	}
	f.writes()
	two := 2
	in.Request.Revision, in.Secret.Revision, in.Status.Revision = 2, 2, &two
	in.Cleanup = &kube.CleanupRequestsInput{Namespace: ns, CertificateName: "web", CertificateUID: in.Request.CertificateUID, FromRevision: 1, ToRevision: 1}
	res, err := f.a.IssueWithinTask(f.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); len(got) != 6 || got[5] != "DELETE /apis/cert-manager.io/v1/namespaces/"+ns+"/certificaterequests/web-1" {
		t.Errorf("API writes %q, want the five of an issuance and the old request's deletion", got)
	}
	if !res.CleanedUp || res.Steps[len(res.Steps)-1] != "delete CertificateRequests of revisions 1 to 1" {
		t.Errorf("result: cleaned up %t, steps %q", res.CleanedUp, res.Steps)
	}
	crs, err := f.cf.CertmanagerV1().CertificateRequests(ns).List(f.ctx, metav1.ListOptions{})
	if err != nil || len(crs.Items) != 1 || crs.Items[0].Name != "web-2" {
		t.Errorf("requests after the renewal: %d (%v), want web-2 only", len(crs.Items), err)
	}
}
