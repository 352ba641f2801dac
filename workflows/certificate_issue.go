package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/issuance"
	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/apperr"
	"github.com/certflow/certflow/policy"
)

// errSuperseded ends an issuance attempt that a newer spec (or a deletion) made moot.
// It is not a failure: the loop evaluates the Certificate afresh.
var errSuperseded = errors.New("issuance superseded by a newer generation")

// issue runs one issuance: the private key (a fresh one in the next-key Secret, or the
// current one under rotationPolicy Never), a CSR, the CertificateRequest of the next
// revision, its approval, the signature, the target Secret and the status. Key bytes
// stay in Secrets throughout.
func (c *certificateRun) issue(issuer kube.IssuerInfo, trig policy.Trigger, ready kube.Condition) error {
	startUID, startGeneration := c.st.UID, c.st.Generation
	c.startIssuing(trig)
	defer func() { c.unwrittenIssuing = nil }()
	if c.issuesInOneStep(issuer) {
		revision := c.st.Revision + 1
		res, err := c.issueInOneStep(issuer, revision, trig)
		if err != nil {
			return err
		}
		if !res.ApproverOff {
			// The step wrote the status with its events.
			c.issued(revision, res.Facts)
			c.pendingEvents = nil
			if err := c.statusWritten(res.Status); err != nil {
				return err
			}
			if !res.CleanedUp {
				return c.deleteOldRequests(revision, issuer)
			}
			c.st.HistoryLimit = revisionHistoryLimit(c.st.Spec)
			return nil
		}
		// A person approves: the issuance waits, with its key in a Secret.
	}
	if !issuesWithinTask(issuer, c.st.Spec) {
		if err := c.writeIssuing(ready); err != nil {
			return err
		}
	}

	key, err := c.privateKey()
	if err != nil {
		return err
	}
	var csr []byte
	if err := step(c.ctx, kubeStep, "build CSR", actCreateCSR, pki.CreateCSRInput{Spec: c.st.Spec, Key: key}).Get(c.ctx, &csr); err != nil {
		return err
	}
	revision := c.st.Revision + 1
	req, err := c.createRequest(revision, csr, key, trig)
	if err != nil {
		return err
	}
	approval, err := c.awaitApproval(&req, issuer, startUID, startGeneration, ready)
	if err != nil {
		return err
	}
	if approval.Denied {
		return c.denied(req, issuer, approval)
	}
	var signed pki.SignedCertificate
	if issuer.Type == kube.IssuerTypeExternal {
		// The request's status is its signer's to write.
		if signed, err = c.awaitSigner(req, approval, startUID, startGeneration); err != nil {
			return err
		}
	} else {
		if signed, err = c.sign(issuer, csr, key, req); err != nil {
			if ferr := c.failRequest(req, cmapi.CertificateRequestReasonFailed, apperr.Message(err)); ferr != nil {
				return ferr
			}
			return err
		}
		if err := step(c.ctx, kubeStep, "record certificate on "+req.Name,
			actSetCertificateRequestStatus, issuance.IssuedRequestStatus(req, signed, approval)).Get(c.ctx, nil); err != nil {
			return err
		}
	}
	var facts policy.IssuedFacts
	if err := step(c.ctx, kubeStep, "write Secret "+c.st.Spec.SecretName,
		actWriteCertificateSecret, c.writeSecretInput(key, signed, revision)).Get(c.ctx, &facts); err != nil {
		return err
	}
	// Deleted before the final status write: if the task is lost in between, it is
	// retried from the same point (or the status still names the Secret and the next
	// status write deletes it again).
	if err := c.deleteNextKey(); err != nil {
		return err
	}
	if err := c.deleteOldRequests(revision, issuer); err != nil {
		return err
	}
	c.issued(revision, facts)
	c.applyOrderARI()
	return c.updateStatus(upToDate, nil)
}

