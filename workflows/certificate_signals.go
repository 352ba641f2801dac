package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
)

// certificateSignals are the channels the watcher, the CLI and people signal a
// CertificateWorkflow on (contract.go names them).
type certificateSignals struct {
	spec, renew, secret, issuer, delete, approval workflow.ReceiveChannel
}

func newCertificateSignals(ctx workflow.Context) certificateSignals {
	return certificateSignals{
		spec:     workflow.GetSignalChannel(ctx, SignalSpec),
		renew:    workflow.GetSignalChannel(ctx, SignalRenew),
		secret:   workflow.GetSignalChannel(ctx, SignalSecretChanged),
		issuer:   workflow.GetSignalChannel(ctx, SignalIssuerChanged),
		delete:   workflow.GetSignalChannel(ctx, SignalDelete),
		approval: workflow.GetSignalChannel(ctx, SignalApproval),
	}
}

// addSignalHandlers makes sel receive every signal; woke is set when one asks for a new
// evaluation.
func (c *certificateRun) addSignalHandlers(sel workflow.Selector, woke *bool) {
	receive(c.ctx, sel, c.signals.spec, woke, c.onSpec)
	receive(c.ctx, sel, c.signals.renew, woke, func(RenewSignal) bool { c.askRenewal(); return true })
	receive(c.ctx, sel, c.signals.secret, woke, func(SecretChangedSignal) bool { return true })
	receive(c.ctx, sel, c.signals.issuer, woke, func(IssuerChangedSignal) bool { return true })
	receive(c.ctx, sel, c.signals.delete, woke, c.onDelete)
	receive(c.ctx, sel, c.signals.approval, woke, func(s ApprovalSignal) bool {
		return c.awaitingRequest != "" && s.Request == c.awaitingRequest
	})
}

// askRenewal notes a renewal asked in this run (renew signal, manual token).
func (c *certificateRun) askRenewal() {
	c.st.PendingRenew, c.renewCarried = true, false
}

// receive makes sel receive signals of type T on ch; handle applies one and says
// whether it wakes the workflow (woke).
func receive[T any](ctx workflow.Context, sel workflow.Selector, ch workflow.ReceiveChannel, woke *bool, handle func(T) bool) {
	sel.AddReceive(ch, func(ch workflow.ReceiveChannel, _ bool) {
		var s T
		ch.Receive(ctx, &s)
		*woke = handle(s) || *woke
	})
}

// drainSignals applies every signal already delivered, without blocking.
func (c *certificateRun) drainSignals() {
	for {
		var spec SpecSignal
		var renew RenewSignal
		var secret SecretChangedSignal
		var issuer IssuerChangedSignal
		var del DeleteSignal
		var approval ApprovalSignal
		switch {
		case c.signals.spec.ReceiveAsync(&spec):
			c.onSpec(spec)
		case c.signals.renew.ReceiveAsync(&renew):
			c.askRenewal()
		case c.signals.secret.ReceiveAsync(&secret), c.signals.issuer.ReceiveAsync(&issuer), c.signals.approval.ReceiveAsync(&approval):
			// Only wake-ups: the evaluation that follows reads the current state.
		case c.signals.delete.ReceiveAsync(&del):
			c.onDelete(del)
		default:
			return
		}
	}
}

// onSpec applies a newer generation (or a new object with the same name); it reports
// whether the workflow should evaluate again.
func (c *certificateRun) onSpec(s SpecSignal) bool {
	if s.UID != "" && s.UID != c.st.UID && c.st.UID != "" && c.changes.has(changeObjectReplaced) {
		c.replaceObject(s)
		return true
	}
	changed := false
	if s.UID != c.st.UID && s.UID != "" {
		c.st.UID, c.st.Revision, c.st.IssuedGeneration = s.UID, s.Revision, 0
		c.st.FailedAttempts, c.st.LastFailureTime = 0, nil
		changed = true
	}
	if s.Generation > c.st.Generation {
		c.st.Generation, c.st.Spec, c.st.Labels = s.Generation, s.Spec, s.Labels
		c.st.Spec.Keystores = kube.RedactKeystorePasswords(s.Spec.Keystores)
		changed = true
	}
	if c.onManualToken(s.ManualRenewToken) {
		changed = true
	}
	return changed
}

// onManualToken applies the manual renewal token of a spec signal ("" for none) and
// says whether the workflow should evaluate again. A new token asks for a renewal. The
// token last acted on, once a status write found its condition gone, is either a late
// relay of an older state or a request written again within the same second: the next
// evaluation reads the Certificate to tell (recheckManualRenewal).
func (c *certificateRun) onManualToken(token string) bool {
	switch {
	case token == "":
		return false
	case token != c.st.LastManualToken:
		c.st.LastManualToken, c.st.ManualTokenGone = token, false
		c.askRenewal()
		return true
	case c.st.ManualTokenGone && !c.st.RecheckManual && c.changes.has(changeManualSameSecond):
		c.st.RecheckManual = true
		return true
	}
	return false
}

// recheckManualRenewal reads the Certificate's manual renewal request when a signal
// repeated a token whose condition was gone: a condition there now was written after
// the workflow's status write removed the old one, so it is a new request.
func (c *certificateRun) recheckManualRenewal() error {
	if !c.st.RecheckManual {
		return nil
	}
	var token string
	ref := kube.CertificateIdentity{Namespace: c.st.Namespace, Name: c.st.Name, UID: c.st.UID}
	if err := step(c.ctx, kubeStep, "read the manual renewal request of Certificate "+c.st.Name,
		actReadManualRenewToken, ref).Get(c.ctx, &token); err != nil {
		return err
	}
	c.st.RecheckManual = false
	if token != "" {
		c.st.LastManualToken, c.st.ManualTokenGone = token, false
		c.askRenewal()
	}
	return nil
}

// replaceObject takes over a new Certificate of the same name (deleted and created
// again, as kubectl replace --force, Argo CD or helm --force do): a new object whatever
// its generation, with none of the old one's issuance state, and alive even when the
// old one's deletion was received first.
func (c *certificateRun) replaceObject(s SpecSignal) {
	c.st.UID, c.st.Generation, c.st.Spec, c.st.Labels = s.UID, s.Generation, s.Spec, s.Labels
	c.st.Spec.Keystores = kube.RedactKeystorePasswords(s.Spec.Keystores)
	c.st.Revision, c.st.IssuedGeneration = s.Revision, 0
	c.st.FailedAttempts, c.st.LastFailureTime = 0, nil
	c.st.IssuedRequest, c.st.FailedRequest = nil, nil
	c.onManualToken(s.ManualRenewToken)
	c.deleted = false
}

// superseded says whether the issuance that started at generation gen of the object
// uid is moot: the Certificate was deleted, changed or replaced since.
func (c *certificateRun) superseded(uid string, gen int64) bool {
	if c.deleted || c.st.Generation != gen {
		return true
	}
	return c.st.UID != uid && c.changes.has(changeObjectReplaced)
}

func (c *certificateRun) onDelete(s DeleteSignal) bool {
	if s.UID == "" || s.UID == c.st.UID {
		c.deleted = true
		return true
	}
	return false
}
