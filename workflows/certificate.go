package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// Activity receivers: nil pointers whose method values name the activities.
var (
	kubeActs *kube.Activities
	keyActs  *keys.Activities
	pkiActs  *pki.Activities
)

// Changes of the workflow's commands, for workflow.GetVersion: histories recorded before
// a change replay with the old commands (workflows/testdata/histories keeps such
// histories, so the replay test proves it).
const (
	// changeLazyIssuingStatus: Issuing=True is written only when an issuance leaves
	// its workflow task; a next-key Secret is deleted explicitly after a failed attempt
	// and after adopting a revision a lost task issued.
	changeLazyIssuingStatus = "lazy-issuing-status"
	// changeACMEIssuers: ACME issuers register accounts (before: Ready=False Unsupported).
	changeACMEIssuers = "acme-issuers"
	// changeIssuerNameAttribute: the IssuerName search attribute follows a changed
	// issuerRef (before: it kept the name the workflow started with).
	changeIssuerNameAttribute = "issuer-name-attribute"
	// changeRequestTrigger: a spec that no longer matches the request of the current
	// certificate re-issues (RequestChanged) and cuts a failure backoff short; the CN of
	// a literalSubject is the one the certificate must carry (before: spec.commonName,
	// so such a certificate was re-issued at every evaluation).
	changeRequestTrigger = "request-trigger"
	// changeSecretFirst: the Secret is evaluated before the issuer is looked up, and
	// only an issuance needs the issuer (before: an issuer not ready made every
	// Certificate of it Ready=False IssuerNotReady, valid certificate or not, and left
	// it without a renewal timer).
	changeSecretFirst = "secret-first"
	// changeIssuerRecheck: a CA signing that fails for the CA Secret (missing, not a
	// key pair) asks the IssuerWorkflow to verify the Secret again at once.
	changeIssuerRecheck = "issuer-recheck"
)

// certificateChanges are the CertificateWorkflow's changes in the order they were made;
// CertificateInput.Changes counts how many of them a run has in effect. A new change is
// appended here (never inserted) with its GetVersion change ID.
var certificateChanges = []string{changeLazyIssuingStatus, changeIssuerNameAttribute, changeRequestTrigger, changeSecretFirst, changeIssuerRecheck}

// changed reports whether a versioned change is in effect in this run: carried in the
// input, or else decided by workflow.GetVersion (old code's histories lack its marker).
// Once in effect, it is carried into the next run.
func (c *certificateRun) changed(changeID string) bool {
	if c.carried(changeID) {
		return true
	}
	if workflow.GetVersion(c.ctx, changeID, workflow.DefaultVersion, 1) != 1 {
		return false
	}
	if i := slices.Index(certificateChanges, changeID); c.st.Changes == i {
		c.st.Changes = i + 1
	}
	return true
}

// carried reports whether a versioned change is in effect by the input alone, without
// asking workflow.GetVersion: code that computes the old behaviour only to compare it
// can skip that work.
func (c *certificateRun) carried(changeID string) bool {
	i := slices.Index(certificateChanges, changeID)
	if i < 0 {
		panic("unknown workflow change " + changeID)
	}
	return c.st.Changes > i
}

// slowRSAKeySize is the RSA key size from which generation runs as a regular activity.
const slowRSAKeySize = 4096

// errorRetryDelay is how long the workflow waits after an activity gave up on a transient
// error (API server down for minutes) before it evaluates the Certificate again.
const errorRetryDelay = time.Minute

// CertificateWorkflow is the entity loop of one Certificate: evaluate the trigger
// policies, issue when needed, keep status true, sleep on a durable timer until renewal,
// and wake on signals (spec, renew, secret-changed, issuer-changed, delete).
func CertificateWorkflow(ctx workflow.Context, in CertificateInput) error {
	if in.Changes > len(certificateChanges) {
		// A newer certflow (watcher, or a worker that continued this chain) adopted
		// changes this worker does not know. Running them the old way would leave a
		// history the newer code cannot replay, so fail the workflow task instead: it is
		// retried, shows in the UI as a task failure, and succeeds on an upgraded worker.
		panic(fmt.Sprintf("workflow input adopts %d versioned changes, this worker knows %d: upgrade the workers before the watcher", in.Changes, len(certificateChanges)))
	}
	c := newCertificateRun(ctx, in)
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return c.view(), nil }); err != nil {
		return err
	}
	return c.run()
}

type certificateRun struct {
	ctx    workflow.Context
	st     CertificateInput
	status Status

	specCh, renewCh, secretCh, issuerCh, deleteCh, approvCh workflow.ReceiveChannel

	deleted    bool
	cycleDone  bool   // issued in this run: continue as new at the next wake-up
	attrsDirty bool   // CertState changed since the last upsert
	lastState  string // CertState search attribute as last upserted
	// pendingEvents go out with the next status write.
	pendingEvents []kube.Event
	// awaitingRequest is the CertificateRequest whose approval the run waits for.
	awaitingRequest string
	// deletedNextKey is the next-key Secret this run already deleted.
	deletedNextKey string
	// unwrittenIssuing is the Issuing=True condition of an issuance that has not been
	// written yet: an issuance that completes within one workflow task goes from Ready
	// to issued in one status write (see issue).
	unwrittenIssuing *kube.Condition
	// madeNextKey is the next-key Secret this issuance generated (or adopted), and
	// madeNextKeyUID its UID when this run wrote it (it deletes that object only).
	madeNextKey, madeNextKeyUID string
}

