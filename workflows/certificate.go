package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/policy"
)

// The CertificateWorkflow, as a story: run is the loop of one run, reconcile one
// evaluation of the Certificate, issue (certificate_issue.go) one issuance. Signals
// are in certificate_signals.go, waits in certificate_wait.go, status and search
// attributes in certificate_status.go, the next-key Secret in certificate_nextkey.go,
// the ACME child in certificate_acme.go, activity inputs in certificate_inputs.go.

// slowRSAKeySize is the RSA key size from which generation runs as a regular activity.
const slowRSAKeySize = 4096

// CertificateWorkflow is the entity loop of one Certificate: evaluate the trigger
// policies, issue when needed, keep status true, sleep on a durable timer until renewal,
// and wake on signals (spec, renew, secret-changed, issuer-changed, delete).
func CertificateWorkflow(ctx workflow.Context, in CertificateInput) error {
	c := newCertificateRun(ctx, in)
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return c.view(), nil }); err != nil {
		return err
	}
	return c.run()
}

// certificateRun is one run of a CertificateWorkflow: the state it carries to the next
// run (st) and what only this run needs.
type certificateRun struct {
	ctx     workflow.Context
	st      CertificateInput
	changes changeSet // the versioned changes in effect (versions.go)
	status  Status
	signals certificateSignals

	deleted bool
	// cycleDone says that this cycle issued: the next wake-up begins the next cycle
	// (nextCycle), or continues as new (runIsFull).
	cycleDone bool
	// cycle counts the cycles this run began after its first.
	cycle  int
	search searchAttributeState
	// pendingEvents go out with the next status write.
	pendingEvents []kube.Event
	// awaitingRequest is the CertificateRequest whose approval the run waits for.
	awaitingRequest string
	// unwrittenIssuing is the Issuing=True condition of an issuance that has not been
	// written yet: an issuance that completes within one workflow task goes from Ready
	// to issued in one status write.
	unwrittenIssuing *kube.Condition
	nextKey          nextKeyState
	// renewCarried says that PendingRenew came with the run's input and no renewal was
	// asked in this run since: an issuance a lost task of this run made came after it.
	renewCarried bool
	// http01Overrides are the HTTP-01 solver annotations the Certificate had when this
	// run made its request (kube.CreatedRequest), for its ACME order.
	http01Overrides map[string]string
	// issuedBy is the issuer of this run's issuance; orderARI is the renewal
	// information its ACME order read; ariFresh says that the renewal information was
	// read since the last evaluation (certificate_ari.go).
	issuedBy *kube.IssuerInfo
	orderARI *acme.RenewalInfo
	ariFresh bool
	// ariMovedRenewal says that the sleep after this run's issuance ended on renewal
	// information that moved the renewal: the run evaluates once more before it
	// continues as new.
	ariMovedRenewal bool
}

func newCertificateRun(ctx workflow.Context, in CertificateInput) *certificateRun {
	changes := resolveChanges(ctx, certificateChanges, in.Changes)
	// A chain an older watcher started may carry inline keystore passwords: they stay
	// out of this run's activity inputs and out of the next run's input.
	in.Spec.Keystores = kube.RedactKeystorePasswords(in.Spec.Keystores)
	return &certificateRun{
		ctx:     ctx,
		st:      in,
		changes: changes,
		status:  Status{Phase: PhaseEvaluating},
		signals: newCertificateSignals(ctx),

		renewCarried: in.PendingRenew,
	}
}

