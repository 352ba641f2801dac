// Package metrics holds certflow's Prometheus metrics, named and labelled as
// cert-manager's so that the dashboards and alerts clusters already have keep working
// (certmanager_*), the Temporal SDK's worker and client metrics (temporal_*), and the
// HTTP server that exposes them with the health endpoints (/metrics, /livez, /readyz).
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric of cert-manager's that certflow keeps.
const Namespace = "certmanager"

// Registry holds every metric a certflow process exposes: the process and Go runtime
// collectors, the clock, the ACME client and sync counters, and what a process adds
// (the watcher's Certificate collector, the Temporal SDK's metrics).
var Registry = prometheus.NewRegistry()

var (
	// ACMERequests and ACMERequestDuration count and time every HTTP request to an ACME
	// server (retries and nonce fetches included), as upstream's ACME client does.
	ACMERequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "http", Name: "acme_client_request_count",
		Help: "Total number of outbound ACME HTTP requests. Labels: scheme (http/https), host (ACME host), action (logical ACME operation), method (HTTP verb), status (HTTP status code, 999 when no response).",
	}, acmeLabels)
	ACMERequestDuration = prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Namespace: Namespace, Subsystem: "http", Name: "acme_client_request_duration_seconds",
		Help:       "Latency of outbound ACME HTTP requests in seconds. Labels as acme_client_request_count.",
		Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
	}, acmeLabels)

	// SyncCalls and SyncErrors count the watcher's syncs per kind of object (upstream
	// counts its controllers' syncs under the same names, labelled by controller).
	SyncCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "controller_sync_call_count",
		Help: "The number of sync() calls made by a controller. Label: controller (fixed small set of controller names).",
	}, []string{"controller"})
	SyncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "controller_sync_error_count",
		Help: "The number of errors encountered during controller sync(). Label: controller.",
	}, []string{"controller"})

	// clockCounter is upstream's deprecated form of the clock, still served by it.
	clockCounter = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Name: "clock_time_seconds",
		Help: "DEPRECATED: use clock_time_seconds_gauge instead. The clock time given in seconds (from 1970/01/01 UTC).",
	}, func() float64 { return float64(time.Now().Unix()) })
	clock = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "clock_time_seconds_gauge",
		Help: "The clock time given in seconds (from 1970/01/01 UTC). No labels.",
	}, func() float64 { return float64(time.Now().Unix()) })
)

var acmeLabels = []string{"scheme", "host", "action", "method", "status"}

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		clockCounter, clock, ACMERequests, ACMERequestDuration, SyncCalls, SyncErrors,
	)
}

// ObserveACMERequest records one request to an ACME server; status is 0 when no
// response came (counted as 999, as upstream does).
func ObserveACMERequest(req *http.Request, action string, status int, took time.Duration) {
	if status == 0 {
		status = 999
	}
	labels := prometheus.Labels{
		"scheme": req.URL.Scheme, "host": req.URL.Host, "action": action,
		"method": req.Method, "status": strconv.Itoa(status),
	}
	ACMERequests.With(labels).Inc()
	ACMERequestDuration.With(labels).Observe(took.Seconds())
}
