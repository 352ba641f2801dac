package workflows

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/policy"
)

func TestLikelyIssues(t *testing.T) {
	nb, na := epoch, epoch.Add(90*24*time.Hour)
	renewal := epoch.Add(60 * 24 * time.Hour)
	issued := func(edit func(*CertificateInput)) CertificateInput {
		in := testInput()
		in.NotBefore, in.NotAfter, in.Revision, in.IssuedGeneration = &nb, &na, 1, in.Generation
		if edit != nil {
			edit(&in)
		}
		return in
	}
	for _, tc := range []struct {
		name    string
		st      CertificateInput
		renewal *time.Time
		now     time.Time
		want    bool
	}{
		{"nothing known yet", testInput(), nil, epoch, true},
		{"issued, renewal ahead", issued(nil), &renewal, epoch.Add(time.Hour), false},
		{"issued, renewal now", issued(nil), &renewal, renewal, true},
		{"issued, renewal past", issued(nil), &renewal, renewal.Add(time.Hour), true},
		{"renewal asked", issued(func(in *CertificateInput) { in.PendingRenew = true }), &renewal, epoch, true},
		{"new spec", issued(func(in *CertificateInput) { in.Generation++ }), &renewal, epoch, true},
		{"last attempt failed", issued(func(in *CertificateInput) { in.FailedAttempts = 1 }), &renewal, epoch, true},
	} {
		if got := likelyIssues(tc.st, tc.renewal, tc.now); got != tc.want {
			t.Errorf("%s: likelyIssues = %t, want %t", tc.name, got, tc.want)
		}
	}
}

// An evaluation that will likely issue reads the Secret and the issuer in one step
// (one history event); one that will likely not reads the Secret alone, and no issuer
// unless it issues. Runs that started before the change read them apart.
func TestEvaluationReadsSecretAndIssuerTogetherWhenLikelyToIssue(t *testing.T) {
	nb, na := epoch, epoch.Add(90*24*time.Hour)
	renewal := epoch.Add(60 * 24 * time.Hour)
	for _, tc := range []struct {
		name      string
		start     time.Time
		secret    policy.SecretState
		carried   bool // the run knows the certificate in hand (a continued run)
		changeOff bool
		want      []string // the reads, in order, until the run continues as new after its issuance
	}{
		{name: "first issuance", start: epoch, want: []string{"together"}},
		{name: "renewal due", start: renewal.Add(time.Minute), secret: validSecret(epoch), carried: true, want: []string{"together"}},
		{name: "renewal ahead", start: epoch.Add(time.Hour), secret: validSecret(epoch), carried: true, want: []string{"secret", "together"}},
		// A new run of a chain (the watcher started it again) knows nothing: it reads
		// both, finds a valid certificate, and sleeps until its renewal.
		{name: "guessed wrong", start: epoch.Add(time.Hour), secret: validSecret(epoch), want: []string{"together", "together"}},
		{name: "run before the change", start: epoch, changeOff: true, want: []string{"secret", "issuer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.SetStartTime(tc.start)
			var reads []string
			env.OnActivity(actInspectSecretAndIssuer, mock.Anything, mock.Anything).Return(func(context.Context, kube.EvaluationInput) (kube.Evaluation, error) {
				reads = append(reads, "together")
				return kube.Evaluation{Secret: tc.secret, Issuer: readySelfSigned}, nil
			})
			env.OnActivity(actInspectSecret, mock.Anything, mock.Anything).Return(func(context.Context, kube.InspectSecretInput) (policy.SecretState, error) {
				reads = append(reads, "secret")
				return tc.secret, nil
			})
			env.OnActivity(actResolveIssuer, mock.Anything, mock.Anything).Return(func(context.Context, kube.IssuerRef) (kube.IssuerInfo, error) {
				reads = append(reads, "issuer")
				return readySelfSigned, nil
			})
			var statuses []kube.CertificateStatusInput
			expectIssuance(env, &statuses)
			in := testInput()
			in.Changes = len(certificateChanges)
			if tc.carried {
				in.NotBefore, in.NotAfter, in.Revision, in.IssuedGeneration = &nb, &na, 1, in.Generation
			}
			if tc.changeOff {
				in.Changes = slices.IndexFunc(certificateChanges, func(c change) bool { return c.id == changeReadTogether })
				env.OnGetVersion(changeReadTogether, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}

			env.ExecuteWorkflow(CertificateWorkflow, in)

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new after the issuance, got %v", env.GetWorkflowError())
			}
			if !slices.Equal(reads, tc.want) {
				t.Errorf("reads %v, want %v", reads, tc.want)
			}
		})
	}
}
