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

	"k8s.io/client-go/tools/clientcmd"

	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/localstack/system"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/k8swatch/shim"
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
	// ACMEAccountRecheck is how often a Ready ACME issuer verifies its account (the
	// worker's --acme-account-recheck-interval; 0: its default).
	ACMEAccountRecheck time.Duration
	// ACMERenewalInfoMaxRecheck caps how long a certificate waits before it reads its
	// ACME renewal information again (the worker's --acme-renewal-info-max-recheck; 0:
	// its default, Pebble's Retry-After of 6 h).
	ACMERenewalInfoMaxRecheck time.Duration
	// NoWorker leaves the worker out (a test runs its own, e.g. as a child process).
	NoWorker bool
	// NoWatcher leaves the watcher out (a test runs its own, e.g. as a child process).
	NoWatcher bool
	// SweepInterval is how often the watcher restarts missing workflows (default
	// DefaultSweepInterval: short, so that every suite runs with the sweep at work).
	SweepInterval time.Duration
	// Codec encrypts the system's Temporal payloads (nil: plain).
	Codec *codec.Codec
	// TemporalUICodecEndpoint is the codec endpoint the Temporal Web UI decodes with
	// (localstack.Options.TemporalUICodecEndpoint; empty: none).
	TemporalUICodecEndpoint string
	// Shim configures the watcher's ingress-shim and gateway-shim.
	Shim shim.Config
	// DNSWebhook (with ACME) also starts the stack's DNS-01 webhook solver behind
	// kube-apiserver's aggregation layer (localstack.Options.DNSWebhook); the worker's
	// DNS-01 lookups then go through the stack's zone-aware resolver in front of
	// challtestsrv (Stack.DNSWebhookResolver), unless DNS01RecursiveNameservers is set.
	DNSWebhook bool
	// Log receives the stack's progress lines (default os.Stderr).
	Log io.Writer
	// VenafiFakeConnectorURL gives Venafi issuers of exactly this URL vcert's fake
	// connector (worker.Config.TestOnlyVenafiFakeConnectorURL).
	VenafiFakeConnectorURL string
	// RateLimitProxy (with ACME) puts a rate-limiting proxy with these limits in front
	// of Pebble (localstack.Options.RateLimitProxy): issuers reach Pebble through it.
	RateLimitProxy *localstack.RateLimitProxyOptions
}

// System is a running certflow.
type System struct {
	*system.System
	Root string

	stateDir string
}

// DefaultSelfCheckTimeout is Options.SelfCheckTimeout's default: short, since on the
// local stack a self check that fails for long will not start passing.
const DefaultSelfCheckTimeout = 15 * time.Second

// DefaultSweepInterval is the watcher's sweep interval in the suites.
const DefaultSweepInterval = 5 * time.Second

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
		CloudflareZones: o.CloudflareZones, PebbleDNSServer: o.PebbleDNSServer, TemporalUICodecEndpoint: o.TemporalUICodecEndpoint, DNSWebhook: o.DNSWebhook,
		RateLimitProxy: o.RateLimitProxy}
	if o.PebbleNonceReject != 0 {
		lo.PebbleEnv = map[string]string{"PEBBLE_WFE_NONCEREJECT": strconv.Itoa(o.PebbleNonceReject)}
	}
	if err := localstack.CheckBinaries(lo); err != nil {
		return s, err
	}
	if o.SelfCheckTimeout <= 0 {
		o.SelfCheckTimeout = DefaultSelfCheckTimeout
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	s.System, err = system.Start(startCtx, system.Config{
		StackConfig: system.StackConfig{
			Stack:             lo,
			CRDDirs:           []string{filepath.Join(s.Root, localstack.CRDsDir)},
			GatewayAPICRDDir:  filepath.Join(s.Root, localstack.GatewayAPICRDsDir),
			AdmissionPolicies: filepath.Join(s.Root, localstack.AdmissionPoliciesFile),
		},
		Namespaces:       append([]string{worker.DefaultClusterResourceNamespace}, o.Namespaces...),
		SelfCheckTimeout: o.SelfCheckTimeout,
		Worker:           worker.Config{DisableApprover: o.DisableApprover, TestOnlyVenafiFakeConnectorURL: o.VenafiFakeConnectorURL},
		ServiceAccounts:  true,
		Codec:            o.Codec,
		Setup: func(_ context.Context, sys *system.System) error {
			if o.DNS01RecursiveNameservers != nil {
				sys.ACME.DNS01RecursiveNameservers = slices.Clone(o.DNS01RecursiveNameservers)
			} else if o.DNSWebhook {
				sys.ACME.DNS01RecursiveNameservers = []string{sys.Stack.DNSWebhookResolver()}
			}
			if o.ACMEAccountRecheck > 0 {
				sys.ACME.AccountRecheckInterval = o.ACMEAccountRecheck
			}
			if o.ACMERenewalInfoMaxRecheck > 0 {
				sys.ACME.RenewalInfoMaxRecheck = o.ACMERenewalInfoMaxRecheck
			}
			if out, err := kubectl(s.Root, sys.Stack.Kubeconfig, nil, "apply", "-f", filepath.Join(s.Root, "deploy", "rbac", "rbac.yaml")); err != nil {
				return fmt.Errorf("apply RBAC: %v\n%s", err, out)
			}
			return nil
		},
		NoWorker:  o.NoWorker,
		NoWatcher: o.NoWatcher,
		Watcher:   k8swatch.Flags{LeaderElect: true, LeaseNamespace: "kube-system", SweepInterval: o.SweepInterval, Shim: o.Shim},
		Log:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		ErrLog:    os.Stderr,
	})
	return s, err
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

// CreateNamespace creates a namespace if it is missing.
func (s *System) CreateNamespace(ctx context.Context, name string) error {
	return system.EnsureNamespaces(ctx, s.Kube, name)
}

// Kubectl runs bin/kubectl against the system's API server.
func (s *System) Kubectl(stdin []byte, args ...string) (string, error) {
	return kubectl(s.Root, s.Stack.Kubeconfig, stdin, args...)
}

func kubectl(root, kubeconfig string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "bin", "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Stop stops everything in reverse order. keepState keeps the logs for a failed run.
func (s *System) Stop(keepState bool) {
	if s.System != nil {
		s.System.Stop()
		s.System = nil
	}
	if s.stateDir == "" {
		return
	}
	if keepState {
		fmt.Fprintf(os.Stderr, "logs of the stack are in %s\n", s.stateDir)
	} else {
		os.RemoveAll(s.stateDir)
	}
}
