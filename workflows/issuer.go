package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// reasonInvalidConfig is Ready=False for an issuer with no issuer type at all (the CRD
// refuses that at admission; an object from before the rule still gets a clear reason).
const reasonInvalidConfig = "ErrInvalidConfig"

// IssuerWorkflow keeps one Issuer's or ClusterIssuer's Ready condition true to its spec.
// It re-checks when the watcher signals a new generation or a change of the issuer's
// Secret, and, while the issuer is not ready for a reason that may fix itself (a CA
// Secret that does not exist yet), on a backoff timer too: a Secret made by hand
// without certflow's label is not watched, and must still be noticed.
func IssuerWorkflow(ctx workflow.Context, in IssuerInput) error {
	status := Status{Generation: in.Generation}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return status, nil }); err != nil {
		return err
	}
	specCh := workflow.GetSignalChannel(ctx, SignalSpec)
	secretCh := workflow.GetSignalChannel(ctx, SignalSecretChanged)
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
	drain := func() {
		for {
			var spec IssuerSpecSignal
			var secret SecretChangedSignal
			var del DeleteSignal
			switch {
			case specCh.ReceiveAsync(&spec):
				onSpec(spec)
			case secretCh.ReceiveAsync(&secret):
			case deleteCh.ReceiveAsync(&del):
				onDelete(del)
			default:
				return
			}
		}
	}

	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: kubeRetry})
	notReadyChecks := 0
	for {
		drain()
		if deleted {
			break
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return workflow.NewContinueAsNewError(ctx, IssuerWorkflow, in)
		}
		ready, acmeStatus := checkIssuer(ctx, in)
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: kubeRetry,
			Summary: fmt.Sprintf("set %s Ready=%s (%s)", in.Kind, ready.Status, ready.Reason)})
		err := workflow.ExecuteActivity(actx, kubeActs.SetIssuerStatus, kube.IssuerStatusInput{
			Kind: in.Kind, Namespace: in.Namespace, Name: in.Name, UID: in.UID, ObservedGeneration: in.Generation, Ready: ready,
			ACME: acmeStatus,
		}).Get(ctx, nil)
		status.Phase, status.LastError, status.Until = PhaseReady, "", nil
		status.WaitingFor = "a new generation of the " + in.Kind + " (signal " + SignalSpec + ")"
		var retry time.Duration
		switch {
		case err != nil:
			status.LastError, retry = err.Error(), errorRetryDelay
		case ready.Status != cmmeta.ConditionTrue:
			status.Phase, status.LastError = "NotReady", ready.Message
			if ready.Reason == cmapi.IssuerReasonErrorGetKeyPair || ready.Reason == cmapi.IssuerReasonErrorInvalidKeyPair ||
				ready.Reason == cmapi.IssuerReasonErrorRegisterAccount {
				retry = policy.RecheckBackoff(notReadyChecks)
				notReadyChecks++
			}
		default:
			notReadyChecks = 0
		}

		woke := false
		sel := workflow.NewSelector(ctx)
		if retry > 0 {
			until := workflow.Now(ctx).Add(retry)
			status.Until = &until
			status.WaitingFor = "the issuer's Secret (signal " + SignalSecretChanged + "), a new generation, or the re-check timer"
			sel.AddFuture(workflow.NewTimerWithOptions(ctx, retry, workflow.TimerOptions{Summary: "re-check: " + status.LastError}), func(workflow.Future) { woke = true })
		}
		sel.AddReceive(specCh, func(ch workflow.ReceiveChannel, _ bool) {
			var s IssuerSpecSignal
			ch.Receive(ctx, &s)
			if onSpec(s) {
				woke, notReadyChecks = true, 0
			}
		})
		sel.AddReceive(secretCh, func(ch workflow.ReceiveChannel, _ bool) {
			var s SecretChangedSignal
			ch.Receive(ctx, &s)
			woke = true
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

// checkIssuer decides the Ready condition for the issuer's configuration (and, for
// ACME, the account status).
func checkIssuer(ctx workflow.Context, in IssuerInput) (kube.Condition, *acmev1.ACMEIssuerStatus) {
	if in.Spec.ACME != nil && workflow.GetVersion(ctx, changeACMEIssuers, workflow.DefaultVersion, 1) == 1 {
		return registerACMEAccount(ctx, in)
	}
	return checkNonACMEIssuer(ctx, in), nil
}

// registerACMEAccount registers (or recovers) the issuer's ACME account; the key is
// generated into privateKeySecretRef when missing and never leaves that Secret.
func registerACMEAccount(ctx workflow.Context, in IssuerInput) (kube.Condition, *acmev1.ACMEIssuerStatus) {
	spec := in.Spec.ACME
	reg := acme.RegisterInput{
		Account:                     acmeAccountRef(spec, issuerResourceNamespace(in), ""),
		Email:                       spec.Email,
		DisableAccountKeyGeneration: spec.DisableAccountKeyGeneration,
	}
	if eab := spec.ExternalAccountBinding; eab != nil {
		reg.EAB = &acme.EABRef{KeyID: eab.KeyID, SecretName: eab.KeySecretRef.Name, SecretKey: eab.KeySecretRef.Key}
	}
	var res acme.AccountResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, RetryPolicy: acmeRegisterRetry, Summary: "register ACME account at " + spec.Server,
	}), acmeActs.RegisterAccount, reg).Get(ctx, &res)
	if err != nil {
		return kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.IssuerReasonErrorRegisterAccount,
			Message: "Failed to register ACME account: " + errorMessage(err)}, nil
	}
	return kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.IssuerReasonACMEAccountRegistered,
			Message: "The ACME account was registered with the ACME server"},
		&acmev1.ACMEIssuerStatus{URI: res.URI, LastRegisteredEmail: res.Email, LastPrivateKeyHash: res.KeyHash}
}

