package bind

import (
	"context"
	"os"
	"testing"
	"time"
)

// EnvIntegration must be non-empty for integration tests (those that start named) to run.
const EnvIntegration = "CERTFLOW_INTEGRATION"

// StartForTest starts named for one test, in tb.TempDir() unless o.Dir is set, and
// stops it in tb.Cleanup. It skips the test when CERTFLOW_INTEGRATION is unset; with it
// set, a missing named or a failed start fails the test (never a skip).
func StartForTest(tb testing.TB, o Options) *Server {
	tb.Helper()
	if os.Getenv(EnvIntegration) == "" {
		tb.Skipf("integration test: set %s=1 (and run hack/install-bind.sh) to run it", EnvIntegration)
	}
	if o.Named == "" {
		p, err := FindNamed()
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
	s, err := Start(ctx, o)
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
