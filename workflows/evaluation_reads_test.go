package workflows

import (
	"context"
	"fmt"
	"sync"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/policy"
)

// The reads of an evaluation, as a test answers them. A test says what the Secret and
// the issuer are (onSecret, onIssuer), with a value or a function of the step's input;
// the environment then answers InspectSecret, ResolveIssuer and InspectSecretAndIssuer,
// whichever the workflow calls, from the same answers.

// evaluationReads are a test environment's answers.
type evaluationReads struct {
	mu             sync.Mutex
	secret, issuer any
}

var evaluationReadsOf sync.Map // *testsuite.TestWorkflowEnvironment → *evaluationReads

// onSecret answers the reads of the target Secret with answer: a policy.SecretState, or
// a func(context.Context, kube.InspectSecretInput) (policy.SecretState, error).
func onSecret(env *testsuite.TestWorkflowEnvironment, answer any) *testsuite.MockCallWrapper {
	readsOf(env).set(&readsOf(env).secret, answer)
	return env.OnActivity(actInspectSecret, mock.Anything, mock.Anything).Return(answer, nil)
}

// onIssuer answers the reads of the issuer with answer: a kube.IssuerInfo, or a
// func(context.Context, kube.IssuerRef) (kube.IssuerInfo, error).
func onIssuer(env *testsuite.TestWorkflowEnvironment, answer any) *testsuite.MockCallWrapper {
	readsOf(env).set(&readsOf(env).issuer, answer)
	return env.OnActivity(actResolveIssuer, mock.Anything, mock.Anything).Return(answer, nil)
}

// readsOf is env's answers; the first call mocks InspectSecretAndIssuer with them.
func readsOf(env *testsuite.TestWorkflowEnvironment) *evaluationReads {
	r, loaded := evaluationReadsOf.LoadOrStore(env, &evaluationReads{})
	if !loaded {
		env.OnActivity(actInspectSecretAndIssuer, mock.Anything, mock.Anything).Return(
			func(ctx context.Context, in kube.EvaluationInput) (kube.Evaluation, error) {
				return r.(*evaluationReads).together(ctx, in)
			}).Maybe()
	}
	return r.(*evaluationReads)
}

func (r *evaluationReads) set(field *any, answer any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*field = answer
}

// together answers InspectSecretAndIssuer as InspectSecret and then ResolveIssuer.
func (r *evaluationReads) together(ctx context.Context, in kube.EvaluationInput) (kube.Evaluation, error) {
	r.mu.Lock()
	secretAnswer, issuerAnswer := r.secret, r.issuer
	r.mu.Unlock()
	secret, err := mockAnswer[kube.InspectSecretInput, policy.SecretState](ctx, secretAnswer, in.Secret, "onSecret")
	if err != nil {
		return kube.Evaluation{}, err
	}
	issuer, err := mockAnswer[kube.IssuerRef, kube.IssuerInfo](ctx, issuerAnswer, in.Issuer, "onIssuer")
	if err != nil {
		return kube.Evaluation{}, err
	}
	return kube.Evaluation{Secret: secret, Issuer: issuer}, nil
}

// mockAnswer is what a mock answer gives for in: the value, or the function's result.
func mockAnswer[In, Out any](ctx context.Context, a any, in In, helper string) (Out, error) {
	switch a := a.(type) {
	case Out:
		return a, nil
	case func(context.Context, In) (Out, error):
		return a(ctx, in)
	}
	var zero Out
	return zero, fmt.Errorf("the test has no answer (%s) for %T: %T", helper, in, a)
}
