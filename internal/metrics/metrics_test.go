package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	cmlisters "github.com/certflow/certflow/client/listers/certmanager/v1"
)

func TestCertificateGauges(t *testing.T) {
	notBefore := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	notAfter, renewal := notBefore.Add(90*24*time.Hour), notBefore.Add(60*24*time.Hour)
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	ref := cmmeta.IssuerReference{Name: "ca", Kind: "ClusterIssuer", Group: "cert-manager.io"}
	for _, c := range []*cmapi.Certificate{
		{ObjectMeta: metav1.ObjectMeta{Name: "ready", Namespace: "a"}, Spec: cmapi.CertificateSpec{IssuerRef: ref},
			Status: cmapi.CertificateStatus{
				Conditions: []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue}},
				NotBefore:  &metav1.Time{Time: notBefore}, NotAfter: &metav1.Time{Time: notAfter}, RenewalTime: &metav1.Time{Time: renewal},
			}},
		{ObjectMeta: metav1.ObjectMeta{Name: "new", Namespace: "b"}, Spec: cmapi.CertificateSpec{IssuerRef: ref}},
	} {
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	issuers := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	clusterIssuers := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := issuers.Add(&cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Name: "self", Namespace: "a"}, Status: cmapi.IssuerStatus{
		Conditions: []cmapi.IssuerCondition{{Type: cmapi.IssuerConditionReady, Status: cmmeta.ConditionFalse}}}}); err != nil {
		t.Fatal(err)
	}
	if err := clusterIssuers.Add(&cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "ca"}}); err != nil {
		t.Fatal(err)
	}
	stop := Objects.Serve(Listers{Certificates: cmlisters.NewCertificateLister(idx), Issuers: cmlisters.NewIssuerLister(issuers),
		ClusterIssuers: cmlisters.NewClusterIssuerLister(clusterIssuers)})
	defer stop()
	fams, err := Gathered()
	if err != nil {
		t.Fatal(err)
	}
	labels := func(name, ns string, extra ...string) map[string]string {
		l := map[string]string{"name": name, "namespace": ns, "issuer_name": "ca", "issuer_kind": "ClusterIssuer", "issuer_group": "cert-manager.io"}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"certmanager_certificate_expiration_timestamp_seconds", labels("ready", "a"), float64(notAfter.Unix())},
		{"certmanager_certificate_not_after_timestamp_seconds", labels("ready", "a"), float64(notAfter.Unix())},
		{"certmanager_certificate_not_before_timestamp_seconds", labels("ready", "a"), float64(notBefore.Unix())},
		{"certmanager_certificate_renewal_timestamp_seconds", labels("ready", "a"), float64(renewal.Unix())},
		{"certmanager_certificate_ready_status", labels("ready", "a", "condition", "True"), 1},
		{"certmanager_certificate_ready_status", labels("ready", "a", "condition", "False"), 0},
		{"certmanager_certificate_ready_status", labels("ready", "a", "condition", "Unknown"), 0},
		// Without a Ready condition: Unknown, and zero dates, as upstream.
		{"certmanager_certificate_ready_status", labels("new", "b", "condition", "Unknown"), 1},
		{"certmanager_certificate_ready_status", labels("new", "b", "condition", "True"), 0},
		{"certmanager_certificate_expiration_timestamp_seconds", labels("new", "b"), 0},
		{"certmanager_issuer_ready_status", map[string]string{"name": "self", "namespace": "a", "condition": "False"}, 1},
		{"certmanager_issuer_ready_status", map[string]string{"name": "self", "namespace": "a", "condition": "True"}, 0},
		{"certmanager_clusterissuer_ready_status", map[string]string{"name": "ca", "condition": "Unknown"}, 1},
	} {
		got, ok := Value(fams, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %t), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for _, name := range []string{"certmanager_clock_time_seconds_gauge", "certmanager_clock_time_seconds"} {
		if _, ok := Value(fams, name, nil); !ok {
			t.Errorf("no %s", name)
		}
	}

	// A newer term's caches survive the end of an older one.
	newer := Objects.Serve(Listers{Certificates: cmlisters.NewCertificateLister(idx)})
	stop()
	if fams, _ = Gathered(); fams["certmanager_certificate_ready_status"] == nil {
		t.Error("an older term's stop cleared the newer term's caches")
	}
	newer()
	if fams, _ = Gathered(); fams["certmanager_certificate_ready_status"] != nil {
		t.Error("Certificate gauges reported without a lister (a watcher that does not lead)")
	}
}

func TestHealthProbes(t *testing.T) {
	h := &Health{}
	live := errors.New("wedged")
	var liveErr error
	h.AddLiveness(Check{Name: "loop", Fn: func(*http.Request) error { return liveErr }})
	ready := NewFlag("not polling yet")
	h.AddReadiness(Check{Name: "polling", Fn: ready.Check})
	srv := httptest.NewServer(h.Mux())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		setup      func()
		path       string
		wantStatus int
		wantBody   string
	}{
		{func() {}, "/livez", 200, "ok"},
		{func() {}, "/readyz", 500, "[-]polling failed: not polling yet"},
		{func() { ready.Set(true) }, "/readyz", 200, "ok"},
		{func() {}, "/readyz?verbose", 200, "[+]loop ok\n[+]polling ok\nreadyz check passed"},
		{func() { liveErr = live }, "/livez", 500, "[-]loop failed: wedged"},
		{func() {}, "/healthz", 500, "[-]loop failed: wedged"},
		{func() {}, "/readyz", 500, "[-]loop failed: wedged"},
	} {
		c.setup()
		status, body := get(c.path)
		if status != c.wantStatus || !strings.Contains(body, c.wantBody) {
			t.Errorf("GET %s = %d %q, want %d containing %q", c.path, status, body, c.wantStatus, c.wantBody)
		}
	}
}

func TestServeEmptyAddressServesNothing(t *testing.T) {
	stop, err := Serve(nil, "", "", &Health{})
	if err != nil {
		t.Fatal(err)
	}
	stop()
}
