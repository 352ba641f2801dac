package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/localstack/childproc"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// WorkerProcess is one certflow-worker child process, alone in its process group (so a
// kill reaches everything it could have started) and killed with the test process.
// The crash tests SIGKILL it mid-issuance.
type WorkerProcess struct {
	*childproc.Proc
	once sync.Once
}

// StartWorkerProcess runs the worker binary with args, logging to logPath, and waits
// until it polls the task queue. It is stopped when the test ends, whatever happens.
func StartWorkerProcess(t *testing.T, name, bin, logPath string, args []string) *WorkerProcess {
	t.Helper()
	p, err := StartProcess(name, bin, logPath, args, nil, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(t) })
	t.Logf("%s (pid %d) polling; log %s", name, p.PID(), logPath)
	return p
}

// SideServersOff are the flags that turn off a worker's or watcher's metrics and probe
// servers (on 0.0.0.0:9402 and :9403 by default): the processes a test starts share one
// machine with each other and with whatever else runs there. (worker.Flags.Args renders
// them for a worker.)
var SideServersOff = []string{"--metrics-listen-address=", "--healthz-listen-address="}

// WorkerPolling is the line a worker logs once it polls its task queue.
const WorkerPolling = "certflow-worker polling"

// StartProcess runs bin with args and env (added to this process's environment),
// logging to logPath, and waits until the log has WorkerPolling (readyTimeout > 0; a
// watcher has no such line: pass 0 not to wait). On error the process is gone. The
// caller stops it.
func StartProcess(name, bin, logPath string, args, env []string, readyTimeout time.Duration) (*WorkerProcess, error) {
	cp, err := childproc.Start(name, bin, args, logPath, childproc.Options{Env: env})
	if err != nil {
		return nil, err
	}
	p := &WorkerProcess{Proc: cp}
	if readyTimeout <= 0 {
		return p, nil
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		if log, _ := os.ReadFile(logPath); bytes.Contains(log, []byte(WorkerPolling)) {
			return p, nil
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("%s exited before polling: %v\n%s", name, p.Err(), p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = p.Proc.Kill()
			return nil, fmt.Errorf("%s not polling after %s\n%s", name, readyTimeout, p.Tail(40))
		}
	}
}

// Kill SIGKILLs the worker's whole process group and checks that the group is gone.
func (p *WorkerProcess) Kill(t *testing.T) {
	t.Helper()
	p.once.Do(func() {
		if err := p.Proc.Kill(); err != nil {
			t.Error(err)
		}
	})
	p.assertGroupGone(t)
}

// Stop ends the worker gracefully (SIGTERM, then SIGKILL) if it still runs.
func (p *WorkerProcess) Stop(t *testing.T) {
	t.Helper()
	p.once.Do(func() {
		if err := p.Proc.Stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	p.assertGroupGone(t)
}

func (p *WorkerProcess) assertGroupGone(t *testing.T) {
	t.Helper()
	pgid := p.PID() // Setpgid: the group id is the child's pid
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Errorf("%s (pid %d) has not exited", p.Name, pgid)
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process group %d of %s still exists after the worker exited (kill -0: %v)", pgid, p.Name, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BuildBinary builds ./cmd/<name> of the repository at root into dir and returns its
// path: a crash test kills the binary of this tree, not an older build.
func BuildBinary(root, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	build.Dir = root
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin, nil
}

// StateDir makes a temporary directory for a suite's state (worker binary, logs);
// cleanup(code) removes it after a passing run unless CERTFLOW_KEEP_STATE is set, and
// otherwise prints "<what> are in <dir>".
func StateDir(prefix, what string) (dir string, cleanup func(code int), err error) {
	dir, err = os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return dir, func(code int) {
		if code == 0 && os.Getenv(integration.EnvKeepState) == "" {
			os.RemoveAll(dir)
		} else {
			fmt.Fprintf(os.Stderr, "%s are in %s\n", what, dir)
		}
	}, nil
}
