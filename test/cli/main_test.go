// Package cli tests `kubectl cert-manager` (the plugin binary kubectl-cert_manager, run
// through the real kubectl) against the local stack with Pebble: every command's output
// is checked for the facts it must show, not only its exit status. Skips only when
// CERTFLOW_INTEGRATION is unset.
package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/starter"
)

var (
	sys *testkit.System
	// pluginDir holds kubectl-cert_manager, built from this tree; it is put first on
	// kubectl's PATH.
	pluginDir string
)

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cli setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, cleanup, err := testkit.StateDir("certflow-cli-", "the CLI suite's binaries")
	if err != nil {
		return 0, err
	}
	code := 1
	defer func() { cleanup(code) }()
	if sys, err = testkit.Start(context.Background(), testkit.Options{ACME: true}); err != nil {
		return 0, err
	}
	pluginDir = dir
	if _, err := testkit.BuildBinary(sys.Root, dir, starter.PluginName); err != nil {
		sys.Stop(false)
		return 0, err
	}
	code = m.Run()
	sys.Stop(code != 0)
	return code, nil
}

// result is what one run of the CLI printed.
type result struct {
	stdout, stderr string
	err            error
}

func (r result) String() string {
	return fmt.Sprintf("err: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// kubectlCertManager runs `kubectl cert-manager args...` through the stack's kubectl,
// as a user runs the plugin, with the stack's kubeconfig and Temporal. env adds to (and
// overrides) the environment, e.g. TEMPORAL_ADDRESS=127.0.0.1:1 for a Temporal that
// cannot be reached.
func kubectlCertManager(t testing.TB, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(sys.Root, "bin", "kubectl"), append([]string{"cert-manager"}, args...)...)
	cmd.Env = append(os.Environ(),
		"PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+sys.Stack.Kubeconfig,
		"TEMPORAL_ADDRESS="+sys.Stack.TemporalAddress,
		"TEMPORAL_NAMESPACE="+sys.Stack.TemporalNamespace,
	)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun runs the plugin and fails the test when it exits non-zero.
func mustRun(t testing.TB, args ...string) result {
	t.Helper()
	r := kubectlCertManager(t, nil, args...)
	if r.err != nil {
		t.Fatalf("kubectl cert-manager %s:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// wantAll fails the test for each of wants that out lacks.
func wantAll(t testing.TB, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

// apply applies manifest docs in namespace ns (created when missing).
func apply(t testing.TB, ns string, docs ...string) {
	t.Helper()
	if _, err := sys.Kubectl(nil, "create", "namespace", ns); err != nil {
		if out, _ := sys.Kubectl(nil, "get", "namespace", ns); !strings.Contains(out, ns) {
			t.Fatalf("create namespace %s: %v", ns, err)
		}
	}
	if out, err := sys.Kubectl(testkit.Manifest(docs...), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}
