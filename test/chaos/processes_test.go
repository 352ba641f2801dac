package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/worker"
)

// supervisor runs the worker and the watcher as a Deployment would: a killed process
// is replaced by a new one at once, each with its own log (<prefix>worker-<n>.log,
// <prefix>watcher-<n>.log).
type supervisor struct {
	t                *testing.T
	prefix           string
	worker, watcher  *testkit.WorkerProcess
	workers, watches int // processes started so far
	watcherStarts    []time.Time
	// workerStartFailures counts workers that exited before polling (and were started
	// again): a worker that cannot start while a server restarts is a finding too.
	workerStartFailures int
}

func newSupervisor(t *testing.T, prefix string) *supervisor {
	s := &supervisor{t: t, prefix: prefix}
	t.Cleanup(func() {
		if s.worker != nil {
			s.worker.Stop(t)
		}
		if s.watcher != nil {
			s.watcher.Stop(t)
		}
	})
	return s
}

// workerArgs are the worker's flags for the system (its ACME settings included).
func workerArgs() []string {
	sys := env.System
	return worker.Flags{Kubeconfig: env.Kubeconfigs["certflow-worker"], TemporalAddress: sys.Stack.TemporalAddress,
		TemporalNamespace: sys.Stack.TemporalNamespace, ACME: sys.ACME}.Args()
}

// watcherArgs are the watcher's flags: leader election as deployed (a SIGKILLed
// leader's Lease must expire before the next one leads), and a sweep every 15 s.
func watcherArgs() []string {
	sys := env.System
	return []string{"--kubeconfig", env.Kubeconfigs["certflow-k8swatch"], "--temporal-address", sys.Stack.TemporalAddress,
		"--temporal-namespace", sys.Stack.TemporalNamespace, "--leader-election-namespace", "kube-system",
		"--sweep-interval", "15s", testkit.SideServersOff[0], testkit.SideServersOff[1]}
}

// startWorker starts a new worker and waits until it polls, trying again (up to ten
// times, a second apart) when one exits before that.
func (s *supervisor) startWorker() {
	s.t.Helper()
	var last error
	for range 10 {
		s.workers++
		name := fmt.Sprintf("%sworker-%d", s.prefix, s.workers)
		p, err := testkit.StartProcess(name, env.Bins["certflow-worker"], filepath.Join(env.State, name+".log"), workerArgs(), nil, time.Minute)
		if err == nil {
			s.worker = p
			return
		}
		s.workerStartFailures++
		last = err
		time.Sleep(time.Second)
	}
	s.t.Fatalf("no worker started after ten tries: %v", last)
}

// killWorker SIGKILLs the running worker and starts another.
func (s *supervisor) killWorker() {
	s.t.Helper()
	s.worker.Kill(s.t)
	s.worker = nil
	s.startWorker()
}

// startWatcher starts a new watcher process (it leads once it holds the Lease).
func (s *supervisor) startWatcher() {
	s.t.Helper()
	s.watches++
	name := fmt.Sprintf("%swatcher-%d", s.prefix, s.watches)
	p, err := testkit.StartProcess(name, env.Bins["certflow-k8swatch"], filepath.Join(env.State, name+".log"), watcherArgs(), nil, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	s.watcher = p
	s.watcherStarts = append(s.watcherStarts, time.Now())
}

// leadDelay says how long after its start watcher n (from 1) led: when it logged
// that its caches were synced, which it does once it holds the Lease.
func (s *supervisor) leadDelay(n int) string {
	b, err := os.ReadFile(filepath.Join(env.State, fmt.Sprintf("%swatcher-%d.log", s.prefix, n)))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	for line := range strings.Lines(string(b)) {
		if !strings.Contains(line, `msg="k8swatch caches synced"`) {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return "(unreadable time " + ts + ")"
		}
		return at.Sub(s.watcherStarts[n-1]).Round(100 * time.Millisecond).String()
	}
	return "(never)"
}

// killWatcher SIGKILLs the running watcher and starts another.
func (s *supervisor) killWatcher() {
	s.t.Helper()
	s.stopWatcher()
	s.startWatcher()
}

// stopWatcher SIGKILLs the running watcher: none runs until startWatcher.
func (s *supervisor) stopWatcher() {
	s.t.Helper()
	s.watcher.Kill(s.t)
	s.watcher = nil
}
