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

	readyStatuses = [...]cmmeta.ConditionStatus{cmmeta.ConditionTrue, cmmeta.ConditionFalse, cmmeta.ConditionUnknown}
)

// CertificateCollector reports each Certificate's readiness and dates from its status,
// read at scrape time from an informer's cache (no API call per scrape). It reports
// nothing while it has no lister: a watcher replica that is not leading has no cache.
type CertificateCollector struct {
	lister atomic.Pointer[cmlisters.CertificateLister]
}

// Certificates is the collector the watcher feeds; it is in Registry.
var Certificates = &CertificateCollector{}

func init() { Registry.MustRegister(Certificates) }

// SetLister points the collector at a synced cache; nil stops reporting.
func (c *CertificateCollector) SetLister(l cmlisters.CertificateLister) {
	if l == nil {
		c.lister.Store(nil)
		return
	}
	c.lister.Store(&l)
}

// Describe implements prometheus.Collector.
func (c *CertificateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{certReady, certNotAfter, certNotBefore, certExpiration, certRenewal} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *CertificateCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.lister.Load()
	if l == nil {
		return
	}
	certs, err := (*l).List(labels.Everything())
	if err != nil {
		return
	}
	for _, cert := range certs {
		collectCertificate(cert, ch)
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
	for _, s := range readyStatuses {
		v := 0.0
		if s == ready {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(certReady, prometheus.GaugeValue, v,
			cert.Name, cert.Namespace, string(s), ref.Name, ref.Kind, ref.Group)
	}
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