func newCertificateRun(ctx workflow.Context, in CertificateInput) *certificateRun {
	// A chain an older watcher started may carry inline keystore passwords: they stay
	// out of this run's activity inputs and out of the next run's input.
	in.Spec.Keystores = kube.RedactKeystorePasswords(in.Spec.Keystores)
	return &certificateRun{
		ctx:      ctx,
		st:       in,
		status:   Status{Phase: PhaseEvaluating},
		specCh:   workflow.GetSignalChannel(ctx, SignalSpec),
		renewCh:  workflow.GetSignalChannel(ctx, SignalRenew),
		secretCh: workflow.GetSignalChannel(ctx, SignalSecretChanged),
		issuerCh: workflow.GetSignalChannel(ctx, SignalIssuerChanged),
		deleteCh: workflow.GetSignalChannel(ctx, SignalDelete),
		approvCh: workflow.GetSignalChannel(ctx, SignalApproval),
	}
}

func (c *certificateRun) run() error {
	for {
		c.drainSignals()
		if c.deleted {
			c.setPhase(PhaseDeleted, "nothing: the Certificate was deleted", nil)
			return nil
		}
		if c.cycleDone || workflow.GetInfo(c.ctx).GetContinueAsNewSuggested() {
			// One issuance cycle per run keeps histories short and replays cheap.
			return c.continueAsNew()
		}
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
			// would all run again.
			c.sleepAfterIssuance()
			c.cycleDone = true
		}
	}
}

// sleepAfterIssuance waits until the renewal time of what was just issued, without
// reading back what the issuance wrote, unless a signal already asks for more.
func (c *certificateRun) sleepAfterIssuance() {
	if c.st.PendingRenew || c.st.Generation != c.st.IssuedGeneration || c.st.NotBefore == nil || c.st.NotAfter == nil {
		return
	}
	renewal := *c.currentRenewalTime()
	c.wait(renewal.Sub(workflow.Now(c.ctx)), PhaseReady, "renewal at "+renewal.UTC().Format(time.RFC3339))
}

// reconcile evaluates the Certificate once. It either issues (issued == true), or
// waits (for a timer or a signal) and returns so that the loop evaluates again.
func (c *certificateRun) reconcile() (issued bool, err error) {
	spec := c.st.Spec
	secretFirst := c.changed(changeSecretFirst)
	var issuer kube.IssuerInfo
	if !secretFirst {
		var ok bool
		if issuer, ok, err = c.readyIssuer(kube.Condition{}, nil); err != nil || !ok {
			return false, err
		}
	}

	var secret policy.SecretState
	if err := c.step("inspect Secret "+spec.SecretName, kubeActs.InspectSecret,
		kube.InspectSecretInput{Namespace: c.st.Namespace, SecretName: spec.SecretName, CertificateName: c.st.Name, CertificateGeneration: c.st.Generation, SecretTemplate: spec.SecretTemplate, Keystores: spec.Keystores, AdditionalOutputFormats: spec.AdditionalOutputFormats}).Get(c.ctx, &secret); err != nil {
		return false, err
	}
	if secret.Revision > c.st.Revision && secret.KeyMatchesCertificate {
		// An earlier task issued this revision and was lost before it wrote the status,
		// maybe also before it deleted its next-key Secret: delete it with this status.
		c.st.Revision = secret.Revision
		adopted := requestSpecOf(spec)
		c.st.IssuedRequest = &adopted
		if !rotationNever(spec) && c.changed(changeLazyIssuingStatus) {
			c.madeNextKey, c.madeNextKeyUID, c.deletedNextKey = conventions.NextPrivateKeySecretName(c.st.Name), "", ""
		}
	}
	renewal := c.renewalTime(secret)
	trig := policy.Evaluate(workflow.Now(c.ctx), desiredOf(spec, renewal, c.st.IssuedRequest), secret, c.st.PendingRenew)
	if !c.carried(changeRequestTrigger) {
		before := policy.Evaluate(workflow.Now(c.ctx), desiredBefore(spec, renewal), secret, c.st.PendingRenew)
		if before != trig && !c.changed(changeRequestTrigger) {
			trig = before
		}
	}
	ready := readyCondition(trig)
	if secret.Exists && secret.HasCertificate && secret.CertificateError == "" {
		c.st.NotBefore, c.st.NotAfter = &secret.Certificate.NotBefore, &secret.Certificate.NotAfter
	}

	if !trig.Issue {
		c.st.PendingRenew = false
		if !secret.OutputsUpToDate {
			// Keystores, extra formats or template metadata changed: rewrite them from the
			// key pair in the Secret; no new certificate needed. A refresh that failed (a
			// keystore password Secret missing) backs off like a failed issuance.
			if c.inBackoff() {
				return false, nil
			}
			if err := c.step("refresh keystores, output formats and template metadata of Secret "+spec.SecretName, kubeActs.RefreshSecretOutputs, kube.RefreshOutputsInput{
				Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateGeneration: c.st.Generation, SecretName: spec.SecretName,
				SecretTemplate: spec.SecretTemplate, Keystores: spec.Keystores, AdditionalOutputFormats: spec.AdditionalOutputFormats,
			}).Get(c.ctx, nil); err != nil {
				return false, c.recordFailure(ready, err)
			}
			c.st.FailedAttempts, c.st.LastFailureTime, c.status.LastError = 0, nil, ""
		}
		if err := c.updateStatus(ready, nil); err != nil {
			return false, err
		}
		if err := c.deleteNextKey(); err != nil {
			return false, err
		}
		c.wait(renewal.Sub(workflow.Now(c.ctx)), PhaseReady, "renewal at "+renewal.UTC().Format(time.RFC3339))
		return false, nil
	}

	if c.inBackoff() {
		return false, nil
	}
	if secretFirst {
		var ok bool
		if issuer, ok, err = c.readyIssuer(ready, c.st.NotAfter); err != nil || !ok {
			return false, err
		}
	}

	c.st.PendingRenew = false
	if err := c.issue(issuer, trig, ready); errors.Is(err, errSuperseded) {
		return false, nil
	} else if err != nil {
		return false, c.recordFailure(ready, err)
	}
	return true, nil
}

