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
	cp, err := childproc.Start(name, bin, args, logPath, childproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &WorkerProcess{Proc: cp}
	t.Cleanup(func() { p.Stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if log, _ := os.ReadFile(logPath); bytes.Contains(log, []byte("certflow-worker polling")) {
			t.Logf("%s (pid %d) polling; log %s", name, p.PID(), logPath)
			return p
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited before polling: %v\n%s", name, p.Err(), p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not polling after 30s\n%s", name, p.Tail(40))
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

// BuildWorker builds bin/certflow-worker's source from the repository at root into dir
// and returns its path: a crash test kills the binary of this tree, not an older build.
func BuildWorker(root, dir string) (string, error) {
	bin := filepath.Join(dir, "certflow-worker")
	build := exec.Command("go", "build", "-o", bin, "./cmd/certflow-worker")
	build.Dir = root
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/certflow-worker: %v\n%s", err, out)
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