func (c *certificateRun) run() error {
	for {
		c.drainSignals()
		if c.deleted {
			c.setPhase(PhaseDeleted, "nothing: the Certificate was deleted", nil)
			return nil
		}
		if c.cycleDone && !c.ariMovedRenewal {
			// A wake-up after an issuance: the renewal goes on in this run while its
			// history is short; each cycle is then one workflow task of 8 events.
			if c.runIsFull() {
				return c.continueAsNew()
			}
			c.nextCycle()
		}
		if workflow.GetInfo(c.ctx).GetContinueAsNewSuggested() {
			return c.continueAsNew()
		}
		c.ariMovedRenewal = false
		issued, err := c.reconcile()
		if err != nil {
			// An activity gave up on a transient error after its retries: say so, then
			// try again later or as soon as something changes.
			c.status.LastError = err.Error()
			c.wait(errorRetryDelay, PhaseBackoff, "retry after error: "+err.Error())
			continue
		}
		if issued {
			// Sleep in this run and continue as new at the next wake-up, in a workflow
			// task of its own: a signal that races with a task ending in continue-as-new
			// makes the server refuse that task, and the issuance's local activities
			// would all run again. A wake-up by renewal information that moved the
			// renewal evaluates once more in this run: its status write carries the Event.
			c.ariMovedRenewal = c.sleepAfterIssuance()
			c.cycleDone = true
		}
	}
}

// reconcile evaluates the Certificate once. It either issues (issued == true), or
// waits (for a timer or a signal) and returns so that the loop evaluates again.
func (c *certificateRun) reconcile() (issued bool, err error) {
	if err := c.recheckManualRenewal(); err != nil {
		return false, err
	}
	secretFirst := c.changes.has(changeSecretFirst)
	var issuer kube.IssuerInfo
	var ok bool
	if !secretFirst {
		if issuer, ok, err = c.readyIssuer(kube.Condition{}, nil); err != nil || !ok {
			return false, err
		}
	}

	secret, readIssuer, err := c.inspect(secretFirst)
	if err != nil {
		return false, err
	}
	if secret.UsedBy != "" && c.changes.has(changeSecretInUse) {
		return false, c.waitForOtherUser(secret.UsedBy)
	}
	c.adoptLostRevision(secret)
	renewal := c.renewalTime(secret)
	trig := c.evaluate(secret, renewal)
	ready := readyCondition(trig)
	c.rememberValidity(secret)

	if !trig.Issue {
		return false, c.keepUpToDate(secret, ready, renewal)
	}
	if c.inBackoff() {
		return false, nil
	}
	if secretFirst {
		if readIssuer != nil {
			issuer, ok, err = c.issuerIfReady(*readIssuer, ready, c.st.NotAfter)
		} else {
			issuer, ok, err = c.readyIssuer(ready, c.st.NotAfter)
		}
		if err != nil || !ok {
			return false, err
		}
	}
	c.st.PendingRenew = false
	c.issuedBy = &issuer
	if err := c.issue(issuer, trig, ready); errors.Is(err, errSuperseded) {
		return false, nil
	} else if err != nil {
		return false, c.recordFailure(ready, err)
	}
	return true, nil
}

// inspect reads what the target Secret holds (policy.SecretState). An evaluation that
// will likely issue reads the issuer in the same step (issuer is then not nil): one
// local activity, one history event, instead of two.
func (c *certificateRun) inspect(secretFirst bool) (secret policy.SecretState, issuer *kube.IssuerInfo, err error) {
	if !secretFirst || !c.changes.has(changeReadTogether) || !likelyIssues(c.st, c.currentRenewalTime(), workflow.Now(c.ctx)) {
		err = step(c.ctx, kubeStep, "inspect Secret "+c.st.Spec.SecretName, actInspectSecret, c.inspectSecretInput()).Get(c.ctx, &secret)
		return secret, nil, err
	}
	var read kube.Evaluation
	summary := "inspect Secret " + c.st.Spec.SecretName + ", " + c.issuerSummary()
	in := kube.EvaluationInput{Secret: c.inspectSecretInput(), Issuer: c.issuerRef()}
	if err = step(c.ctx, kubeStep, summary, actInspectSecretAndIssuer, in).Get(c.ctx, &read); err != nil {
		return secret, nil, err
	}
	return read.Secret, &read.Issuer, nil
}

