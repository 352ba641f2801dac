package localstack_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	. "github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit/integration"
)

func echoWorkflow(ctx workflow.Context, s string) (string, error) {
	if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
		return "", err
	}
	return s + " (durable)", nil
}

// The Temporal server on PostgreSQL runs a workflow, with the stack's namespace and
// search attributes, and keeps its result across a restart on the same state directory.
func TestTemporalOnPostgres(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	// Under /tmp: as root, postgres runs as the postgres user and must reach its data.
	dir, err := os.MkdirTemp("", "certflow-temporalpg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	o := Options{Temporal: true, TemporalPostgres: true, StateDir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	s1 := integration.StartStack(t, o)
	if _, ok := s1.PIDs()["postgres"]; !ok {
		t.Errorf("no postgres among the stack's processes %v", s1.PIDs())
	}
	checkTemporalClient(ctx, t, s1)
	// The server serves its profiles (the dev server cannot).
	resp, err := http.Get(s1.TemporalPprofURL + "cmdline")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("pprof at %s: %v %v", s1.TemporalPprofURL, resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
	dial := func(s *Stack) client.Client {
		c, err := client.DialContext(ctx, client.Options{HostPort: s.TemporalAddress, Namespace: s.TemporalNamespace,
			Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err != nil {
			t.Fatalf("dial temporal: %v", err)
		}
		return c
	}
	c := dial(s1)
	w := worker.New(c, "temporalpg-test", worker.Options{})
	w.RegisterWorkflow(echoWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "echo", TaskQueue: "temporalpg-test"}, echoWorkflow, "hello")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil || got != "hello (durable)" {
		t.Fatalf("workflow result %q, %v", got, err)
	}
	w.Stop()
	c.Close()
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}

	s2 := integration.StartStack(t, o)
	c = dial(s2)
	got = ""
	if err := c.GetWorkflow(ctx, "echo", "").Get(ctx, &got); err != nil || got != "hello (durable)" {
		t.Errorf("after a restart: workflow result %q, %v", got, err)
	}
	c.Close()
	if err := s2.Stop(); err != nil {
		t.Fatal(err)
	}

	// A start interrupted after the databases were created and before their schemas
	// were stamped does not stop the next start: the schema steps run again.
	if err := os.Remove(filepath.Join(dir, "postgres-schemas.done")); err != nil {
		t.Fatal(err)
	}
	s3 := integration.StartStack(t, o)
	checkTemporalClient(ctx, t, s3)
}
