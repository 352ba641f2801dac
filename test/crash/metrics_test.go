package crash

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/localstack/freeport"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
)

// freePort is a loopback host:port nothing listens on (as long as nobody takes it
// before the process does).
func freePort(t *testing.T) string {
	t.Helper()
	port, err := freeport.Get(false)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func get(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The worker and watcher binaries serve /metrics (cert-manager's certmanager_* names and
// the Temporal SDK's temporal_*), /livez and /readyz on the addresses they are given,
// as the chart's probes and ServiceMonitor expect; a taken port stops them with an error.
func TestBinariesServeMetricsAndProbes(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	workerMetrics, workerHealthz := freePort(t), freePort(t)
	w, err := testkit.StartProcess("worker-metrics", env.workerBin, filepath.Join(env.state, "worker-metrics.log"), worker.Flags{Kubeconfig: env.workerKubeconfig,
		TemporalAddress: env.stack.TemporalAddress, TemporalNamespace: env.stack.TemporalNamespace,
		MetricsListenAddress: workerMetrics, HealthzListenAddress: workerHealthz}.Args(), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(t) })

	watcherMetrics, watcherHealthz := freePort(t), freePort(t)
	wp, _ := startWatcher(t, "watcher-metrics", []string{"--temporal-address", env.stack.TemporalAddress,
		"--temporal-namespace", env.stack.TemporalNamespace, "--leader-elect=false",
		"--metrics-listen-address=" + watcherMetrics, "--healthz-listen-address=" + watcherHealthz}, nil)
	t.Cleanup(func() { wp.Stop(t) })

	for name, addr := range map[string]string{"worker": workerHealthz, "watcher": watcherHealthz} {
		eventually(t, 60*time.Second, name+" ready", func() (bool, string) {
			code, body := get(addr, "/readyz?verbose")
			return code == http.StatusOK, body
		})
		if code, body := get(addr, "/livez"); code != http.StatusOK || body != "ok" {
			t.Errorf("%s /livez = %d %q", name, code, body)
		}
	}

	const ns = "metrics"
	createNamespace(t, ns)
	kubectl(t, testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "scraped", DNSNames: []string{"scraped.example"}, Issuer: "selfsigned"}.String()), "apply", "-n", ns, "-f", "-")
	waitCertificateReady(t, ns, "scraped", 90*time.Second)
	cert, err := env.certflow.CertmanagerV1().Certificates(ns).Get(ctx, "scraped", metav1.GetOptions{})
	if err != nil || cert.Status.NotAfter == nil {
		t.Fatalf("Certificate scraped: %v, status %+v", err, cert.Status)
	}
	ref := cert.Spec.IssuerRef
	labels := map[string]string{"name": "scraped", "namespace": ns, "issuer_name": ref.Name, "issuer_kind": ref.Kind, "issuer_group": ref.Group}
	eventually(t, 30*time.Second, "the watcher's expiration gauge at the Certificate's notAfter", func() (bool, string) {
		fams, err := metrics.Scrape(ctx, "http://"+watcherMetrics+"/metrics")
		if err != nil {
			return false, err.Error()
		}
		v, ok := metrics.Value(fams, "certmanager_certificate_expiration_timestamp_seconds", labels)
		return ok && v == float64(cert.Status.NotAfter.Unix()), fmt.Sprintf("%v (found %t), want %d", v, ok, cert.Status.NotAfter.Unix())
	})

	fams, err := metrics.Scrape(ctx, "http://"+workerMetrics+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var temporal []string
	for name := range fams {
		if strings.HasPrefix(name, "temporal_") {
			temporal = append(temporal, name)
		}
	}
	if len(temporal) == 0 {
		t.Error("the worker serves no temporal_* metric (the SDK's)")
	}
	for _, name := range []string{"certmanager_clock_time_seconds_gauge", "process_cpu_seconds_total", "go_goroutines"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("the worker serves no %s", name)
		}
	}
	if v, ok := metrics.Value(fams, "temporal_worker_task_slots_available", map[string]string{"worker_type": "WorkflowWorker"}); !ok || v <= 0 {
		t.Errorf("temporal_worker_task_slots_available{worker_type=WorkflowWorker} = %v (found %t); the SDK's worker metrics: %v", v, ok, temporal)
	}

	dashboardQueriesServed(t, fams, watcherMetrics)

	// A port already taken: the worker does not run without the metrics it was asked for.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	logPath := filepath.Join(env.state, "worker-port-taken.log")
	if p, err := testkit.StartProcess("worker-port-taken", env.workerBin, logPath, worker.Flags{Kubeconfig: env.workerKubeconfig,
		TemporalAddress: env.stack.TemporalAddress, MetricsListenAddress: taken.Addr().String()}.Args(), nil, 20*time.Second); err == nil {
		p.Stop(t)
		t.Fatal("a worker started on a metrics port already in use")
	} else if !strings.Contains(err.Error(), "metrics server") {
		t.Errorf("a worker on a taken metrics port: %v, want an error naming the metrics server", err)
	}
}

// Metrics the dashboard charts that exist only once what they count has happened (an
// ACME request, a failure) or the activity kind ran (CA issuance runs local activities).
var eventDriven = map[string]bool{
	"certmanager_http_acme_client_request_count":            true,
	"certmanager_http_acme_client_request_duration_seconds": true,
	"certmanager_controller_sync_error_count":               true,
	"temporal_activity_execution_failed_total":              true,
	"temporal_local_activity_execution_failed_total":        true,
	"temporal_activity_schedule_to_start_latency_seconds":   true,
}

// dashboardQueriesServed checks that every metric the Grafana dashboard in deploy/
// queries is one the worker (workerFams) or the watcher serves, so that a renamed
// metric cannot leave a panel empty.
func dashboardQueriesServed(t *testing.T, workerFams map[string]*dto.MetricFamily, watcherMetrics string) {
	t.Helper()
	watcherFams, err := metrics.Scrape(context.Background(), "http://"+watcherMetrics+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(env.root, "deploy", "grafana", "certflow-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/certflow-dashboard.json: %v", err)
	}
	name := regexp.MustCompile(`\b(certmanager|temporal)_[a-z0-9_]+`)
	queried := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, m := range name.FindAllString(target.Expr, -1) {
				queried++
				m = strings.TrimSuffix(m, "_bucket")
				if workerFams[m] == nil && watcherFams[m] == nil && !eventDriven[m] {
					t.Errorf("dashboard panel %q queries %s, which neither the worker nor the watcher serves", p.Title, m)
				}
			}
		}
	}
	if queried == 0 {
		t.Error("the dashboard queries no certmanager_* or temporal_* metric")
	}
}
