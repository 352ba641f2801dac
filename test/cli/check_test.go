package cli

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/internal/version"
)

// check api on the stack: every check passes and names what it found, the in-process
// worker by its identity (this test process's pid, host and certflow's version).
func TestCheckAPI(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	r := mustRun(t, "check", "api")
	t.Logf("check api:\n%s", r.stdout)
	wantAll(t, "check api", r.stdout,
		"[ok]   Kubernetes API: a Certificate is accepted (dry-run create in namespace default)",
		"[ok]   CRDs: all 6 served",
		"[ok]   Temporal: "+sys.Stack.TemporalAddress+" reachable, namespace "+sys.Stack.TemporalNamespace,
		"[ok]   workflow pollers: ",
		"[ok]   activity pollers: ",
		" on task queue certflow: ",
		version.WorkerIdentity()+" (last access ",
		"[ok]   search attributes: all 6 registered in namespace "+sys.Stack.TemporalNamespace+" (CertNamespace, CertName, IssuerName, CertState, NotAfter, RenewalTime)",
		"The cert-manager API is ready",
	)
	if strings.Contains(r.stdout, "FAIL") {
		t.Errorf("check api on a ready stack has a failure:\n%s", r)
	}
}

// Temporal unreachable: the Kubernetes checks pass, Temporal's line names the address
// and the fix, the checks that need Temporal are not made, and the exit code is 1.
func TestCheckAPITemporalUnreachable(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	r := kubectlCertManager(t, []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}, "check", "api")
	t.Logf("check api with Temporal unreachable:\n%s", r)
	if r.err == nil {
		t.Fatalf("check api with Temporal unreachable exited 0:\n%s", r)
	}
	wantAll(t, "check api", r.stdout,
		"[ok]   Kubernetes API:",
		"[ok]   CRDs: all 6 served",
		"[FAIL] Temporal: 127.0.0.1:1 (namespace default) is not reachable",
		"fix: point at the Temporal frontend the worker uses: --temporal-address or TEMPORAL_ADDRESS",
		"[--]   workflow pollers: not checked: Temporal is not reachable",
		"[--]   search attributes: not checked",
	)
	wantAll(t, "check api's error", r.stderr, "the cert-manager API is not ready: 4 of 6 checks failed")
	if strings.Contains(r.stdout, "The cert-manager API is ready") {
		t.Errorf("check api says ready with Temporal unreachable:\n%s", r)
	}
}

// No worker polls the task queue: the pollers' lines fail with the queue's name and the
// fix; --wait retries until its time is up; bad flags are refused.
func TestCheckAPINoPoller(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	r := kubectlCertManager(t, nil, "check", "api", "--task-queue", "nobody-polls")
	if r.err == nil {
		t.Fatalf("check api with no poller exited 0:\n%s", r)
	}
	wantAll(t, "check api", r.stdout,
		"[ok]   Temporal: ",
		"[FAIL] workflow pollers: no worker polls task queue nobody-polls in namespace default for workflow tasks",
		"[FAIL] activity pollers: no worker polls task queue nobody-polls in namespace default for activity tasks",
		"fix: start certflow-worker with --task-queue nobody-polls against namespace default",
		"[ok]   search attributes:",
	)
	wantAll(t, "check api's error", r.stderr, "2 of 6 checks failed")

	start := time.Now()
	r = kubectlCertManager(t, nil, "check", "api", "--task-queue", "nobody-polls", "--wait", "3s", "--interval", "1s")
	if r.err == nil {
		t.Fatalf("check api --wait with no poller exited 0:\n%s", r)
	}
	wantAll(t, "check api --wait", r.stderr, "the cert-manager API is not ready after 3s: 2 of 6 checks failed")
	var exit *exec.ExitError
	if !errors.As(r.err, &exit) || exit.ExitCode() != 124 {
		t.Errorf("check api --wait that timed out: %v, want exit code 124 as cmctl", r.err)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("check api --wait 3s --interval 1s gave up after %s", d)
	}

	r = kubectlCertManager(t, nil, "check", "api", "--interval", "0s")
	if r.err == nil {
		t.Errorf("check api --interval 0s was accepted:\n%s", r)
	}
	wantAll(t, "check api --interval 0s", r.stderr, "--interval 0s: must be more than 0")
}