// readyIssuer resolves the Certificate's issuer; one that is not ready is waited for
// (waitForIssuer, with ready and notAfter), and ok is false.
func (c *certificateRun) readyIssuer(ready kube.Condition, notAfter *time.Time) (issuer kube.IssuerInfo, ok bool, err error) {
	if issuer, err = c.resolveIssuer(); err != nil {
		return issuer, false, err
	}
	if !issuer.Ready {
		return issuer, false, c.waitForIssuer(issuer, ready, notAfter)
	}
	return issuer, true, nil
}

// waitForIssuer says that an issuance waits for its issuer, and waits for the signal
// that the issuer changed. A certificate that is still valid (ready is True: only
// renewal or a manual renew asked for the issuance) stays Ready, and the wait ends at
// its expiry at the latest, so Ready turns False when it expires. ready is empty, and
// notAfter nil, on the path before changeSecretFirst.
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
	c.waitForSignal(PhaseWaitingForIssuer, waitingFor)
	return nil
}

// inBackoff waits out the failure backoff (upstream's 1h doubling to 32h) if one is
// running, as a named timer that a renew signal cuts short. It reports whether it waited.
func (c *certificateRun) inBackoff() bool {
	if c.st.FailedAttempts == 0 || c.st.PendingRenew || c.st.LastFailureTime == nil {
		return false
	}
	if c.st.FailedRequest != nil && len(c.st.FailedRequest.ChangedFields(requestSpecOf(c.st.Spec))) > 0 && c.changed(changeRequestTrigger) {
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

// recordFailure counts a failed issuance (or Secret refresh): status Issuing=False with
// the reason, failedIssuanceAttempts and lastFailureTime, so the loop backs off.
func (c *certificateRun) recordFailure(ready kube.Condition, err error) error {
	var appErr *temporal.ApplicationError
	msg := err.Error()
	if errors.As(err, &appErr) {
		msg = appErr.Message()
	}
	now := workflow.Now(c.ctx)
	c.st.FailedAttempts++
	c.st.LastFailureTime = &now
	failedRequest := requestSpecOf(c.st.Spec)
	c.st.FailedRequest = &failedRequest
	c.status.LastError = msg
	failed := &kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.ReasonFailed, Message: "The certificate request has failed to complete and will be retried: " + msg}
	c.pendingEvents = append(c.pendingEvents, kube.Event{Type: "Warning", Reason: cmapi.ReasonFailed, Message: msg})
	if err := c.updateStatus(ready, failed); err != nil {
		return err
	}
	// As upstream, a failed issuance does not keep its next key. When the status named
	// it, the write above already deleted it.
	return c.deleteNextKey()
}

// errSuperseded ends an issuance attempt that a newer spec (or a deletion) made moot.
// It is not a failure: the loop evaluates the Certificate afresh.
var errSuperseded = errors.New("issuance superseded by a newer generation")

// issue runs one issuance: the private key (a fresh one in the next-key Secret, or the
// current one under rotationPolicy Never), a CSR, the CertificateRequest of the next
// revision, its approval, the signature, the target Secret and the status. Key bytes
// stay in Secrets throughout.
func (c *certificateRun) issue(issuer kube.IssuerInfo, trig policy.Trigger, ready kube.Condition) error {
	spec := c.st.Spec
	startGeneration := c.st.Generation
	c.setPhase(PhaseIssuing, "issuance: "+trig.Message, nil)
	issuing := &kube.Condition{Status: cmmeta.ConditionTrue, Reason: trig.Reason, Message: trig.Message}
	c.pendingEvents = append(c.pendingEvents, kube.Event{Type: "Normal", Reason: cmapi.ReasonIssuing, Message: trig.Message})
	// Issuing=True is written only when the issuance leaves this workflow task (a slow
	// key, a person's approval, an external issuer): a CA or SelfSigned issuance that
	// completes in the task is invisible in between anyway, and skipping the write saves
	// kube-apiserver a read, a write and a watch event per certificate. A task lost
	// midway is retried from the same point and adopts the next-key Secret it made.
	c.unwrittenIssuing = issuing
	defer func() { c.unwrittenIssuing = nil }()
	lazy := c.changed(changeLazyIssuingStatus)
	if !lazy || !issuesWithinTask(issuer, spec) {
		if err := c.writeIssuing(ready); err != nil {
			return err
		}
	}

	key, err := c.privateKey(spec)
	if err != nil {
		return err
	}

	var csr []byte
	if err := c.step("build CSR", pkiActs.CreateCSR, pki.CreateCSRInput{Spec: spec, Key: key}).Get(c.ctx, &csr); err != nil {
		return err
	}

	revision := c.st.Revision + 1
	var req kube.RequestRef
	if err := c.step(fmt.Sprintf("create CertificateRequest %s", conventions.CertificateRequestName(c.st.Name, revision)), kubeActs.CreateCertificateRequest, kube.CreateRequestInput{
		Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateUID: c.st.UID, Revision: revision, CSRPEM: csr,
		IssuerRef: spec.IssuerRef, Duration: spec.Duration, IsCA: spec.IsCA, Usages: spec.Usages, PrivateKeySecretName: key.SecretName,
	}).Get(c.ctx, &req); err != nil {
		return err
	}
	c.pendingEvents = append(c.pendingEvents, kube.Event{Type: "Normal", Reason: "Requested", Message: fmt.Sprintf("Created new CertificateRequest resource %q", req.Name)})

	approval, err := c.awaitApproval(&req, startGeneration, ready)
	if err != nil {
		return err
	}
	if approval.Denied {
		msg := fmt.Sprintf("The CertificateRequest %q was denied: %s: %s", req.Name, approval.Reason, approval.Message)
		if err := c.failRequest(req, cmapi.CertificateRequestReasonDenied, msg); err != nil {
			return err
		}
		return temporal.NewNonRetryableApplicationError(msg, "Denied", nil)
	}

	signed, err := c.sign(issuer, csr, key, req)
	if err != nil {
		var appErr *temporal.ApplicationError
		msg := err.Error()
		if errors.As(err, &appErr) {
			msg = appErr.Message()
		}
		if ferr := c.failRequest(req, cmapi.CertificateRequestReasonFailed, msg); ferr != nil {
			return ferr
		}
		return err
	}
	if err := c.step("record certificate on "+req.Name, kubeActs.SetCertificateRequestStatus, kube.RequestStatusInput{
		Request: req, CertificatePEM: signed.CertificatePEM, CAPEM: signed.CAPEM, RecordApproval: approval.Record,
		Ready: kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.CertificateRequestReasonIssued, Message: "Certificate fetched from issuer successfully"},
	}).Get(c.ctx, nil); err != nil {
		return err
	}

	var facts policy.IssuedFacts
	if err := c.step("write Secret "+spec.SecretName, kubeActs.WriteCertificateSecret, kube.WriteSecretInput{
		Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateGeneration: c.st.Generation, SecretName: spec.SecretName, Key: key,
		CertificatePEM: signed.CertificatePEM, CAPEM: signed.CAPEM, Revision: revision,
		IssuerName: spec.IssuerRef.Name, IssuerKind: defaulted(spec.IssuerRef.Kind, cmapi.IssuerKind), IssuerGroup: defaulted(spec.IssuerRef.Group, cmapi.SchemeGroupVersion.Group),
		SecretTemplate: spec.SecretTemplate, Keystores: spec.Keystores, AdditionalOutputFormats: spec.AdditionalOutputFormats,
	}).Get(c.ctx, &facts); err != nil {
		return err
	}
	// Deleted before the final status write: if the task is lost in between, it is
	// retried from the same point (or the status still names the Secret and the next
	// status write deletes it again).
	if err := c.deleteNextKey(); err != nil {
		return err
	}
	if from, to := requestsToDelete(revision, revisionHistoryLimit(spec), c.st.HistoryLimit); to >= from {
		if err := c.step(fmt.Sprintf("delete CertificateRequests of revisions %d to %d", from, to), kubeActs.CleanupCertificateRequests, kube.CleanupRequestsInput{
			Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateUID: c.st.UID, FromRevision: from, ToRevision: to,
			WithOrders: issuer.Type == kube.IssuerTypeACME,
		}).Get(c.ctx, nil); err != nil {
			return err
		}
	}
	c.st.HistoryLimit = revisionHistoryLimit(spec)

	c.st.Revision = revision
	c.st.IssuedGeneration = c.st.Generation
	issuedRequest := requestSpecOf(spec)
	c.st.IssuedRequest = &issuedRequest
	c.st.FailedAttempts, c.st.LastFailureTime, c.st.FailedRequest = 0, nil, nil
	c.st.NotBefore, c.st.NotAfter = &facts.NotBefore, &facts.NotAfter
	c.status.LastError = ""
	c.pendingEvents = append(c.pendingEvents, kube.Event{Type: "Normal", Reason: cmapi.ReasonIssued, Message: "The certificate has been successfully issued"})
	return c.updateStatus(upToDate, nil)
}

