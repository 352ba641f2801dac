// Package childproc runs the servers and binaries certflow's tooling starts (the local
// stack, the bench's worker and watcher, the crash test's worker) as child processes
// that never outlive their parent: each runs in its own process group (so stopping it
// stops everything it forked) with Pdeathsig SIGKILL, and logs to a file.
package childproc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a running (or exited) child process.
type Proc struct {
	Name    string
	LogPath string

	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed once the process has exited and been reaped
	err     error         // valid after done is closed
}

// Options for Start. Env is added to the parent's environment.
type Options struct {
	Dir string
	Env []string
	// AppendLog keeps what logPath holds (a restarted server's earlier runs) instead
	// of truncating it.
	AppendLog bool
	// Credential, when set, runs the process as that user (PostgreSQL refuses root).
	Credential *syscall.Credential
}

// Start runs bin with args, stdout and stderr appended to logPath (truncated first
// unless o.AppendLog, with a header naming the command).
func Start(name, bin string, args []string, logPath string, o Options) (*Proc, error) {
	mode := os.O_TRUNC
	if o.AppendLog {
		mode = os.O_APPEND
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|mode, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "# %s %s\n# started %s\n", bin, strings.Join(args, " "), time.Now().Format(time.RFC3339))
	cmd := exec.Command(bin, args...)
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: o.Credential}
	if err := spawn(cmd); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, logFile: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id, which is also its process group id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited; Err then says how.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error, valid after Done is closed.
func (p *Proc) Err() error { return p.err }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) error {
	return p.signal(syscall.SIGTERM, grace)
}

// Kill sends SIGKILL to the process group at once (a crash, for tests).
func (p *Proc) Kill() error {
	return p.signal(syscall.SIGKILL, 0)
}

func (p *Proc) signal(first syscall.Signal, grace time.Duration) error {
	defer p.logFile.Close()
	if p.Exited() {
		return nil
	}
	// The group id cannot be reused while the leader is unreaped; our waiter reaps it,
	// so the group is signalled only while it is known to be running.
	pgid := p.PID()
	_ = syscall.Kill(-pgid, first)
	if first != syscall.SIGKILL {
		select {
		case <-p.done:
			return nil
		case <-time.After(grace):
		}
		if !p.Exited() {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.Name, pgid)
	}
}

// Tail returns the last n lines of the process log.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.LogPath, err)
	}
	return LastLines(b, n)
}

// LastLines returns the last n lines of out (a log, a command's output).
func LastLines(out []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

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
