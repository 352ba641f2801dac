// Package chaos issues many Certificates while everything around certflow fails, as a
// production cluster does: the worker is SIGKILLed every 10 s, the watcher twice, the
// Temporal dev server is restarted once (its database file kept) and kube-apiserver
// once (etcd kept). At the end it prints a report and checks that every Certificate
// was issued once and nothing was left behind (see TestChaos).
//
// `make chaos` runs 1,000 CA and 50 ACME DNS-01 Certificates; `make test` runs the
// reduced default of 100 + 10. CERTFLOW_CHAOS_CA and CERTFLOW_CHAOS_ACME set the
// numbers.
//
// The worker and the watcher are the real binaries, built from this tree and run as
// child processes with their ServiceAccounts' identities; the servers are the local
// stack's (internal/testkit with NoWorker and NoWatcher).
package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

const ns = "chaos"

var env struct {
	sys   *testkit.System
	state string // binaries, kubeconfigs and the logs of the worker and watcher processes
	// workerBin and watcherBin are built from this tree.
	workerBin, watcherBin string
	// Kubeconfigs acting as the worker's and the watcher's ServiceAccounts.
	workerKubeconfig, watcherKubeconfig string
}

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	code, err := runWithSystem(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithSystem(m *testing.M) (code int, err error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return 0, err
	}
	state, cleanup, err := testkit.StateDir("certflow-chaos-", "chaos: binaries and the logs of the worker and watcher processes")
	if err != nil {
		return 0, err
	}
	env.state = state
	code = 1
	defer func() { cleanup(code) }()
	for bin, name := range map[*string]string{&env.workerBin: "certflow-worker", &env.watcherBin: "certflow-k8swatch"} {
		if *bin, err = testkit.BuildBinary(root, state, name); err != nil {
			return 0, err
		}
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{ACME: true, NoWorker: true, NoWatcher: true, Namespaces: []string{ns}})
	if err != nil {
		return 0, err
	}
	env.sys = sys
	defer func() { sys.Stop(code != 0) }()
	env.workerKubeconfig = filepath.Join(state, "worker.kubeconfig")
	env.watcherKubeconfig = filepath.Join(state, "watcher.kubeconfig")
	if err := sys.WriteKubeconfig(env.workerKubeconfig, "certflow-worker"); err != nil {
		return 0, err
	}
	if err := sys.WriteKubeconfig(env.watcherKubeconfig, "certflow-k8swatch"); err != nil {
		return 0, err
	}
	code = m.Run()
	return code, nil
}

// size reads a count from the environment.
func size(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}
