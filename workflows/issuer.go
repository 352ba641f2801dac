package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/apperr"
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
	r := &issuerRun{
		ctx:     ctx,
		in:      in,
		changes: resolveChanges(ctx, issuerChanges, in.Changes),
		status:  Status{Generation: in.Generation},
		spec:    workflow.GetSignalChannel(ctx, SignalSpec),
		secret:  workflow.GetSignalChannel(ctx, SignalSecretChanged),
		delete:  workflow.GetSignalChannel(ctx, SignalDelete),
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) {
		v := r.status
		v.UID = r.in.UID
		return v, nil
	}); err != nil {
		return err
	}
	return r.run()
}

// issuerRun is one run of an IssuerWorkflow.
type issuerRun struct {
	ctx     workflow.Context
	in      IssuerInput // carried to the next run, updated by spec signals
	changes changeSet   // the versioned changes in effect (versions.go; none live yet)
	status  Status

	spec, secret, delete workflow.ReceiveChannel
	deleted              bool
	// notReadyChecks counts the re-checks of an issuer that stays not ready, for the
	// re-check backoff.
	notReadyChecks int
	// accountRecheck is when a Ready ACME issuer verifies its account again (from the
	// last registration; 0: never).
	accountRecheck time.Duration
	// accountURL is the account this run registered, while nothing but the re-check
	// timer woke it since: the re-check looks that account up before registering.
	accountURL string
}

func (r *issuerRun) run() error {
	for {
		r.drainSignals()
		if r.deleted {
			r.status.Phase = PhaseDeleted
			return nil
		}
		if workflow.GetInfo(r.ctx).GetContinueAsNewSuggested() {
			next := r.in
			next.Changes = len(issuerChanges)
			return workflow.NewContinueAsNewError(r.ctx, IssuerWorkflow, next)
		}
		ready, acmeStatus, accountRecheck := r.check()
		r.accountRecheck, r.accountURL = accountRecheck, ""
		if acmeStatus != nil {
			r.accountURL = acmeStatus.URI
		}
		err := step(r.ctx, issuerStep, fmt.Sprintf("set %s Ready=%s (%s)", r.in.Kind, ready.Status, ready.Reason),
			actSetIssuerStatus, r.statusInput(ready, acmeStatus)).Get(r.ctx, nil)
		r.waitForChange(r.recheckDelay(ready, err))
	}
}

// check decides the Ready condition for the issuer's configuration (and, for ACME,
// the account status).
// A registered account is verified again after the returned delay (0: not).
func (r *issuerRun) check() (kube.Condition, *acmev1.ACMEIssuerStatus, time.Duration) {
	if r.in.Spec.ACME != nil {
		known := ""
		if r.accountURL != "" && r.changes.has(changeACMEAccountRecheck) {
			known = r.accountURL
		}
		return registerACMEAccount(r.ctx, r.in, known)
	}
	if r.in.Spec.Venafi != nil && r.changes.has(changeVenafiIssuers) {
		return checkVenafiIssuer(r.ctx, r.in), nil, 0
	}
	if r.in.Spec.Vault != nil && r.changes.has(changeVaultIssuers) {
		return checkVaultIssuer(r.ctx, r.in), nil, 0
	}
	return checkNonACMEIssuer(r.ctx, r.in), nil, 0
}

func (r *issuerRun) statusInput(ready kube.Condition, acmeStatus *acmev1.ACMEIssuerStatus) kube.IssuerStatusInput {
	in := r.in
	return kube.IssuerStatusInput{
		Kind: in.Kind, Namespace: in.Namespace, Name: in.Name, UID: in.UID, ObservedGeneration: in.Generation, Ready: ready, ACME: acmeStatus,
	}
}

// recheckDelay says what the status query shows and when the issuer is checked again
// without a signal: after an error, and on a backoff while it is not ready for a
// reason that may fix itself (0: only a signal).
func (r *issuerRun) recheckDelay(ready kube.Condition, err error) time.Duration {
	r.status.Phase, r.status.LastError, r.status.Until = PhaseReady, "", nil
	r.status.WaitingFor = "a new generation of the " + r.in.Kind + " (signal " + SignalSpec + ")"
	switch {
	case err != nil:
		r.status.LastError = err.Error()
		return errorRetryDelay
	case ready.Status != cmmeta.ConditionTrue:
		r.status.Phase, r.status.LastError = "NotReady", ready.Message
		if ready.Reason == cmapi.IssuerReasonErrorGetKeyPair || ready.Reason == cmapi.IssuerReasonErrorInvalidKeyPair ||
			ready.Reason == cmapi.IssuerReasonErrorRegisterAccount || (r.in.Spec.Venafi != nil && venafiRecheck(ready.Reason)) ||
			ready.Reason == reasonVaultError {
			retry := policy.RecheckBackoff(r.notReadyChecks)
			r.notReadyChecks++
			return retry
		}
	default:
		r.notReadyChecks = 0
		// A server may forget the account (a restarted Pebble) or deactivate it: a
		// Ready "registered" must not stay a lie for long. Registering again finds the
		// account the server knows for the key, or makes one.
		if r.accountRecheck > 0 && r.changes.has(changeACMEAccountRecheck) {
			return r.accountRecheck
		}
	}
	return 0
}