// privateKey returns the key to issue with. Under rotationPolicy Never the key in the
// target Secret is reused when it still matches the spec; otherwise a new key goes into
// the next-key Secret.
func (c *certificateRun) privateKey(spec cmapi.CertificateSpec) (key keys.KeyRef, err error) {
	alg, size, enc := privateKeySpec(spec)
	if rotationNever(spec) {
		var cur keys.ReadKeyResult
		if err := c.step("read the current private key of Secret "+spec.SecretName, keyActs.ReadKeyRef,
			keys.ReadKeyInput{Namespace: c.st.Namespace, SecretName: spec.SecretName}).Get(c.ctx, &cur); err != nil {
			return keys.KeyRef{}, err
		}
		if cur.Valid && cur.Ref.Algorithm == alg && cur.Ref.Size == size && cur.Ref.Encoding == enc {
			return cur.Ref, nil
		}
	}
	nextKey := conventions.NextPrivateKeySecretName(c.st.Name)
	summary := fmt.Sprintf("generate %s %d private key into Secret %s", alg, size, nextKey)
	in := keys.GenerateKeyInput{
		Namespace: c.st.Namespace, SecretName: nextKey, Algorithm: alg, Size: size, Encoding: enc,
		OwnerReference: c.ownerReference(), Labels: map[string]string{cmapi.IsNextPrivateKeySecretLabelKey: "true"},
	}
	var f workflow.Future
	if alg == cmapi.RSAKeyAlgorithm && size >= slowRSAKeySize {
		// Seconds to minutes of CPU: a regular activity, which any worker may pick up.
		f = workflow.ExecuteActivity(workflow.WithActivityOptions(c.ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 5 * time.Minute, RetryPolicy: kubeRetry, Summary: summary,
		}), keyActs.GeneratePrivateKey, in)
	} else {
		f = c.step(summary, keyActs.GeneratePrivateKey, in)
	}
	if err := f.Get(c.ctx, &key); err != nil {
		return keys.KeyRef{}, err
	}
	c.madeNextKey, c.madeNextKeyUID, c.deletedNextKey = nextKey, key.SecretUID, ""
	c.pendingEvents = append(c.pendingEvents, kube.Event{Type: "Normal", Reason: "Generated", Message: fmt.Sprintf("Stored new private key in temporary Secret resource %q", nextKey)})
	return key, nil
}

