package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A step is one activity of a workflow: one effect, shown in the history and the Web
// UI under its summary. step is the one way workflows run one; a stepKind says where it
// runs, how long it may take and how it is retried.
type stepKind struct {
	local   bool // a local activity: runs inside the workflow task, one marker event
	timeout time.Duration
	retry   *temporal.RetryPolicy
	// retryFor bounds a local step with its retries (its schedule-to-close; the SDK
	// would take timeout, leaving no time to retry an attempt that timed out). A
	// regular activity's retries are bounded by its policy's attempts alone.
	retryFor time.Duration
}

var (
	// kubeStep is an API call or two, or a signature: a local activity in the worker
	// that runs the workflow task, so a whole issuance takes one or two workflow tasks
	// instead of a server round trip per step.
	kubeStep = stepKind{local: true, timeout: 30 * time.Second, retry: kubeRetry, retryFor: 5 * time.Minute}
	// issuerStep is a Kubernetes step of the IssuerWorkflow, a regular activity (its
	// recorded histories have them so).
	issuerStep = stepKind{timeout: 30 * time.Second, retry: kubeRetry}
	// slowKeyStep is seconds to minutes of CPU (large RSA keys): a regular activity,
	// which any worker may pick up.
	slowKeyStep = stepKind{timeout: 5 * time.Minute, retry: kubeRetry}
	// acmeStep talks to the ACME server, a DNS provider or a solver.
	acmeStep = stepKind{timeout: time.Minute, retry: acmeRetry}
	// acmeLocalStep is an acmeStep run as a local activity, in the worker running the
	// workflow task: a request or two, one marker event instead of three events and a
	// workflow task of their own. Its retries keep acmeRetry's backoff and the server's
	// Retry-After (NextRetryDelay): the SDK retries in the task while the backoff is
	// shorter than the workflow task timeout, and on a durable timer after that.
	acmeLocalStep = stepKind{local: true, timeout: time.Minute, retry: acmeRetry, retryFor: 10 * time.Minute}
	// accountStep registers an ACME account and gives up soon: the IssuerWorkflow's
	// re-check timer (5 s doubling to 5 m) takes over, with the server's message in the
	// Ready condition meanwhile.
	accountStep = stepKind{timeout: time.Minute, retry: acmeRegisterRetry}
)

var (
	kubeRetry = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10}
	// acmeRetry retries ACME and solver steps on network errors and 5xx answers; the
	// server's refusals are non-retryable (and a rate limit waits for its Retry-After).
	acmeRetry         = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 8}
	acmeRegisterRetry = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3}
)

// errorRetryDelay is how long a workflow waits after a step gave up on a transient
// error (API server down for minutes) before it evaluates its object again.
const errorRetryDelay = time.Minute

// localOptions are a local step's options: each attempt bounded by timeout, all of
// them by retryFor.
func (kind stepKind) localOptions(summary string) workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout: kind.timeout, ScheduleToCloseTimeout: max(kind.retryFor, kind.timeout), RetryPolicy: kind.retry, Summary: summary,
	}
}

// step runs the activity named name (activities.go) with args.
func step(ctx workflow.Context, kind stepKind, summary, name string, args ...any) workflow.Future {
	if kind.local {
		ctx = workflow.WithLocalActivityOptions(ctx, kind.localOptions(summary))
		return workflow.ExecuteLocalActivity(ctx, name, args...)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: kind.timeout, RetryPolicy: kind.retry, Summary: summary,
	})
	return workflow.ExecuteActivity(ctx, name, args...)
}
