// Package system wires the whole of certflow on a local stack, in one place for `make
// run` (certflow-local), `make bench` (certflow-bench) and the integration tests
// (testkit): the stack and its CRDs (StartStack), the namespaces, the clients, the
// worker's ACME settings for the stack (ACMEConfig), and the worker and the watcher in
// this process (Start).
//
// With ACME the worker is pointed at the stack: DNS-01 propagation checks ask
// challtestsrv's DNS server, Cloudflare is the fake, and HTTP-01 challenges are served
// by the worker itself on the port Pebble validates instead of by solver Pods, which
// could not run on a cluster without nodes.
package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/certflow/certflow/activities/dns01"
	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/worker"
)

// StackConfig is what StartStack runs and installs.
type StackConfig struct {
	Stack localstack.Options
	// CRDDirs are installed once the stack is up.
	CRDDirs []string
	// GatewayAPICRDDir is installed too, unless empty or the cluster (an existing one,
	// Stack.ExistingKubeconfig) serves the Gateway API already: its own installation,
	// maybe another version, is left alone.
	GatewayAPICRDDir string
	// AdmissionPolicies is a file of admission policies (localstack.AdmissionPoliciesFile)
	// installed after the CRDs, unless empty. An existing cluster that does not serve
	// MutatingAdmissionPolicies (before Kubernetes 1.36) is left without them.
	AdmissionPolicies string
}

// StartStack starts the local stack and installs the CRDs; on error it stops what it
// started.
func StartStack(ctx context.Context, c StackConfig) (*localstack.Stack, error) {
	stack, err := localstack.Start(ctx, c.Stack)
	if err != nil {
		return nil, err
	}
	if err := installCRDs(ctx, stack, c); err != nil {
		stack.Stop()
		return nil, err
	}
	if err := installAdmissionPolicies(ctx, stack, c); err != nil {
		stack.Stop()
		return nil, err
	}
	return stack, nil
}

