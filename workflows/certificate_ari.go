package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/apperr"
	"github.com/certflow/certflow/policy"
)

// ACME Renewal Information (RFC 9773) in the CertificateWorkflow: an ACME issuer's
// certificate is renewed at a point of the window its server suggests (policy.ARI*),
// the window is read again on the renewal timer's way (when the server's Retry-After
// says, bounded), and a window that moves (a revocation) moves the renewal, with an
// Event naming why. Without renewal information (another issuer, the issuer's
// renewalInformationSource None, a server that offers none, or a read that fails) the
// renewal time is renewBefore's, as before.

// ARIState is what the ACME server last said about the certificate in hand, carried
// across runs.
type ARIState struct {
	// NotAfter is the expiry of the certificate the state is about: a state about
	// another certificate is stale.
	NotAfter time.Time
	// Off says the certificate's renewal time is not the server's (OffReason says why).
	Off       bool   `json:",omitempty"`
	OffReason string `json:",omitempty"`
	// CertID is the certificate's ARI identifier; the next order names it in `replaces`.
	CertID         string           `json:",omitempty"`
	Window         policy.ARIWindow `json:",omitempty"`
	ExplanationURL string           `json:",omitempty"`
	// Checked is when the server was last asked, NextCheck when it is asked again.
	Checked   time.Time  `json:",omitempty"`
	NextCheck *time.Time `json:",omitempty"`
	// LastError is why the last read gave no window; Failures counts the failed reads
	// since the last good one (their re-reads back off: policy.ARIErrorRecheckAfter).
	LastError string `json:",omitempty"`
	Failures  int    `json:",omitempty"`
}

// Event reasons of renewal information.
const (
	ReasonRenewalInfo       = "RenewalInfo"
	ReasonRenewalInfoFailed = "RenewalInfoFailed"
)

// ariEnabled reports whether the issuer's certificates are renewed by the server's
// renewal information (an ACME issuer whose renewalInformationSource is not None).
func ariEnabled(issuer kube.IssuerInfo) bool {
	return issuer.Type == kube.IssuerTypeACME && issuer.Spec.ACME != nil &&
		issuer.Spec.ACME.RenewalInformationSource != acmev1.ACMERenewalInformationSourceNone
}

func ariOffReason(issuer kube.IssuerInfo) string {
	if issuer.Type == kube.IssuerTypeACME {
		return "the issuer's renewalInformationSource is None"
	}
	return "the issuer is not an ACME issuer"
}

// currentARI is the renewal information about the certificate in hand, if any.
func (c *certificateRun) currentARI() *ARIState {
	// No changeARI check: a run without the change never sets the state, and the
	// status query, which reads this, may not ask GetVersion.
	if c.st.ARI == nil || c.st.NotAfter == nil || !c.st.ARI.NotAfter.Equal(*c.st.NotAfter) {
		return nil
	}
	return c.st.ARI
}

// ariRenewalTime is the renewal time the server's window sets for the certificate
// valid from notBefore to notAfter, if the run knows a window for it.
func (c *certificateRun) ariRenewalTime(notBefore, notAfter time.Time) (time.Time, bool) {
	a := c.st.ARI
	if a == nil || a.Off || !a.NotAfter.Equal(notAfter) || !a.Window.Valid() {
		return time.Time{}, false
	}
	t, ok := policy.ARIRenewalTime(a.CertID, a.Window, notBefore, notAfter)
	return t.Truncate(time.Second), ok
}

// renewalRule says what set the renewal time of the certificate in hand.
func (c *certificateRun) renewalRule() string {
	if c.st.NotBefore == nil || c.st.NotAfter == nil {
		return ""
	}
	if _, ok := c.ariRenewalTime(*c.st.NotBefore, *c.st.NotAfter); ok {
		return c.ariWindowWords()
	}
	rule := "2/3 of the certificate's lifetime"
	switch spec := c.st.Spec; {
	case spec.RenewBefore != nil:
		rule = "spec.renewBefore " + spec.RenewBefore.Duration.String()
	case spec.RenewBeforePercentage != nil:
		rule = fmt.Sprintf("spec.renewBeforePercentage %d", *spec.RenewBeforePercentage)
	}
	if a := c.currentARI(); a != nil && a.Off && a.OffReason != "" {
		rule += " (no ACME renewal information: " + a.OffReason + ")"
	} else if a != nil && a.LastError != "" {
		rule += " (ACME renewal information failed: " + a.LastError + ")"
	}
	return rule
}

func (c *certificateRun) ariWindowWords() string {
	a := c.st.ARI
	s := fmt.Sprintf("the ACME server's renewal info window [%s, %s]", a.Window.Start.UTC().Format(time.RFC3339), a.Window.End.UTC().Format(time.RFC3339))
	if a.ExplanationURL != "" {
		s += " (explanation: " + a.ExplanationURL + ")"
	}
	return s
}

