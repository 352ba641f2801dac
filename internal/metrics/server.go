package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/certflow/certflow/internal/sideserver"
)

// Upstream's metrics and health ports, on every interface: in a Pod, what Prometheus
// and the kubelet's probes reach.
const (
	DefaultListenAddress        = "0.0.0.0:9402"
	DefaultHealthzListenAddress = "0.0.0.0:9403"
)

// Handler serves Registry in Prometheus' text and protobuf formats.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{ErrorLog: nil, Registry: Registry})
}

// MetricsMux serves Handler at /metrics.
func MetricsMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler())
	return mux
}

// Serve starts a process's two side servers, /metrics on metricsAddr and h's probes on
// healthzAddr (either empty: not served), and returns what stops both.
func Serve(log *slog.Logger, metricsAddr, healthzAddr string, h *Health) (stop func(), err error) {
	_, stopMetrics, err := sideserver.Listen("metrics", metricsAddr, MetricsMux(), log)
	if err != nil {
		return nil, err
	}
	_, stopHealthz, err := sideserver.Listen("healthz", healthzAddr, h.Mux(), log)
	if err != nil {
		stopMetrics()
		return nil, err
	}
	return func() { stopHealthz(); stopMetrics() }, nil
}

// TemporalCheck is a readiness check that the Temporal frontend answers, for a client
// that may not be dialed yet.
func TemporalCheck(tc func() client.Client) Check {
	return Check{Name: "temporal", Fn: func(r *http.Request) error {
		c := tc()
		if c == nil {
			return errors.New("not connected to Temporal yet")
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}}
}
