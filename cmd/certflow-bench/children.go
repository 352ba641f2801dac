package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/certflow/certflow/internal/localstack/childproc"
)

// child is certflow-worker or certflow-k8swatch, run as a separate process so that its
// memory and CPU can be read from /proc.
type child struct {
	*childproc.Proc
	stopped atomic.Bool // the bench stopped it: its exit is no failure
}

// startChild starts bin with args in its own process group, killed if the bench dies,
// logging to dir/<name>.log.
func startChild(name, bin string, args []string, dir string) (*child, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (build it with `make build`)", name, err)
	}
	p, err := childproc.Start(name, bin, args, filepath.Join(dir, name+".log"), childproc.Options{Dir: dir})
	if err != nil {
		return nil, err
	}
	return &child{Proc: p}, nil
}

// countInLog counts the log lines of the child that contain s.
func (c *child) countInLog(s string) int {
	b, err := os.ReadFile(c.LogPath)
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
