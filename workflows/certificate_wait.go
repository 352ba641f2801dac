package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// Every wait of a CertificateWorkflow: a durable timer, a signal, or both. Each says
// what it waits for in the status query and the CertState search attribute.

// wait blocks until the timer fires (d > 0; d <= 0 means already due) or a signal asks
// for a new evaluation.
func (c *certificateRun) wait(d time.Duration, phase, waitingFor string) {
	if d <= 0 {
		return
	}
	until := workflow.Now(c.ctx).Add(d)
	c.setPhase(phase, waitingFor, &until)
	c.flushSearchAttributes() // before the timer, so the timer is what the history ends on
	timerCtx, cancel := workflow.WithCancel(c.ctx)
	defer cancel()
	c.block(workflow.NewTimerWithOptions(timerCtx, d, workflow.TimerOptions{Summary: waitingFor}))
}

// waitForSignal blocks until a signal asks for a new evaluation; no timer, no polling.
func (c *certificateRun) waitForSignal(phase, waitingFor string) {
	c.setPhase(phase, waitingFor, nil)
	c.block(nil)
}

// block returns when timer (if any) fires or a signal changes something. Signals that
// change nothing (a spec of a generation already seen) do not wake it.
func (c *certificateRun) block(timer workflow.Future) {
	c.flushSearchAttributes()
	woke := false
	sel := workflow.NewSelector(c.ctx)
	if timer != nil {
		sel.AddFuture(timer, func(workflow.Future) { woke = true })
	}
	c.addSignalHandlers(sel, &woke)
	for !woke {
		sel.Select(c.ctx)
	}
}

// waitForIssuer says that an issuance waits for its issuer, and waits for the signal
// that the issuer changed. A certificate that is still valid (ready is True: only
// renewal or a manual renew asked for the issuance) stays Ready, and the wait ends at
// its expiry at the latest, so Ready turns False when it expires. ready is empty, and
// notAfter nil, on the path without changeSecretFirst.
func (c *certificateRun) waitForIssuer(issuer kube.IssuerInfo, ready kube.Condition, notAfter *time.Time) error {
	waitingFor := fmt.Sprintf("issuer %s to become ready (signal %s)", c.st.Spec.IssuerRef.Name, SignalIssuerChanged)
	if ready.Status == cmmeta.ConditionTrue && notAfter != nil {
		c.status.LastError = "issuer not ready: " + issuer.Message
		if err := c.updateStatus(ready, nil); err != nil {
			return err
		}
		c.wait(notAfter.Sub(workflow.Now(c.ctx)), PhaseWaitingForIssuer, waitingFor+" or expiry at "+notAfter.UTC().Format(time.RFC3339))
		return nil
	}
	if err := c.updateStatus(kube.Condition{Status: cmmeta.ConditionFalse, Reason: "IssuerNotReady", Message: issuer.Message}, nil); err != nil {
		return err
	}
	if c.changes.has(changeRecheckWaits) {
		c.wait(policy.SignalRecheck, PhaseWaitingForIssuer, waitingFor+" or a re-check")
		return nil
	}
	c.waitForSignal(PhaseWaitingForIssuer, waitingFor)
	return nil
}

// inBackoff waits out the failure backoff (upstream's 1h doubling to 32h) if one is
// running, as a named timer that a renew signal cuts short. It reports whether it waited.
func (c *certificateRun) inBackoff() bool {
	if c.st.FailedAttempts == 0 || c.st.PendingRenew || c.st.LastFailureTime == nil {
		return false
	}
	if c.changes.has(changeRequestTrigger) && c.st.FailedRequest != nil && len(c.st.FailedRequest.ChangedFields(requestSpecOf(c.st.Spec))) > 0 {
		// As upstream: a spec changed since the failed attempt is tried at once (the
		// change may be the fix); the next failure backs off again.
		return false
	}
	until := c.st.LastFailureTime.Add(policy.FailureBackoff(c.st.FailedAttempts))
	if !workflow.Now(c.ctx).Before(until) {
		return false
	}
	c.wait(until.Sub(workflow.Now(c.ctx)), PhaseBackoff, fmt.Sprintf("backoff after %d failed attempt(s) until %s (signal %s to retry now)",
		c.st.FailedAttempts, until.UTC().Format(time.RFC3339), SignalRenew))
	return true
}

// waitForOtherUser says that the target Secret belongs to another Certificate, which
// wrote it first and still names it, and looks again after a while: neither overwrites
// the other, and the Secret is this Certificate's once the other lets it go.
func (c *certificateRun) waitForOtherUser(other string) error {
	msg := fmt.Sprintf("Secret %q is used by Certificate %q, which wrote it first: certflow does not let two Certificates overwrite each other's Secret. Give one of them another spec.secretName",
		c.st.Spec.SecretName, other)
	if err := c.updateStatus(kube.Condition{Status: cmmeta.ConditionFalse, Reason: ReasonDuplicateSecretName, Message: msg}, nil); err != nil {
		return err
	}
	c.wait(policy.SignalRecheck, PhaseSecretInUse, fmt.Sprintf("Certificate %s to release Secret %s, or a re-check", other, c.st.Spec.SecretName))
	return nil
}
