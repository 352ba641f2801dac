// Command certflow-local is `make run`: it starts the local stack (etcd, kube-apiserver,
// Temporal dev server with its Web UI, Pebble with challtestsrv and a fake Cloudflare
// API), installs the CRDs (certflow's and the Gateway API's), runs the worker and the
// watcher, prints how to use it, and stops everything on Ctrl-C.
//
// With ACME (the default) the worker is set up for the stack: DNS-01 propagation checks
// ask challtestsrv's DNS server, the Cloudflare solver talks to the fake API, and the
// worker serves HTTP-01 challenges itself on the port Pebble validates (no solver Pods:
// the local cluster has no nodes).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	tworker "go.temporal.io/sdk/worker"

	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/localstack/system"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/internal/sideserver"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/k8swatch/shim"
	"github.com/certflow/certflow/worker"
)

// options are certflow-local's flags.
type options struct {
	stateDir, binDir, crdDir, gatewayCRDDir, clusterResNS string
	admissionPolicies                                     string
	acme                                                  bool
	selfCheckTimeout                                      time.Duration
	metricsAddress                                        string
}

func main() {
	var o options
	flag.StringVar(&o.stateDir, "state-dir", ".local", "logs, data, certificates and kubeconfig of the local stack")
	flag.StringVar(&o.binDir, "bin-dir", "bin", "where the stack's servers were built")
	flag.StringVar(&o.crdDir, "crds", localstack.CRDsDir, "CRDs to install")
	flag.StringVar(&o.gatewayCRDDir, "gateway-api-crds", localstack.GatewayAPICRDsDir, "Gateway API CRDs to install (\"\" to skip; an existing cluster that already has HTTPRoutes keeps its own)")
	flag.StringVar(&o.admissionPolicies, "admission-policies", localstack.AdmissionPoliciesFile, "admission policies for CertificateRequests to install after the CRDs (\"\" to skip; an existing cluster before Kubernetes 1.36 is left without them)")
	flag.BoolVar(&o.acme, "acme", true, "start Pebble, pebble-challtestsrv and a fake Cloudflare API, and set the worker up for them")
	flag.DurationVar(&o.selfCheckTimeout, "acme-self-check-timeout", worker.DefaultACMESelfCheckTimeout, "how long a challenge's self check may fail before Pebble is asked to validate anyway")
	flag.StringVar(&o.clusterResNS, "cluster-resource-namespace", worker.DefaultClusterResourceNamespace, "namespace of ClusterIssuer Secrets")
	flag.StringVar(&o.metricsAddress, "metrics-listen-address", "127.0.0.1:9402", "serve the in-process worker's and watcher's Prometheus metrics at /metrics on this host:port (off when empty)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, o); err != nil {
		fmt.Fprintln(os.Stderr, "certflow-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, opts options) error {
	stateDir, _ := filepath.Abs(opts.stateDir)
	binDir, _ := filepath.Abs(opts.binDir)
	clusterResNS := opts.clusterResNS
	start := time.Now()
	tworker.SetStickyWorkflowCacheSize(worker.DefaultWorkflowCacheSize)
	sys, err := system.Start(ctx, system.Config{
		StackConfig: system.StackConfig{
			Stack: localstack.Options{
				BinDir: binDir, StateDir: stateDir, Kube: true, Temporal: true, ACME: opts.acme,
				Ports: localstack.DefaultPorts(), Log: os.Stderr,
				ExistingKubeconfig: os.Getenv("KUBECONFIG"), ExistingTemporal: os.Getenv("TEMPORAL_ADDRESS"),
			},
			CRDDirs: []string{opts.crdDir}, GatewayAPICRDDir: opts.gatewayCRDDir,
			AdmissionPolicies: opts.admissionPolicies,
		},
		Namespaces:       []string{clusterResNS},
		SelfCheckTimeout: opts.selfCheckTimeout,
		Worker:           worker.Config{ClusterResourceNamespace: clusterResNS},
		Watcher: k8swatch.Flags{LeaderElect: true, LeaseNamespace: "kube-system", ClusterResourceNamespace: clusterResNS,
			Shim: shim.Config{EnableGatewayAPI: true}},
		Log: log,
	})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "stopping the local stack ...")
		if err := sys.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
		}
	}()
	_, stopMetrics, err := sideserver.Listen("metrics", opts.metricsAddress, metrics.MetricsMux(), log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	printWelcome(os.Stdout, sys.Stack, binDir, time.Since(start))
	if opts.metricsAddress != "" {
		fmt.Fprintf(os.Stdout, "Prometheus metrics (certmanager_*): http://%s/metrics\n", opts.metricsAddress)
	}
	<-ctx.Done()
	return nil
}