// likelyIssues tells, from the carried state alone (before the Secret is read),
// whether an evaluation at now will likely issue: no certificate is known yet, or its
// renewal is due, or a renewal was asked, or the spec changed since the last issuance,
// or the last attempt failed. A wrong guess costs a step: the issuer read for nothing,
// or read in a step of its own.
func likelyIssues(st CertificateInput, renewal *time.Time, now time.Time) bool {
	if st.NotAfter == nil || renewal == nil || st.PendingRenew || st.Generation != st.IssuedGeneration || st.FailedAttempts > 0 {
		return true
	}
	return !renewal.After(now)
}

// adoptLostRevision takes over a revision that an earlier task issued and lost before
// it wrote the status, maybe also before it deleted its next-key Secret: that Secret
// is deleted with this status.
func (c *certificateRun) adoptLostRevision(secret policy.SecretState) {
	if secret.Revision <= c.st.Revision || !secret.KeyMatchesCertificate {
		return
	}
	c.st.Revision = secret.Revision
	if c.renewCarried && c.st.PendingRenew && c.changes.has(changeLostRenewal) {
		// The renewal asked before this run began: the lost task issued after it.
		c.st.PendingRenew = false
	}
	adopted := requestSpecOf(c.st.Spec)
	c.st.IssuedRequest = &adopted
	if !rotationNever(c.st.Spec) {
		c.nextKey.adopt(conventions.NextPrivateKeySecretName(c.st.Name))
	}
}

// evaluate runs the trigger policies on what the Secret holds.
func (c *certificateRun) evaluate(secret policy.SecretState, renewal time.Time) policy.Trigger {
	desired := desiredOf(c.st.Spec, renewal, c.st.IssuedRequest)
	if !c.changes.has(changeRequestTrigger) {
		desired = desiredBefore(c.st.Spec, renewal)
	}
	desired.ExactNames = !c.changes.has(changeRealCANames)
	return policy.Evaluate(workflow.Now(c.ctx), desired, secret, c.st.PendingRenew)
}

// rememberValidity carries the validity of a certificate the Secret holds.
func (c *certificateRun) rememberValidity(secret policy.SecretState) {
	if secret.Exists && secret.HasCertificate && secret.CertificateError == "" {
		c.st.NotBefore, c.st.NotAfter = &secret.Certificate.NotBefore, &secret.Certificate.NotAfter
	}
}

// keepUpToDate is an evaluation that needs no new certificate: the Secret's keystores,
// extra formats or template metadata are rewritten from its key pair when they are
// stale (a refresh that fails backs off like a failed issuance), the status is written,
// and the run sleeps until renewal.
func (c *certificateRun) keepUpToDate(secret policy.SecretState, ready kube.Condition, renewal time.Time) error {
	c.st.PendingRenew = false
	if !secret.OutputsUpToDate {
		if c.inBackoff() {
			return nil
		}
		if err := step(c.ctx, kubeStep, "refresh keystores, output formats and template metadata of Secret "+c.st.Spec.SecretName,
			actRefreshSecretOutputs, c.refreshOutputsInput()).Get(c.ctx, nil); err != nil {
			return c.recordFailure(ready, err)
		}
		c.st.FailedAttempts, c.st.LastFailureTime, c.status.LastError = 0, nil, ""
	}
	if c.ariCheckDue() {
		// The server's renewal information may set another renewal time, maybe now (a
		// revoked certificate): then the next evaluation issues, and its status write
		// carries the Event.
		c.refreshARI(nil)
		if r := c.currentRenewalTime(); r != nil {
			renewal = *r
		}
		if !renewal.After(workflow.Now(c.ctx)) {
			return nil
		}
	}
	c.ariFresh = false
	if err := c.updateStatus(ready, nil); err != nil {
		return err
	}
	if err := c.deleteNextKey(); err != nil {
		return err
	}
	c.waitForRenewal(renewal)
	return nil
}

