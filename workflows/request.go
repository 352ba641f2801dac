package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/issuance"
	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/apperr"
	"github.com/certflow/certflow/policy"
)

// SignalRequestChanged tells a CertificateRequestWorkflow that its request was created,
// approved or denied (RequestChangedSignal). Its deletion is SignalDelete.
const SignalRequestChanged = "request-changed"

// RequestChangedSignal carries the UID of the request as the watcher saw it.
type RequestChangedSignal struct {
	UID string
}

// CertificateRequestWorkflowID is the ID of the workflow that serves a CertificateRequest
// made by anyone but a Certificate (cmctl create certificaterequest, istio-csr,
// csi-driver, operators).
func CertificateRequestWorkflowID(namespace, name string) string {
	return fmt.Sprintf("certificaterequest/%s/%s", namespace, name)
}

// RequestInput starts a CertificateRequestWorkflow. It names the request only: all it
// asks for is read from the object, so a workflow started by hand cannot make certflow
// sign anything no CertificateRequest asks for.
type RequestInput struct {
	Namespace, Name, UID string
	// Waits counts the waits of earlier runs (continue-as-new bounds the history).
	Waits int `json:",omitempty"`
}

// requestWaitsPerRun bounds a run's history: a request that waits for weeks (a person's
// approval, an issuer that is never made) re-checks every policy.SignalRecheck, and
// continues as new after this many waits.
const requestWaitsPerRun = 100

// CertificateRequestWorkflow serves one CertificateRequest for a cert-manager.io issuer
// that no Certificate made: the internal approver's approval (or a person's), the
// issuer's signature (SelfSigned with the request's private-key-secret-name, CA, or an
// ACME order), and the request's status, as upstream's issuer controllers do. It ends
// when the request is issued, failed, denied or deleted. Requests for issuers of other
// groups never reach it: their signers own them.
func CertificateRequestWorkflow(ctx workflow.Context, in RequestInput) error {
	r := &requestRun{
		ctx: ctx, in: in,
		ref:     kube.RequestRef{Namespace: in.Namespace, Name: in.Name, UID: in.UID},
		changed: workflow.GetSignalChannel(ctx, SignalRequestChanged),
		del:     workflow.GetSignalChannel(ctx, SignalDelete),
		issuer:  workflow.GetSignalChannel(ctx, SignalIssuerChanged),
		status:  Status{UID: in.UID, Phase: PhaseEvaluating},
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return r.status, nil }); err != nil {
		return err
	}
	return r.run()
}

type requestRun struct {
	ctx             workflow.Context
	in              RequestInput
	ref             kube.RequestRef
	changed, issuer workflow.ReceiveChannel
	del             workflow.ReceiveChannel
	status          Status
	deleted         bool
	// replacedBy is the UID of a request of the same name that replaced this one: the
	// workflow continues for it once its own is gone.
	replacedBy string
}

// Phases of a CertificateRequestWorkflow beyond the Certificate's.
const (
	PhaseWaitingForSigner = "WaitingForSigner"
	PhaseDone             = "Done"
)

func (r *requestRun) run() error {
	for {
		if r.deleted {
			return r.gone()
		}
		done, err := r.serve()
		if err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.Type() == kube.ErrTypeRequestGone {
				return r.gone()
			}
			if errors.As(err, &appErr) && (appErr.Type() == pki.ErrTypeCASecretNotFound || appErr.Type() == pki.ErrTypeInvalidCAKeyPair) {
				// As upstream: the CA issuer cannot sign now, the request stays Pending.
				pending := kube.RequestStatusInput{Request: r.ref,
					Ready: kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.CertificateRequestReasonPending, Message: apperr.Message(err)}}
				if err := r.setStatus(pending); err != nil && !isRequestGone(err) {
					return err
				}
				r.wait(policy.SignalRecheck, PhaseWaitingForIssuer, "the CA issuer's key pair (signal "+SignalIssuerChanged+") or a re-check")
				continue
			}
			if errors.As(err, &appErr) && appErr.Type() == kube.ErrTypeDenied {
				continue // denied while it was being approved: the next look marks it
			}
			if errors.As(err, &appErr) && appErr.NonRetryable() {
				return r.fail(cmapi.CertificateRequestReasonFailed, apperr.Message(err))
			}
			// A step gave up on a transient error (API server down): look again later.
			r.status.LastError = apperr.Message(err)
			r.wait(errorRetryDelay, PhaseBackoff, "a retry after: "+r.status.LastError)
			continue
		}
		if done {
			r.status.Phase = PhaseDone
			r.drain() // the signals that started or woke it are answered by its end
			return nil
		}
		if r.in.Waits >= requestWaitsPerRun {
			r.drain()
			if r.deleted {
				return r.gone()
			}
			next := r.in
			next.Waits = 0
			return workflow.NewContinueAsNewError(r.ctx, CertificateRequestWorkflow, next)
		}
	}
}

