package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/localstack/system"
	"github.com/certflow/certflow/worker"
	"github.com/certflow/certflow/workflows"
)

// Targets from issue 3, point 9.
const (
	targetCertsPerSecond = 50.0
	targetSingleCertSec  = 0.25
	targetIdleRSSMiB     = 300.0
)

// Names of the watched processes besides the stack's.
const (
	procWorker  = "certflow-worker"
	procWatcher = "certflow-k8swatch"
	procBench   = "certflow-bench"
)

// stackProcs are the stack's processes whose memory is reported (those that run: the
// ACME ones only in ACME mode).
var stackProcs = []string{"etcd", "kube-apiserver", "temporal", "postgres", "pebble", "pebble-challtestsrv"}

type bench struct {
	cfg config
	res *result

	stack   *localstack.Stack
	workers []*child // certflow-worker, certflow-worker-2, ...
	watcher *child
	// watcherArgs start the watcher again (idle mode's restart).
	watcherArgs []string
	// cancel ends the bench with a cause (a child that exits).
	cancel context.CancelCauseFunc
	tc     client.Client

	kc    kubernetes.Interface
	cf    versioned.Interface
	tr    *tracker
	procs watched
}

func (b *bench) run(ctx context.Context) error {
	// Ending run stops the informer before shutdown stops the servers.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c, r := b.cfg, b.res

	t := time.Now()
	progress("starting kube-apiserver, etcd and Temporal in %s", r.StateDir)
	acmeMode := c.mode == modeACME || c.mode == modeShortLived
	var shortLived time.Duration
	if c.mode == modeShortLived {
		shortLived = c.comp.Validity
	}
	if acmeMode {
		progress("with Pebble, pebble-challtestsrv and the fake Cloudflare API")
	}
	stack, err := system.StartStack(ctx, system.StackConfig{
		Stack: localstack.Options{
			BinDir: c.binDir, StateDir: c.stateDir, Kube: true, Temporal: true, ACME: acmeMode, Log: stackLog(c.verbose),
			TemporalPostgres:         c.temporal == temporalPostgres,
			PebbleShortLivedValidity: shortLived,
		},
		CRDDirs: []string{c.crdDir},
	})
	if err != nil {
		return err
	}
	b.stack = stack
	r.StackStartSeconds = round(time.Since(t).Seconds(), 2)
	progress("stack ready in %.1f s", r.StackStartSeconds)
	if stack.TemporalPprofURL != "" {
		progress("the Temporal server's profiles: %s (curl -o temporal.pprof '%sprofile?seconds=12')", stack.TemporalPprofURL, stack.TemporalPprofURL)
	}

	t = time.Now()
	cfg := rest.CopyConfig(stack.RESTConfig)
	cfg.QPS, cfg.Burst = float32(c.qps), int(c.qps)
	// The bench's own watch must not add gzip work to the kube-apiserver it measures.
	cfg.DisableCompression = true
	if b.kc, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if b.cf, err = versioned.NewForConfig(cfg); err != nil {
		return err
	}
	if err := system.EnsureNamespaces(ctx, b.kc, clusterResourceNS, benchNS); err != nil {
		return err
	}
	wf := worker.Flags{Kubeconfig: stack.Kubeconfig, TemporalAddress: stack.TemporalAddress, ClusterResourceNamespace: clusterResourceNS}
	if acmeMode {
		wf.ACME = system.ACMEConfig(stack, acmeSelfCheckTimeout)
	}
	workerArgs := wf.Args()
	workerBin := filepath.Join(c.binDir, procWorker)
	if !hasFlag(workerBin, "metrics-listen-address") {
		// A worker built before its metrics server (a back-to-back run of an older commit).
		workerArgs = slices.DeleteFunc(workerArgs, func(a string) bool {
			return strings.HasPrefix(a, "--metrics-listen-address=") || strings.HasPrefix(a, "--healthz-listen-address=")
		})
	}
	// --worker-args come last: a flag given twice takes its last value.
	workerArgs = append(workerArgs, strings.Fields(c.workerArgs)...)
	for i := range c.workers {
		name := procWorker
		if i > 0 {
			name = fmt.Sprintf("%s-%d", procWorker, i+1)
		}
		w, err := startChild(name, workerBin, workerArgs, r.StateDir)
		if err != nil {
			return err
		}
		b.workers = append(b.workers, w)
	}
	watcherBin := filepath.Join(c.binDir, procWatcher)
	watcherArgs := []string{"--kubeconfig", stack.Kubeconfig, "--temporal-address", stack.TemporalAddress, "--leader-elect=false"}
	if hasFlag(watcherBin, "metrics-listen-address") {
		watcherArgs = append(watcherArgs, "--metrics-listen-address=", "--healthz-listen-address=")
	}
	if hasFlag(watcherBin, "cluster-resource-namespace") {
		watcherArgs = append(watcherArgs, "--cluster-resource-namespace", clusterResourceNS)
	}
	b.watcherArgs = append(watcherArgs, strings.Fields(c.watcherArgs)...)
	b.watcher, err = startChild(procWatcher, watcherBin, b.watcherArgs, r.StateDir)
	if err != nil {
		return err
	}
	// Either of them exiting ends the bench with its log, unless the bench stopped it.
	b.cancel = cancel
	b.procs = watched{procWatcher: b.watcher.PID(), procBench: os.Getpid()}
	for _, w := range b.workers {
		go b.endOnExit(ctx, w)
		b.procs[w.Name] = w.PID()
	}
	go b.endOnExit(ctx, b.watcher)
	maps.Copy(b.procs, stack.PIDs())

	quiet := slog.New(slog.DiscardHandler)
	if b.tc, err = client.DialContext(ctx, clients.TemporalOptions(stack.TemporalAddress, stack.TemporalNamespace, quiet)); err != nil {
		return fmt.Errorf("dial Temporal: %w", err)
	}
	b.tr = newTracker()
	if err := b.tr.start(ctx, b.cf, benchNS); err != nil {
		return err
	}
	sctx, scancel := context.WithTimeoutCause(ctx, 2*time.Minute, errors.New("setup took over 2 minutes"))
	issuer := caClusterIssuer
	if acmeMode {
		issuer = acmeClusterIssuer
		profile := ""
		if c.mode == modeShortLived {
			profile = shortLivedProfile
		}
		err = setupACME(sctx, b.kc, b.cf, stack, profile)
	} else {
		err = setupCA(sctx, b.cf)
	}
	scancel()
	if err != nil {
		return fmt.Errorf("ClusterIssuer %s not Ready: %w", issuer, err)
	}
	r.SetupSeconds = round(time.Since(t).Seconds(), 2)
	progress("worker and watcher running, ClusterIssuer %s Ready in %.1f s", issuer, r.SetupSeconds)

	defer b.countThrottling()
	switch c.mode {
	case modeIdle:
		return b.idle(ctx)
	case modeACME:
		return b.acme(ctx)
	case modeShortLived:
		return b.shortlived(ctx)
	}
	return b.throughput(ctx)
}

