package k8swatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/k8swatch/cainjector"
	"github.com/certflow/certflow/k8swatch/shim"
)

// Flags configure Serve, the watcher as a process runs it.
type Flags struct {
	Kubeconfig        string
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	LeaderElect       bool
	LeaseNamespace    string
	// ClusterResourceNamespace holds the Secrets of ClusterIssuers.
	ClusterResourceNamespace string
	// SweepInterval is how often objects are compared with running workflows
	// (default DefaultSweepInterval).
	SweepInterval time.Duration
	// Temporal, when set, is used instead of dialing TemporalAddress.
	Temporal client.Client
	// RESTConfig, when set, is used instead of loading Kubeconfig.
	RESTConfig *rest.Config
	// PayloadCodecSecret (namespace/name) holds the key of the payload codec the
	// workers use (internal/codec): the watcher's signals carry specs, encrypted with
	// it. The watcher waits for the worker to create it. Empty: off.
	PayloadCodecSecret string
	// Shim configures ingress-shim and gateway-shim, which run beside the watcher.
	Shim shim.Config
	// Health, when set, gets the watcher's probes: live while it holds or campaigns for
	// the Lease (not while it leads on a Lease it cannot renew), ready when Temporal
	// answers and, while leading, its caches have synced.
	Health *metrics.Health
	// DisableCAInjector leaves out the CA injector (k8swatch/cainjector), which
	// otherwise runs beside the watcher in each leadership term.
	DisableCAInjector bool
}

// Serve connects to Kubernetes and Temporal and runs the watcher (under a Lease when
// LeaderElect is set) until ctx is done.
func Serve(ctx context.Context, log *slog.Logger, f Flags) error {
	// The probes first: not ready while Temporal is dialed.
	var connected atomic.Pointer[client.Client]
	var leading, synced atomic.Bool
	var leaderHealth *leaderelection.HealthzAdaptor
	if f.LeaderElect {
		leaderHealth = leaderelection.NewLeaderHealthzAdaptor(20 * time.Second)
	}
	if h := f.Health; h != nil {
		if leaderHealth != nil {
			h.AddLiveness(metrics.Check{Name: "leader-election", Fn: leaderHealth.Check})
		}
		h.AddReadiness(metrics.TemporalCheck(func() client.Client {
			if c := connected.Load(); c != nil {
				return *c
			}
			return nil
		}))
		h.AddReadiness(metrics.Check{Name: "informers", Fn: func(*http.Request) error {
			if leading.Load() && !synced.Load() {
				return errors.New("leading, informer caches not synced yet")
			}
			return nil
		}})
	}
	cfg := f.RESTConfig
	if cfg == nil {
		var err error
		if cfg, err = clients.RESTConfig(f.Kubeconfig, clients.DefaultQPS, clients.DefaultBurst); err != nil {
			return err
		}
	}
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return err
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tc := f.Temporal
	if tc == nil {
		opts, err := clients.TemporalClientOptions(f.TemporalAddress, f.TemporalNamespace, log)
		if err != nil {
			return err
		}
		opts.MetricsHandler = metrics.TemporalHandler(log)
		if f.PayloadCodecSecret != "" {
			c, err := waitForCodec(ctx, kc, f.PayloadCodecSecret, log)
			if err != nil {
				return err
			}
			c.Apply(&opts)
		}
		if tc, err = client.DialContext(ctx, opts); err != nil {
			return err
		}
		defer tc.Close()
	}
	connected.Store(&tc)
	var caClients *cainjector.Clients
	if !f.DisableCAInjector {
		if caClients, err = cainjector.NewClients(cfg); err != nil {
			return err
		}
	}
	shimOpts := shim.Options{Kube: kc, CertFlow: cf, Config: f.Shim, Resync: 10 * time.Minute, Log: log}
	if f.Shim.EnableGatewayAPI {
		if shimOpts.Gateway, err = gatewayclient.NewForConfig(cfg); err != nil {
			return err
		}
	}
	run := func(ctx context.Context) {
		leading.Store(true)
		defer leading.Store(false)
		ctx, stop := context.WithCancel(ctx)
		defer startCAInjector(ctx, caClients, log)() // stops with the watcher
		defer stop()
		// The certificate-shims share the term: they start and stop with the Watcher.
		shimDone := make(chan struct{})
		defer func() { <-shimDone }()
		shimCtx, stopShim := context.WithCancel(ctx)
		defer stopShim()
		go func() {
			defer close(shimDone)
			if err := shim.Run(shimCtx, shimOpts); err != nil {
				log.Error("certificate-shim stopped", "err", err)
			}
		}()
		// A fresh Watcher per leadership term: its queue ends with the term.
		w, err := New(Options{Temporal: tc, CertFlow: cf, Metadata: mc, TaskQueue: f.TaskQueue, ClusterResourceNamespace: f.ClusterResourceNamespace, Resync: 10 * time.Minute, SweepInterval: f.SweepInterval, Log: log, Synced: synced.Store})
		if err == nil {
			err = w.Run(ctx)
		}
		if err != nil {
			log.Error("k8swatch stopped", "err", err)
		}
	}
	if !f.LeaderElect {
		run(ctx)
		return nil
	}
	host, _ := os.Hostname()
	return RunAsLeader(ctx, LeaderOptions{
		Kube: kc, Namespace: f.LeaseNamespace, Name: conventions.WatcherLeaseName,
		Identity: fmt.Sprintf("%s_%d", host, os.Getpid()), Log: log, WatchDog: leaderHealth,
	}, run)
}

// waitForCodec reads the payload codec's Secret, waiting while it does not exist yet
// (the first worker to start creates it) or cannot be read.
func waitForCodec(ctx context.Context, kc kubernetes.Interface, ref string, log *slog.Logger) (*codec.Codec, error) {
	var logged time.Time
	for {
		c, err := codec.Load(ctx, kc, ref, false, log)
		if err == nil {
			return c, nil
		}
		if _, _, perr := codec.ParseSecretRef(ref); perr != nil {
			return nil, perr
		}
		if time.Since(logged) > 30*time.Second {
			log.Warn("waiting for the payload codec Secret", "err", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
