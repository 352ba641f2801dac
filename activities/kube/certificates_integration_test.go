package kube

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// The workflow's status write removes a manual renewal request's condition; the same
// request written again within the second carries the same token. ReadManualRenewToken
// reads what the Certificate asks for now, from etcd: the token while the condition is
// there, "" once it is gone, and "" for another object of the name.
func TestReadManualRenewTokenFollowsTheCondition(t *testing.T) {
	ctx, a, cf := activitiesOnKube(t)
	certs := cf.CertmanagerV1().Certificates(testNS)
	cert, err := certs.Create(ctx, &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: cmapi.CertificateSpec{SecretName: "web-tls", DNSNames: []string{"web.example.com"},
			IssuerRef: cmmeta.IssuerReference{Name: "selfsigned"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id := CertificateIdentity{Namespace: testNS, Name: "web", UID: string(cert.UID)}
	read := func(id CertificateIdentity, want string) {
		t.Helper()
		got, err := a.ReadManualRenewToken(ctx, id)
		if err != nil || got != want {
			t.Fatalf("ReadManualRenewToken = %q, %v; want %q", got, err, want)
		}
	}
	at := metav1.NewTime(time.Date(2026, 12, 6, 10, 34, 26, 0, time.UTC))
	ask := func() {
		t.Helper()
		cur, err := certs.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Status.Conditions = []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue,
			Reason: cmapi.ReasonManuallyTriggered, Message: "Certificate re-issuance manually triggered", LastTransitionTime: &at}}
		if _, err := certs.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	read(id, "")
	ask()
	read(id, "2026-12-06T10:34:26Z")
	// The issuance's last status write removes the condition.
	res, err := a.UpdateCertificateStatus(ctx, CertificateStatusInput{Namespace: testNS, Name: "web", UID: id.UID,
		Ready: Condition{Status: cmmeta.ConditionTrue, Reason: "Ready", Message: "Certificate is up to date and has not expired"}})
	if err != nil || res.IssuingSince != "" {
		t.Fatalf("status write: IssuingSince %q, %v; want the condition gone", res.IssuingSince, err)
	}
	read(id, "")
	ask()
	read(id, "2026-12-06T10:34:26Z")
	read(CertificateIdentity{Namespace: testNS, Name: "web", UID: "another-uid"}, "")
	if err := certs.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	read(id, "")
}