// awaitApproval asks the internal approver and, when it is disabled, waits for a person
// (starter approve/deny, or kubectl setting the condition; the watcher signals either).
// It clears req.CreatedVersion once it wrote the request's status: the next write must
// read the request rather than assume a version that is gone.
func (c *certificateRun) awaitApproval(req *kube.RequestRef, startGeneration int64, ready kube.Condition) (kube.Approval, error) {
	for {
		var approval kube.Approval
		if err := c.step("approve "+req.Name, kubeActs.ApproveCertificateRequest, kube.ApproveInput{Request: *req}).Get(c.ctx, &approval); err != nil {
			return kube.Approval{}, err
		}
		if approval.Approved || approval.Denied {
			return approval, nil
		}
		msg := fmt.Sprintf("Waiting for approval of CertificateRequest %q: run `starter approve %s -n %s` or set its Approved condition", req.Name, req.Name, req.Namespace)
		c.awaitingRequest = req.Name
		c.setPhase(PhaseWaitingForApproval, fmt.Sprintf("approval of CertificateRequest %s (signal %s)", req.Name, SignalApproval), nil)
		if err := c.step("mark "+req.Name+" waiting for approval", kubeActs.SetCertificateRequestStatus, kube.RequestStatusInput{
			Request: *req, Ready: kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.ReasonWaitingForApproval, Message: msg},
		}).Get(c.ctx, nil); err != nil {
			return kube.Approval{}, err
		}
		req.CreatedVersion = ""
		if err := c.writeIssuing(ready); err != nil { // also flushes the Generated/Requested events
			return kube.Approval{}, err
		}
		c.block(nil)
		c.awaitingRequest = ""
		if c.deleted || c.st.Generation != startGeneration {
			return kube.Approval{}, errSuperseded
		}
	}
}

// failRequest marks a request Failed or Denied, with a failure time, as upstream does.
func (c *certificateRun) failRequest(req kube.RequestRef, reason, msg string) error {
	return c.step("mark "+req.Name+" "+reason, kubeActs.SetCertificateRequestStatus, kube.RequestStatusInput{
		Request: req, Failed: true, Ready: kube.Condition{Status: cmmeta.ConditionFalse, Reason: reason, Message: msg},
	}).Get(c.ctx, nil)
}