// issuesInOneStep reports whether the issuance runs as one activity (IssueWithinTask):
// a CA or SelfSigned signature with a new key that is quick to make. A key kept under
// rotationPolicy Never is read from the target Secret step by step.
func (c *certificateRun) issuesInOneStep(issuer kube.IssuerInfo) bool {
	return c.changes.has(changeIssueWithinTask) && issuesWithinTask(issuer, c.st.Spec) && !rotationNever(c.st.Spec)
}

// issueInOneStep runs the whole issuance of revision in one local activity, the status
// write included: one marker in the history, its steps in the summary and the result.
// Its key never leaves the worker's memory until the target Secret holds it.
func (c *certificateRun) issueInOneStep(issuer kube.IssuerInfo, revision int, why policy.Trigger) (issuance.Result, error) {
	spec := c.st.Spec
	alg, size, enc := privateKeySpec(spec)
	in := issuance.Input{
		Key:     keys.GenerateKeyInput{Namespace: c.st.Namespace, SecretName: spec.SecretName, Algorithm: alg, Size: size, Encoding: enc},
		CSR:     pki.CreateCSRInput{Spec: spec},
		Request: c.createRequestInput(revision, nil, keys.KeyRef{}),
		Secret:  c.writeSecretInput(keys.KeyRef{}, pki.SignedCertificate{}, revision),
	}
	signWith := "self-sign"
	if issuer.Type == kube.IssuerTypeSelfSigned {
		s := c.selfSignInput(issuer, nil, keys.KeyRef{})
		in.SelfSign = &s
	} else {
		s := c.caSignInput(issuer, nil)
		in.CA = &s
		signWith = fmt.Sprintf("sign with CA %s/%s", s.CA.Namespace, s.CA.SecretName)
	}
	request := conventions.CertificateRequestName(c.st.Name, revision)
	// The status once issued, with the events of the issuance: the step writes it last,
	// with the new certificate's validity and renewal time.
	rev := revision
	in.Status = &kube.CertificateStatusInput{
		Namespace: c.st.Namespace, Name: c.st.Name, UID: c.st.UID, ObservedGeneration: c.st.Generation, Ready: upToDate, Revision: &rev,
		Events: append(append([]kube.Event{}, c.pendingEvents...),
			kube.Event{Type: "Normal", Reason: "Requested", Message: fmt.Sprintf("Created new CertificateRequest resource %q", request)},
			kube.Event{Type: "Normal", Reason: cmapi.ReasonIssued, Message: issuedMessage}),
	}
	in.RenewBefore, in.RenewBeforePercentage = durationPtr(spec.RenewBefore), spec.RenewBeforePercentage
	if c.changes.has(changeCleanupWithinIssuance) {
		if from, to := requestsToDelete(revision, revisionHistoryLimit(spec), c.st.HistoryLimit); to >= from {
			cleanup := c.cleanupRequestsInput(from, to, issuer)
			in.Cleanup = &cleanup
		}
	}
	summary := OneStepIssuanceSummary(fmt.Sprintf("%s %d", alg, size), request, signWith, spec.SecretName, why.Reason, why.Message)
	var res issuance.Result
	err := step(c.ctx, kubeStep, summary, actIssueWithinTask, in).Get(c.ctx, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == pki.ErrTypeCASecretNotFound || appErr.Type() == pki.ErrTypeInvalidCAKeyPair) {
		c.askIssuerToRecheck()
	}
	if err != nil || res.ApproverOff {
		return res, err
	}
	if res.Request.LabelsRead {
		c.st.Labels = res.Request.CertificateLabels
	}
	return res, nil
}

