// Command certflow-k8swatch turns Certificate, Issuer, ClusterIssuer and Secret events
// into Temporal workflow signals.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/features"
	"github.com/certflow/certflow/internal/logging"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/internal/profiler"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/workflows"
)

func main() {
	o := k8swatch.Flags{}
	flag.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then in-cluster)")
	flag.StringVar(&o.TemporalAddress, "temporal-address", "", "Temporal frontend host:port (default: Temporal's client configuration, TEMPORAL_ADDRESS or the profile file, then "+clients.DefaultTemporalAddress+")")
	flag.StringVar(&o.TemporalNamespace, "temporal-namespace", "", "Temporal namespace (default: TEMPORAL_NAMESPACE or the profile file, then default)")
	flag.StringVar(&o.TaskQueue, "task-queue", workflows.TaskQueue, "Temporal task queue")
	flag.BoolVar(&o.LeaderElect, "leader-elect", true, "hold a Lease so that only one replica signals")
	flag.StringVar(&o.LeaseNamespace, "leader-election-namespace", "kube-system", "namespace of the Lease")
	flag.StringVar(&o.ClusterResourceNamespace, "cluster-resource-namespace", "cert-manager", "namespace of the Secrets that ClusterIssuers refer to")
	flag.StringVar(&o.PayloadCodecSecret, "payload-codec-secret", "", "namespace/name of the Secret whose key encrypts every Temporal payload (the worker's; the watcher waits for it; off when empty)")
	flag.DurationVar(&o.SweepInterval, "sweep-interval", k8swatch.DefaultSweepInterval, "how often to compare Certificates and Issuers with running workflows, restarting the missing ones")
	enableCAInjector := flag.Bool("enable-cainjector", true, "inject CA bundles into webhook configurations, APIServices and CRDs annotated with cert-manager.io/inject-ca-from, inject-ca-from-secret or inject-apiserver-ca (upstream's cainjector)")
	flag.StringVar(&o.Shim.DefaultIssuerName, "default-issuer-name", "", "issuer of the Certificates of an Ingress with an auto-certificate annotation and no issuer annotation (ingress-shim)")
	flag.StringVar(&o.Shim.DefaultIssuerKind, "default-issuer-kind", cmapi.IssuerKind, "kind of that issuer")
	flag.StringVar(&o.Shim.DefaultIssuerGroup, "default-issuer-group", cmapi.SchemeGroupVersion.Group, "group of that issuer")
	autoAnnotations := flag.String("auto-certificate-annotations", cmapi.IngressTLSACMEAnnotationKey, "annotations (comma-separated) that, set to \"true\" on an Ingress, ask for its certificates from the default issuer")
	flag.BoolVar(&o.Shim.EnableGatewayAPI, "enable-gateway-api", false, "run gateway-shim: Certificates for the TLS listeners of annotated Gateways (and ListenerSets, where the cluster serves them)")
	var logFlags logging.Flags
	logFlags.AddTo(flag.CommandLine)
	metricsAddress := flag.String("metrics-listen-address", metrics.DefaultListenAddress, "serve Prometheus metrics at /metrics on this host:port (off when empty)")
	healthzAddress := flag.String("healthz-listen-address", metrics.DefaultHealthzListenAddress, "serve the /livez and /readyz probes on this host:port (off when empty)")
	featureGates := flag.String("feature-gates", "", "cert-manager's controller feature gates, key=bool pairs separated by commas (accepted as upstream's; certflow behaves as each gate's default)")
	profilerAddress := flag.String("profiler-address", "", "serve Go's pprof profiles on this host:port (as cert-manager's --profiler-address; off when empty)")
	flag.Parse()
	o.DisableCAInjector = !*enableCAInjector
	o.Shim.AutoCertificateAnnotations = splitList(*autoAnnotations)
	if os.Getenv("GOGC") == "" {
		// The watcher's heap is almost all informer cache, long-lived: collecting at 50%
		// growth instead of 100% keeps its RSS down for little CPU (a few ms per event).
		debug.SetGCPercent(50)
	}
	log, err := logFlags.New(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "certflow-k8swatch:", err)
		os.Exit(2)
	}
	gates, err := features.Parse(*featureGates)
	if err != nil {
		fmt.Fprintln(os.Stderr, "certflow-k8swatch:", err)
		os.Exit(2)
	}
	if o := features.Overridden(gates); len(o) > 0 {
		log.Warn("certflow behaves as each feature gate's default; these are set otherwise", "featureGates", o)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.Health = &metrics.Health{}
	stopServers, err := metrics.Serve(log, *metricsAddress, *healthzAddress, o.Health)
	if err != nil {
		log.Error("certflow-k8swatch failed", "err", err)
		os.Exit(1)
	}
	defer stopServers()
	if *profilerAddress != "" {
		stopProfiler, err := profiler.Serve(*profilerAddress, log)
		if err != nil {
			log.Error("certflow-k8swatch failed", "err", err)
			os.Exit(1)
		}
		defer stopProfiler()
	}
	if err := k8swatch.Serve(ctx, log, o); err != nil {
		log.Error("certflow-k8swatch failed", "err", err)
		os.Exit(1)
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	out := []string{}
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