// gone ends the workflow of a request that was deleted, or continues it for the request
// of the same name that replaced it.
func (r *requestRun) gone() error {
	r.drain()
	r.status.Phase = PhaseDeleted
	if r.replacedBy != "" && r.replacedBy != r.in.UID {
		return workflow.NewContinueAsNewError(r.ctx, CertificateRequestWorkflow,
			RequestInput{Namespace: r.in.Namespace, Name: r.in.Name, UID: r.replacedBy})
	}
	return nil
}

// serve takes the request one step on: done when nothing is left to do; not done after
// a wait, for the loop to look again.
func (r *requestRun) serve() (done bool, err error) {
	r.status.Phase, r.status.WaitingFor, r.status.Until = PhaseEvaluating, "", nil
	var facts kube.RequestFacts
	if err := step(r.ctx, kubeStep, fmt.Sprintf("read CertificateRequest %s/%s", r.in.Namespace, r.in.Name),
		actInspectRequest, r.ref).Get(r.ctx, &facts); err != nil {
		return false, err
	}
	if facts.Finished || kube.ExternalIssuerGroup(facts.IssuerRef.Group) {
		return true, nil
	}
	if facts.Invalid != "" {
		return true, r.fail(cmapi.CertificateRequestReasonFailed, facts.Invalid)
	}
	approval := facts.Approval
	if approval.Denied {
		return true, r.fail(cmapi.CertificateRequestReasonDenied, "The CertificateRequest was denied by an approval controller")
	}
	if !approval.Approved {
		if err := step(r.ctx, kubeStep, "approve "+r.in.Name, actApproveCertificateRequest,
			kube.ApproveInput{Request: r.ref}).Get(r.ctx, &approval); err != nil {
			return false, err
		}
		if !approval.Approved && !approval.Denied {
			if err := r.setStatus(waitingForApprovalStatus(r.ref)); err != nil {
				return false, err
			}
			r.wait(policy.SignalRecheck, PhaseWaitingForApproval,
				fmt.Sprintf("approval of CertificateRequest %s (signal %s) or a re-check", r.in.Name, SignalRequestChanged))
			return false, nil
		}
		if approval.Denied {
			return false, nil // the next look marks it
		}
	}
	var issuer kube.IssuerInfo
	ref := facts.IssuerRef
	if err := step(r.ctx, kubeStep, "resolve "+defaulted(ref.Kind, cmapi.IssuerKind)+" "+ref.Name, actResolveIssuer,
		kube.IssuerRef{Namespace: r.in.Namespace, Name: ref.Name, Kind: ref.Kind, Group: ref.Group}).Get(r.ctx, &issuer); err != nil {
		return false, err
	}
	if !issuer.Ready {
		// As upstream: Pending with the reason, and the request stays approved.
		pending := kube.RequestStatusInput{Request: r.ref, RecordApproval: approval.Record,
			Ready: kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.CertificateRequestReasonPending, Message: issuer.Message}}
		if err := r.setStatus(pending); err != nil {
			return false, err
		}
		r.wait(policy.SignalRecheck, PhaseWaitingForIssuer,
			fmt.Sprintf("issuer %s to become ready (signal %s) or a re-check", ref.Name, SignalIssuerChanged))
		return false, nil
	}
	if issuer.Type == kube.IssuerTypeACME && approval.Record {
		// An order takes a while: the approval shows meanwhile.
		pending := kube.RequestStatusInput{Request: r.ref, RecordApproval: true,
			Ready: kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.CertificateRequestReasonPending, Message: "Waiting on certificate issuance from an ACME order"}}
		if err := r.setStatus(pending); err != nil {
			return false, err
		}
		approval.Record = false
	}
	signed, err := r.sign(issuer, facts)
	if err != nil {
		return false, err
	}
	r.status.LastError = ""
	return true, r.setStatus(issuance.IssuedRequestStatus(r.ref, signed, approval))
}