// startIssuing says that an issuance begins. Issuing=True is written only when the
// issuance leaves this workflow task (a slow key, a person's approval, an external
// issuer): a CA or SelfSigned issuance that completes in the task is invisible in
// between anyway, and skipping the write saves kube-apiserver a read, a write and a
// watch event per certificate. A task lost midway is retried from the same point and
// adopts the next-key Secret it made.
func (c *certificateRun) startIssuing(trig policy.Trigger) {
	c.setPhase(PhaseIssuing, "issuance: "+trig.Message, nil)
	c.queueEvent("Normal", cmapi.ReasonIssuing, trig.Message)
	c.unwrittenIssuing = &kube.Condition{Status: cmmeta.ConditionTrue, Reason: trig.Reason, Message: trig.Message}
}

// issuesWithinTask reports whether an issuance runs start to end inside one workflow
// task: local activities only, nobody to wait for.
func issuesWithinTask(issuer kube.IssuerInfo, spec cmapi.CertificateSpec) bool {
	if issuer.Type != kube.IssuerTypeCA && issuer.Type != kube.IssuerTypeSelfSigned {
		return false
	}
	alg, size, _ := privateKeySpec(spec)
	return !(alg == cmapi.RSAKeyAlgorithm && size >= slowRSAKeySize && !rotationNever(spec))
}

// privateKey returns the key to issue with. Under rotationPolicy Never the key in the
// target Secret is reused when it still matches the spec; otherwise a new key goes into
// the next-key Secret.
func (c *certificateRun) privateKey() (key keys.KeyRef, err error) {
	spec := c.st.Spec
	alg, size, enc := privateKeySpec(spec)
	if rotationNever(spec) {
		var cur keys.ReadKeyResult
		if err := step(c.ctx, kubeStep, "read the current private key of Secret "+spec.SecretName, actReadKeyRef,
			keys.ReadKeyInput{Namespace: c.st.Namespace, SecretName: spec.SecretName}).Get(c.ctx, &cur); err != nil {
			return keys.KeyRef{}, err
		}
		if cur.Valid && cur.Ref.Algorithm == alg && cur.Ref.Size == size && cur.Ref.Encoding == enc {
			return cur.Ref, nil
		}
	}
	nextKey := conventions.NextPrivateKeySecretName(c.st.Name)
	kind := kubeStep
	if alg == cmapi.RSAKeyAlgorithm && size >= slowRSAKeySize {
		kind = slowKeyStep
	}
	summary := fmt.Sprintf("generate %s %d private key into Secret %s", alg, size, nextKey)
	if err := step(c.ctx, kind, summary, actGeneratePrivateKey, c.generateKeyInput(nextKey)).Get(c.ctx, &key); err != nil {
		return keys.KeyRef{}, err
	}
	c.nextKey.made(nextKey, key.SecretUID)
	c.queueEvent("Normal", "Generated", fmt.Sprintf("Stored new private key in temporary Secret resource %q", nextKey))
	return key, nil
}

// createRequest creates the CertificateRequest of revision. Its step's summary names
// why the issuance runs (the trigger's reason and message), which the history command
// reads back.
func (c *certificateRun) createRequest(revision int, csr []byte, key keys.KeyRef, why policy.Trigger) (kube.RequestRef, error) {
	var created kube.CreatedRequest
	summary := RequestStepSummary(conventions.CertificateRequestName(c.st.Name, revision), why.Reason, why.Message)
	if err := step(c.ctx, kubeStep, summary,
		actCreateCertificateRequest, c.createRequestInput(revision, csr, key)).Get(c.ctx, &created); err != nil {
		return created.RequestRef, err
	}
	req := created.RequestRef
	if created.LabelsRead {
		// The labels as they are now, not as the last spec signal had them: a label
		// change is no new generation, and no signal is sent for it.
		c.st.Labels = created.CertificateLabels
	}
	c.http01Overrides = created.HTTP01Overrides
	c.queueEvent("Normal", "Requested", fmt.Sprintf("Created new CertificateRequest resource %q", req.Name))
	return req, nil
}

