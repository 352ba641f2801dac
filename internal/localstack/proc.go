package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
const stopGrace = 10 * time.Second

// proc is one child process started by the stack.
type proc struct {
	name    string
	chain   string // see component.chain
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // valid after done is closed
}

// exited reports whether the process has already exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) error {
	defer p.logFile.Close()
	if p.exited() {
		return nil
	}
	pgid := p.cmd.Process.Pid // Setpgid with Pgid 0: the group id is the child's pid
	// The group id cannot be reused while the leader is unreaped; our waiter reaps it,
	// so signal the group only while it is known to be running.
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if !p.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pgid)
	}
}

// tail returns the last n lines of the process log.
func (p *proc) tail(n int) string {
	return tailFile(p.logPath, n)
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// spawnReq asks the spawner goroutine to start a command.
type spawnReq struct {
	cmd *exec.Cmd
	res chan error
}

var (
	spawnOnce sync.Once
	spawnCh   chan spawnReq
)

// spawn starts cmd from one dedicated, permanently locked OS thread. Pdeathsig fires
// when the thread that forked the child exits, not the process: Go may end a thread
// whose goroutine locked it and exited, so children are forked from a thread that
// lives as long as the process.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this goroutine never returns
			for r := range spawnCh {
				r.res <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, res: make(chan error, 1)}
	spawnCh <- r
	return <-r.res
}

// startProc starts bin with args, logging to stateDir/<name>.log.
func startProc(name, bin string, args []string, stateDir string, env map[string]string) (*proc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: binary %s not found (build it with hack/build-tools.sh): %w", name, bin, err)
	}
	logPath := filepath.Join(stateDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "# %s %s\n# started %s\n", bin, strings.Join(args, " "), time.Now().Format(time.RFC3339))
	cmd := exec.Command(bin, args...)
	cmd.Dir = stateDir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(cmd); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
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
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); last check: %v", p.name, p.waitErr, last)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w (last check: %v)", p.name, timeout, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// componentError wraps err with the tail of the failing component's log.
func componentError(p *proc, err error) error {
	return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, p.logPath, p.tail(40))
}

// addrInUse reports whether the component failed because a port was taken.
func addrInUse(p *proc) bool {
	return p != nil && strings.Contains(strings.ToLower(p.tail(60)), "address already in use")
}

var (
	portMu     sync.Mutex
	portsGiven = map[int]bool{} // never hand out the same port twice in one process
)

// freePort returns a loopback TCP port that was free a moment ago (and, with udp,
// free for UDP too).
func freePort(udp bool) (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := !portsGiven[port]
		if ok && udp {
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				ok = false
			} else {
				u.Close()
			}
		}
		l.Close()
		if ok {
			portsGiven[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port found")
}

// fillPorts replaces each zero *int with a free port.
func fillPorts(udp map[*int]bool, ports ...*int) error {
	for _, p := range ports {
		if *p != 0 {
			continue
		}
		v, err := freePort(udp[p])
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
