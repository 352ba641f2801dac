// Package e2e runs certflow end to end on the real local stack: kube-apiserver + etcd,
// the Temporal dev server, the worker and k8swatch in this process. Tests skip only when
// CERTFLOW_INTEGRATION is unset; with it set, a missing server is a failure.
package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// env is the shared system under test, started once by TestMain.
var env struct {
	*testkit.System
	root string
}

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{Namespaces: []string{"istio-system", "istio"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	env.System, env.root = sys, sys.Root
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

// kubectl runs bin/kubectl against the test cluster.
func kubectl(t *testing.T, stdin []byte, args ...string) (string, error) {
	t.Helper()
	return env.Kubectl(stdin, args...)
}

// mustKubectl runs kubectl and fails the test on error.
func mustKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// eventually polls cond until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testkit.Eventually(t, timeout, what, cond)
}
