package localstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/certflow/certflow/internal/localstack/childproc"
	"github.com/certflow/certflow/internal/localstack/freeport"
)

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 10 * time.Second

// proc is one child process started by the stack.
type proc struct {
	*childproc.Proc
	chain string // see component.chain
}

func (p *proc) stop(grace time.Duration) error { return p.Stop(grace) }
func (p *proc) tail(n int) string              { return p.Tail(n) }

// startProc starts bin with args, logging to stateDir/<name>.log (appending with
// appendLog, as a restart does).
func startProc(name, bin string, args []string, stateDir string, env map[string]string, appendLog bool, cred *syscall.Credential) (*proc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: binary %s not found (build it with hack/build-tools.sh): %w", name, bin, err)
	}
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	cp, err := childproc.Start(name, bin, args, filepath.Join(stateDir, name+".log"), childproc.Options{Dir: stateDir, Env: kv, AppendLog: appendLog, Credential: cred})
	if err != nil {
		return nil, err
	}
	return &proc{Proc: cp}, nil
}

// waitReady polls check until it returns nil, the process exits, or ctx/timeout ends.
func waitReady(ctx context.Context, p *proc, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		actx, acancel := context.WithTimeout(ctx, 3*time.Second)
		last = check(actx)
		acancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before it was ready (%v); last check: %v", p.Name, p.Err(), last)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w (last check: %v)", p.Name, timeout, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// componentError wraps err with the tail of the failing component's log, and with the
// panic message if the component panicked (its goroutine dump pushes it out of the tail).
func componentError(p *proc, err error) error {
	tail := p.tail(40)
	for _, line := range strings.Split(p.tail(2000), "\n") {
		if strings.HasPrefix(line, "panic: ") && !strings.Contains(tail, line) {
			tail = line + "\n[...]\n" + tail
			break
		}
	}
	return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, p.LogPath, tail)
}

// addrInUse reports whether the component failed because a port was taken. It reads
// far back: the Temporal dev server reports a taken port as a panic whose goroutine
// dump is well over a hundred lines below the message.
func addrInUse(p *proc) bool {
	return p != nil && strings.Contains(strings.ToLower(p.tail(2000)), "address already in use")
}

// fillPorts replaces each zero *int with a free port.
func fillPorts(udp map[*int]bool, ports ...*int) error {
	for _, p := range ports {
		if *p != 0 {
			continue
		}
		v, err := freeport.Get(udp[p])
		if err != nil {
			return err
		}
		*p = v
	}
	return nil
}

// lineWriter serializes progress lines written from parallel starters.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}
