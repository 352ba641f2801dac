package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Issuer Ready reasons, as upstream.
const (
	ReasonIsReady         = "IsReady"
	ReasonKeyPairVerified = "KeyPairVerified"
	ReasonErrorConfig     = "ErrInvalidConfig"
)

// IssuerWorkflow keeps one Issuer's or ClusterIssuer's Ready condition true to its spec
// and re-checks whenever the watcher signals a new generation.
func IssuerWorkflow(ctx workflow.Context, in IssuerInput) error {
	status := Status{Generation: in.Generation}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return status, nil }); err != nil {
		return err
	}
	specCh := workflow.GetSignalChannel(ctx, SignalSpec)
	deleteCh := workflow.GetSignalChannel(ctx, SignalDelete)
	deleted := false
	onSpec := func(s IssuerSpecSignal) bool {
		if s.Generation <= in.Generation && s.UID == in.UID {
			return false
		}
		in.UID, in.Generation, in.Spec = s.UID, s.Generation, s.Spec
		status.Generation = s.Generation
		return true
	}
	onDelete := func(s DeleteSignal) bool {
		deleted = deleted || s.UID == "" || s.UID == in.UID
		return deleted
	}

	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: kubeRetry})
	for !deleted {
		ready := checkIssuer(ctx, in)
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: kubeRetry,
			Summary: fmt.Sprintf("set %s Ready=%s (%s)", in.Kind, ready.Status, ready.Reason)})
		err := workflow.ExecuteActivity(actx, kubeActs.SetIssuerStatus, kube.IssuerStatusInput{
			Kind: in.Kind, Namespace: in.Namespace, Name: in.Name, UID: in.UID, ObservedGeneration: in.Generation, Ready: ready,
		}).Get(ctx, nil)
		status.LastError = ""
		status.Phase = PhaseReady
		if ready.Status != cmmeta.ConditionTrue {
			status.Phase, status.LastError = "NotReady", ready.Message
		}
		if err != nil {
			status.LastError = err.Error()
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return workflow.NewContinueAsNewError(ctx, IssuerWorkflow, in)
		}

		// Wait for a change; after a failed status write, retry on a timer.
		status.WaitingFor = "a new generation of the " + in.Kind + " (signal " + SignalSpec + ")"
		woke := false
		sel := workflow.NewSelector(ctx)
		if err != nil {
			sel.AddFuture(workflow.NewTimerWithOptions(ctx, errorRetryDelay, workflow.TimerOptions{Summary: "retry status update"}), func(workflow.Future) { woke = true })
		}
		sel.AddReceive(specCh, func(ch workflow.ReceiveChannel, _ bool) {
			var s IssuerSpecSignal
			ch.Receive(ctx, &s)
			woke = onSpec(s) || woke
		})
		sel.AddReceive(deleteCh, func(ch workflow.ReceiveChannel, _ bool) {
			var s DeleteSignal
			ch.Receive(ctx, &s)
			woke = onDelete(s) || woke
		})
		for !woke {
			sel.Select(ctx)
		}
	}
	status.Phase = PhaseDeleted
	return nil
}

// checkIssuer decides the Ready condition for the issuer's configuration.
func checkIssuer(ctx workflow.Context, in IssuerInput) kube.Condition {
	switch {
	case in.Spec.SelfSigned != nil:
		return kube.Condition{Status: cmmeta.ConditionTrue, Reason: ReasonIsReady}
	case in.Spec.CA != nil:
		var res kube.CAKeyPairCheck
		err := workflow.ExecuteActivity(ctx, kubeActs.CheckCAKeyPair, kube.CAKeyPairInput{
			Namespace: issuerResourceNamespace(in), SecretName: in.Spec.CA.SecretName,
		}).Get(ctx, &res)
		if err != nil {
			return kube.Condition{Status: cmmeta.ConditionFalse, Reason: "ErrGetKeyPair", Message: err.Error()}
		}
		if !res.Valid {
			return kube.Condition{Status: cmmeta.ConditionFalse, Reason: res.Reason, Message: res.Message}
		}
		return kube.Condition{Status: cmmeta.ConditionTrue, Reason: ReasonKeyPairVerified, Message: "Signing CA verified"}
	case in.Spec.ACME != nil, in.Spec.Vault != nil, in.Spec.Venafi != nil:
		return kube.Condition{Status: cmmeta.ConditionFalse, Reason: "Unsupported",
			Message: "This issuer type is not supported by this version of certflow yet"}
	}
	return kube.Condition{Status: cmmeta.ConditionFalse, Reason: ReasonErrorConfig, Message: "No issuer type configured"}
}

// issuerResourceNamespace is where the issuer's Secrets live. For a ClusterIssuer the
// activity substitutes the cluster resource namespace.
func issuerResourceNamespace(in IssuerInput) string {
	if in.Kind == cmapi.ClusterIssuerKind {
		return ""
	}
	return in.Namespace
}
