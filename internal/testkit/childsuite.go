package testkit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// ChildSuite is a test system whose worker (and watcher) a suite runs, and kills, as
// child processes built from this tree.
type ChildSuite struct {
	*System
	// State holds the binaries, the kubeconfigs and the child processes' logs.
	State string
	// Bins are the built binaries by command name (certflow-worker, certflow-k8swatch).
	Bins map[string]string
	// Kubeconfigs act as each command's ServiceAccount (named as the command).
	Kubeconfigs map[string]string
}

// RunChildSuite is the TestMain of such a suite: without CERTFLOW_INTEGRATION it just
// runs the tests (they skip); with it, it builds cmds (./cmd/<name>), starts the
// system with o, writes a kubeconfig per command, hands the suite to set, runs the
// tests and stops everything. It returns the exit code. State and logs are kept when a
// test failed (or with CERTFLOW_KEEP_STATE), and their place is printed.
func RunChildSuite(m *testing.M, name string, o Options, cmds []string, set func(*ChildSuite)) int {
	if !integration.Enabled() {
		return m.Run()
	}
	code, err := runChildSuite(m, name, o, cmds, set)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s setup: %v\n", name, err)
		return 1
	}
	return code
}

func runChildSuite(m *testing.M, name string, o Options, cmds []string, set func(*ChildSuite)) (code int, err error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return 0, err
	}
	state, cleanup, err := StateDir("certflow-"+name+"-", name+": binaries, kubeconfigs and the logs of the child processes")
	if err != nil {
		return 0, err
	}
	code = 1
	defer func() { cleanup(code) }()
	s := &ChildSuite{State: state, Bins: map[string]string{}, Kubeconfigs: map[string]string{}}
	for _, cmd := range cmds {
		if s.Bins[cmd], err = BuildBinary(root, state, cmd); err != nil {
			return 0, err
		}
	}
	if s.System, err = Start(context.Background(), o); err != nil {
		return 0, err
	}
	defer func() { s.Stop(code != 0) }()
	for _, cmd := range cmds {
		s.Kubeconfigs[cmd] = filepath.Join(state, cmd+".kubeconfig")
		if err := s.WriteKubeconfig(s.Kubeconfigs[cmd], cmd); err != nil {
			return 0, err
		}
	}
	set(s)
	code = m.Run()
	return code, nil
}