// ariCheckDue reports whether keepUpToDate reads the renewal information: at every
// evaluation (a renewal timer's, a signal's or a new run's) of a certificate that an
// ACME issuer with renewal information issued in this chain, unless the run has just
// read it. A certificate the chain did not issue (a Secret adopted, a chain an older
// certflow began) gets it from its next renewal on: its issuer is not looked up before
// an issuance is due. Not before the server's Retry-After (ARIState.NextCheck): a burst
// of signals (an issuer changed under thousands of Certificates) keeps the windows last
// read instead of becoming a burst of requests to the CA.
func (c *certificateRun) ariCheckDue() bool {
	if c.st.NotAfter == nil || !c.changes.has(changeARI) {
		return false
	}
	a := c.currentARI()
	if a == nil || a.Off || c.ariFresh {
		return false
	}
	return a.NextCheck == nil || !c.changes.has(changeARIRetryAfter) || !workflow.Now(c.ctx).Before(*a.NextCheck)
}

// refreshARI reads the renewal information of the certificate in hand and queues an
// Event when the renewal time it sets moves. issuer is resolved when nil. A failure
// keeps the window last read (or renewBefore) and is retried later: it never holds up
// a renewal.
func (c *certificateRun) refreshARI(issuer *kube.IssuerInfo) {
	c.ariFresh = true
	now := workflow.Now(c.ctx) // when the read began
	if issuer == nil {
		var info kube.IssuerInfo
		if err := step(c.ctx, kubeStep, "resolve issuer for renewal information", actResolveIssuer, c.issuerRef()).Get(c.ctx, &info); err != nil {
			c.ariFailed(c.currentARI(), *c.st.NotAfter, now, "resolve the issuer: "+apperr.Message(err), c.currentRenewalTime())
			return
		}
		issuer = &info
	}
	if !ariEnabled(*issuer) {
		c.st.ARI = &ARIState{NotAfter: *c.st.NotAfter, Off: true, OffReason: ariOffReason(*issuer), Checked: now}
		return
	}
	kind := acmeStep
	if c.changes.has(changeARIFromOrder) {
		kind = acmeLocalStep // a read: no task queue round trip, one marker
	}
	var res acme.RenewalInfo
	err := step(c.ctx, kind, "read ACME renewal information of Secret "+c.st.Spec.SecretName, actGetRenewalInfo, acme.RenewalInfoInput{
		Account:   acmeAccountRef(issuer.Spec.ACME, issuer.ResourceNamespace, issuer.ACMEAccountURL),
		Namespace: c.st.Namespace, SecretName: c.st.Spec.SecretName,
	}).Get(c.ctx, &res)
	if err != nil {
		res = acme.RenewalInfo{Supported: true, Error: apperr.Message(err)}
	}
	c.applyARI(res, now)
}

// applyOrderARI takes the renewal information the issuance's ACME order read for the
// new certificate, before the issuance writes its status; without it (another issuer,
// an order run by an older worker, a read that did not end) afterIssuanceARI decides.
func (c *certificateRun) applyOrderARI() {
	res := c.orderARI
	c.orderARI = nil
	if res == nil || c.st.NotAfter == nil || !c.changes.has(changeARIFromOrder) {
		return
	}
	c.st.ARI = &ARIState{NotAfter: *c.st.NotAfter}
	c.applyARI(*res, workflow.Now(c.ctx))
}

// applyARI records an answer about the certificate in hand (one that is not about it
// is a failure), read at now: the window and when to read it again, an Event when the
// renewal time it sets is new or moved.
func (c *certificateRun) applyARI(res acme.RenewalInfo, now time.Time) {
	notAfter := *c.st.NotAfter
	before := c.currentRenewalTime()
	prev := c.currentARI()
	switch {
	case res.Error == "" && !res.Supported:
		c.st.ARI = &ARIState{NotAfter: notAfter, Off: true, OffReason: "the ACME server offers no renewal information", Checked: now}
		return
	case res.Error != "":
		c.ariFailed(prev, notAfter, now, res.Error, before)
		return
	case !res.NotAfter.Equal(notAfter):
		c.ariFailed(prev, notAfter, now, "the Secret holds another certificate than the one issued", before)
		return
	}
	moved := prev == nil || prev.Window != res.Window || prev.ExplanationURL != res.ExplanationURL
	if c.changes.has(changeARIFromOrder) {
		// The first window of a certificate is no news (the status and the query name
		// it); a window that moved, or one already over, is.
		moved = moved && (prev != nil && prev.Window.Valid() || !res.Window.End.After(now))
	}
	c.st.ARI = &ARIState{NotAfter: notAfter, CertID: res.CertID, Window: res.Window, ExplanationURL: res.ExplanationURL, Checked: now}
	after := c.currentRenewalTime()
	if after == nil { // no validity carried: nothing to renew by the window
		return
	}
	next := policy.ARINextCheck(now, res.RetryAfter, *after)
	c.st.ARI.NextCheck = &next
	if !moved {
		return
	}
	if !res.Window.End.After(now) {
		c.queueEvent("Warning", ReasonRenewalInfo, fmt.Sprintf("renewing now, as %s has passed (the certificate may have been revoked)", c.ariWindowWords()))
		return
	}
	msg := fmt.Sprintf("renewal at %s set by %s", after.UTC().Format(time.RFC3339), c.ariWindowWords())
	if before != nil && !before.Equal(*after) && prev != nil && prev.Window.Valid() {
		msg += fmt.Sprintf("; the window moved (renewal was at %s)", before.UTC().Format(time.RFC3339))
	}
	c.queueEvent("Normal", ReasonRenewalInfo, msg)
}