// awaitApproval asks the internal approver and, when it is disabled, waits for a person
// (kubectl cert-manager approve/deny, or kubectl setting the condition; the watcher signals either),
// reading the request again on a re-check timer in case that signal is lost.
// It clears req.CreatedVersion once it wrote the request's status: the next write must
// read the request rather than assume a version that is gone.
func (c *certificateRun) awaitApproval(req *kube.RequestRef, issuer kube.IssuerInfo, startUID string, startGeneration int64, ready kube.Condition) (kube.Approval, error) {
	recheck := c.changes.has(changeRecheckWaits)
	in := kube.ApproveInput{Request: *req}
	externalSigner := issuer.Type == kube.IssuerTypeExternal
	if externalSigner {
		in.Signer = kube.SignerName(c.st.Spec.IssuerRef, c.st.Namespace)
	}
	for marked := false; ; marked = true {
		var approval kube.Approval
		in.Request = *req
		if err := step(c.ctx, kubeStep, "approve "+req.Name,
			actApproveCertificateRequest, in).Get(c.ctx, &approval); err != nil {
			return kube.Approval{}, err
		}
		if approval.Approved || approval.Denied {
			return approval, nil
		}
		c.awaitingRequest = req.Name
		waitingFor := fmt.Sprintf("approval of CertificateRequest %s (signal %s)", req.Name, SignalApproval)
		if !recheck || !marked {
			c.setPhase(PhaseWaitingForApproval, waitingFor, nil)
			if !externalSigner { // the request's Ready condition is its signer's
				if err := step(c.ctx, kubeStep, "mark "+req.Name+" waiting for approval",
					actSetCertificateRequestStatus, waitingForApprovalStatus(*req)).Get(c.ctx, nil); err != nil {
					return kube.Approval{}, err
				}
				req.CreatedVersion = ""
			}
			if err := c.writeIssuing(ready); err != nil { // also flushes the Generated/Requested events
				return kube.Approval{}, err
			}
		}
		if recheck {
			c.wait(policy.SignalRecheck, PhaseWaitingForApproval, waitingFor+" or a re-check")
		} else {
			c.block(nil)
		}
		c.awaitingRequest = ""
		if c.superseded(startUID, startGeneration) {
			return kube.Approval{}, errSuperseded
		}
	}
}

// denied ends an issuance whose request was denied: the request is marked Denied and
// the attempt fails for good.
func (c *certificateRun) denied(req kube.RequestRef, issuer kube.IssuerInfo, approval kube.Approval) error {
	msg := fmt.Sprintf("The CertificateRequest %q was denied: %s: %s", req.Name, approval.Reason, approval.Message)
	if issuer.Type != kube.IssuerTypeExternal { // an external signer marks its own
		if err := c.failRequest(req, cmapi.CertificateRequestReasonDenied, msg); err != nil {
			return err
		}
	}
	return temporal.NewNonRetryableApplicationError(msg, "Denied", nil)
}

// failRequest marks a request Failed or Denied, with a failure time, as upstream does.
func (c *certificateRun) failRequest(req kube.RequestRef, reason, msg string) error {
	return step(c.ctx, kubeStep, "mark "+req.Name+" "+reason,
		actSetCertificateRequestStatus, issuance.FailedRequestStatus(req, reason, msg)).Get(c.ctx, nil)
}