// sign has the issuer sign the request's CSR.
func (r *requestRun) sign(issuer kube.IssuerInfo, f kube.RequestFacts) (pki.SignedCertificate, error) {
	r.status.Phase, r.status.WaitingFor = PhaseIssuing, "the signature of "+issuer.Type+" issuer "+f.IssuerRef.Name
	duration := defaultDuration
	if f.Duration != nil && f.Duration.Duration > 0 {
		duration = f.Duration.Duration
	}
	var signed pki.SignedCertificate
	switch issuer.Type {
	case kube.IssuerTypeSelfSigned:
		if f.PrivateKeySecretName == "" {
			return signed, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"Annotation %q missing or reference empty: a SelfSigned issuer signs with the key of that Secret", cmapi.CertificateRequestPrivateKeyAnnotationKey), "MissingAnnotation", nil)
		}
		in := pki.SelfSignInput{CSRPEM: f.CSRPEM, Duration: duration, IsCA: f.IsCA, Usages: f.Usages,
			Key: keys.KeyRef{Namespace: r.in.Namespace, SecretName: f.PrivateKeySecretName, DataKey: keys.DefaultDataKey, PublicKeySHA256: f.PublicKeySHA256}}
		if issuer.Spec.SelfSigned != nil {
			in.CRLDistributionPoints = issuer.Spec.SelfSigned.CRLDistributionPoints
		}
		err := step(r.ctx, kubeStep, "self-sign with the key of Secret "+f.PrivateKeySecretName, actSignSelfSigned, in).Get(r.ctx, &signed)
		return signed, err
	case kube.IssuerTypeCA:
		ca := issuer.Spec.CA
		in := pki.SignWithCAInput{
			CSRPEM: f.CSRPEM, CA: pki.CAKeyPairRef{Namespace: issuer.ResourceNamespace, SecretName: ca.SecretName},
			Duration: duration, IsCA: f.IsCA, Usages: f.Usages,
			CRLDistributionPoints: ca.CRLDistributionPoints, OCSPServers: ca.OCSPServers, IssuingCertificateURLs: ca.IssuingCertificateURLs,
		}
		err := step(r.ctx, kubeStep, fmt.Sprintf("sign with CA %s/%s", issuer.ResourceNamespace, ca.SecretName), actSignWithCA, in).Get(r.ctx, &signed)
		return signed, err
	case kube.IssuerTypeVault:
		return signWithVault(r.ctx, issuer, f.IssuerRef, r.in.Namespace, f.CSRPEM, duration)
	case kube.IssuerTypeACME:
		return r.order(issuer, f)
	case kube.IssuerTypeVenafi:
		return signWithVenafi(r.ctx, venafiIssuerRef(f.IssuerRef, r.in.Namespace), r.ref)
	}
	return signed, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("issuer %s is of type %s, which this version of certflow cannot sign with yet", f.IssuerRef.Name, issuer.Type), "UnsupportedIssuer", nil)
}

// order runs the ACME order for the request as a child workflow, as a Certificate's
// issuance does; the names come from the CSR.
func (r *requestRun) order(issuer kube.IssuerInfo, f kube.RequestFacts) (pki.SignedCertificate, error) {
	acmeSpec := issuer.Spec.ACME
	orderSpec := acmev1.OrderSpec{
		Request: f.CSRPEM, IssuerRef: f.IssuerRef, CommonName: f.CommonName,
		DNSNames: f.DNSNames, IPAddresses: f.IPAddresses, Profile: acmeSpec.Profile,
	}
	in := OrderInput{
		Request: r.ref, OrderName: OrderName(r.in.Name, orderSpec), IssuerRef: f.IssuerRef,
		Account: acmeAccountRef(acmeSpec, issuer.ResourceNamespace, issuer.ACMEAccountURL), Solvers: acmeSpec.Solvers,
		CertificateLabels: f.Labels, Spec: orderSpec, PreferredChain: acmeSpec.PreferredChain,
		Changes: len(orderChanges), RateLimits: acmeSpec.RateLimits,
	}
	if defaulted(f.IssuerRef.Kind, cmapi.IssuerKind) == cmapi.IssuerKind {
		in.IssuerNamespace = r.in.Namespace
	}
	if acmeSpec.EnableDurationFeature && f.Duration != nil {
		in.Spec.Duration = f.Duration
		notAfter := workflow.Now(r.ctx).Add(f.Duration.Duration)
		in.NotAfter = &notAfter
	}
	id := OrderWorkflowID(r.in.Namespace, in.OrderName)
	r.status.WaitingFor = "ACME order " + id
	ctx := workflow.WithChildOptions(r.ctx, workflow.ChildWorkflowOptions{
		WorkflowID: id, ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		StaticSummary: fmt.Sprintf("ACME order for CertificateRequest %s/%s", r.in.Namespace, r.in.Name),
	})
	var res OrderResult
	orderErr := workflow.ExecuteChildWorkflow(ctx, OrderWorkflow, in).Get(r.ctx, &res)
	// The Order has served, for good or ill: the request's status and the order's
	// history say what happened, and nothing would delete it later.
	if err := step(r.ctx, kubeStep, "delete the Orders of "+r.in.Name, actDeleteOrdersOfRequest, r.ref).Get(r.ctx, nil); err != nil {
		return pki.SignedCertificate{}, err
	}
	if orderErr != nil {
		return pki.SignedCertificate{}, temporal.NewNonRetryableApplicationError(apperr.Message(orderErr), ErrTypeOrderFailed, nil)
	}
	return pki.SignedCertificate{CertificatePEM: res.CertificatePEM}, nil
}

