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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/worker"
)

// options are certflow-local's flags.
type options struct {
	stateDir, binDir, crdDir, gatewayCRDDir, clusterResNS string
	acme                                                  bool
	selfCheckTimeout                                      time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.stateDir, "state-dir", ".local", "logs, data, certificates and kubeconfig of the local stack")
	flag.StringVar(&o.binDir, "bin-dir", "bin", "where the stack's servers were built")
	flag.StringVar(&o.crdDir, "crds", localstack.CRDsDir, "CRDs to install")
	flag.StringVar(&o.gatewayCRDDir, "gateway-api-crds", localstack.GatewayAPICRDsDir, "Gateway API CRDs to install (\"\" to skip; an existing cluster that already has HTTPRoutes keeps its own)")
	flag.BoolVar(&o.acme, "acme", true, "start Pebble, pebble-challtestsrv and a fake Cloudflare API, and set the worker up for them")
	flag.DurationVar(&o.selfCheckTimeout, "acme-self-check-timeout", worker.DefaultACMESelfCheckTimeout, "how long a challenge's self check may fail before Pebble is asked to validate anyway")
	flag.StringVar(&o.clusterResNS, "cluster-resource-namespace", worker.DefaultClusterResourceNamespace, "namespace of ClusterIssuer Secrets")
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
	o := localstack.Options{
		BinDir: binDir, StateDir: stateDir, Kube: true, Temporal: true, ACME: opts.acme,
		Ports: localstack.DefaultPorts(), Log: os.Stderr,
		ExistingKubeconfig: os.Getenv("KUBECONFIG"), ExistingTemporal: os.Getenv("TEMPORAL_ADDRESS"),
	}
	start := time.Now()
	stack, err := localstack.Start(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(os.Stderr, "stopping the local stack ...")
		if err := stack.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop:", err)
		}
	}()
	crdDirs := []string{opts.crdDir}
	if opts.gatewayCRDDir != "" {
		// An existing cluster's own Gateway API installation (maybe another version)
		// is left alone; the local kube-apiserver gets deploy/gateway-api.
		keep := false
		if o.ExistingKubeconfig != "" {
			if keep, err = hasGatewayAPI(stack); err != nil {
				return err
			}
		}
		if keep {
			fmt.Fprintln(os.Stderr, "the cluster serves the Gateway API already: leaving its CRDs as they are")
		} else {
			crdDirs = append(crdDirs, opts.gatewayCRDDir)
		}
	}
	if err := localstack.InstallCRDs(ctx, stack.RESTConfig, crdDirs...); err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	// The worker's clients get certflow's rate limits (stack.RESTConfig has client-go's
	// default of 5 requests a second, which would throttle issuance).
	cfg, err := clients.RESTConfig(stack.Kubeconfig, clients.DefaultQPS, clients.DefaultBurst)
	if err != nil {
		return err
	}
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return err
	}
	if err := ensureNamespace(ctx, kc, clusterResNS); err != nil {
		return err
	}
	tc, err := client.DialContext(ctx, clients.TemporalOptions(stack.TemporalAddress, stack.TemporalNamespace, log))
	if err != nil {
		return err
	}
	defer tc.Close()

	gc, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return err
	}

	tworker.SetStickyWorkflowCacheSize(worker.DefaultWorkflowCacheSize)
	wc := worker.Config{Temporal: tc, Kube: kc, CertFlow: cf, Gateway: gc, ClusterResourceNamespace: clusterResNS}
	if opts.acme {
		// worker.New creates wc.HTTP01Registry and serves it on HTTP01SolverListen.
		wc.ACME = acmeConfig(stack, opts.selfCheckTimeout)
	}
	w := worker.New(wc)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the worker: %w", err)
	}
	defer w.Stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := k8swatch.Serve(ctx, log, k8swatch.Flags{Kubeconfig: stack.Kubeconfig, Temporal: tc, LeaderElect: true, LeaseNamespace: "kube-system", ClusterResourceNamespace: clusterResNS})
		if err != nil {
			log.Error("k8swatch", "err", err)
		}
	}()
	defer wg.Wait()

	printWelcome(os.Stdout, stack, binDir, time.Since(start))
	<-ctx.Done()
	return nil
}

// acmeConfig points the worker at the stack's ACME servers (the same settings as
// testsystem.ACMEConfig): DNS-01 checks ask challtestsrv, Cloudflare is the stack's
// fake, and HTTP-01 challenges are served in-process on 127.0.0.1:<HTTP01Port>, where
// Pebble validates them, and self-checked through challtestsrv's DNS on that port.
func acmeConfig(s *localstack.Stack, selfCheckTimeout time.Duration) worker.ACMEConfig {
	return worker.ACMEConfig{
		DNS01RecursiveNameservers: []string{s.ChallTestSrvDNS},
		CloudflareAPIURL:          s.CloudflareAPIURL(),
		HTTP01SolverListen:        "127.0.0.1:" + strconv.Itoa(s.HTTP01Port),
		HTTP01SelfCheck:           http01.SelfCheckOptions{Resolver: s.ChallTestSrvDNS, Port: s.HTTP01Port},
		SelfCheckTimeout:          selfCheckTimeout,
	}
}

// hasGatewayAPI reports whether the cluster serves HTTPRoutes already.
func hasGatewayAPI(s *localstack.Stack) (bool, error) {
	dc, err := kubernetes.NewForConfig(s.RESTConfig)
	if err != nil {
		return false, err
	}
	_, err = dc.Discovery().ServerResourcesForGroupVersion("gateway.networking.k8s.io/v1")
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover the Gateway API: %w", err)
	}
	return true, nil
}

func ensureNamespace(ctx context.Context, kc kubernetes.Interface, name string) error {
	_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
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
  HTTP-01:           served by the worker on 127.0.0.1:%d, where Pebble validates
`, s.ACMEDirectoryURL, s.ACMECABundleFile, localstack.CloudflareToken, s.CloudflareAPIURL(),
			strings.Join(s.CloudflareZoneNames(), ", "), s.HTTP01Port)
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
