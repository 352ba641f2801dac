// Package testkit runs the whole of certflow for integration tests: the local stack
// (kube-apiserver + etcd, Temporal dev server, optionally Pebble with challtestsrv and
// the fake Cloudflare API), the CRDs (certflow's and the Gateway API's), the RBAC of
// deploy/rbac, and the worker and the watcher in-process, each acting as its own
// ServiceAccount so that a missing permission fails a test as it would fail a cluster.
//
// With ACME the worker is pointed at the stack as `make run` does: DNS-01 propagation
// checks ask challtestsrv's DNS server, Cloudflare is the fake, and HTTP-01 challenges
// are served by the worker itself on the port Pebble validates (System.HTTP01Registry)
// instead of solver Pods, which could not run on a cluster without nodes.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/worker"
)

// Options shape the system.
type Options struct {
	// DisableApprover runs the worker without the internal approver.
	DisableApprover bool
	// ACME also starts Pebble, pebble-challtestsrv and the fake Cloudflare API, and
	// configures the worker for them (see the package doc).
	ACME bool
	// SelfCheckTimeout is the worker's ACME self-check timeout (how long a challenge's
	// self check may fail before Pebble is asked to validate anyway); default
	// DefaultSelfCheckTimeout.
	SelfCheckTimeout time.Duration
	// CloudflareZones are the zones of the fake Cloudflare account (nil: the local
	// stack's defaults, example.com, example.org, markabledu.com).
	CloudflareZones []string
	// PebbleNonceReject is the percentage of good nonces Pebble rejects as badNonce
	// (PEBBLE_WFE_NONCEREJECT; 0, the default, rejects none).
	PebbleNonceReject int
	// PebbleDNSServer (host:port) is the DNS server Pebble resolves identifiers with
	// instead of challtestsrv (e.g. a BIND from internal/localstack/bind for RFC2136).
	PebbleDNSServer string
	// DNS01RecursiveNameservers (host:port) replace challtestsrv as the nameservers the
	// worker's DNS-01 propagation check asks (ACME only).
	DNS01RecursiveNameservers []string
	// Namespaces to create up front (cert-manager, the cluster resource namespace, always).
	Namespaces []string
	// NoWorker leaves the worker out (a test runs its own, e.g. as a child process).
	NoWorker bool
	// Log receives the stack's progress lines (default os.Stderr).
	Log io.Writer
}

// System is a running certflow.
type System struct {
	Root     string
	Stack    *localstack.Stack
	Config   *rest.Config // admin
	Kube     kubernetes.Interface
	CertFlow versioned.Interface
	Temporal client.Client
	// HTTP01Registry holds the HTTP-01 challenges the worker serves (ACME only; shared
	// by every worker NewWorker returns, so it survives a worker restart).
	HTTP01Registry *http01.Registry

	acme     worker.ACMEConfig
	stateDir string
	cleanups []func()
}

// DefaultSelfCheckTimeout is Options.SelfCheckTimeout's default: short, since on the
// local stack a self check that fails for long will not start passing.
const DefaultSelfCheckTimeout = 15 * time.Second

