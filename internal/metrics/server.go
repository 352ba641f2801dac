package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
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

// Listen serves mux on addr (host:port) until stop is called and returns the address
// listened on (for port 0). An empty addr serves nothing. It fails at once when addr
// cannot be listened on: a process that was asked for metrics or probes and cannot
// serve them must not run without them.
func Listen(name, addr string, mux http.Handler, log *slog.Logger) (listening string, stop func(), err error) {
	if addr == "" {
		return "", func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s server: %w", name, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(name+" server stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("serving "+name, "addr", l.Addr().String())
	return l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
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
	_, stopMetrics, err := Listen("metrics", metricsAddr, MetricsMux(), log)
	if err != nil {
		return nil, err
	}
	_, stopHealthz, err := Listen("healthz", healthzAddr, h.Mux(), log)
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