func installAdmissionPolicies(ctx context.Context, stack *localstack.Stack, c StackConfig) error {
	if c.AdmissionPolicies == "" {
		return nil
	}
	err := localstack.InstallAdmissionPolicies(ctx, stack.RESTConfig, c.AdmissionPolicies)
	if errors.Is(err, localstack.ErrNoMutatingAdmissionPolicies) && c.Stack.ExistingKubeconfig != "" {
		if c.Stack.Log != nil {
			fmt.Fprintf(c.Stack.Log, "admission policies of %s not installed: %v\n", c.AdmissionPolicies, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("install admission policies: %w", err)
	}
	return nil
}

func installCRDs(ctx context.Context, stack *localstack.Stack, c StackConfig) error {
	dirs := slices.Clone(c.CRDDirs)
	if c.GatewayAPICRDDir != "" {
		keep := false
		if c.Stack.ExistingKubeconfig != "" {
			var err error
			if keep, err = hasGatewayAPI(stack.RESTConfig); err != nil {
				return err
			}
		}
		if keep {
			if c.Stack.Log != nil {
				fmt.Fprintln(c.Stack.Log, "the cluster serves the Gateway API already: leaving its CRDs as they are")
			}
		} else {
			dirs = append(dirs, c.GatewayAPICRDDir)
		}
	}
	if err := localstack.InstallCRDs(ctx, stack.RESTConfig, dirs...); err != nil {
		return fmt.Errorf("install CRDs: %w", err)
	}
	return nil
}

// hasGatewayAPI reports whether the cluster serves HTTPRoutes already.
func hasGatewayAPI(cfg *rest.Config) (bool, error) {
	dc, err := kubernetes.NewForConfig(cfg)
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

// ACMEConfig is the worker's ACME configuration for a stack started with ACME: DNS-01
// checks ask challtestsrv, Cloudflare is the stack's fake, and HTTP-01 challenges are
// served in-process on 127.0.0.1:<HTTP01Port>, where Pebble validates them, and
// self-checked through challtestsrv's DNS on that port.
func ACMEConfig(s *localstack.Stack, selfCheckTimeout time.Duration) worker.ACMEConfig {
	return worker.ACMEConfig{
		DNS01RecursiveNameservers: []string{s.ChallTestSrvDNS},
		CloudflareAPIURL:          s.CloudflareAPIURL(),
		DigitalOceanAPIURL:        s.DigitalOceanAPIURL(),
		Route53APIURL:             s.Route53APIURL(),
		STSAPIURL:                 s.Route53APIURL(),
		CloudDNSAPIURL:            s.CloudDNSAPIURL(),
		AzureDNS:                  dns01.AzureEndpoints{AuthorityHost: s.AzureDNSURL(), ResourceManager: s.AzureDNSURL()},
		DNS01ProviderCAFile:       s.ACMECABundleFile,
		HTTP01SolverListen:        "127.0.0.1:" + strconv.Itoa(s.HTTP01Port),
		HTTP01SelfCheck:           http01.SelfCheckOptions{Resolver: s.ChallTestSrvDNS, Port: s.HTTP01Port},
		SelfCheckTimeout:          selfCheckTimeout,
	}
}

// EnsureNamespaces creates the namespaces that are missing.
func EnsureNamespaces(ctx context.Context, kc kubernetes.Interface, names ...string) error {
	for _, name := range names {
		_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}

// Config is the whole system Start runs.
type Config struct {
	StackConfig
	// Namespaces are created once the stack is up.
	Namespaces []string
	// SelfCheckTimeout is the worker's ACME self-check timeout (with Stack.ACME).
	SelfCheckTimeout time.Duration
	// Worker is the worker's configuration besides its clients, ACME and HTTP-01
	// registry (ClusterResourceNamespace, DisableApprover ...).
	Worker worker.Config
	// ServiceAccounts makes worker and watcher act as ServiceAccounts
	// certflow/certflow-worker and certflow/certflow-k8swatch (admin credentials with
	// impersonation), so that a missing permission fails as it would in a cluster.
	ServiceAccounts bool
	// Setup runs once the namespaces exist, before the worker starts.
	Setup func(context.Context, *System) error
	// NoWorker leaves the worker out (a test runs its own).
	NoWorker bool
	// NoWatcher leaves the watcher out (a test runs its own).
	NoWatcher bool
	// Watcher is the watcher's configuration besides its clients.
	Watcher k8swatch.Flags
	// Codec, when set, encrypts every payload of the system's Temporal client (so of
	// the worker and the watcher), as --payload-codec-secret does.
	Codec *codec.Codec
	// Log receives the Temporal client's and the watcher's log lines.
	Log *slog.Logger
	// ErrLog receives the watcher's error when it stops on one (default Log).
	ErrLog io.Writer
}

// System is a running certflow on a local stack.
type System struct {
	Stack    *localstack.Stack
	Config   *rest.Config // admin, with certflow's client rate limits
	Kube     kubernetes.Interface
	CertFlow versioned.Interface
	Temporal client.Client
	// ACME is the worker's ACME configuration (zero without Stack.ACME).
	ACME worker.ACMEConfig
	// HTTP01Registry holds the HTTP-01 challenges the worker serves (with ACME; shared
	// by every worker of WorkerConfig, so it survives a worker restart).
	HTTP01Registry *http01.Registry

	cfg      Config
	cleanups []func()
}

// Start brings the whole system up: stack, CRDs, clients, namespaces, Setup, worker,
// watcher. On error everything started is stopped.
func Start(ctx context.Context, c Config) (s *System, err error) {
	s = &System{cfg: c}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()
	if s.Stack, err = StartStack(ctx, c.StackConfig); err != nil {
		return s, err
	}
	if c.Stack.ACME {
		s.ACME = ACMEConfig(s.Stack, c.SelfCheckTimeout)
		s.HTTP01Registry = http01.NewRegistry()
	}
	// stack.RESTConfig has client-go's default of 5 requests a second, which would
	// throttle issuance.
	if s.Config, err = clients.RESTConfig(s.Stack.Kubeconfig, clients.DefaultQPS, clients.DefaultBurst); err != nil {
		return s, err
	}
	if s.Kube, s.CertFlow, err = clients.Kubernetes(s.Config); err != nil {
		return s, err
	}
	topts := clients.TemporalOptions(s.Stack.TemporalAddress, s.Stack.TemporalNamespace, c.Log)
	if c.Codec != nil {
		c.Codec.Apply(&topts)
	}
	if s.Temporal, err = client.DialContext(ctx, topts); err != nil {
		return s, err
	}
	s.cleanups = append(s.cleanups, s.Temporal.Close)
	if err := EnsureNamespaces(ctx, s.Kube, c.Namespaces...); err != nil {
		return s, err
	}
	if c.Setup != nil {
		if err := c.Setup(ctx, s); err != nil {
			return s, err
		}
	}
	if !c.NoWorker {
		wc, err := s.WorkerConfig(c.Worker.DisableApprover)
		if err != nil {
			return s, err
		}
		w := worker.New(wc)
		if err := w.Start(); err != nil {
			return s, fmt.Errorf("start the worker: %w", err)
		}
		s.cleanups = append(s.cleanups, w.Stop)
	}
	if c.NoWatcher {
		return s, nil
	}
	wf := c.Watcher
	wf.RESTConfig, wf.Temporal = s.identity("certflow-k8swatch"), s.Temporal
	watchCtx, stopWatch := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := k8swatch.Serve(watchCtx, c.Log, wf); err != nil {
			if c.ErrLog != nil {
				fmt.Fprintln(c.ErrLog, "k8swatch:", err)
			} else {
				c.Log.Error("k8swatch", "err", err)
			}
		}
	}()
	s.cleanups = append(s.cleanups, func() { stopWatch(); <-done })
	return s, nil
}

// identity is the admin config, or with Config.ServiceAccounts the one of
// ServiceAccount certflow/<sa>.
func (s *System) identity(sa string) *rest.Config {
	if s.cfg.ServiceAccounts {
		return s.Impersonate(sa)
	}
	return rest.CopyConfig(s.Config)
}

// Impersonate returns the admin config acting as ServiceAccount certflow/<sa>.
func (s *System) Impersonate(sa string) *rest.Config {
	c := rest.CopyConfig(s.Config)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:certflow:" + sa}
	return c
}

// WorkerConfig is the configuration of the system's worker (Config.Worker with its
// clients, the ACME settings and the HTTP-01 registry).
func (s *System) WorkerConfig(disableApprover bool) (worker.Config, error) {
	c, err := worker.WithClients(s.identity("certflow-worker"), s.Temporal)
	if err != nil {
		return worker.Config{}, err
	}
	w := s.cfg.Worker
	w.Temporal, w.Kube, w.CertFlow, w.Gateway = c.Temporal, c.Kube, c.CertFlow, c.Gateway
	w.DisableApprover = disableApprover
	w.ACME, w.HTTP01Registry = s.ACME, s.HTTP01Registry
	return w, nil
}

// Stop stops everything in reverse order; its error is the stack's.
func (s *System) Stop() error {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
	if s.Stack == nil {
		return nil
	}
	return s.Stack.Stop()
}
