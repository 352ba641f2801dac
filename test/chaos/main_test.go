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
	"os"
	"strconv"
	"testing"

	"github.com/certflow/certflow/internal/testkit"
)

const ns = "chaos"

// env is the suite's system; its worker and watcher are run by the tests' supervisors.
var env *testkit.ChildSuite

func TestMain(m *testing.M) {
	os.Exit(testkit.RunChildSuite(m, "chaos", testkit.Options{ACME: true, NoWorker: true, NoWatcher: true, Namespaces: []string{ns}},
		[]string{"certflow-worker", "certflow-k8swatch"}, func(s *testkit.ChildSuite) { env = s }))
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
