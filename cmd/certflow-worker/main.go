// Command certflow-worker runs certflow's workflows and activities.
//
//	certflow-worker [flags]                 poll the Temporal task queue
//	certflow-worker http01-solver [flags]   serve one HTTP-01 challenge (what solver Pods run)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/internal/features"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/internal/profiler"
	"github.com/certflow/certflow/internal/sideserver"
	"github.com/certflow/certflow/worker"
)

// SolverCommand is the subcommand solver Pods run.
const SolverCommand = http01.SolverSubcommand

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == SolverCommand {
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		if err := solverMain(ctx, args[1:], os.Stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return
			}
			log.Error("certflow-worker "+SolverCommand+" failed", "err", err)
			os.Exit(1)
		}
		return
	}
	f, err := parseFlags(args, os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "certflow-worker:", err)
		os.Exit(2)
	}
	log, err := f.Logging.New(os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "certflow-worker:", err)
		os.Exit(2)
	}
	tworker.SetStickyWorkflowCacheSize(f.WorkflowCacheSize)
	if err := run(ctx, log, f); err != nil {
		log.Error("certflow-worker failed", "err", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, out io.Writer) (worker.Flags, error) {
	var f worker.Flags
	fs := flag.NewFlagSet("certflow-worker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: certflow-worker [flags]\n       certflow-worker %s --listen-port=8089 --domain=D --token=T --key=K\n\nFlags:\n", SolverCommand)
		fs.PrintDefaults()
	}
	f.AddTo(fs)
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q (the only subcommand is %s)", fs.Args(), SolverCommand)
	}
	return f, f.Check()
}

func run(ctx context.Context, log *slog.Logger, f worker.Flags) error {
	if gates, err := features.Parse(f.FeatureGates); err == nil && len(features.Overridden(gates)) > 0 {
		log.Warn("certflow behaves as each feature gate's default; these are set otherwise", "featureGates", features.Overridden(gates))
	}
	// The side servers start first: the probes answer (not ready) while Temporal is dialed.
	var connected atomic.Pointer[client.Client]
	polling := metrics.NewFlag("not polling the task queue yet")
	health := &metrics.Health{}
	health.AddReadiness(metrics.TemporalCheck(func() client.Client {
		if c := connected.Load(); c != nil {
			return *c
		}
		return nil
	}))
	health.AddReadiness(metrics.Check{Name: "polling", Fn: polling.Check})
	stopServers, err := metrics.Serve(log, f.MetricsListenAddress, f.HealthzListenAddress, health)
	if err != nil {
		return err
	}
	defer stopServers()

	cfg, err := clients.RESTConfig(f.Kubeconfig, clients.DefaultQPS, clients.DefaultBurst)
	if err != nil {
		return err
	}
	opts, err := clients.TemporalClientOptions(f.TemporalAddress, f.TemporalNamespace, log)
	if err != nil {
		return err
	}
	opts.MetricsHandler = metrics.TemporalHandler(log)
	if f.PayloadCodecSecret != "" {
		kc, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		c, err := codec.Load(ctx, kc, f.PayloadCodecSecret, true, log)
		if err != nil {
			return err
		}
		c.Apply(&opts)
		if f.CodecServerListenAddress != "" {
			_, stopCodec, err := sideserver.Listen("payload codec endpoint", f.CodecServerListenAddress,
				codec.Handler(c, splitList(f.CodecServerCORSOrigins)), log)
			if err != nil {
				return err
			}
			defer stopCodec()
		}
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return err
	}
	defer tc.Close()
	connected.Store(&tc)
	// The workflows set typed search attributes: a namespace without them would fail
	// every workflow start. Added here once, or named with the command that adds them.
	if err := clients.EnsureSearchAttributes(ctx, tc, opts.Namespace); err != nil {
		return err
	}
	c, err := worker.WithClients(cfg, tc)
	if err != nil {
		return err
	}
	c.TaskQueue, c.ClusterResourceNamespace, c.DisableApprover, c.ACME = f.TaskQueue, f.ClusterResourceNamespace, f.DisableApprover, f.ACME
	// A fatal error stops the SDK's pollers for good (namespace gone, credentials
	// revoked): the process ends with it, so that its Pod restarts instead of staying
	// live and ready without polling.
	fatal := make(chan error, 1)
	c.Options = tworker.Options{
		MaxConcurrentWorkflowTaskExecutionSize:  f.MaxConcurrentWorkflowTasks,
		MaxConcurrentLocalActivityExecutionSize: f.MaxConcurrentLocalActivities,
		OnFatalError: func(err error) {
			polling.Set(false)
			select {
			case fatal <- err:
			default:
			}
		},
	}
	if f.ProfilerAddress != "" {
		stopProfiler, err := profiler.Serve(f.ProfilerAddress, log)
		if err != nil {
			return err
		}
		defer stopProfiler()
	}
	// With --http01-solver-listen, worker.New creates c.HTTP01Registry and the worker
	// serves it on that address between Start and Stop.
	w := worker.New(c)
	if err := w.Start(); err != nil {
		return err
	}
	polling.Set(true)
	log.Info("certflow-worker polling", "taskQueue", f.TaskQueue, "http01SolverListen", f.ACME.HTTP01SolverListen)
	select {
	case <-ctx.Done():
	case err := <-fatal:
		w.Stop()
		return fmt.Errorf("the worker stopped polling: %w", err)
	}
	w.Stop()
	return nil
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// solverMain is `certflow-worker http01-solver`: upstream acmesolver's flags, serving
// one key authorization until SIGTERM.
func solverMain(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("certflow-worker "+SolverCommand, flag.ContinueOnError)
	fs.SetOutput(out)
	port := fs.Int("listen-port", 8089, "port to serve HTTP-01 challenges on")
	host := fs.String("listen-host", "", "address to listen on (default: all interfaces, as in a solver Pod)")
	domain := fs.String("domain", "", "the domain being validated; requests for other hosts get 404 (empty: any host)")
	token := fs.String("token", "", "the challenge token")
	key := fs.String("key", "", "the key authorization served for the token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *port < 1 || *port > 65535 {
		return fmt.Errorf("--listen-port: %d is not a port", *port)
	}
	if *token == "" || *key == "" {
		return errors.New("--token and --key are required")
	}
	return http01.RunSolver(ctx, net.JoinHostPort(*host, strconv.Itoa(*port)), *domain, *token, *key)
}