// sign has the issuer sign the CSR.
func (c *certificateRun) sign(issuer kube.IssuerInfo, csr []byte, key keys.KeyRef, req kube.RequestRef) (pki.SignedCertificate, error) {
	var signed pki.SignedCertificate
	switch issuer.Type {
	case kube.IssuerTypeSelfSigned:
		err := step(c.ctx, kubeStep, "self-sign certificate", actSignSelfSigned, c.selfSignInput(issuer, csr, key)).Get(c.ctx, &signed)
		return signed, err
	case kube.IssuerTypeCA:
		ca := issuer.Spec.CA
		err := step(c.ctx, kubeStep, fmt.Sprintf("sign with CA %s/%s", issuer.ResourceNamespace, ca.SecretName),
			actSignWithCA, c.caSignInput(issuer, csr)).Get(c.ctx, &signed)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && (appErr.Type() == pki.ErrTypeCASecretNotFound || appErr.Type() == pki.ErrTypeInvalidCAKeyPair) &&
			c.changes.has(changeIssuerRecheck) {
			c.askIssuerToRecheck()
		}
		return signed, err
	case kube.IssuerTypeVault:
		return signWithVault(c.ctx, issuer, c.st.Spec.IssuerRef, c.st.Namespace, csr, certDuration(c.st.Spec))
	case kube.IssuerTypeACME:
		signed, err := c.orderFromACME(issuer, csr, req)
		if acmeAccountUnknown(err) && c.changes.has(changeACMEAccountRecovery) {
			return c.orderWithAccountRegisteredAgain(issuer, csr, req, err)
		}
		return signed, err
	case kube.IssuerTypeVenafi:
		return signWithVenafi(c.ctx, venafiIssuerRef(c.st.Spec.IssuerRef, c.st.Namespace), req)
	}
	return signed, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("issuer %s is of type %s, which this version of certflow cannot sign with yet", c.st.Spec.IssuerRef.Name, issuer.Type), "UnsupportedIssuer", nil)
}

// awaitSigner waits for the signer of an issuer of another group to sign req (the
// watcher signals each change of the request's status; a re-check timer covers a lost
// signal) and returns what it wrote. The internal approver's approval, when it gave one,
// is written first: the signer acts on approved requests only.
func (c *certificateRun) awaitSigner(req kube.RequestRef, approval kube.Approval, startUID string, startGeneration int64) (pki.SignedCertificate, error) {
	if approval.Record {
		if err := step(c.ctx, kubeStep, "approve "+req.Name, actSetCertificateRequestStatus,
			kube.RequestStatusInput{Request: req, RecordApproval: true, ApprovalOnly: true}).Get(c.ctx, nil); err != nil {
			return pki.SignedCertificate{}, err
		}
	}
	ref := c.st.Spec.IssuerRef
	signer := fmt.Sprintf("%s %s (%s)", defaulted(ref.Kind, cmapi.IssuerKind), ref.Name, ref.Group)
	for {
		var res kube.RequestResult
		if err := step(c.ctx, kubeStep, "read the result of "+req.Name, actReadRequestResult, req).Get(c.ctx, &res); err != nil {
			return pki.SignedCertificate{}, err
		}
		switch {
		case res.Ready:
			return pki.SignedCertificate{CertificatePEM: res.CertificatePEM, CAPEM: res.CAPEM}, nil
		case res.Denied:
			return pki.SignedCertificate{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("The CertificateRequest %q was denied: %s", req.Name, res.Message), "Denied", nil)
		case res.Failed:
			return pki.SignedCertificate{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("The CertificateRequest %q failed at %s: %s", req.Name, signer, res.Message), ErrTypeSignerFailed, nil)
		}
		waitingFor := fmt.Sprintf("%s to sign CertificateRequest %s", signer, req.Name)
		if res.Reason != "" {
			waitingFor += fmt.Sprintf(" (%s: %s)", res.Reason, res.Message)
		}
		c.awaitingRequest = req.Name
		c.wait(policy.SignalRecheck, PhaseWaitingForSigner, waitingFor+" or a re-check")
		c.awaitingRequest = ""
		if c.superseded(startUID, startGeneration) {
			return pki.SignedCertificate{}, errSuperseded
		}
	}
}

// ErrTypeSignerFailed: the signer of an issuer of another group marked the request failed.
const ErrTypeSignerFailed = "SignerFailed"