// shutdown stops worker, watcher and the stack.
// endOnExit ends the bench when ch exits on its own.
func (b *bench) endOnExit(ctx context.Context, ch *child) {
	select {
	case <-ctx.Done():
		return
	case <-ch.Done():
	}
	if !ch.stopped.Load() {
		b.cancel(fmt.Errorf("%s exited (%v); last lines of %s:\n%s", ch.Name, ch.Err(), ch.LogPath, ch.Tail(30)))
	}
}

func (b *bench) shutdown() {
	if b.tc != nil {
		b.tc.Close()
	}
	var wg sync.WaitGroup
	for _, ch := range append(slices.Clone(b.workers), b.watcher) {
		if ch == nil {
			continue
		}
		wg.Go(func() {
			if err := ch.Stop(10 * time.Second); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		})
	}
	wg.Wait()
	if b.stack != nil {
		if err := b.stack.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stop stack:", err)
		}
	}
}

func (b *bench) countThrottling() {
	b.res.ThrottleLogLines = map[string]int{}
	n := 0
	for _, ch := range append(slices.Clone(b.workers), b.watcher) {
		k := ch.countInLog("client-side throttling")
		b.res.ThrottleLogLines[ch.Name] = k
		n += k
	}
	if n > 0 {
		b.res.line("client-side throttling waits over 1 s logged: worker %d, watcher %d", b.res.ThrottleLogLines[procWorker], b.res.ThrottleLogLines[procWatcher])
	}
}

// workerNames are the watched names of the worker processes.
func (b *bench) workerNames() []string {
	var out []string
	for _, w := range b.workers {
		out = append(out, w.Name)
	}
	return out
}