// sign has the issuer sign the CSR.
func (c *certificateRun) sign(issuer kube.IssuerInfo, csr []byte, key keys.KeyRef, req kube.RequestRef) (pki.SignedCertificate, error) {
	spec := c.st.Spec
	var signed pki.SignedCertificate
	switch issuer.Type {
	case kube.IssuerTypeSelfSigned:
		in := pki.SelfSignInput{CSRPEM: csr, Key: key, Duration: certDuration(spec), IsCA: spec.IsCA, Usages: spec.Usages}
		if issuer.Spec.SelfSigned != nil {
			in.CRLDistributionPoints = issuer.Spec.SelfSigned.CRLDistributionPoints
		}
		err := c.step("self-sign certificate", pkiActs.SignSelfSigned, in).Get(c.ctx, &signed)
		return signed, err
	case kube.IssuerTypeCA:
		ca := issuer.Spec.CA
		in := pki.SignWithCAInput{
			CSRPEM: csr, CA: pki.CAKeyPairRef{Namespace: issuer.ResourceNamespace, SecretName: ca.SecretName},
			Duration: certDuration(spec), IsCA: spec.IsCA, Usages: spec.Usages,
			CRLDistributionPoints: ca.CRLDistributionPoints, OCSPServers: ca.OCSPServers, IssuingCertificateURLs: ca.IssuingCertificateURLs,
		}
		err := c.step(fmt.Sprintf("sign with CA %s/%s", issuer.ResourceNamespace, ca.SecretName), pkiActs.SignWithCA, in).Get(c.ctx, &signed)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && (appErr.Type() == pki.ErrTypeCASecretNotFound || appErr.Type() == pki.ErrTypeInvalidCAKeyPair) &&
			c.changed(changeIssuerRecheck) {
			c.askIssuerToRecheck()
		}
		return signed, err
	case kube.IssuerTypeACME:
		return c.orderFromACME(issuer, csr, req)
	}
	return signed, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("issuer %s is of type %s, which this version of certflow cannot sign with yet", spec.IssuerRef.Name, issuer.Type), "UnsupportedIssuer", nil)
}

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

// writeIssuing writes the Issuing=True condition of the running issuance, once.
func (c *certificateRun) writeIssuing(ready kube.Condition) error {
	if c.unwrittenIssuing == nil {
		return nil
	}
	issuing := c.unwrittenIssuing
	c.unwrittenIssuing = nil
	return c.updateStatus(ready, issuing)
}

// deleteNextKey deletes the next-key Secret this issuance made, unless already done.
func (c *certificateRun) deleteNextKey() error {
	if c.madeNextKey == "" || c.madeNextKey == c.deletedNextKey {
		return nil
	}
	if err := c.step("delete the next-key Secret "+c.madeNextKey, keyActs.DeletePrivateKeySecret,
		c.nextKeyToDelete(c.madeNextKey, c.madeNextKeyUID)).Get(c.ctx, nil); err != nil {
		return err
	}
	c.deletedNextKey = c.madeNextKey
	return nil
}

// nextKeyToDelete describes a next-key Secret to delete: exactly the object this run
// wrote (uid), or else whatever has the name, if it carries the next-key label and this
// Certificate as owner; a Secret of someone else's under that name stays.
func (c *certificateRun) nextKeyToDelete(name, uid string) keys.DeleteKeyInput {
	in := keys.DeleteKeyInput{Namespace: c.st.Namespace, SecretName: name, UID: uid}
	if uid == "" {
		in.Labels = map[string]string{cmapi.IsNextPrivateKeySecretLabelKey: "true"}
		in.OwnerUID = c.st.UID
	}
	return in
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

// updateStatus writes the status the workflow owns: conditions plus the carried state.
// Events queued in pendingEvents go out with it, saving an API round trip each.
func (c *certificateRun) updateStatus(ready kube.Condition, issuing *kube.Condition) error {
	in := kube.CertificateStatusInput{
		Namespace: c.st.Namespace, Name: c.st.Name, UID: c.st.UID, ObservedGeneration: c.st.Generation,
		Ready: ready, Issuing: issuing, Events: c.pendingEvents,
		NotBefore: c.st.NotBefore, NotAfter: c.st.NotAfter,
		LastFailureTime: c.st.LastFailureTime, RenewalTime: c.currentRenewalTime(),
	}
	if c.st.Revision > 0 {
		rev := c.st.Revision
		in.Revision = &rev
	}
	if c.st.FailedAttempts > 0 {
		n := c.st.FailedAttempts
		in.FailedIssuanceAttempts = &n
	}
	if issuing != nil && issuing.Status == cmmeta.ConditionTrue && !rotationNever(c.st.Spec) {
		// Recorded before the key is made: whatever interrupts the issuance, the next
		// status write that clears it also deletes that Secret.
		next := conventions.NextPrivateKeySecretName(c.st.Name)
		in.NextPrivateKeySecretName = &next
	}
	var res kube.CertificateStatusResult
	if err := c.step("update Certificate status: "+ready.Reason, kubeActs.UpdateCertificateStatus, in).Get(c.ctx, &res); err != nil {
		return err
	}
	c.pendingEvents = nil
	if res.ClearedNextPrivateKey != "" && res.ClearedNextPrivateKey != c.deletedNextKey {
		if err := c.step("delete the next-key Secret "+res.ClearedNextPrivateKey, keyActs.DeletePrivateKeySecret,
			c.nextKeyToDelete(res.ClearedNextPrivateKey, "")).Get(c.ctx, nil); err != nil {
			return err
		}
		c.deletedNextKey = res.ClearedNextPrivateKey
	}
	if res.Revision > c.st.Revision {
		c.st.Revision = res.Revision
	}
	if res.IssuingSince != "" {
		c.st.LastManualToken = res.IssuingSince
	}
	return nil
}

func (c *certificateRun) resolveIssuer() (kube.IssuerInfo, error) {
	ref := c.st.Spec.IssuerRef
	var info kube.IssuerInfo
	err := c.step(fmt.Sprintf("resolve %s %s", defaulted(ref.Kind, cmapi.IssuerKind), ref.Name), kubeActs.ResolveIssuer,
		kube.IssuerRef{Namespace: c.st.Namespace, Name: ref.Name, Kind: ref.Kind, Group: ref.Group}).Get(c.ctx, &info)
	return info, err
}

// renewalTime is when the certificate in the Secret is due for renewal (zero if none).
func (c *certificateRun) renewalTime(s policy.SecretState) time.Time {
	if !s.Exists || !s.HasCertificate || s.CertificateError != "" {
		return time.Time{}
	}
	return policy.RenewalTime(s.Certificate.NotBefore, s.Certificate.NotAfter, durationPtr(c.st.Spec.RenewBefore), c.st.Spec.RenewBeforePercentage)
}

var kubeRetry = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    30 * time.Second,
	MaximumAttempts:    10,
}

