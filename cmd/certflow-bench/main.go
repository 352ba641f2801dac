// Command certflow-bench measures certflow on the local stack (issue 3, point 9): it
// starts its own kube-apiserver + etcd and Temporal dev server on free ports, runs
// bin/certflow-worker and bin/certflow-k8swatch as separate processes, creates a CA
// ClusterIssuer and then
//
//   - mode throughput (default): times a single Certificate from create to Ready a few
//     times, then creates N Certificates at once and reports certificates per second,
//     per-certificate latency, peak RSS of worker and watcher, CPU of every process,
//     Temporal history events and kube-apiserver requests per Certificate;
//   - mode idle: creates N Certificates, waits until all are Ready and a settle period,
//     then reports RSS and CPU of worker and watcher over a window;
//   - mode acme: the stack also runs Pebble, pebble-challtestsrv and a fake Cloudflare
//     API; N Certificates from an ACME ClusterIssuer solving DNS-01 through Cloudflare
//     are created at once, with the figures of throughput mode plus the Order and
//     Challenge workflows' histories and the ACME objects left at the end;
//   - mode shortlived: as acme, with the ClusterIssuer's profile "shortlived" and
//     Pebble's shortlived validity compressed (--compression); the N Certificates then
//     live for a simulated month, every renewal is checked against its renewal time
//     and expiry, and the cost per renewal is reported.
//
// It prints one "bench: ..." line per figure and writes every figure as JSON to --out.
// docs/bench.md explains each figure. `make bench` / `make bench-idle` run it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type config struct {
	mode          string
	n             int
	out           string
	binDir        string
	crdDir        string
	stateDir      string
	keepState     bool
	timeout       time.Duration
	concurrency   int
	qps           float64
	probes        int
	historySample int
	historySettle time.Duration
	settle        time.Duration
	window        time.Duration
	sampleEvery   time.Duration
	workerArgs    string
	watcherArgs   string
	verbose       bool
	// temporal is the Temporal the stack runs: the dev server on SQLite, or a server
	// on PostgreSQL; workers is how many certflow-worker processes serve it.
	temporal string
	workers  int
	// Short-lived mode: the compression factor, what it makes of the certificate's
	// validity and the month, and the lateness a renewal may have.
	compression float64
	comp        compression
	tolerance   time.Duration
	// set holds the flags given on the command line.
	set map[string]bool
}

// Modes.
const (
	modeThroughput = "throughput"
	modeIdle       = "idle"
	modeACME       = "acme"
	modeShortLived = "shortlived"
)

// Temporal servers (--temporal).
const (
	temporalDev      = "dev"
	temporalPostgres = "postgres"
)