// names returns n Certificate names with a prefix.
func names(prefix string, n int) []string {
	w := len(fmt.Sprint(n))
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("%s-%0*d", prefix, w, i+1)
	}
	return out
}

// certificate is the measured Certificate called name: from the ACME ClusterIssuer in
// ACME mode, from the CA ClusterIssuer otherwise.
func (b *bench) certificate(name string) *cmapi.Certificate {
	if b.cfg.mode == modeACME || b.cfg.mode == modeShortLived {
		return acmeCertificate(name)
	}
	return leafCertificate(name)
}

// create creates one measured Certificate, retrying transient errors, and records when
// the call returned.
func (b *bench) create(ctx context.Context, name string) error {
	var err error
	for attempt := range 6 {
		_, err = b.cf.CertmanagerV1().Certificates(benchNS).Create(ctx, b.certificate(name), metav1.CreateOptions{})
		if err == nil {
			b.tr.markCreated(name, time.Now())
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		}
	}
	return fmt.Errorf("create Certificate %s/%s: %w", benchNS, name, err)
}

// issuanceFigures are the figures of N Certificates created at once.
type issuanceFigures struct {
	N           int `json:"n"`
	Concurrency int `json:"concurrency"`
	// DurationSeconds is from the first create call to the last Ready observed.
	DurationSeconds float64 `json:"duration_s"`
	CertsPerSecond  float64 `json:"certs_per_s"`
	// CreatesSeconds is from the first create call until every create call returned.
	CreatesSeconds float64 `json:"creates_s"`
	// Per-certificate latency: create call returned → Ready=True seen by the watch.
	LatencyP50 float64        `json:"latency_p50_s"`
	LatencyP90 float64        `json:"latency_p90_s"`
	LatencyP99 float64        `json:"latency_p99_s"`
	LatencyMin float64        `json:"latency_min_s"`
	LatencyMax float64        `json:"latency_max_s"`
	Slowest    []namedLatency `json:"slowest"`
	// CPUPerCertMs is each process's CPU time during the batch divided by N; the total
	// leaves out certflow-bench (the load generator). CeilingCertsPerSecond is cores
	// divided by that total: the rate at which the machine's CPU would run out.
	CPUPerCertMs          map[string]float64 `json:"cpu_per_cert_ms"`
	CPUPerCertMsTotal     float64            `json:"cpu_per_cert_ms_total"`
	CeilingCertsPerSecond float64            `json:"cpu_ceiling_certs_per_s"`
	Phase                 phaseFigures       `json:"phase"`
}

// issue creates names with a bounded pool and waits until all are Ready.
func (b *bench) issue(ctx context.Context, names []string) (*issuanceFigures, error) {
	c := b.cfg
	b.tr.expect(names)
	cpu0 := snapCPU(b.procs)
	sampler := startSampler(b.procs, c.sampleEvery)
	t0 := time.Now()

	cctx, ccancel := context.WithCancelCause(ctx)
	defer ccancel(nil)
	work := make(chan string)
	var wg sync.WaitGroup
	var createsDone time.Time
	for range c.concurrency {
		wg.Go(func() {
			for name := range work {
				if err := b.create(cctx, name); err != nil {
					ccancel(err)
				}
			}
		})
	}
	go func() {
		defer close(work)
		for _, n := range names {
			select {
			case work <- n:
			case <-cctx.Done():
				return
			}
		}
	}()
	createsCh := make(chan struct{})
	go func() {
		wg.Wait()
		createsDone = time.Now()
		close(createsCh)
	}()

	err := b.tr.waitReady(cctx, func(n int) {
		state := "creating"
		select {
		case <-createsCh:
			state = "all created"
		default:
		}
		progress("%d/%d Ready after %.1f s (%s)", n, len(names), time.Since(t0).Seconds(), state)
	}, 5*time.Second)
	cpu1 := snapCPU(b.procs)
	sampler.stop()
	ccancel(nil)
	<-createsCh
	if err != nil {
		return nil, err
	}

	lat, lastReady := b.tr.latencies(names)
	slices.Sort(lat)
	d := lastReady.Sub(t0)
	f := &issuanceFigures{
		N: len(names), Concurrency: c.concurrency,
		DurationSeconds: round(d.Seconds(), 3),
		CertsPerSecond:  round(float64(len(names))/d.Seconds(), 1),
		CreatesSeconds:  round(createsDone.Sub(t0).Seconds(), 3),
		LatencyP50:      round(percentile(lat, 0.50).Seconds(), 3),
		LatencyP90:      round(percentile(lat, 0.90).Seconds(), 3),
		LatencyP99:      round(percentile(lat, 0.99).Seconds(), 3),
		LatencyMin:      round(percentile(lat, 0).Seconds(), 3),
		LatencyMax:      round(percentile(lat, 1).Seconds(), 3),
		Phase:           phase(b.procs, cpu0, cpu1, sampler, b.res.Machine.Cores),
		Slowest:         b.tr.slowest(names, 5),
		CPUPerCertMs:    map[string]float64{},
	}
	total := 0.0
	for name, p := range f.Phase.Processes {
		ms := 1000 * p.CPUSeconds / float64(len(names))
		f.CPUPerCertMs[name] = round(ms, 1)
		if name != procBench {
			total += ms
		}
	}
	f.CPUPerCertMsTotal = round(total, 1)
	if total > 0 {
		f.CeilingCertsPerSecond = round(float64(b.res.Machine.Cores)*1000/total, 1)
	}
	return f, nil
}

