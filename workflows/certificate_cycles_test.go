package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/issuance"
	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/policy"
)

// Renewals go on in the run that issued, one cycle after another, while its history is
// short: each is one workflow task. The wake-up after an issuance continues as new
// once the history is long, or at once when the worker knows changes the run lacks.
func TestRenewsWithinRunUntilHistoryIsLong(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name        string
		lacksChange bool
		wantIssued  []time.Duration // after epoch
		wantEnd     time.Duration
	}{
		// Renewals at 2/3 of 90 days; the history is long from day 150 on.
		{name: "every change", wantIssued: []time.Duration{0, 60 * day, 120 * day}, wantEnd: 180 * day},
		{name: "lacks a change", lacksChange: true, wantIssued: []time.Duration{0}, wantEnd: 60 * day},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.SetCurrentHistoryLength(10)
			env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(maxRunHistoryLength) }, 150*day)
			onIssuer(env, readySelfSigned)
			secret := policy.SecretState{}
			onSecret(env, func(context.Context, kube.InspectSecretInput) (policy.SecretState, error) { return secret, nil })
			var statuses []kube.CertificateStatusInput
			writeStatus := recordStatus(&statuses)
			var issued []time.Duration
			var revisions []int
			// Each issuance is a certificate valid from now on, which the Secret then holds.
			env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(func(ctx context.Context, in issuance.Input) (issuance.Result, error) {
				issued, revisions = append(issued, env.Now().Sub(epoch)), append(revisions, in.Secret.Revision)
				secret = validSecret(env.Now())
				secret.Revision = in.Secret.Revision
				nb, na := secret.Certificate.NotBefore, secret.Certificate.NotAfter
				renewal := policy.RenewalTime(nb, na, nil, nil)
				st := *in.Status
				st.NotBefore, st.NotAfter, st.RenewalTime = &nb, &na, &renewal
				written, err := writeStatus(ctx, st)
				req := kube.RequestRef{Namespace: "ns", Name: conventions.CertificateRequestName("web", in.Request.Revision), UID: "cr-uid"}
				return issuance.Result{
					Key:      keys.KeyRef{Namespace: "ns", SecretName: in.Key.SecretName, Algorithm: in.Key.Algorithm, Size: in.Key.Size, Held: true},
					Request:  kube.CreatedRequest{RequestRef: req},
					Approval: kube.Approval{Approved: true, Record: true, Reason: "cert-manager.io"},
					Facts:    secret.Certificate, Status: written,
				}, err
			})
			expectIssuance(env, &statuses)
			in := testInput()
			in.Changes = len(certificateChanges)
			if tc.lacksChange {
				in.Changes = slices.IndexFunc(certificateChanges, func(c change) bool { return c.id == changeReadTogether })
				env.OnGetVersion(changeReadTogether, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}

			env.ExecuteWorkflow(CertificateWorkflow, in)

			var can *workflow.ContinueAsNewError
			if !errors.As(env.GetWorkflowError(), &can) {
				t.Fatalf("want continue-as-new, got %v", env.GetWorkflowError())
			}
			if got := env.Now().Sub(epoch); got != tc.wantEnd {
				t.Errorf("run continued as new after %v, want %v", got, tc.wantEnd)
			}
			if !slices.Equal(issued, tc.wantIssued) {
				t.Errorf("issued after %v, want %v", issued, tc.wantIssued)
			}
			// Each cycle issues the next revision, as a new run would.
			for i, rev := range revisions {
				if rev != i+1 {
					t.Errorf("revisions %v, want 1, 2, ...", revisions)
					break
				}
			}
			msgs := issuingMessages(statuses)
			for i, m := range msgs {
				if i > 0 && !strings.HasPrefix(m, "Renewing certificate as renewal was scheduled at") {
					t.Errorf("issuance %d: %q, want a scheduled renewal", i, m)
				}
			}
			var next CertificateInput
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
				t.Fatal(err)
			}
			last := epoch.Add(tc.wantIssued[len(tc.wantIssued)-1])
			if next.Revision != len(tc.wantIssued) || next.NotBefore == nil || !next.NotBefore.Equal(last) || next.Changes != len(certificateChanges) || next.PendingRenew {
				t.Errorf("next run's input: revision %d, notBefore %v, changes %d, pending renew %t; want %d, %v, %d, false",
					next.Revision, next.NotBefore, next.Changes, next.PendingRenew, len(tc.wantIssued), last, len(certificateChanges))
			}
		})
	}
}

// A renewal in one step also deletes its predecessor's request (revisionHistoryLimit 1):
// no step of its own, unless that deletion failed, which the issuance survives.
func TestRenewalInOneStepDeletesOldRequest(t *testing.T) {
	for _, cleanupFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("cleanupFails=%t", cleanupFails), func(t *testing.T) {
			env := newEnv(t)
			renewal := epoch.Add(60 * 24 * time.Hour)
			env.SetStartTime(renewal.Add(time.Minute))
			onIssuer(env, readySelfSigned)
			onSecret(env, validSecret(epoch))
			var statuses []kube.CertificateStatusInput
			var ins []issuance.Input
			env.OnActivity(actIssueWithinTask, mock.Anything, mock.Anything).Return(func(ctx context.Context, in issuance.Input) (issuance.Result, error) {
				ins = append(ins, in)
				res, err := oneStep(ctx, env, in)
				res.CleanedUp = res.CleanedUp && !cleanupFails
				return res, err
			})
			var cleanups []kube.CleanupRequestsInput
			env.OnActivity(actCleanupCertificateRequests, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.CleanupRequestsInput) error {
				cleanups = append(cleanups, in)
				return nil
			})
			expectIssuance(env, &statuses)
			in := testInput()
			nb, na := epoch, epoch.Add(90*24*time.Hour)
			in.NotBefore, in.NotAfter, in.Revision, in.IssuedGeneration, in.HistoryLimit = &nb, &na, 1, in.Generation, 1

			env.ExecuteWorkflow(CertificateWorkflow, in)

			want := kube.CleanupRequestsInput{Namespace: "ns", CertificateName: "web", CertificateUID: "uid-1", FromRevision: 1, ToRevision: 1}
			if len(ins) == 0 || ins[0].Request.Revision != 2 || ins[0].Cleanup == nil || *ins[0].Cleanup != want {
				t.Fatalf("the renewal's step: %d runs, first cleanup %+v; want revision 2 deleting %+v", len(ins), ins[0].Cleanup, want)
			}
			if wantSteps := map[bool]int{false: 0, true: 1}[cleanupFails]; len(cleanups) != wantSteps || len(cleanups) == 1 && cleanups[0] != want {
				t.Errorf("CleanupCertificateRequests steps %+v, want %d", cleanups, wantSteps)
			}
		})
	}
}