// acmeRegisterRetry gives up soon: the workflow's re-check timer (5 s doubling to 5 m)
// takes over, with the server's message in the Ready condition meanwhile.
var acmeRegisterRetry = &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3}

// acmeAccountRef is how activities find an ACME issuer's account.
func acmeAccountRef(spec *acmev1.ACMEIssuer, keyNamespace, url string) acme.AccountRef {
	return acme.AccountRef{
		Server: spec.Server, CABundle: spec.CABundle, SkipTLSVerify: spec.SkipTLSVerify,
		KeyNamespace: keyNamespace, KeySecretName: spec.PrivateKeySecretRef.Name, KeySecretKey: spec.PrivateKeySecretRef.Key,
		URL: url,
	}
}

func checkNonACMEIssuer(ctx workflow.Context, in IssuerInput) kube.Condition {
	switch {
	case in.Spec.SelfSigned != nil:
		return kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.IssuerReasonIsReady}
	case in.Spec.CA != nil:
		var res kube.CAKeyPairCheck
		err := workflow.ExecuteActivity(ctx, kubeActs.CheckCAKeyPair, kube.CAKeyPairInput{
			Namespace: issuerResourceNamespace(in), SecretName: in.Spec.CA.SecretName,
		}).Get(ctx, &res)
		if err != nil {
			return kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.IssuerReasonErrorGetKeyPair, Message: err.Error()}
		}
		if !res.Valid {
			return kube.Condition{Status: cmmeta.ConditionFalse, Reason: res.Reason, Message: res.Message}
		}
		return kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.IssuerReasonKeyPairVerified, Message: "Signing CA verified"}
	case in.Spec.ACME != nil, in.Spec.Vault != nil, in.Spec.Venafi != nil:
		return kube.Condition{Status: cmmeta.ConditionFalse, Reason: "Unsupported",
			Message: "This issuer type is not supported by this version of certflow yet"}
	}
	return kube.Condition{Status: cmmeta.ConditionFalse, Reason: reasonInvalidConfig, Message: "No issuer type configured"}
}

// issuerResourceNamespace is where the issuer's Secrets live. For a ClusterIssuer the
// activity substitutes the cluster resource namespace.
func issuerResourceNamespace(in IssuerInput) string {
	if in.Kind == cmapi.ClusterIssuerKind {
		return ""
	}
	return in.Namespace
}