// sleepAfterIssuance waits until the renewal time of what was just issued, without
// reading back what the issuance wrote, unless a signal already asks for more.
// evaluate says that the wait ended on renewal information that changed the renewal.
func (c *certificateRun) sleepAfterIssuance() (evaluate bool) {
	if c.st.PendingRenew || c.st.Generation != c.st.IssuedGeneration || c.st.NotBefore == nil || c.st.NotAfter == nil {
		return false
	}
	if !c.afterIssuanceARI() {
		return false // the next run reads the new certificate's renewal information first
	}
	return c.waitForRenewal(*c.currentRenewalTime())
}

// readyIssuer resolves the Certificate's issuer; one that is not ready is waited for
// (waitForIssuer, with ready and notAfter), and ok is false.
func (c *certificateRun) readyIssuer(ready kube.Condition, notAfter *time.Time) (issuer kube.IssuerInfo, ok bool, err error) {
	if err = step(c.ctx, kubeStep, c.issuerSummary(), actResolveIssuer, c.issuerRef()).Get(c.ctx, &issuer); err != nil {
		return issuer, false, err
	}
	return c.issuerIfReady(issuer, ready, notAfter)
}

// issuerIfReady is readyIssuer for an issuer already read.
func (c *certificateRun) issuerIfReady(issuer kube.IssuerInfo, ready kube.Condition, notAfter *time.Time) (kube.IssuerInfo, bool, error) {
	if !issuer.Ready {
		return issuer, false, c.waitForIssuer(issuer, ready, notAfter)
	}
	return issuer, true, nil
}

// issuerSummary names the step that reads the issuer: "resolve ClusterIssuer ca".
func (c *certificateRun) issuerSummary() string {
	ref := c.st.Spec.IssuerRef
	return "resolve " + defaulted(ref.Kind, cmapi.IssuerKind) + " " + ref.Name
}

// maxRunHistoryLength is the history length from which a run continues as new at the
// wake-up after its issuance rather than renew: replaying it (after the worker's cache
// let it go) stays cheap. About 20 CA renewals, or a handful of ACME ones.
const maxRunHistoryLength = 160

// runIsFull tells, at a wake-up after an issuance, whether the run ends there
// (continue-as-new, in a task that runs no step, so that a racing signal cannot make
// the server refuse a task whose local activities would then all run again): its
// history is long, or this worker knows changes the run lacks (an older certflow
// started it), or the run predates renewals within a run.
func (c *certificateRun) runIsFull() bool {
	if !c.changes.has(changeRenewWithinRun) || workflow.GetInfo(c.ctx).GetCurrentHistoryLength() >= maxRunHistoryLength {
		return true
	}
	if c.changes.all() {
		return false
	}
	// Asked under an ID of its own at each wake-up: a history recorded where the run
	// went on (an older certflow knew no more changes) replays as it went.
	return workflow.GetVersion(c.ctx, fmt.Sprintf("adopt-changes-%d", c.cycle), workflow.DefaultVersion, 1) == 1
}

// nextCycle begins the next cycle in this run, from what a continued run would start
// with: the carried state, and none of the last issuance's.
func (c *certificateRun) nextCycle() {
	*c = certificateRun{
		ctx: c.ctx, st: c.st, changes: c.changes, signals: c.signals, search: c.search,
		status: Status{Phase: PhaseEvaluating}, pendingEvents: c.pendingEvents,
		renewCarried: c.st.PendingRenew, cycle: c.cycle + 1,
	}
}

// continueAsNew ends the run, unless the Certificate was deleted meanwhile: the next
// run carries the state and every versioned change this worker knows.
func (c *certificateRun) continueAsNew() error {
	c.drainSignals()
	if c.deleted {
		return nil
	}
	next := c.st
	next.Changes = len(certificateChanges)
	return workflow.NewContinueAsNewError(c.ctx, CertificateWorkflow, next)
}
