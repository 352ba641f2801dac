// Command certflow-local is `make run`: it starts the local stack (etcd, kube-apiserver,
// Temporal dev server with its Web UI, Pebble), installs the CRDs, runs the worker and
// the watcher, prints how to use it, and stops everything on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/worker"
)

func main() {
	var (
		stateDir = flag.String("state-dir", ".local", "logs, data, certificates and kubeconfig of the local stack")
		binDir   = flag.String("bin-dir", "bin", "where the stack's servers were built")
		crdDir   = flag.String("crds", "deploy/crds", "CRDs to install")
		acme     = flag.Bool("acme", true, "start Pebble and pebble-challtestsrv (a local ACME server)")
		clusterR = flag.String("cluster-resource-namespace", worker.DefaultClusterResourceNamespace, "namespace of ClusterIssuer Secrets")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *stateDir, *binDir, *crdDir, *clusterR, *acme); err != nil {
		fmt.Fprintln(os.Stderr, "certflow-local:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, stateDir, binDir, crdDir, clusterResNS string, acme bool) error {
	stateDir, _ = filepath.Abs(stateDir)
	binDir, _ = filepath.Abs(binDir)
	o := localstack.Options{
		BinDir: binDir, StateDir: stateDir, Kube: true, Temporal: true, ACME: acme,
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
	if err := localstack.InstallCRDs(ctx, stack.RESTConfig, crdDir); err != nil {
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

	tworker.SetStickyWorkflowCacheSize(worker.DefaultWorkflowCacheSize)
	w := worker.New(worker.Config{Temporal: tc, Kube: kc, CertFlow: cf, ClusterResourceNamespace: clusterResNS})
	if err := w.Start(); err != nil {
		return err
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

	printWelcome(stack, binDir, time.Since(start))
	<-ctx.Done()
	return nil
}

func ensureNamespace(ctx context.Context, kc kubernetes.Interface, name string) error {
	_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

func printWelcome(s *localstack.Stack, binDir string, took time.Duration) {
	ui := s.TemporalUIURL
	if ui == "" {
		ui = "(existing Temporal at " + s.TemporalAddress + ")"
	}
	fmt.Printf(`
certflow is running (ready in %s). In another terminal:

  export KUBECONFIG=%s
  export PATH=%s:$PATH TEMPORAL_ADDRESS=%s

Temporal Web UI: %s
`, took.Round(100*time.Millisecond), s.Kubeconfig, binDir, s.TemporalAddress, ui)
	if s.ACMEDirectoryURL != "" {
		fmt.Printf("Pebble ACME directory: %s\n", s.ACMEDirectoryURL)
	}
	fmt.Printf(`
Try:
  kubectl apply -f examples/selfsigned-issuer.yaml -n cert-manager
  kubectl apply -f examples/certificate-example-ca.yaml
  kubectl get issuers,certificates -n cert-manager
  kubectl get secret ca-example-com-tls -n cert-manager -o yaml
  temporal workflow list --query "CertName='ca-example-com'"
  temporal workflow query --workflow-id certificate/cert-manager/ca-example-com --type status
  temporal workflow signal --workflow-id certificate/cert-manager/ca-example-com --name renew

Logs of the stack's servers: %s/*.log. Ctrl-C stops everything.
`, s.StateDir)
}
