package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	cmlisters "github.com/certflow/certflow/client/listers/certmanager/v1"
)

var (
	certLabels      = []string{"name", "namespace", "issuer_name", "issuer_kind", "issuer_group"}
	certReadyLabels = []string{"name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group"}

	certReady = prometheus.NewDesc(Namespace+"_certificate_ready_status",
		"The ready status of the certificate.", certReadyLabels, nil)
	certNotAfter = prometheus.NewDesc(Namespace+"_certificate_not_after_timestamp_seconds",
		"The timestamp after which the certificate is invalid, expressed as a Unix Epoch Time.", certLabels, nil)
	certNotBefore = prometheus.NewDesc(Namespace+"_certificate_not_before_timestamp_seconds",
		"The timestamp before which the certificate is invalid, expressed as a Unix Epoch Time.", certLabels, nil)
	certExpiration = prometheus.NewDesc(Namespace+"_certificate_expiration_timestamp_seconds",
		"The timestamp after which the certificate expires, expressed in Unix Epoch Time.", certLabels, nil)
	certRenewal = prometheus.NewDesc(Namespace+"_certificate_renewal_timestamp_seconds",
		"The timestamp after which the certificate should be renewed, expressed in Unix Epoch Time.", certLabels, nil)

	issuerReady = prometheus.NewDesc(Namespace+"_issuer_ready_status",
		"The ready status of the Issuer.", []string{"name", "namespace", "condition"}, nil)
	clusterIssuerReady = prometheus.NewDesc(Namespace+"_clusterissuer_ready_status",
		"The ready status of the ClusterIssuer.", []string{"name", "condition"}, nil)

	readyStatuses = [...]cmmeta.ConditionStatus{cmmeta.ConditionTrue, cmmeta.ConditionFalse, cmmeta.ConditionUnknown}
)

// ObjectCollector reports each Certificate's readiness and dates, and each Issuer's and
// ClusterIssuer's readiness, from their status, read at scrape time from a watcher's
// informer caches (no API call per scrape), under upstream's names and labels. It
// reports nothing while no watcher leads in this process: a replica that stands by has
// no caches.
type ObjectCollector struct {
	listers atomic.Pointer[Listers]
}

// Listers are the synced caches an ObjectCollector reads.
type Listers struct {
	Certificates   cmlisters.CertificateLister
	Issuers        cmlisters.IssuerLister
	ClusterIssuers cmlisters.ClusterIssuerLister
}

// Objects is the collector the watcher feeds; it is in Registry.
var Objects = &ObjectCollector{}

func init() { Registry.MustRegister(Objects) }

// Serve points the collector at l until stop is called. A stop of an older term never
// clears a newer term's caches.
func (c *ObjectCollector) Serve(l Listers) (stop func()) {
	p := &l
	c.listers.Store(p)
	return func() { c.listers.CompareAndSwap(p, nil) }
}

// Describe implements prometheus.Collector.
func (c *ObjectCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{certReady, certNotAfter, certNotBefore, certExpiration, certRenewal, issuerReady, clusterIssuerReady} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ObjectCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.listers.Load()
	if l == nil {
		return
	}
	if l.Certificates != nil {
		if certs, err := l.Certificates.List(labels.Everything()); err == nil {
			for _, cert := range certs {
				collectCertificate(cert, ch)
			}
		}
	}
	if l.Issuers != nil {
		if issuers, err := l.Issuers.List(labels.Everything()); err == nil {
			for _, iss := range issuers {
				collectReady(ch, issuerReady, iss.Status.Conditions, iss.Name, iss.Namespace)
			}
		}
	}
	if l.ClusterIssuers != nil {
		if issuers, err := l.ClusterIssuers.List(labels.Everything()); err == nil {
			for _, iss := range issuers {
				collectReady(ch, clusterIssuerReady, iss.Status.Conditions, iss.Name)
			}
		}
	}
}

// collectReady reports an issuer's Ready condition.
func collectReady(ch chan<- prometheus.Metric, d *prometheus.Desc, conds []cmapi.IssuerCondition, names ...string) {
	ready := cmmeta.ConditionUnknown
	for _, cond := range conds {
		if cond.Type == cmapi.IssuerConditionReady {
			ready = cond.Status
			break
		}
	}
	reportReady(ch, d, ready, func(s string) []string { return append(append([]string(nil), names...), s) })
}

// reportReady reports a Ready condition as upstream does: one sample per status, 1 for
// the current one (Unknown without a condition), labelled by labels(status).
func reportReady(ch chan<- prometheus.Metric, d *prometheus.Desc, ready cmmeta.ConditionStatus, labels func(status string) []string) {
	for _, s := range readyStatuses {
		v := 0.0
		if s == ready {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels(string(s))...)
	}
}

func collectCertificate(cert *cmapi.Certificate, ch chan<- prometheus.Metric) {
	ref := cert.Spec.IssuerRef
	ready := cmmeta.ConditionUnknown
	for _, cond := range cert.Status.Conditions {
		if cond.Type == cmapi.CertificateConditionReady {
			ready = cond.Status
			break
		}
	}
	reportReady(ch, certReady, ready, func(s string) []string {
		return []string{cert.Name, cert.Namespace, s, ref.Name, ref.Kind, ref.Group}
	})
	stamp := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v,
			cert.Name, cert.Namespace, ref.Name, ref.Kind, ref.Group)
	}
	var notAfter, notBefore, renewal float64
	if t := cert.Status.NotAfter; t != nil {
		notAfter = float64(t.Unix())
	}
	if t := cert.Status.NotBefore; t != nil {
		notBefore = float64(t.Unix())
	}
	if t := cert.Status.RenewalTime; t != nil {
		renewal = float64(t.Unix())
	}
	stamp(certNotAfter, notAfter)
	stamp(certNotBefore, notBefore)
	stamp(certExpiration, notAfter)
	stamp(certRenewal, renewal)
}