// waitForChange blocks until a signal changes something or, with retry > 0, the
// re-check timer fires.
func (r *issuerRun) waitForChange(retry time.Duration) {
	woke := false
	sel := workflow.NewSelector(r.ctx)
	tctx, cancelTimer := workflow.WithCancel(r.ctx)
	defer func() {
		// A timer that a signal made moot is cancelled, instead of firing later for
		// nothing (a workflow task each; a Ready ACME issuer always has one).
		if retry > 0 && r.changes.has(changeACMEAccountRecheck) {
			cancelTimer()
		}
	}()
	if retry > 0 {
		until := workflow.Now(r.ctx).Add(retry)
		r.status.Until = &until
		summary := "re-check: " + r.status.LastError
		if r.status.LastError == "" {
			summary = "verify the ACME account again"
		}
		r.status.WaitingFor = "the issuer's Secret (signal " + SignalSecretChanged + "), a new generation, or the re-check timer"
		sel.AddFuture(workflow.NewTimerWithOptions(tctx, retry, workflow.TimerOptions{Summary: summary}), func(workflow.Future) { woke = true })
	}
	receive(r.ctx, sel, r.spec, &woke, func(s IssuerSpecSignal) bool {
		if !r.onSpec(s) {
			return false
		}
		r.notReadyChecks = 0
		return true
	})
	receive(r.ctx, sel, r.secret, &woke, func(SecretChangedSignal) bool { r.accountURL = ""; return true })
	receive(r.ctx, sel, r.delete, &woke, r.onDelete)
	for !woke {
		sel.Select(r.ctx)
	}
}

// drainSignals applies every signal already delivered, without blocking.
func (r *issuerRun) drainSignals() {
	for {
		var spec IssuerSpecSignal
		var secret SecretChangedSignal
		var del DeleteSignal
		switch {
		case r.spec.ReceiveAsync(&spec):
			r.onSpec(spec)
		case r.secret.ReceiveAsync(&secret):
			r.accountURL = ""
		case r.delete.ReceiveAsync(&del):
			r.onDelete(del)
		default:
			return
		}
	}
}

// onSpec applies a newer generation (or a new object with the same name); it reports
// whether the issuer must be checked again.
func (r *issuerRun) onSpec(s IssuerSpecSignal) bool {
	if s.Generation <= r.in.Generation && s.UID == r.in.UID {
		return false
	}
	r.in.UID, r.in.Generation, r.in.Spec = s.UID, s.Generation, s.Spec
	r.status.Generation = s.Generation
	r.accountURL = ""
	return true
}

func (r *issuerRun) onDelete(s DeleteSignal) bool {
	r.deleted = r.deleted || s.UID == "" || s.UID == r.in.UID
	return r.deleted
}

// registerACMEAccount registers (or recovers) the issuer's ACME account; the key is
// generated into privateKeySecretRef when missing and never leaves that Secret. With
// the URL of the account registered before (known), the server is asked for that
// account first.
func registerACMEAccount(ctx workflow.Context, in IssuerInput, known string) (kube.Condition, *acmev1.ACMEIssuerStatus, time.Duration) {
	spec := in.Spec.ACME
	reg := acmeRegisterInput(spec, issuerResourceNamespace(in))
	summary := "register ACME account at " + spec.Server
	if known != "" {
		reg.Account.URL = known
		summary = "verify ACME account " + known
	}
	var res acme.AccountResult
	err := step(ctx, accountStep, summary, actRegisterAccount, reg).Get(ctx, &res)
	if err != nil {
		return kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.IssuerReasonErrorRegisterAccount,
			Message: "Failed to register ACME account: " + apperr.Message(err)}, nil, 0
	}
	return kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.IssuerReasonACMEAccountRegistered,
			Message: "The ACME account was registered with the ACME server"},
		&acmev1.ACMEIssuerStatus{URI: res.URI, LastRegisteredEmail: res.Email, LastPrivateKeyHash: res.KeyHash}, res.RecheckAfter
}

// acmeRegisterInput is the registration of an ACME issuer's account, as its spec
// describes it (keyNamespace "" for a ClusterIssuer: the activity substitutes the
// cluster resource namespace).
func acmeRegisterInput(spec *acmev1.ACMEIssuer, keyNamespace string) acme.RegisterInput {
	reg := acme.RegisterInput{
		Account:                     acmeAccountRef(spec, keyNamespace, ""),
		Email:                       spec.Email,
		DisableAccountKeyGeneration: spec.DisableAccountKeyGeneration,
	}
	if eab := spec.ExternalAccountBinding; eab != nil {
		reg.EAB = &acme.EABRef{KeyID: eab.KeyID, SecretName: eab.KeySecretRef.Name, SecretKey: eab.KeySecretRef.Key}
	}
	return reg
}

func checkNonACMEIssuer(ctx workflow.Context, in IssuerInput) kube.Condition {
	switch {
	case in.Spec.SelfSigned != nil:
		return kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.IssuerReasonIsReady}
	case in.Spec.CA != nil:
		var res kube.CAKeyPairCheck
		err := step(ctx, issuerStep, "", actCheckCAKeyPair, kube.CAKeyPairInput{
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
