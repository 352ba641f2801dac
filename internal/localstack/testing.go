package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by the test helpers.
const (
	// EnvIntegration must be non-empty for integration tests to run.
	EnvIntegration = "CERTFLOW_INTEGRATION"
	// EnvKeepState, when non-empty, keeps the state directory (logs, data) of test
	// stacks under os.TempDir() instead of t.TempDir(); its path is logged.
	EnvKeepState = "CERTFLOW_KEEP_STATE"
)

// ModulePath is the module path of the repository root go.mod.
const ModulePath = "github.com/certflow/certflow"

// IntegrationEnabled reports whether CERTFLOW_INTEGRATION is set.
func IntegrationEnabled() bool { return os.Getenv(EnvIntegration) != "" }

// SkipUnlessIntegration skips tb unless CERTFLOW_INTEGRATION is set.
func SkipUnlessIntegration(tb testing.TB) {
	tb.Helper()
	if !IntegrationEnabled() {
		tb.Skipf("integration test: set %s=1 (and build bin/ with hack/build-tools.sh) to run it", EnvIntegration)
	}
}

// StartForTest starts a stack for one test and registers its Stop with tb.Cleanup.
// It skips the test unless CERTFLOW_INTEGRATION is set; past that, missing binaries
// or a failed start fail the test (never a skip). Defaults: BinDir = RepoRoot()/bin,
// StateDir = tb.TempDir() (or a kept dir with CERTFLOW_KEEP_STATE), ports free,
// progress lines to tb.Log.
func StartForTest(tb testing.TB, o Options) *Stack {
	tb.Helper()
	SkipUnlessIntegration(tb)
	if o.BinDir == "" {
		root, err := RepoRoot()
		if err != nil {
			tb.Fatal(err)
		}
		o.BinDir = filepath.Join(root, "bin")
	}
	if err := CheckBinaries(o); err != nil {
		tb.Fatal(err)
	}
	if o.StateDir == "" {
		if os.Getenv(EnvKeepState) != "" {
			d, err := os.MkdirTemp("", "certflow-"+safeName(tb.Name())+"-")
			if err != nil {
				tb.Fatal(err)
			}
			o.StateDir = d
			tb.Logf("localstack state kept in %s", d)
		} else {
			o.StateDir = tb.TempDir()
		}
	}
	if o.Log == nil {
		o.Log = &tbWriter{tb: tb}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		tb.Fatalf("start local stack: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop local stack: %v", err)
		}
	})
	return s
}

// CheckBinaries returns an error naming every binary that the parts selected in o need
// but that is missing from o.BinDir.
func CheckBinaries(o Options) error {
	var need []string
	if o.Kube && o.ExistingKubeconfig == "" {
		need = append(need, "etcd", "kube-apiserver")
	}
	if o.Temporal && o.ExistingTemporal == "" {
		need = append(need, "temporal")
	}
	if o.ACME {
		need = append(need, "pebble", "pebble-challtestsrv")
	}
	var missing []string
	for _, b := range need {
		if fi, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil || fi.IsDir() {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing in %s: %s (run hack/build-tools.sh)", o.BinDir, strings.Join(missing, ", "))
	}
	return nil
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the directory holding the go.mod of module github.com/certflow/certflow,
// walking up from the working directory (a test's working directory is its package dir).
func RepoRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePathIs(b, ModulePath) {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("localstack: no go.mod of module " + ModulePath + " above the working directory")
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

func modulePathIs(gomod []byte, path string) bool {
	for line := range bytes.Lines(gomod) {
		f := strings.Fields(string(line))
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// tbWriter sends progress lines to tb.Log.
type tbWriter struct{ tb testing.TB }

func (w *tbWriter) Write(p []byte) (int, error) {
	w.tb.Log("localstack: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