// probeFigures are the single-Certificate latencies.
type probeFigures struct {
	RunsSeconds   []float64 `json:"runs_s"`
	MedianSeconds float64   `json:"median_s"`
}

// probe creates one Certificate at a time and times create returned → Ready observed.
func (b *bench) probe(ctx context.Context) (*probeFigures, error) {
	f := &probeFigures{}
	var lat []time.Duration
	for _, name := range names("probe", b.cfg.probes) {
		b.tr.expect([]string{name})
		if err := b.create(ctx, name); err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeoutCause(ctx, time.Minute, fmt.Errorf("probe %s not Ready within a minute", name))
		err := b.tr.waitReady(pctx, nil, time.Second)
		cancel()
		if err != nil {
			return nil, err
		}
		l, _ := b.tr.latencies([]string{name})
		lat = append(lat, l...)
		f.RunsSeconds = append(f.RunsSeconds, round(l[0].Seconds(), 3))
		// Let the workflow finish its post-Ready work so probes do not overlap.
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
	slices.Sort(lat)
	f.MedianSeconds = round(percentile(lat, 0.5).Seconds(), 3)
	return f, nil
}

// singleCertProbe runs the single-Certificate probe cfg.probes times,
// announced as label, and records it in the result. It returns nil when no
// probe is asked for.
func (b *bench) singleCertProbe(ctx context.Context, label string) (*probeFigures, error) {
	if b.cfg.probes <= 0 {
		return nil, nil
	}
	progress("%s, %d times", label, b.cfg.probes)
	p, err := b.probe(ctx)
	if err != nil {
		return nil, fmt.Errorf("single-Certificate probe: %w", err)
	}
	b.res.SingleCert = p
	return p, nil
}

// issueBatch creates the batch's N Certificates (what names them in the progress
// line), waits for them all and reports the issuance; before is kube-apiserver's
// request count from just before the batch.
func (b *bench) issueBatch(ctx context.Context, what string) (list []string, before requestCounts, iss *issuanceFigures, err error) {
	if before, err = scrapeRequests(ctx, b.kc); err != nil {
		return nil, before, nil, fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	progress("creating %d %s, %d in flight", b.cfg.n, what, b.cfg.concurrency)
	list = names("cert", b.cfg.n)
	if iss, err = b.issue(ctx, list); err != nil {
		return nil, before, nil, err
	}
	b.res.Issuance = iss
	b.issuanceLines(iss)
	return list, before, iss, nil
}

func (b *bench) throughput(ctx context.Context) error {
	r := b.res
	p, err := b.singleCertProbe(ctx, "single-Certificate probe")
	if err != nil {
		return err
	}
	if p != nil {
		r.line("single-cert latency p50 %.3f s (runs %s s; target ≤ %.2f s)", p.MedianSeconds, joinFloats(p.RunsSeconds, 3), targetSingleCertSec)
		r.Targets = append(r.Targets, target{Figure: "single-cert latency p50 (s)", Want: fmt.Sprintf("<= %.2f", targetSingleCertSec), Value: p.MedianSeconds, Met: p.MedianSeconds <= targetSingleCertSec})
	}

	list, before, iss, err := b.issueBatch(ctx, "Certificates")
	if err != nil {
		return err
	}
	r.Targets = append(r.Targets, target{Figure: "throughput (certs/s)", Want: fmt.Sprintf(">= %.0f", targetCertsPerSecond), Value: iss.CertsPerSecond, Met: iss.CertsPerSecond >= targetCertsPerSecond})

	if err := b.historyLines(ctx, list, iss); err != nil {
		return err
	}
	return b.apiLines(ctx, before)
}

// historyLines counts the Temporal histories of a sample of the batch (with their
// child workflows) and of its slowest Certificate.
func (b *bench) historyLines(ctx context.Context, list []string, iss *issuanceFigures) error {
	c, r := b.cfg, b.res
	if c.historySample == 0 {
		return nil
	}
	h, err := sampleHistory(ctx, b.tc, list, c.historySample, c.historySettle, b.tr.createdAt)
	if err != nil {
		return fmt.Errorf("Temporal history: %w", err)
	}
	r.History = &h
	r.line("Temporal history %.1f events/cert over %.1f runs (sample of %d; per cert: %.1f workflow tasks, %.1f activities, %.1f local activities, %.1f signals, %.1f timers)",
		h.EventsPerCert, h.RunsPerCert, h.Sampled,
		h.ByTypePerCert["WorkflowTaskCompleted"], h.ByTypePerCert["ActivityTaskScheduled"], h.ByTypePerCert["MarkerRecorded"],
		h.ByTypePerCert["WorkflowExecutionSignaled"], h.ByTypePerCert["TimerStarted"])
	if len(h.ByWorkflowKind) > 1 {
		r.line("Temporal history by workflow per cert: %s", kindList(h.ByWorkflowKind))
	}
	r.line("Temporal time per cert: create → workflow started %.3f s; workflow tasks waited %.3f s for a worker and ran %.3f s (incl. local activities); activities waited %.3f s and ran %.3f s",
		h.StartDelaySeconds, h.WorkflowTaskWaitSeconds, h.WorkflowTaskRunSeconds, sumActs(h.Activities, false), sumActs(h.Activities, true))

	if len(iss.Slowest) == 0 {
		return nil
	}
	// The slowest Certificate's history tells where its time went.
	slow := iss.Slowest[0]
	id := workflows.CertificateWorkflowID(benchNS, slow.Name)
	sh, err := countTree(ctx, b.tc, id)
	if err != nil {
		return nil
	}
	r.SlowestHistory = &slowHistory{Workflow: id, Seconds: slow.Seconds, Events: sh.Events, Runs: sh.Runs, ByType: sh.ByType,
		WorkflowTaskWaitSeconds: round(sh.WFTWait.Seconds(), 3), WorkflowTaskRunSeconds: round(sh.WFTRun.Seconds(), 3)}
	children := ""
	if n := len(sh.Kinds); n > 1 {
		r.SlowestHistory.Workflows = map[string]kindCount{}
		for k, v := range sh.Kinds {
			r.SlowestHistory.Workflows[k] = *v
		}
		children = " (with its child workflows)"
	}
	r.line("slowest cert %s %.2f s: %d events%s over %d runs, %d workflow tasks (waited %.2f s, ran %.2f s), %d local activities, %d signals, %d failed workflow tasks",
		slow.Name, slow.Seconds, sh.Events, children, sh.Runs, sh.ByType["WorkflowTaskCompleted"], sh.WFTWait.Seconds(), sh.WFTRun.Seconds(),
		sh.ByType["MarkerRecorded"], sh.ByType["WorkflowExecutionSignaled"], sh.ByType["WorkflowTaskFailed"]+sh.ByType["WorkflowTaskTimedOut"])
	return nil
}

// apiLines reports kube-apiserver requests since before, and the Events and Secrets
// in the bench namespace, per Certificate.
func (b *bench) apiLines(ctx context.Context, before requestCounts) error {
	c, r := b.cfg, b.res
	after, err := scrapeRequests(ctx, b.kc)
	if err != nil {
		return fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	api := diffRequests(before, after, c.n)
	total := c.n + c.probes
	if evs, err := b.kc.CoreV1().Events(benchNS).List(ctx, metav1.ListOptions{}); err == nil {
		api.EventsPerCert = round(float64(len(evs.Items))/float64(total), 2)
	}
	if ss, err := b.kc.CoreV1().Secrets(benchNS).List(ctx, metav1.ListOptions{}); err == nil {
		api.SecretsPerCert = round(float64(len(ss.Items))/float64(total), 2)
	}
	r.API = &api
	r.line("kube-apiserver requests per cert: %.1f writes (%.1f by certflow, without the bench's create), %.1f reads (%s); %.2f Events and %.2f Secrets per cert in the namespace",
		api.WritesPerCert, api.CertflowWritesPerCert, api.ReadsPerCert, topRequests(api.ByVerbResource, 8), api.EventsPerCert, api.SecretsPerCert)
	return nil
}

// issuanceLines prints the figures of a batch.
func (b *bench) issuanceLines(f *issuanceFigures) {
	r := b.res
	goal := fmt.Sprintf("; target ≥ %.0f", targetCertsPerSecond)
	if b.cfg.mode == modeACME || b.cfg.mode == modeShortLived {
		goal = ", DNS-01 against Pebble" // the target is for the CA issuer
	}
	r.line("throughput %.1f certs/s (N=%d, %.1f s from first create to all Ready; creates took %.1f s, %d in flight%s)",
		f.CertsPerSecond, f.N, f.DurationSeconds, f.CreatesSeconds, f.Concurrency, goal)
	r.line("per-cert latency p50 %.2f s, p90 %.2f s, p99 %.2f s, max %.2f s (create returned → Ready observed)", f.LatencyP50, f.LatencyP90, f.LatencyP99, f.LatencyMax)
	for _, name := range append(b.workerNames(), procWatcher) {
		p := f.Phase.Processes[name]
		r.line("%s peak RSS %.0f MiB (VmHWM; %.0f MiB at all Ready)", name, p.PeakRSSMiB, p.RSSMiB)
	}
	r.line("CPU during the batch (%.1f s wall, %d cores = %.1f core-s): %s; other processes on the machine %.1f s",
		f.Phase.WallSeconds, r.Machine.Cores, f.Phase.MachineCapacity, cpuList(f.Phase), f.Phase.OtherBusySeconds)
	var per []string
	for _, name := range f.Phase.byCPU() {
		per = append(per, fmt.Sprintf("%s %.1f", name, f.CPUPerCertMs[name]))
	}
	r.line("CPU per cert %.1f ms without certflow-bench (%s ms): the %d cores run out at %.0f certs/s",
		f.CPUPerCertMsTotal, strings.Join(per, ", "), r.Machine.Cores, f.CeilingCertsPerSecond)
	r.line("peak RSS of the stack: %s", rssList(f.Phase, true, stackProcs...))
}

func (b *bench) idle(ctx context.Context) error {
	c, r := b.cfg, b.res
	progress("creating %d Certificates, %d in flight", c.n, c.concurrency)
	iss, err := b.issue(ctx, names("cert", c.n))
	if err != nil {
		return err
	}
	r.Issuance = iss
	b.issuanceLines(iss)

	progress("all Ready; settling %s, then measuring for %s", c.settle, c.window)
	if err := sleep(ctx, c.settle); err != nil {
		return err
	}
	cpu0 := snapCPU(b.procs)
	sampler := startSampler(b.procs, c.sampleEvery)
	err = sleep(ctx, c.window)
	cpu1 := snapCPU(b.procs)
	sampler.stop()
	if err != nil {
		return err
	}
	ph := phase(b.procs, cpu0, cpu1, sampler, r.Machine.Cores)
	w, k := ph.Processes[procWorker], ph.Processes[procWatcher]
	f := &idleFigures{
		Certificates: c.n, SettleSeconds: c.settle.Seconds(), WindowSeconds: c.window.Seconds(), Phase: ph,
		WorkerPlusWatcherRSSMiB:    round(w.RSSMiB+k.RSSMiB, 1),
		WorkerPlusWatcherMaxRSSMiB: round(w.MaxSampledRSSMiB+k.MaxSampledRSSMiB, 1),
		WorkerPlusWatcherCPUPct:    round(w.CPUPercent+k.CPUPercent, 2),
	}
	r.Idle = f
	for _, p := range []struct {
		name string
		f    *procFigures
	}{{procWorker, w}, {procWatcher, k}} {
		r.line("idle %s RSS %.0f MiB (max in window %.0f, peak since start %.0f), CPU %.2f%% of a core (%.2f s in %.0f s)",
			p.name, p.f.RSSMiB, p.f.MaxSampledRSSMiB, p.f.PeakRSSMiB, p.f.CPUPercent, p.f.CPUSeconds, ph.WallSeconds)
	}
	r.line("idle worker+watcher RSS %.0f MiB (max in window %.0f MiB; target < %.0f MiB at %d Certificates), CPU %.2f%% of a core",
		f.WorkerPlusWatcherRSSMiB, f.WorkerPlusWatcherMaxRSSMiB, targetIdleRSSMiB, c.n, f.WorkerPlusWatcherCPUPct)
	r.line("idle CPU over %.0f s: %s; other processes on the machine %.1f s", ph.WallSeconds, cpuList(ph), ph.OtherBusySeconds)
	r.line("idle RSS of the stack: %s", rssList(ph, false, stackProcs...))
	r.Targets = append(r.Targets, target{Figure: "idle worker+watcher max RSS (MiB)", Want: fmt.Sprintf("< %.0f", targetIdleRSSMiB),
		Value: f.WorkerPlusWatcherMaxRSSMiB, Met: f.WorkerPlusWatcherMaxRSSMiB < targetIdleRSSMiB})
	return b.restartWatcher(ctx)
}

// slowHistory is the Temporal history of the slowest Certificate of a batch.
type slowHistory struct {
	Workflow                string         `json:"workflow"`
	Seconds                 float64        `json:"latency_s"`
	Events                  int            `json:"events"`
	Runs                    int            `json:"runs"`
	WorkflowTaskWaitSeconds float64        `json:"workflow_task_wait_s"`
	WorkflowTaskRunSeconds  float64        `json:"workflow_task_run_s"`
	ByType                  map[string]int `json:"by_type"`
	// Workflows splits the events by kind of workflow when it had children (ACME).
	Workflows map[string]kindCount `json:"workflows,omitempty"`
}

// idleFigures are worker and watcher at rest with N issued Certificates.
type idleFigures struct {
	Certificates               int          `json:"certificates"`
	SettleSeconds              float64      `json:"settle_s"`
	WindowSeconds              float64      `json:"window_s"`
	WorkerPlusWatcherRSSMiB    float64      `json:"worker_plus_watcher_rss_mib"`
	WorkerPlusWatcherMaxRSSMiB float64      `json:"worker_plus_watcher_max_rss_mib"`
	WorkerPlusWatcherCPUPct    float64      `json:"worker_plus_watcher_cpu_pct"`
	Phase                      phaseFigures `json:"phase"`
}

// kindList is "certificate 1.0 workflow, 40.0 events; order ..." in a fixed order.
func kindList(m map[string]kindFigures) string {
	keys := slices.Sorted(maps.Keys(m))
	rank := map[string]int{"certificate": 0, "order": 1, "challenge": 2}
	slices.SortStableFunc(keys, func(a, b string) int {
		ra, oka := rank[a]
		rb, okb := rank[b]
		if !oka {
			ra = len(rank)
		}
		if !okb {
			rb = len(rank)
		}
		return ra - rb
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.1f events (%.2f workflows, %.2f runs)", k, m[k].EventsPerCert, m[k].Workflows, m[k].Runs)
	}
	return strings.Join(parts, "; ")
}

func sumActs(m map[string]activityFigures, run bool) float64 {
	t := 0.0
	for _, a := range m {
		if run {
			t += a.RunSeconds
		} else {
			t += a.WaitSeconds
		}
	}
	return t
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(d):
		return nil
	}
}

func joinFloats(v []float64, prec int) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = fmt.Sprintf("%.*f", prec, f)
	}
	return strings.Join(s, " ")
}

// cpuList is "kube-apiserver 12.1 s (70%), temporal ..." busiest first.
func cpuList(f phaseFigures) string {
	var parts []string
	for _, name := range f.byCPU() {
		p := f.Processes[name]
		parts = append(parts, fmt.Sprintf("%s %.1f s (%.0f%%)", name, p.CPUSeconds, p.CPUPercent))
	}
	return strings.Join(parts, ", ")
}

// rssList is "etcd 80 MiB, ..." of peak (VmHWM) or current RSS.
func rssList(f phaseFigures, peak bool, names ...string) string {
	var parts []string
	for _, name := range names {
		if p, ok := f.Processes[name]; ok {
			v := p.RSSMiB
			if peak {
				v = p.PeakRSSMiB
			}
			parts = append(parts, fmt.Sprintf("%s %.0f MiB", name, v))
		}
	}
	return strings.Join(parts, ", ")
}

// topRequests is the k most frequent "VERB resource" per cert.
func topRequests(m map[string]float64, k int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			if m[a] > m[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, key := range keys[:min(k, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %.2f", key, m[key]))
	}
	return strings.Join(parts, ", ")
}
