package metrics

import (
	"log/slog"
	"sync"
	"time"

	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

var temporalOnce struct {
	sync.Once
	handler client.MetricsHandler
}

// TemporalHandler is the Temporal SDK's metrics (temporal_*: workflow and activity task
// latencies, poll counts, sticky cache, request failures) reported into Registry with
// Prometheus names. One per process: the SDK's metric names may be registered once.
func TemporalHandler(log *slog.Logger) client.MetricsHandler {
	temporalOnce.Do(func() {
		reporter := tallyprom.NewReporter(tallyprom.Options{
			Registerer: Registry,
			// Histograms, not summaries: they aggregate across replicas.
			DefaultTimerType: tallyprom.HistogramTimerType,
			OnRegisterError: func(err error) {
				log.Warn("a Temporal SDK metric was not registered", "err", err)
			},
		})
		scope, _ := tally.NewRootScope(tally.ScopeOptions{
			CachedReporter:  reporter,
			Separator:       tallyprom.DefaultSeparator,
			SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		}, time.Second)
		temporalOnce.handler = sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope))
	})
	return temporalOnce.handler
}
