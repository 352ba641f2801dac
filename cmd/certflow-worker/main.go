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
	"syscall"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/profiler"
	"github.com/certflow/certflow/worker"
	"github.com/certflow/certflow/workflows"
)

// SolverCommand is the subcommand solver Pods run.
const SolverCommand = "http01-solver"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	args := os.Args[1:]
	if len(args) > 0 && args[0] == SolverCommand {
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
	tworker.SetStickyWorkflowCacheSize(f.cacheSize)
	if err := run(ctx, log, f); err != nil {
		log.Error("certflow-worker failed", "err", err)
		os.Exit(1)
	}
}

// flags of the worker mode.
type flags struct {
	kubeconfig, address, namespace, taskQueue, clusterResNS string
	noApprover                                              bool
	cacheSize, maxWorkflowTasks, maxLocalActivities         int
	profilerAddress                                         string
	acme                                                    worker.ACMEConfig
}

func parseFlags(args []string, out io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("certflow-worker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: certflow-worker [flags]\n       certflow-worker %s --listen-port=8089 --domain=D --token=T --key=K\n\nFlags:\n", SolverCommand)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then in-cluster)")
	fs.StringVar(&f.address, "temporal-address", "", "Temporal frontend host:port (default $TEMPORAL_ADDRESS, then "+clients.DefaultTemporalAddress+")")
	fs.StringVar(&f.namespace, "temporal-namespace", "", "Temporal namespace (default $TEMPORAL_NAMESPACE, then default)")
	fs.StringVar(&f.taskQueue, "task-queue", workflows.TaskQueue, "Temporal task queue")
	fs.StringVar(&f.clusterResNS, "cluster-resource-namespace", worker.DefaultClusterResourceNamespace, "namespace of the Secrets that ClusterIssuers refer to")
	fs.BoolVar(&f.noApprover, "disable-approver", false, "do not approve CertificateRequests automatically: wait for starter approve/deny or the Approved/Denied condition")
	fs.IntVar(&f.cacheSize, "workflow-cache-size", worker.DefaultWorkflowCacheSize, "workflows kept in memory between tasks; idle Certificates sleep for weeks, so a small cache keeps memory flat")
	fs.IntVar(&f.maxWorkflowTasks, "max-concurrent-workflow-tasks", worker.DefaultMaxConcurrentWorkflowTasks, "workflow tasks (with their local activities: the issuance of a CA or SelfSigned certificate) this worker runs at once; the rest wait in the task queue")
	fs.IntVar(&f.maxLocalActivities, "max-concurrent-local-activities", worker.DefaultMaxConcurrentLocalActivities, "local activities (Kubernetes calls, signing) this worker runs at once")
	fs.StringVar(&f.profilerAddress, "profiler-address", "", "serve Go's pprof profiles on this host:port (as cert-manager's --profiler-address; off when empty)")

	var nameservers string
	fs.StringVar(&nameservers, "dns01-recursive-nameservers", "", "comma-separated host:port list of recursive nameservers the DNS-01 propagation check asks instead of the zone's authoritative nameservers")
	fs.StringVar(&f.acme.CloudflareAPIURL, "cloudflare-api-url", "", "base URL of the Cloudflare v4 API including /client/v4 (default https://api.cloudflare.com/client/v4)")
	fs.StringVar(&f.acme.HTTP01SolverListen, "http01-solver-listen", "", "serve HTTP-01 challenges from this process on host:port instead of creating solver Pods (local stack)")
	fs.StringVar(&f.acme.HTTP01SelfCheck.Resolver, "http01-self-check-nameserver", "", "DNS server (host:port) the HTTP-01 self check resolves names with (default: the system resolver)")
	fs.IntVar(&f.acme.HTTP01SelfCheck.Port, "http01-self-check-port", 80, "port the HTTP-01 self check connects to instead of 80")
	fs.StringVar(&f.acme.HTTP01SolverImage, "http01-solver-image", worker.DefaultHTTP01SolverImage, "image of HTTP-01 solver Pods (they run certflow-worker "+SolverCommand+")")
	fs.DurationVar(&f.acme.SelfCheckTimeout, "acme-self-check-timeout", worker.DefaultACMESelfCheckTimeout, "how long a challenge's self check may fail before the ACME server is asked to validate anyway")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q (the only subcommand is %s)", fs.Args(), SolverCommand)
	}
	var err error
	if f.acme.DNS01RecursiveNameservers, err = parseNameservers(nameservers); err != nil {
		return f, fmt.Errorf("--dns01-recursive-nameservers: %w", err)
	}
	if r := f.acme.HTTP01SelfCheck.Resolver; r != "" {
		if f.acme.HTTP01SelfCheck.Resolver, err = hostPort(r); err != nil {
			return f, fmt.Errorf("--http01-self-check-nameserver: %w", err)
		}
	}
	if p := f.acme.HTTP01SelfCheck.Port; p < 1 || p > 65535 {
		return f, fmt.Errorf("--http01-self-check-port: %d is not a port", p)
	}
	if a := f.acme.HTTP01SolverListen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return f, fmt.Errorf("--http01-solver-listen: %w", err)
		}
	}
	if f.maxWorkflowTasks < 2 {
		// The SDK polls the sticky and the normal task queue at once: one slot panics it.
		return f, errors.New("--max-concurrent-workflow-tasks must be at least 2")
	}
	if f.maxLocalActivities < 1 {
		return f, errors.New("--max-concurrent-local-activities must be at least 1")
	}
	if f.acme.SelfCheckTimeout <= 0 {
		return f, errors.New("--acme-self-check-timeout must be positive")
	}
	return f, nil
}

// parseNameservers splits a comma-separated list of nameservers; an entry without a
// port gets :53.
func parseNameservers(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		hp, err := hostPort(s)
		if err != nil {
			return nil, err
		}
		out = append(out, hp)
	}
	return out, nil
}

// hostPort returns s as host:port, adding port 53 when s has none.
func hostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// A bare host or IP (an IPv6 literal only in brackets with a port).
		if strings.Contains(s, ":") && net.ParseIP(s) == nil {
			return "", fmt.Errorf("%q is not host:port", s)
		}
		return net.JoinHostPort(s, "53"), nil
	}
	if host == "" {
		return "", fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q has no valid port", s)
	}
	return s, nil
}

func run(ctx context.Context, log *slog.Logger, f flags) error {
	cfg, err := clients.RESTConfig(f.kubeconfig, clients.DefaultQPS, clients.DefaultBurst)
	if err != nil {
		return err
	}
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return err
	}
	gc, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tc, err := client.DialContext(ctx, clients.TemporalOptions(f.address, f.namespace, log))
	if err != nil {
		return err
	}
	defer tc.Close()
	c := worker.Config{
		Temporal: tc, Kube: kc, CertFlow: cf, Gateway: gc, TaskQueue: f.taskQueue,
		ClusterResourceNamespace: f.clusterResNS, DisableApprover: f.noApprover, ACME: f.acme,
		Options: tworker.Options{
			MaxConcurrentWorkflowTaskExecutionSize:  f.maxWorkflowTasks,
			MaxConcurrentLocalActivityExecutionSize: f.maxLocalActivities,
		},
	}
	if f.profilerAddress != "" {
		stopProfiler, err := profiler.Serve(f.profilerAddress, log)
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
	log.Info("certflow-worker polling", "taskQueue", f.taskQueue, "http01SolverListen", f.acme.HTTP01SolverListen)
	<-ctx.Done()
	w.Stop()
	return nil
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