// step runs one short activity (an API call or two, a signature) as a local activity:
// it runs in the worker that runs the workflow task, so a whole issuance takes one or
// two workflow tasks instead of a server round trip per step. Each step still appears
// in the history (and the UI) with its summary, input and result; retries follow
// kubeRetry. Long steps (large RSA keys) use regular activities instead.
func (c *certificateRun) step(summary string, fn any, in any) workflow.Future {
	ctx := workflow.WithLocalActivityOptions(c.ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         kubeRetry,
		Summary:             summary,
	})
	return workflow.ExecuteLocalActivity(ctx, fn, in)
}

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

func (c *certificateRun) addSignalHandlers(sel workflow.Selector, woke *bool) {
	sel.AddReceive(c.specCh, func(ch workflow.ReceiveChannel, _ bool) {
		var s SpecSignal
		ch.Receive(c.ctx, &s)
		*woke = c.onSpec(s) || *woke
	})
	sel.AddReceive(c.renewCh, func(ch workflow.ReceiveChannel, _ bool) {
		var s RenewSignal
		ch.Receive(c.ctx, &s)
		c.st.PendingRenew, *woke = true, true
	})
	sel.AddReceive(c.secretCh, func(ch workflow.ReceiveChannel, _ bool) {
		var s SecretChangedSignal
		ch.Receive(c.ctx, &s)
		*woke = true
	})
	sel.AddReceive(c.issuerCh, func(ch workflow.ReceiveChannel, _ bool) {
		var s IssuerChangedSignal
		ch.Receive(c.ctx, &s)
		*woke = true
	})
	sel.AddReceive(c.deleteCh, func(ch workflow.ReceiveChannel, _ bool) {
		var s DeleteSignal
		ch.Receive(c.ctx, &s)
		*woke = c.onDelete(s) || *woke
	})
	sel.AddReceive(c.approvCh, func(ch workflow.ReceiveChannel, _ bool) {
		var s ApprovalSignal
		ch.Receive(c.ctx, &s)
		*woke = (c.awaitingRequest != "" && s.Request == c.awaitingRequest) || *woke
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
		case c.specCh.ReceiveAsync(&spec):
			c.onSpec(spec)
		case c.renewCh.ReceiveAsync(&renew):
			c.st.PendingRenew = true
		case c.secretCh.ReceiveAsync(&secret), c.issuerCh.ReceiveAsync(&issuer), c.approvCh.ReceiveAsync(&approval):
			// Only wake-ups: the evaluation that follows reads the current state.
		case c.deleteCh.ReceiveAsync(&del):
			c.onDelete(del)
		default:
			return
		}
	}
}

// onSpec applies a newer generation (or a new object with the same name); it reports
// whether the workflow should evaluate again.
func (c *certificateRun) onSpec(s SpecSignal) bool {
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
	if s.ManualRenewToken != "" && s.ManualRenewToken != c.st.LastManualToken {
		c.st.LastManualToken = s.ManualRenewToken
		c.st.PendingRenew, changed = true, true
	}
	return changed
}

func (c *certificateRun) onDelete(s DeleteSignal) bool {
	if s.UID == "" || s.UID == c.st.UID {
		c.deleted = true
		return true
	}
	return false
}

func (c *certificateRun) continueAsNew() error {
	c.drainSignals()
	if c.deleted {
		return nil
	}
	return workflow.NewContinueAsNewError(c.ctx, CertificateWorkflow, c.st)
}