// Start brings the system up; on error everything started is stopped.
func Start(ctx context.Context, o Options) (s *System, err error) {
	s = &System{}
	defer func() {
		if err != nil {
			s.Stop(false)
			s = nil
		}
	}()
	if s.Root, err = localstack.RepoRoot(); err != nil {
		return s, err
	}
	if s.stateDir, err = os.MkdirTemp("", "certflow-test-"); err != nil {
		return s, err
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	lo := localstack.Options{BinDir: filepath.Join(s.Root, "bin"), StateDir: s.stateDir, Kube: true, Temporal: true, ACME: o.ACME, Log: o.Log,
		CloudflareZones: o.CloudflareZones, PebbleDNSServer: o.PebbleDNSServer}
	if o.PebbleNonceReject != 0 {
		lo.PebbleEnv = map[string]string{"PEBBLE_WFE_NONCEREJECT": strconv.Itoa(o.PebbleNonceReject)}
	}
	if err := localstack.CheckBinaries(lo); err != nil {
		return s, err
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if s.Stack, err = localstack.Start(startCtx, lo); err != nil {
		return s, err
	}
	s.cleanups = append(s.cleanups, func() { s.Stack.Stop() })
	if err := localstack.InstallCRDs(startCtx, s.Stack.RESTConfig,
		filepath.Join(s.Root, localstack.CRDsDir), filepath.Join(s.Root, localstack.GatewayAPICRDsDir)); err != nil {
		return s, err
	}
	if o.ACME {
		s.acme = ACMEConfig(s.Stack, o.SelfCheckTimeout)
		if o.DNS01RecursiveNameservers != nil {
			s.acme.DNS01RecursiveNameservers = slices.Clone(o.DNS01RecursiveNameservers)
		}
		s.HTTP01Registry = http01.NewRegistry()
	}
	if s.Config, err = clients.RESTConfig(s.Stack.Kubeconfig, clients.DefaultQPS, clients.DefaultBurst); err != nil {
		return s, err
	}
	if s.Kube, s.CertFlow, err = clients.Kubernetes(s.Config); err != nil {
		return s, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if s.Temporal, err = client.DialContext(ctx, clients.TemporalOptions(s.Stack.TemporalAddress, s.Stack.TemporalNamespace, log)); err != nil {
		return s, err
	}
	s.cleanups = append(s.cleanups, s.Temporal.Close)
	for _, ns := range append([]string{worker.DefaultClusterResourceNamespace}, o.Namespaces...) {
		if err := s.CreateNamespace(ctx, ns); err != nil {
			return s, err
		}
	}
	if out, err := s.Kubectl(nil, "apply", "-f", filepath.Join(s.Root, "deploy", "rbac", "rbac.yaml")); err != nil {
		return s, fmt.Errorf("apply RBAC: %v\n%s", err, out)
	}

	if !o.NoWorker {
		w, err := s.NewWorker(o.DisableApprover)
		if err != nil {
			return s, err
		}
		if err := w.Start(); err != nil {
			return s, err
		}
		s.cleanups = append(s.cleanups, w.Stop)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := k8swatch.Serve(watchCtx, log, k8swatch.Flags{RESTConfig: s.Impersonate("certflow-k8swatch"), Temporal: s.Temporal, LeaderElect: true, LeaseNamespace: "certflow"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "k8swatch:", err)
		}
	}()
	s.cleanups = append(s.cleanups, func() { stopWatch(); <-done })
	return s, nil
}

// ACMEConfig is the worker's ACME configuration for a local stack started with ACME
// (what make run uses too): DNS-01 checks ask challtestsrv, Cloudflare is the stack's
// fake, and HTTP-01 challenges are served in-process on 127.0.0.1:<HTTP01Port>, where
// Pebble validates them, and self-checked through challtestsrv's DNS on that port.
// selfCheckTimeout 0 means DefaultSelfCheckTimeout.
func ACMEConfig(s *localstack.Stack, selfCheckTimeout time.Duration) worker.ACMEConfig {
	if selfCheckTimeout <= 0 {
		selfCheckTimeout = DefaultSelfCheckTimeout
	}
	return worker.ACMEConfig{
		DNS01RecursiveNameservers: []string{s.ChallTestSrvDNS},
		CloudflareAPIURL:          s.CloudflareAPIURL(),
		HTTP01SolverListen:        "127.0.0.1:" + strconv.Itoa(s.HTTP01Port),
		HTTP01SelfCheck:           http01.SelfCheckOptions{Resolver: s.ChallTestSrvDNS, Port: s.HTTP01Port},
		SelfCheckTimeout:          selfCheckTimeout,
	}
}

// ACME is the worker's ACME configuration (zero unless the system runs ACME): what
// NewWorker's workers use, and what WorkerFlags turns into a worker process's flags.
func (s *System) ACME() worker.ACMEConfig { return s.acme }

// WorkerFlags are the certflow-worker flags that give a worker process the ACME
// configuration c (e.g. System.ACME(), for a worker run as a child process).
func WorkerFlags(c worker.ACMEConfig) []string {
	var f []string
	if len(c.DNS01RecursiveNameservers) > 0 {
		f = append(f, "--dns01-recursive-nameservers", strings.Join(c.DNS01RecursiveNameservers, ","))
	}
	if c.CloudflareAPIURL != "" {
		f = append(f, "--cloudflare-api-url", c.CloudflareAPIURL)
	}
	if c.HTTP01SolverListen != "" {
		f = append(f, "--http01-solver-listen", c.HTTP01SolverListen)
	}
	if c.HTTP01SelfCheck.Resolver != "" {
		f = append(f, "--http01-self-check-nameserver", c.HTTP01SelfCheck.Resolver)
	}
	if c.HTTP01SelfCheck.Port != 0 {
		f = append(f, "--http01-self-check-port", strconv.Itoa(c.HTTP01SelfCheck.Port))
	}
	if c.HTTP01SolverImage != "" {
		f = append(f, "--http01-solver-image", c.HTTP01SolverImage)
	}
	if c.SelfCheckTimeout > 0 {
		f = append(f, "--acme-self-check-timeout", c.SelfCheckTimeout.String())
	}
	return f
}

// WriteKubeconfig writes a kubeconfig for the system's API server that acts as
// ServiceAccount certflow/<sa> (admin credentials with impersonation), for a worker or
// watcher run as a child process.
func (s *System) WriteKubeconfig(path, sa string) error {
	kc, err := clientcmd.LoadFromFile(s.Stack.Kubeconfig)
	if err != nil {
		return err
	}
	if len(kc.AuthInfos) == 0 {
		return fmt.Errorf("%s has no users", s.Stack.Kubeconfig)
	}
	for _, a := range kc.AuthInfos {
		a.Impersonate = "system:serviceaccount:certflow:" + sa
	}
	return clientcmd.WriteToFile(*kc, path)
}

// WorkerConfig is the configuration of the system's worker, acting as the
// certflow-worker ServiceAccount (with ACME settings when the system has ACME).
func (s *System) WorkerConfig(disableApprover bool) (worker.Config, error) {
	cfg := s.Impersonate("certflow-worker")
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return worker.Config{}, err
	}
	gc, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return worker.Config{}, err
	}
	return worker.Config{
		Temporal: s.Temporal, Kube: kc, CertFlow: cf, Gateway: gc, DisableApprover: disableApprover,
		ACME: s.acme, HTTP01Registry: s.HTTP01Registry,
	}, nil
}

// NewWorker returns a worker (not started) acting as the certflow-worker ServiceAccount.
// With ACME it serves HTTP-01 challenges on the stack's HTTP-01 port while it runs, so
// only one such worker can run at a time.
func (s *System) NewWorker(disableApprover bool) (tworker.Worker, error) {
	c, err := s.WorkerConfig(disableApprover)
	if err != nil {
		return nil, err
	}
	return worker.New(c), nil
}

// Impersonate returns the admin config acting as ServiceAccount certflow/<sa>.
func (s *System) Impersonate(sa string) *rest.Config {
	c := rest.CopyConfig(s.Config)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:certflow:" + sa}
	return c
}

// CreateNamespace creates a namespace if it is missing.
func (s *System) CreateNamespace(ctx context.Context, name string) error {
	_, err := s.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// Kubectl runs bin/kubectl against the system's API server.
func (s *System) Kubectl(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(s.Root, "bin", "kubectl"), append([]string{"--kubeconfig", s.Stack.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Stop stops everything in reverse order. keepState keeps the logs for a failed run.
func (s *System) Stop(keepState bool) {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
	if s.stateDir == "" {
		return
	}
	if keepState {
		fmt.Fprintf(os.Stderr, "logs of the stack are in %s\n", s.stateDir)
	} else {
		os.RemoveAll(s.stateDir)
	}
}