// fail marks the request failed for good (Failed or Denied, with a failure time), as
// upstream's issuer controllers do: a new request is the way to try again.
func (r *requestRun) fail(reason, msg string) error {
	r.status.LastError = msg
	err := r.setStatus(issuance.FailedRequestStatus(r.ref, reason, msg))
	var appErr *temporal.ApplicationError
	if isRequestGone(err) || (errors.As(err, &appErr) && appErr.Type() == kube.ErrTypeDenied) {
		return nil
	}
	return err
}

func (r *requestRun) setStatus(in kube.RequestStatusInput) error {
	summary := fmt.Sprintf("set %s %s", r.in.Name, in.Ready.Reason)
	if in.Ready.Reason == "" {
		summary = "approve " + r.in.Name
	}
	return step(r.ctx, kubeStep, summary, actSetCertificateRequestStatus, in).Get(r.ctx, nil)
}

// wait blocks until d passes or a signal says the request or its issuer changed.
func (r *requestRun) wait(d time.Duration, phase, waitingFor string) {
	r.in.Waits++
	until := workflow.Now(r.ctx).Add(d)
	r.status.Phase, r.status.WaitingFor, r.status.Until = phase, waitingFor, &until
	timerCtx, cancel := workflow.WithCancel(r.ctx)
	defer cancel()
	timer := workflow.NewTimerWithOptions(timerCtx, d, workflow.TimerOptions{Summary: waitingFor})
	woke := false
	sel := workflow.NewSelector(r.ctx)
	sel.AddFuture(timer, func(workflow.Future) { woke = true })
	r.addSignals(sel, &woke)
	for !woke {
		sel.Select(r.ctx)
	}
}

func (r *requestRun) addSignals(sel workflow.Selector, woke *bool) {
	receive(r.ctx, sel, r.changed, woke, r.onChanged)
	receive(r.ctx, sel, r.issuer, woke, func(IssuerChangedSignal) bool { return true })
	receive(r.ctx, sel, r.del, woke, r.onDelete)
}

// onChanged wakes the workflow for a change of its request; a request of another UID
// replaced it.
func (r *requestRun) onChanged(s RequestChangedSignal) bool {
	if s.UID != "" && s.UID != r.in.UID {
		r.replacedBy = s.UID
	}
	return true
}

// onDelete ends the workflow when its own request is gone (not an older one's).
func (r *requestRun) onDelete(s DeleteSignal) bool {
	if s.UID == "" || s.UID == r.in.UID {
		r.deleted = true
		return true
	}
	return false
}

func isRequestGone(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == kube.ErrTypeRequestGone
}

// drain applies the signals already delivered before a continue-as-new.
func (r *requestRun) drain() {
	for {
		var changed RequestChangedSignal
		var issuer IssuerChangedSignal
		var del DeleteSignal
		switch {
		case r.changed.ReceiveAsync(&changed):
			r.onChanged(changed)
		case r.del.ReceiveAsync(&del):
			r.onDelete(del)
		case r.issuer.ReceiveAsync(&issuer):
		default:
			return
		}
	}
}
