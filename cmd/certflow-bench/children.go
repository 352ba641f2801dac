package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is certflow-worker or certflow-k8swatch, run as a separate process so that its
// memory and CPU can be read from /proc.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited and been reaped
	waitErr error
}

var (
	spawnOnce sync.Once
	spawnCh   chan func()
)

// onSpawnThread runs f on one OS thread that stays locked for the life of the process.
// Pdeathsig fires when the thread that forked a child ends, not the process, and the Go
// runtime may end a thread; forking from a thread that never ends keeps Pdeathsig tied
// to the bench process.
func onSpawnThread(f func()) {
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: this goroutine never returns
			for f := range spawnCh {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawnCh <- func() { f(); close(done) }
	<-done
}

// startChild starts bin with args in its own process group, killed if the bench dies,
// logging to dir/<name>.log.
func startChild(name, bin string, args []string, dir string) (*child, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (build it with `make build`)", name, err)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "# %s %s\n# started %s\n", bin, strings.Join(args, " "), time.Now().Format(time.RFC3339))
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	onSpawnThread(func() { err = cmd.Start() })
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (c *child) stop(grace time.Duration) error {
	defer c.logFile.Close()
	if c.exited() {
		return nil
	}
	pgid := c.cmd.Process.Pid // Setpgid: the group id is the child's pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-c.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", c.name, pgid)
	}
}

// tail returns the last n lines of the child's log.
func (c *child) tail(n int) string {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// countInLog counts the log lines of the child that contain s.
func (c *child) countInLog(s string) int {
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(s))
}

// hasFlag reports whether `bin -h` lists flag name (for flags that only newer builds of
// the worker or watcher have).
func hasFlag(bin, name string) bool {
	cmd := exec.Command(bin, "-h")
	cmd.WaitDelay = 5 * time.Second
	out, _ := cmd.CombinedOutput() // -h exits 2 after printing the usage
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "-"+name || f[0] == "--"+name) {
			return true
		}
	}
	return false
}
