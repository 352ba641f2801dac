// Package integration gates integration tests on CERTFLOW_INTEGRATION and starts the
// local stack's servers (localstack, named) for one test. It is apart from testkit so
// that the tests of activities/ can use it without importing the worker.
package integration

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/localstack/bind"
)

// Environment variables read by the test helpers.
const (
	// EnvIntegration must be non-empty for integration tests to run.
	EnvIntegration = "CERTFLOW_INTEGRATION"
	// EnvKeepState, when non-empty, keeps the state directory (logs, data) of test
	// stacks under os.TempDir() instead of t.TempDir(); its path is logged.
	EnvKeepState = "CERTFLOW_KEEP_STATE"
)

// Enabled reports whether CERTFLOW_INTEGRATION is set.
func Enabled() bool { return os.Getenv(EnvIntegration) != "" }

// SkipUnlessEnabled skips tb unless CERTFLOW_INTEGRATION is set.
func SkipUnlessEnabled(tb testing.TB) {
	tb.Helper()
	if !Enabled() {
		tb.Skipf("integration test: set %s=1 (and build bin/ with hack/build-tools.sh) to run it", EnvIntegration)
	}
}

// StartStack starts a local stack for one test and registers its Stop with tb.Cleanup.
// It skips the test unless CERTFLOW_INTEGRATION is set; past that, missing binaries
// or a failed start fail the test (never a skip). Defaults: BinDir = RepoRoot()/bin,
// StateDir = tb.TempDir() (or a kept dir with CERTFLOW_KEEP_STATE), ports free,
// progress lines to tb.Log.
func StartStack(tb testing.TB, o localstack.Options) *localstack.Stack {
	tb.Helper()
	SkipUnlessEnabled(tb)
	if o.BinDir == "" {
		root, err := localstack.RepoRoot()
		if err != nil {
			tb.Fatal(err)
		}
		o.BinDir = filepath.Join(root, "bin")
	}
	if err := localstack.CheckBinaries(o); err != nil {
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
		o.Log = LogWriter(tb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := localstack.Start(ctx, o)
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

// StartBIND starts named for one test, in tb.TempDir() unless o.Dir is set, and stops
// it in tb.Cleanup. It skips the test when CERTFLOW_INTEGRATION is unset; with it set,
// a missing named or a failed start fails the test (never a skip).
func StartBIND(tb testing.TB, o bind.Options) *bind.Server {
	tb.Helper()
	if !Enabled() {
		tb.Skipf("integration test: set %s=1 (and run hack/install-bind.sh) to run it", EnvIntegration)
	}
	if o.Named == "" {
		p, err := bind.FindNamed()
		if err != nil {
			tb.Fatal(err)
		}
		o.Named = p
	}
	if o.Dir == "" {
		o.Dir = tb.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := bind.Start(ctx, o)
	if err != nil {
		tb.Fatalf("start named: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("stop named: %v", err)
		}
		if tb.Failed() {
			tb.Logf("named log (%s):\n%s", s.LogPath(), s.LogTail(40))
		}
	})
	return s
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// LogWriter sends a stack's progress lines (localstack.Options.Log) to tb.Log.
func LogWriter(tb testing.TB) io.Writer { return &tbWriter{tb: tb} }

type tbWriter struct{ tb testing.TB }

func (w *tbWriter) Write(p []byte) (int, error) {
	w.tb.Log("localstack: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