func printWelcome(out io.Writer, s *localstack.Stack, binDir string, took time.Duration) {
	ui := s.TemporalUIURL
	if ui == "" {
		ui = "(existing Temporal at " + s.TemporalAddress + ")"
	}
	fmt.Fprintf(out, `
certflow is running (ready in %s). In another terminal:

  export KUBECONFIG=%s
  export PATH=%s:$PATH TEMPORAL_ADDRESS=%s

Temporal Web UI: %s
`, took.Round(100*time.Millisecond), s.Kubeconfig, binDir, s.TemporalAddress, ui)
	if s.ACMEDirectoryURL != "" {
		fmt.Fprintf(out, `
ACME (Pebble; pebble-challtestsrv answers 127.0.0.1 for every name):
  directory URL:     %s
  CA bundle:         %s (the issuer's spec.acme.caBundle: base64 -w0 of it)
  Cloudflare token:  %s (fake API %s, zones %s)
  DigitalOcean token: %s (fake API %s, zones %s)
  Route53 keys:      %s / %s, role %s (fake Route 53 and STS %s, zones %s)
  HTTP-01:           served by the worker on 127.0.0.1:%d, where Pebble validates
`, s.ACMEDirectoryURL, s.ACMECABundleFile, localstack.CloudflareToken, s.CloudflareAPIURL(),
			strings.Join(s.CloudflareZoneNames(), ", "), localstack.DigitalOceanToken, s.DigitalOceanAPIURL(),
			strings.Join(localstack.DigitalOceanZones, ", "), localstack.Route53AccessKeyID, localstack.Route53SecretAccessKey,
			localstack.Route53Role, s.Route53APIURL(), strings.Join(localstack.Route53Zones, ", "), s.HTTP01Port)
		c := localstack.AkamaiCredentials
		fmt.Fprintf(out, `  acme-dns:          %s (POST /register for an account in zone %s; delegate _acme-challenge with challtestsrv's /set-cname)
  Akamai:            serviceConsumerDomain %s, client token %s, client secret %s, access token %s (zones %s; CA bundle above)
`, s.AcmeDNSURL(), localstack.AcmeDNSZone, s.AkamaiHost(), c.ClientToken, c.ClientSecret, c.AccessToken, strings.Join(localstack.AkamaiZones, ", "))
	}
	fmt.Fprintf(out, `
Try:
  kubectl apply -f examples/selfsigned-issuer.yaml -n cert-manager
  kubectl apply -f examples/certificate-example-ca.yaml
  kubectl get issuers,certificates -n cert-manager
  kubectl get secret ca-example-com-tls -n cert-manager -o yaml
  temporal workflow list --query "CertName='ca-example-com'"
  temporal workflow query --workflow-id certificate/cert-manager/ca-example-com --type status
  temporal workflow signal --workflow-id certificate/cert-manager/ca-example-com --name renew
  kubectl cert-manager status certificate ca-example-com -n cert-manager    (bin/ on the PATH: the plugin bin/kubectl-cert_manager)
  kubectl cert-manager history certificate ca-example-com -n cert-manager
`)
	if s.ACMEDirectoryURL != "" {
		fmt.Fprintf(out, `
ACME with the examples pointed at Pebble (DNS-01 through Cloudflare):
  kubectl create secret generic cloudflare-api-token-secret -n cert-manager --from-literal=api-token=%s
  sed -E "s#^( *)server: https://acme-v02.api.letsencrypt.org/directory#\1server: %s\n\1caBundle: $(base64 -w0 %s)#" \
    examples/letsencrypt-dns01.yaml | kubectl apply -f -
`, localstack.CloudflareToken, s.ACMEDirectoryURL, s.ACMECABundleFile)
	}
	fmt.Fprintf(out, `
Logs of the stack's servers: %s/*.log. Ctrl-C stops everything.
`, s.StateDir)
}
