// Package cainjector tests the watcher's CA injector on the real local stack:
// kube-apiserver + etcd, the Temporal dev server, the worker and the watcher in this
// process as their ServiceAccounts. Tests skip only when CERTFLOW_INTEGRATION is unset;
// with it set, a missing server is a failure.
package cainjector

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// env is the shared system under test, started once by TestMain.
var env struct {
	*testkit.System
}

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{Namespaces: []string{ns}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cainjector setup:", err)
		os.Exit(1)
	}
	env.System = sys
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}