func main() {
	var c config
	flag.StringVar(&c.mode, "mode", modeThroughput, "throughput: N Certificates at once; idle: RSS and CPU with N issued Certificates; acme: N Certificates at once through DNS-01 against Pebble; shortlived: N short-lived ACME Certificates renewed over a compressed month")
	flag.IntVar(&c.n, "n", 0, "number of Certificates (default 1000 in throughput and shortlived modes, 10000 in idle mode, 100 in acme mode)")
	flag.StringVar(&c.out, "out", "", "JSON output file (default out/bench-<mode>.json)")
	flag.StringVar(&c.binDir, "bin-dir", "bin", "directory with the stack's servers, certflow-worker and certflow-k8swatch")
	flag.StringVar(&c.crdDir, "crds", "deploy/crds", "CRDs to install")
	flag.StringVar(&c.stateDir, "state-dir", "", "logs and data of the run (default a new temporary directory)")
	flag.BoolVar(&c.keepState, "keep-state", false, "keep the state directory after a successful run (it is always kept after a failure)")
	flag.DurationVar(&c.timeout, "timeout", 0, "bound on the whole run (default 10m in throughput and acme modes, 30m in idle mode)")
	flag.IntVar(&c.concurrency, "concurrency", 32, "Certificate creates in flight")
	flag.Float64Var(&c.qps, "qps", 2000, "client-side QPS (and burst) of the bench's Kubernetes client")
	flag.IntVar(&c.probes, "probes", 5, "single-Certificate latency probes before the batch (throughput mode; acme mode: default 1)")
	flag.IntVar(&c.historySample, "history-sample", 20, "workflows whose Temporal history is counted")
	flag.DurationVar(&c.historySettle, "history-settle", 15*time.Second, "longest wait for the sampled histories to stop growing after all are Ready")
	flag.DurationVar(&c.settle, "settle", 60*time.Second, "idle mode: wait after all are Ready before measuring")
	flag.DurationVar(&c.window, "window", 60*time.Second, "idle mode: measuring window")
	flag.DurationVar(&c.sampleEvery, "sample-every", 500*time.Millisecond, "RSS sampling interval")
	flag.StringVar(&c.workerArgs, "worker-args", "", "extra flags for certflow-worker (space separated)")
	flag.StringVar(&c.watcherArgs, "watcher-args", "", "extra flags for certflow-k8swatch (space separated)")
	flag.BoolVar(&c.verbose, "v", false, "show the local stack's progress lines")
	flag.StringVar(&c.temporal, "temporal", temporalDev, "the Temporal the stack runs: dev (the dev server on SQLite) or postgres (bin/temporal-server on PostgreSQL, as a production cluster)")
	flag.IntVar(&c.workers, "workers", 1, "certflow-worker processes (throughput and acme modes)")
	flag.Float64Var(&c.compression, "compression", defaultCompression, "shortlived mode: time compression; a 160 h certificate lives 160h/F and the 30-day month takes 30d/F (1440: a simulated day per minute)")
	flag.DurationVar(&c.tolerance, "tolerance", 0, "shortlived mode: how long after its renewal time a renewal may come before it counts as late (default 5% of the compressed validity, at least 5s)")
	flag.Parse()
	c.set = map[string]bool{}
	flag.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if err := c.defaults(); err != nil {
		fmt.Fprintln(os.Stderr, "certflow-bench:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the bench; Pdeathsig then kills its children
	}()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "certflow-bench:", err)
		os.Exit(1)
	}
}

func (c *config) defaults() error {
	switch c.mode {
	case modeThroughput:
		if c.n == 0 {
			c.n = 1000
		}
		if c.timeout == 0 {
			c.timeout = 10 * time.Minute
		}
	case modeIdle:
		if c.n == 0 {
			c.n = 10000
		}
		if c.timeout == 0 {
			c.timeout = 30 * time.Minute
		}
	case modeACME:
		if c.n == 0 {
			c.n = 100
		}
		if c.timeout == 0 {
			c.timeout = 10 * time.Minute
		}
		// One probe: the latency of a lone ACME issuance (several ACME round trips and
		// Pebble's Retry-After), unless --probes says otherwise.
		if !c.set["probes"] {
			c.probes = 1
		}
	case modeShortLived:
		if c.n == 0 {
			c.n = 1000
		}
		comp, err := newCompression(c.compression)
		if err != nil {
			return err
		}
		c.comp = comp
		if c.tolerance == 0 {
			c.tolerance = max(comp.Validity/20, 5*time.Second)
		}
		if c.timeout == 0 {
			// The month, plus issuing and counting at its ends.
			c.timeout = comp.Month + 20*time.Minute
		}
		// The probes' Certificates would renew too; none unless asked.
		if !c.set["probes"] {
			c.probes = 0
		}
	default:
		return fmt.Errorf("--mode %q: want throughput, idle, acme or shortlived", c.mode)
	}
	if c.temporal == "" {
		c.temporal = temporalDev
	}
	if c.workers == 0 {
		c.workers = 1
	}
	if c.temporal != temporalDev && c.temporal != temporalPostgres {
		return fmt.Errorf("--temporal %q: want dev or postgres", c.temporal)
	}
	if c.workers < 1 || (c.workers > 1 && c.mode != modeThroughput && c.mode != modeACME) {
		return errors.New("--workers must be positive, and above 1 only in throughput and acme modes")
	}
	if c.n < 1 || c.concurrency < 1 || c.probes < 0 || c.historySample < 0 || c.sampleEvery <= 0 {
		return errors.New("-n and --concurrency must be positive, --probes and --history-sample not negative")
	}
	if c.out == "" {
		c.out = filepath.Join("out", "bench-"+c.mode+".json")
	}
	return nil
}

