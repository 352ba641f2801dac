package approval

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// The watcher's Certificate gauges follow a Certificate through issuance, the loss of
// its Secret and its re-issuance: the expiration gauge is the Secret's notAfter, and the
// ready gauge flips to False while the re-issuance waits for approval (which keeps the
// False state long enough to be seen; with the approver on it lasts one task).
func TestMetricsFollowCertificate(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	apply(t, string(testkit.Manifest(testkit.SelfSignedIssuer("selfsigned-metrics"),
		testkit.Cert{Name: "metered", DNSNames: []string{"metered.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned-metrics"}.String())))
	cert, err := sys.CertFlow.CertmanagerV1().Certificates(ns).Get(ctx, "metered", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The issuer labels are the spec's issuerRef as written (kind and group may be empty).
	ref := cert.Spec.IssuerRef
	labels := map[string]string{"name": "metered", "namespace": ns, "issuer_name": ref.Name, "issuer_kind": ref.Kind, "issuer_group": ref.Group}
	ready := func(condition string) map[string]string {
		l := map[string]string{"condition": condition}
		for k, v := range labels {
			l[k] = v
		}
		return l
	}
	gauge := func(name string, l map[string]string) (float64, string) {
		fams, err := metrics.Gathered()
		if err != nil {
			return 0, err.Error()
		}
		v, ok := metrics.Value(fams, name, l)
		if !ok {
			return 0, fmt.Sprintf("no %s%v", name, l)
		}
		return v, fmt.Sprintf("%s%v = %v", name, l, v)
	}
	notAfter := func() time.Time {
		s, err := sys.Kube.CoreV1().Secrets(ns).Get(ctx, "metered-tls", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(s.Data["tls.crt"])
		if blk == nil {
			t.Fatal("metered-tls holds no PEM certificate")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c.NotAfter
	}
	issued := func(revision int) {
		t.Helper()
		name := fmt.Sprintf("metered-%d", revision)
		waitRequestWaiting(t, name)
		starter(t, "approve", name, "-n", ns)
		waitFor(t, "the ready gauge True", func() (bool, string) {
			v, msg := gauge("certmanager_certificate_ready_status", ready("True"))
			return v == 1, msg
		})
		want := float64(notAfter().Unix())
		waitFor(t, "the expiration gauge at the Secret's notAfter", func() (bool, string) {
			v, msg := gauge("certmanager_certificate_expiration_timestamp_seconds", labels)
			return v == want, fmt.Sprintf("%s, want %v", msg, want)
		})
		if v, msg := gauge("certmanager_certificate_not_after_timestamp_seconds", labels); v != want {
			t.Errorf("%s, want %v", msg, want)
		}
		if v, msg := gauge("certmanager_certificate_renewal_timestamp_seconds", labels); v <= float64(time.Now().Unix()) || v >= want {
			t.Errorf("%s, want between now and notAfter", msg)
		}
	}
	issued(1)
	first := notAfter()

	if err := sys.Kube.CoreV1().Secrets(ns).Delete(ctx, "metered-tls", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ready gauge False once the Secret is gone", func() (bool, string) {
		f, msg := gauge("certmanager_certificate_ready_status", ready("False"))
		tr, _ := gauge("certmanager_certificate_ready_status", ready("True"))
		return f == 1 && tr == 0, msg
	})
	time.Sleep(time.Second) // a new certificate's notAfter differs from the first's by at least a second
	issued(2)
	if !notAfter().After(first) {
		t.Errorf("re-issued certificate's notAfter %v is not after the first's %v", notAfter(), first)
	}
	fams, err := metrics.Gathered()
	if err != nil {
		t.Fatal(err)
	}
	if n := metrics.Sum(fams, "certmanager_controller_sync_call_count", map[string]string{"controller": "certificates"}); n < 2 {
		t.Errorf("certmanager_controller_sync_call_count{controller=certificates} = %v, want the syncs counted", n)
	}
}