// view is the answer to the status query: what the run is doing (status), plus what
// the carried state says about the certificate.
func (c *certificateRun) view() Status {
	v := c.status
	v.Revision, v.Generation, v.NotAfter, v.FailedAttempts = c.st.Revision, c.st.Generation, c.st.NotAfter, c.st.FailedAttempts
	v.RenewalTime = c.currentRenewalTime()
	return v
}

// currentRenewalTime is when the certificate in hand is due for renewal, if one is.
func (c *certificateRun) currentRenewalTime() *time.Time {
	if c.st.NotBefore == nil || c.st.NotAfter == nil {
		return nil
	}
	r := policy.RenewalTime(*c.st.NotBefore, *c.st.NotAfter, durationPtr(c.st.Spec.RenewBefore), c.st.Spec.RenewBeforePercentage)
	return &r
}

// setPhase records what the workflow does for the status query and, when the phase
// changes, for the CertState search attribute (upserted on change only).
func (c *certificateRun) setPhase(phase, waitingFor string, until *time.Time) {
	c.status.Phase, c.status.WaitingFor, c.status.Until = phase, waitingFor, until
	if phase == c.lastState {
		return
	}
	c.lastState = phase
	c.attrsDirty = true
}

// flushSearchAttributes upserts CertState (and the times) once before the workflow
// blocks, not at every phase it passes through within one task: each upsert is a
// history event and a visibility write. IssuerName goes along when the spec names
// another issuer than the attribute does.
func (c *certificateRun) flushSearchAttributes() {
	issuer := c.st.Spec.IssuerRef.Name
	cur, _ := workflow.GetTypedSearchAttributes(c.ctx).GetKeyword(AttrIssuerName)
	issuerChanged := cur != issuer && c.changed(changeIssuerNameAttribute)
	if !c.attrsDirty && !issuerChanged {
		return
	}
	c.attrsDirty = false
	updates := []temporal.SearchAttributeUpdate{AttrCertState.ValueSet(c.lastState)}
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

func (c *certificateRun) ownerReference() *metav1.OwnerReference {
	return certificateOwner(c.st.Name, c.st.UID)
}

// orderFromACME runs the request's ACME order as a child OrderWorkflow (one per
// revision: its ID is derived from the request) and returns the chain it got.
func (c *certificateRun) orderFromACME(issuer kube.IssuerInfo, csr []byte, req kube.RequestRef) (pki.SignedCertificate, error) {
	spec, acmeSpec := c.st.Spec, issuer.Spec.ACME
	orderSpec := acmev1.OrderSpec{
		Request: csr, IssuerRef: spec.IssuerRef, CommonName: spec.CommonName,
		DNSNames: spec.DNSNames, IPAddresses: spec.IPAddresses, Profile: acmeSpec.Profile,
	}
	in := OrderInput{
		Request: req, OrderName: OrderName(req.Name, orderSpec), IssuerRef: spec.IssuerRef,
		Account: acmeAccountRef(acmeSpec, issuer.ResourceNamespace, issuer.ACMEAccountURL), Solvers: acmeSpec.Solvers,
		CertificateLabels: c.st.Labels, Spec: orderSpec, PreferredChain: acmeSpec.PreferredChain,
	}
	if defaulted(spec.IssuerRef.Kind, cmapi.IssuerKind) == cmapi.IssuerKind {
		in.IssuerNamespace = c.st.Namespace
	}
	if acmeSpec.EnableDurationFeature && spec.Duration != nil {
		in.Spec.Duration = spec.Duration
		notAfter := workflow.Now(c.ctx).Add(spec.Duration.Duration)
		in.NotAfter = &notAfter
	}
	id := OrderWorkflowID(c.st.Namespace, in.OrderName)
	c.setPhase(PhaseIssuing, "ACME order "+id, nil)
	ctx := workflow.WithChildOptions(c.ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		StaticSummary:     fmt.Sprintf("ACME order for %s (%s)", req.Name, strings.Join(spec.DNSNames, ", ")),
	})
	ctx, cancel := workflow.WithCancel(ctx)
	order := workflow.ExecuteChildWorkflow(ctx, OrderWorkflow, in)
	// Signals keep being handled while the order runs: a deleted Certificate or a new
	// spec cancels it (its challenges clean up after themselves) instead of finishing
	// an order nobody wants.
	startGeneration := c.st.Generation
	c.flushSearchAttributes()
	for done := false; !done; {
		woke := false
		sel := workflow.NewSelector(c.ctx)
		sel.AddFuture(order, func(workflow.Future) { done = true })
		c.addSignalHandlers(sel, &woke)
		sel.Select(c.ctx)
		if !done && (c.deleted || c.st.Generation != startGeneration) {
			cancel()
			_ = order.Get(c.ctx, nil) // wait until the cancelled order has cleaned up
			return pki.SignedCertificate{}, errSuperseded
		}
	}
	var res OrderResult
	if err := order.Get(c.ctx, &res); err != nil {
		return pki.SignedCertificate{}, err
	}
	return pki.SignedCertificate{CertificatePEM: res.CertificatePEM}, nil
}
