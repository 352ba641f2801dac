package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Idle mode ends with a watcher restart: with every Certificate Ready, a new watcher must
// cost at most one short workflow task per object and issue nothing (its informers list
// everything; what it signals is what the restart costs).

// restartQuiet is how long no workflow task may complete for the system to count as quiet.
const restartQuiet = 15 * time.Second

// targetRestartTasksPerCert is the most workflow tasks per Certificate a restart may cause.
const targetRestartTasksPerCert = 1.0

// restartFigures are a watcher restart at rest.
type restartFigures struct {
	Certificates      int     `json:"certificates"`
	WorkflowTasks     float64 `json:"workflow_tasks"`
	TasksPerCert      float64 `json:"workflow_tasks_per_cert"`
	Issuances         int     `json:"issuances"`
	SyncedSeconds     float64 `json:"caches_synced_s"`
	QuietSeconds      float64 `json:"quiet_s"` // restart → last workflow task completed
	WatcherCPUSeconds float64 `json:"watcher_cpu_s"`
	WorkerCPUSeconds  float64 `json:"worker_cpu_s"`
	TemporalCPUSecs   float64 `json:"temporal_cpu_s"`
}

func (b *bench) restartWatcher(ctx context.Context) error {
	c, r := b.cfg, b.res
	progress("restarting the watcher with %d Ready Certificates", c.n)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", b.stack.Ports.TemporalMetrics)
	tasks0, err := completedWorkflowTasks(ctx, metricsURL)
	if err != nil {
		return err
	}
	reqs0, err := b.countRequests(ctx)
	if err != nil {
		return err
	}
	others := watched{}
	for name, pid := range b.procs {
		if name != procWatcher {
			others[name] = pid
		}
	}
	cpu0 := snapCPU(others)

	start := time.Now()
	b.watcher.stopped.Store(true)
	if err := b.watcher.Stop(10 * time.Second); err != nil {
		return fmt.Errorf("stop the watcher: %w", err)
	}
	w, err := startChild(procWatcher+"-restarted", filepath.Join(c.binDir, procWatcher), b.watcherArgs, r.StateDir)
	if err != nil {
		return err
	}
	b.watcher = w
	b.procs[procWatcher] = w.PID()
	go b.endOnExit(ctx, w)

	f := &restartFigures{Certificates: c.n}
	last, lastChange := tasks0, start
	for {
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		if f.SyncedSeconds == 0 && w.countInLog("k8swatch caches synced") > 0 {
			f.SyncedSeconds = round(time.Since(start).Seconds(), 1)
		}
		n, err := completedWorkflowTasks(ctx, metricsURL)
		if err != nil {
			return err
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if f.SyncedSeconds > 0 && time.Since(lastChange) >= restartQuiet {
			break
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("still not quiet 30 min after the watcher restart (%.0f workflow tasks so far)", last-tasks0)
		}
	}
	cpu1 := snapCPU(others)
	ph := phase(others, cpu0, cpu1, nil, r.Machine.Cores)
	watcherTicks, _ := readProcCPU(w.PID())
	reqs1, err := b.countRequests(ctx)
	if err != nil {
		return err
	}
	f.WorkflowTasks = last - tasks0
	f.TasksPerCert = round(f.WorkflowTasks/float64(c.n), 3)
	f.Issuances = reqs1 - reqs0
	f.QuietSeconds = round(lastChange.Sub(start).Seconds(), 1)
	f.WatcherCPUSeconds = round(float64(watcherTicks)/clockTicks, 2)
	if p := ph.Processes[procWorker]; p != nil {
		f.WorkerCPUSeconds = p.CPUSeconds
	}
	if p := ph.Processes["temporal"]; p != nil {
		f.TemporalCPUSecs = p.CPUSeconds
	}
	r.Restart = f
	r.line("watcher restart at %d Ready Certificates: %.0f workflow tasks (%.3f per Certificate; target <= %.0f), %d issuances; caches synced %.1f s, last task %.1f s after the restart",
		c.n, f.WorkflowTasks, f.TasksPerCert, targetRestartTasksPerCert, f.Issuances, f.SyncedSeconds, f.QuietSeconds)
	r.line("watcher restart CPU: new watcher %.1f s, worker %.1f s, temporal %.1f s", f.WatcherCPUSeconds, f.WorkerCPUSeconds, f.TemporalCPUSecs)
	r.Targets = append(r.Targets,
		target{Figure: "watcher restart: workflow tasks per Certificate", Want: fmt.Sprintf("<= %.0f", targetRestartTasksPerCert),
			Value: f.TasksPerCert, Met: f.TasksPerCert <= targetRestartTasksPerCert},
		target{Figure: "watcher restart: issuances", Want: "0", Value: float64(f.Issuances), Met: f.Issuances == 0})
	return nil
}

// countRequests counts the CertificateRequests of the bench namespace.
func (b *bench) countRequests(ctx context.Context) (int, error) {
	l, err := b.cf.CertmanagerV1().CertificateRequests(benchNS).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return 0, err
	}
	return len(l.Items), nil
}

// completedWorkflowTasks reads the Temporal server's count of completed workflow tasks
// (RespondWorkflowTaskCompleted calls to its frontend).
func completedWorkflowTasks(ctx context.Context, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("Temporal metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, err
	}
	return parseCompletedWorkflowTasks(b), nil
}

// parseCompletedWorkflowTasks sums the frontend's service_requests of operation
// RespondWorkflowTaskCompleted in the Prometheus text format.
func parseCompletedWorkflowTasks(b []byte) float64 {
	var sum float64
	eachSample(b, "service_requests", func(labels map[string]string, v float64) {
		// The history service counts the same calls again.
		if labels["operation"] == "RespondWorkflowTaskCompleted" && (labels["service_name"] == "" || labels["service_name"] == "frontend") {
			sum += v
		}
	})
	return sum
}
