package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/policy"
)

// What a CertificateWorkflow tells the world: the Certificate's status, the answer to
// the status query, and the search attributes of the Temporal UI's list.

// searchAttributeState is what the run last upserted.
type searchAttributeState struct {
	dirty     bool   // CertState changed since the last upsert
	lastState string // CertState as last upserted
}

// updateStatus writes the status the workflow owns: conditions plus the carried state.
// Events queued in pendingEvents go out with it, saving an API round trip each.
func (c *certificateRun) updateStatus(ready kube.Condition, issuing *kube.Condition) error {
	var res kube.CertificateStatusResult
	if err := step(c.ctx, kubeStep, "update Certificate status: "+ready.Reason,
		actUpdateCertificateStatus, c.statusInput(ready, issuing)).Get(c.ctx, &res); err != nil {
		return err
	}
	c.pendingEvents = nil
	return c.statusWritten(res)
}

// statusWritten takes in what a status write left behind.
func (c *certificateRun) statusWritten(res kube.CertificateStatusResult) error {
	if err := c.deleteClearedNextKey(res.ClearedNextPrivateKey); err != nil {
		return err
	}
	if res.Revision > c.st.Revision {
		c.st.Revision = res.Revision
	}
	if res.IssuingSince != "" {
		c.st.LastManualToken = res.IssuingSince
	}
	c.st.ManualTokenGone = res.IssuingSince == "" && c.st.LastManualToken != ""
	return nil
}

// writeIssuing writes the Issuing=True condition of the running issuance, once.
func (c *certificateRun) writeIssuing(ready kube.Condition) error {
	if c.unwrittenIssuing == nil {
		return nil
	}
	issuing := c.unwrittenIssuing
	c.unwrittenIssuing = nil
	return c.updateStatus(ready, issuing)
}

// view is the answer to the status query: what the run is doing (status), plus what
// the carried state says about the certificate.
func (c *certificateRun) view() Status {
	v := c.status
	v.UID = c.st.UID
	v.Revision, v.Generation, v.NotAfter, v.FailedAttempts = c.st.Revision, c.st.Generation, c.st.NotAfter, c.st.FailedAttempts
	v.RenewalTime = c.currentRenewalTime()
	v.RenewalRule = c.renewalRule()
	return v
}

// renewalTime is when the certificate in the Secret is due for renewal (zero if none).
func (c *certificateRun) renewalTime(s policy.SecretState) time.Time {
	if !s.Exists || !s.HasCertificate || s.CertificateError != "" {
		return time.Time{}
	}
	if t, ok := c.ariRenewalTime(s.Certificate.NotBefore, s.Certificate.NotAfter); ok {
		return t
	}
	return policy.RenewalTime(s.Certificate.NotBefore, s.Certificate.NotAfter, durationPtr(c.st.Spec.RenewBefore), c.st.Spec.RenewBeforePercentage)
}

// currentRenewalTime is when the certificate in hand is due for renewal, if one is.
func (c *certificateRun) currentRenewalTime() *time.Time {
	if c.st.NotBefore == nil || c.st.NotAfter == nil {
		return nil
	}
	if t, ok := c.ariRenewalTime(*c.st.NotBefore, *c.st.NotAfter); ok {
		return &t
	}
	r := policy.RenewalTime(*c.st.NotBefore, *c.st.NotAfter, durationPtr(c.st.Spec.RenewBefore), c.st.Spec.RenewBeforePercentage)
	return &r
}

// setPhase records what the workflow does for the status query and, when the phase
// changes, for the CertState search attribute (upserted on change only).
func (c *certificateRun) setPhase(phase, waitingFor string, until *time.Time) {
	c.status.Phase, c.status.WaitingFor, c.status.Until = phase, waitingFor, until
	if phase == c.search.lastState {
		return
	}
	c.search.lastState = phase
	c.search.dirty = true
}

// flushSearchAttributes upserts CertState (and the times) once before the workflow
// blocks, not at every phase it passes through within one task: each upsert is a
// history event and a visibility write. IssuerName goes along when the spec names
// another issuer than the attribute does.
func (c *certificateRun) flushSearchAttributes() {
	issuer := c.st.Spec.IssuerRef.Name
	issuerChanged := false
	if c.changes.has(changeIssuerNameAttribute) {
		cur, _ := workflow.GetTypedSearchAttributes(c.ctx).GetKeyword(AttrIssuerName)
		issuerChanged = cur != issuer
	}
	if !c.search.dirty && !issuerChanged {
		return
	}
	c.search.dirty = false
	updates := []temporal.SearchAttributeUpdate{AttrCertState.ValueSet(c.search.lastState)}
	if issuerChanged {
		updates = append(updates, AttrIssuerName.ValueSet(issuer))
	}
	if c.st.NotAfter != nil {
		updates = append(updates, AttrNotAfter.ValueSet(*c.st.NotAfter))
	}
	if r := c.currentRenewalTime(); r != nil {
		updates = append(updates, AttrRenewalTime.ValueSet(*r))
	}
	// Visibility is best effort: a namespace without our attributes must not stop issuance.
	_ = workflow.UpsertTypedSearchAttributes(c.ctx, updates...)
}

// queueEvent queues an Event on the Certificate; it goes out with the next status write.
func (c *certificateRun) queueEvent(typ, reason, message string) {
	c.pendingEvents = append(c.pendingEvents, kube.Event{Type: typ, Reason: reason, Message: message})
}
