package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// An Issuer deleted and created again under the same name keeps its workflow, whichever
// of the old one's delete (which carries the old UID) and the new one's spec the
// workflow receives first, although the new generation is lower.
func TestReplacedIssuerKeepsItsWorkflow(t *testing.T) {
	for _, deleteFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("deleteFirst=%t", deleteFirst), func(t *testing.T) {
			env := newEnv(t)
			env.RegisterWorkflow(IssuerWorkflow)
			var written []kube.IssuerStatusInput
			// Both signals arrive while the first status write runs: one workflow task
			// receives them.
			write := func(_ context.Context, in kube.IssuerStatusInput) error { written = append(written, in); return nil }
			env.OnActivity(actSetIssuerStatus, mock.Anything, mock.Anything).Return(write).After(time.Hour).Once()
			env.OnActivity(actSetIssuerStatus, mock.Anything, mock.Anything).Return(write)
			selfSigned := cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}}
			env.RegisterDelayedCallback(func() {
				del := func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }
				spec := func() {
					env.SignalWorkflow(SignalSpec, IssuerSpecSignal{UID: "uid-2", Generation: 1, Spec: selfSigned})
				}
				if deleteFirst {
					del()
					spec()
				} else {
					spec()
					del()
				}
			}, 10*time.Minute)
			env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-2"}) }, 2*time.Hour)

			env.ExecuteWorkflow(IssuerWorkflow, NewIssuerInput(cmapi.IssuerKind, "ns", "selfsigned",
				IssuerSpecSignal{UID: "uid-1", Generation: 4, Spec: selfSigned}))

			if err := env.GetWorkflowError(); err != nil {
				t.Fatalf("want the workflow to end at the new object's deletion, got %v", err)
			}
			if len(written) != 2 || written[1].UID != "uid-2" || written[1].ObservedGeneration != 1 {
				t.Fatalf("status writes %+v, want the old object's, then the new one's (uid-2, generation 1)", written)
			}
		})
	}
}