// askIssuerToRecheck signals the IssuerWorkflow that its Secret changed: a CA Secret
// made by hand carries no certflow label, so the watcher does not see it go, and the
// issuer would stay Ready=True on a key pair that is gone. Re-verified, it says so in
// its Ready condition, and its Certificates wait for it instead of failing one by one.
// Best effort: an issuer without a workflow has nobody to tell.
func (c *certificateRun) askIssuerToRecheck() {
	ref := c.st.Spec.IssuerRef
	ns := c.st.Namespace
	if ref.Kind == cmapi.ClusterIssuerKind {
		ns = ""
	}
	_ = workflow.SignalExternalWorkflow(c.ctx, IssuerWorkflowID(ns, ref.Name), "", SignalSecretChanged, SecretChangedSignal{}).Get(c.ctx, nil)
}

// deleteOldRequests deletes the CertificateRequests (and, for ACME, their Orders) that
// fall out of the revision history once revision is issued.
func (c *certificateRun) deleteOldRequests(revision int, issuer kube.IssuerInfo) error {
	limit := revisionHistoryLimit(c.st.Spec)
	if from, to := requestsToDelete(revision, limit, c.st.HistoryLimit); to >= from {
		summary := fmt.Sprintf("delete CertificateRequests of revisions %d to %d", from, to)
		if err := step(c.ctx, kubeStep, summary,
			actCleanupCertificateRequests, c.cleanupRequestsInput(from, to, issuer)).Get(c.ctx, nil); err != nil {
			return err
		}
	}
	c.st.HistoryLimit = limit
	return nil
}

// issued records a successful issuance of revision in the carried state.
func (c *certificateRun) issued(revision int, facts policy.IssuedFacts) {
	c.st.Revision = revision
	c.st.IssuedGeneration = c.st.Generation
	issuedRequest := requestSpecOf(c.st.Spec)
	c.st.IssuedRequest = &issuedRequest
	c.st.FailedAttempts, c.st.LastFailureTime, c.st.FailedRequest = 0, nil, nil
	c.st.NotBefore, c.st.NotAfter = &facts.NotBefore, &facts.NotAfter
	c.status.LastError = ""
	c.queueEvent("Normal", cmapi.ReasonIssued, issuedMessage)
}

const issuedMessage = "The certificate has been successfully issued"

// recordFailure counts a failed issuance (or Secret refresh): status Issuing=False with
// the reason, failedIssuanceAttempts and lastFailureTime, so the loop backs off.
func (c *certificateRun) recordFailure(ready kube.Condition, err error) error {
	msg := apperr.Message(err)
	now := workflow.Now(c.ctx)
	c.st.FailedAttempts++
	c.st.LastFailureTime = &now
	failedRequest := requestSpecOf(c.st.Spec)
	c.st.FailedRequest = &failedRequest
	c.status.LastError = msg
	failed := &kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.ReasonFailed, Message: "The certificate request has failed to complete and will be retried: " + msg}
	c.queueEvent("Warning", cmapi.ReasonFailed, msg)
	if err := c.updateStatus(ready, failed); err != nil {
		return err
	}
	// As upstream, a failed issuance does not keep its next key. When the status named
	// it, the write above already deleted it.
	return c.deleteNextKey()
}

// OneStepIssuanceSummary is the summary of an issuance in one step (IssueWithinTask):
// its steps in order, then why the issuance runs.
func OneStepIssuanceSummary(key, request, signWith, secret, reason, message string) string {
	s := fmt.Sprintf("issue: generate %s private key, build CSR, create CertificateRequest %s, approve, %s, record the certificate, write Secret %s",
		key, request, signWith, secret)
	if reason != "" {
		s += " (" + reason + ": " + message + ")"
	}
	return s
}

// RequestStepSummary is the summary of the step that creates the CertificateRequest of
// an issuance: the request's name, then why the issuance runs.
func RequestStepSummary(request, reason, message string) string {
	s := "create CertificateRequest " + request
	if reason != "" {
		s += " (" + reason + ": " + message + ")"
	}
	return s
}
