package crash

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
)

// freshNamespace registers a Temporal namespace and waits until the server serves it.
func freshNamespace(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.temporal.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: name, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "namespace "+name+" served", func() (bool, string) {
		_, err := env.temporal.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: name})
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

func startWorkerIn(namespace, name string) (*testkit.WorkerProcess, error) {
	return testkit.StartProcess(name, env.workerBin, filepath.Join(env.state, name+".log"), worker.Flags{Kubeconfig: env.workerKubeconfig,
		TemporalAddress: env.stack.TemporalAddress, TemporalNamespace: namespace}.Args(), nil, time.Minute)
}

// A worker pointed at a namespace without certflow's search attributes adds them before
// it polls (the workflows could not start there otherwise); one that has an attribute
// of another type stops with an error naming it.
func TestWorkerAddsSearchAttributes(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	freshNamespace(t, "fresh")
	if missing, err := clients.MissingSearchAttributes(ctx, env.temporal, "fresh"); err != nil || len(missing) == 0 {
		t.Fatalf("a fresh namespace lacks %v (%v); want all of certflow's", missing, err)
	}
	w, err := startWorkerIn("fresh", "worker-fresh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(t) })
	if missing, err := clients.MissingSearchAttributes(ctx, env.temporal, "fresh"); err != nil || len(missing) > 0 {
		t.Errorf("after the worker started, namespace fresh lacks %v (%v)", missing, err)
	}

	freshNamespace(t, "clashing")
	if _, err := env.temporal.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "clashing", SearchAttributes: map[string]enumspb.IndexedValueType{"CertName": enumspb.INDEXED_VALUE_TYPE_TEXT},
	}); err != nil {
		t.Fatal(err)
	}
	if w, err := startWorkerIn("clashing", "worker-clashing"); err == nil {
		w.Stop(t)
		t.Fatal("a worker polls in a namespace whose CertName is Text")
	} else if !strings.Contains(err.Error(), "search attribute CertName of type Text") {
		t.Errorf("the worker stopped with %v; want it to name CertName and its type", err)
	}
}