// ariFailed records a read of the renewal information that failed: the window last
// read for this certificate stays, and the read is tried again later.
func (c *certificateRun) ariFailed(prev *ARIState, notAfter, now time.Time, why string, renewal *time.Time) {
	st := ARIState{NotAfter: notAfter, Checked: now}
	if prev != nil && !prev.Off {
		st = *prev
	}
	st.Failures++
	interval := policy.ARIErrorRecheck
	if c.changes.has(changeARIErrorBackoff) {
		interval = policy.ARIErrorRecheckAfter(st.Failures)
	}
	next := now.Add(interval)
	if renewal != nil {
		next = policy.ARINextCheck(now, interval, *renewal)
	}
	first := st.LastError == ""
	st.LastError, st.NextCheck = why, &next
	c.st.ARI = &st
	if first {
		c.queueEvent("Warning", ReasonRenewalInfoFailed, "reading the ACME server's renewal information failed, the renewal time stays "+
			c.renewalRule()+": "+why)
	}
}

// waitForRenewal sleeps until renewal. With the server's window in hand it wakes at
// each re-read (ARIState.NextCheck) and returns to an evaluation when the window moved
// the renewal time (changed true), so that the status says so, or when the history is
// long enough that the run should continue as new (short re-reads over a long validity).
func (c *certificateRun) waitForRenewal(renewal time.Time) (changed bool) {
	for {
		until, reread := renewal, false
		if a := c.currentARI(); a != nil && !a.Off && a.NextCheck != nil && a.NextCheck.Before(renewal) {
			until, reread = *a.NextCheck, true
		}
		waitingFor := "renewal at " + renewal.UTC().Format(time.RFC3339)
		if reread {
			waitingFor += " (" + c.renewalRule() + "), renewal information read again at " + until.UTC().Format(time.RFC3339)
		}
		c.wait(until.Sub(workflow.Now(c.ctx)), PhaseReady, waitingFor)
		if !reread || workflow.Now(c.ctx).Before(until) {
			return false // the renewal is due, or a signal asks for an evaluation
		}
		c.refreshARI(nil)
		c.ariFresh = true
		if r := c.currentRenewalTime(); r == nil || !r.Equal(renewal) || len(c.pendingEvents) > 0 {
			return true // the evaluation writes the new renewal time and the Events
		}
		if workflow.GetInfo(c.ctx).GetContinueAsNewSuggested() {
			return false // re-reads every --acme-renewal-info-max-recheck: the run continues as new
		}
	}
}

// ariOrder is what an order renewing the certificate in hand says of it: its ARI
// identifier for `replaces`, and whether its window has begun.
func (c *certificateRun) ariOrder(issuer kube.IssuerInfo) (replaces string, windowOpen bool) {
	a := c.currentARI()
	if a == nil || a.Off || a.CertID == "" || !ariEnabled(issuer) {
		return "", false
	}
	return a.CertID, a.Window.Valid() && !workflow.Now(c.ctx).Before(a.Window.Start)
}

// afterIssuanceARI is what an issuance leaves for the renewal information: an issuer
// that gives it has the next run read it for the new certificate before it sleeps
// (sleep false: do not sleep now), unless the order read it already (applyOrderARI);
// any other issuer's certificate has none.
func (c *certificateRun) afterIssuanceARI() (sleep bool) {
	if c.issuedBy == nil || !c.changes.has(changeARI) {
		return true
	}
	if a := c.currentARI(); a != nil && !a.Checked.IsZero() {
		return true // read by the order
	}
	if ariEnabled(*c.issuedBy) {
		c.st.ARI = &ARIState{NotAfter: *c.st.NotAfter}
		return false
	}
	c.st.ARI = &ARIState{NotAfter: *c.st.NotAfter, Off: true, OffReason: ariOffReason(*c.issuedBy), Checked: workflow.Now(c.ctx)}
	return true
}