// result is everything the bench reports; it is written as JSON to --out.
type result struct {
	Mode     string      `json:"mode"`
	N        int         `json:"n"`
	Temporal string      `json:"temporal"` // dev or postgres (--temporal)
	Workers  int         `json:"workers"`  // certflow-worker processes
	Started  time.Time   `json:"started"`
	Finished time.Time   `json:"finished"`
	Error    string      `json:"error,omitempty"`
	Machine  machineInfo `json:"machine"`
	StateDir string      `json:"state_dir"`

	StackStartSeconds float64 `json:"stack_start_s"`
	SetupSeconds      float64 `json:"setup_s"` // worker + watcher start, CA (ACME mode: ACME) ClusterIssuer Ready

	SingleCert *probeFigures    `json:"single_cert,omitempty"`
	Issuance   *issuanceFigures `json:"issuance,omitempty"`
	History    *historyFigures  `json:"history,omitempty"`
	// SlowestHistory is the history of the batch's slowest Certificate.
	SlowestHistory *slowHistory    `json:"slowest_history,omitempty"`
	API            *apiFigures     `json:"api,omitempty"`
	Idle           *idleFigures    `json:"idle,omitempty"`
	Restart        *restartFigures `json:"watcher_restart,omitempty"`
	// ACME is what ACME mode leaves behind: Orders, Challenges, TXT records, workflows.
	ACME *acmeFigures `json:"acme,omitempty"`
	// ShortLived is short-lived mode's month: renewals on time and their cost.
	ShortLived *shortLivedFigures `json:"shortlived,omitempty"`
	Targets    []target           `json:"targets,omitempty"`
	// ThrottleLogLines counts "client-side throttling" lines in the logs of worker and
	// watcher (client-go logs a wait over 1 s).
	ThrottleLogLines map[string]int `json:"throttle_log_lines,omitempty"`
	Summary          []string       `json:"summary"`
}

type machineInfo struct {
	Cores     int     `json:"cores"`
	CPUModel  string  `json:"cpu_model,omitempty"`
	LoadStart loadAvg `json:"loadavg_start"`
	LoadEnd   loadAvg `json:"loadavg_end"`
	ClockTick float64 `json:"clock_ticks_per_s"`
}

type target struct {
	Figure string  `json:"figure"`
	Want   string  `json:"want"`
	Value  float64 `json:"value"`
	Met    bool    `json:"met"`
}

func (r *result) line(format string, args ...any) {
	s := "bench: " + fmt.Sprintf(format, args...)
	r.Summary = append(r.Summary, s)
	fmt.Println(s)
}

// progress prints a progress line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(ctx context.Context, c config) (err error) {
	r := &result{Mode: c.mode, N: c.n, Temporal: c.temporal, Workers: c.workers, Started: time.Now()}
	r.Machine.Cores = runtime.NumCPU()
	r.Machine.CPUModel = cpuModel()
	r.Machine.ClockTick = clockTicks
	r.Machine.LoadStart, _ = readLoadAvg()
	progress("mode %s, N=%d, %d cores, load average %s, timeout %s", c.mode, c.n, r.Machine.Cores, r.Machine.LoadStart, c.timeout)

	if c.stateDir == "" {
		if c.stateDir, err = os.MkdirTemp("", "certflow-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(c.stateDir, 0o755); err != nil {
		return err
	}
	r.StateDir, _ = filepath.Abs(c.stateDir)
	if c.binDir, err = filepath.Abs(c.binDir); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, fmt.Errorf("timed out after %s (--timeout)", c.timeout))
	defer cancel()
	b := &bench{cfg: c, res: r}
	runErr := b.run(ctx)
	b.shutdown()

	r.Finished = time.Now()
	r.Machine.LoadEnd, _ = readLoadAvg()
	if runErr != nil {
		r.Error = runErr.Error()
	}
	r.line("machine %d cores (%s); load average at start %s, at end %s", r.Machine.Cores, r.Machine.CPUModel, r.Machine.LoadStart, r.Machine.LoadEnd)
	if werr := writeJSON(c.out, r); werr != nil {
		runErr = errors.Join(runErr, werr)
	} else {
		r.line("figures written to %s", c.out)
	}
	if runErr != nil {
		fmt.Fprintf(os.Stderr, "bench: logs and data kept in %s\n", r.StateDir)
		return runErr
	}
	if c.keepState {
		progress("logs and data kept in %s", r.StateDir)
	} else {
		_ = os.RemoveAll(r.StateDir)
	}
	return nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// stackLog returns where the stack's progress lines go.
func stackLog(verbose bool) io.Writer {
	if verbose {
		return os.Stderr
	}
	return nil
}
