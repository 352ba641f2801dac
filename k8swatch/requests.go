package k8swatch

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/entity"
	"github.com/certflow/certflow/workflows"
)

// syncRequest relays what happens to a CertificateRequest to the workflow it concerns:
// for a Certificate's request, an approval decision (internal approver, starter
// approve/deny, or kubectl) and, when an issuer of another group signs it, each step of
// that signer; a request anyone else made, for a cert-manager.io issuer, is served by a
// CertificateRequestWorkflow of its own, started here.
func (w *Watcher) syncRequest(ctx context.Context, k key) error {
	cr, err := w.requestLister.CertificateRequests(k.Namespace).Get(k.Name)
	if k.DeletedUID != "" {
		if err == nil && string(cr.UID) == k.DeletedUID {
			return nil // stale: the object is back in the cache
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return entity.Delete(ctx, w.o.Temporal, workflows.CertificateRequestWorkflowID(k.Namespace, k.Name), k.DeletedUID)
	}
	if apierrors.IsNotFound(err) {
		w.forget(k, "")
		return nil
	}
	if err != nil {
		return err
	}
	if servedStandalone(cr) {
		return w.syncStandaloneRequest(ctx, k, cr)
	}
	cert := cr.Annotations[cmapi.CertificateNameKey]
	decision := approvalDecision(cr)
	if kube.ExternalIssuerGroup(cr.Spec.IssuerRef.Group) {
		// The Certificate's workflow waits for the signer: each of its steps wakes it.
		decision += "/" + readyState(cr)
	}
	if cert == "" || decision == "" || decision == "/" {
		return nil
	}
	fp := string(cr.UID) + "/" + decision
	if !w.remember(k, fp) {
		return nil
	}
	c, err := w.certLister.Certificates(cr.Namespace).Get(cert)
	if apierrors.IsNotFound(err) {
		return nil // its workflow ends, and the request goes with the Certificate
	}
	if err != nil {
		return err
	}
	if err := entity.Certificate(ctx, w.o.Temporal, w.o.TaskQueue, c, workflows.SignalApproval, workflows.ApprovalSignal{Request: cr.Name}); err != nil {
		w.forget(k, fp)
		return err
	}
	return nil
}

// syncStandaloneRequest starts (or tells) the workflow of a request no Certificate made,
// at its creation and at each approval decision, until it is finished.
func (w *Watcher) syncStandaloneRequest(ctx context.Context, k key, cr *cmapi.CertificateRequest) error {
	if kube.RequestFinished(cr) {
		w.forget(k, "")
		return nil
	}
	fp := fmt.Sprintf("%s/%s", cr.UID, approvalDecision(cr))
	restart := w.takeRestart(k)
	if !w.remember(k, fp) && !restart {
		return nil
	}
	if err := entity.Request(ctx, w.o.Temporal, w.o.TaskQueue, cr, workflows.SignalRequestChanged, workflows.RequestChangedSignal{UID: string(cr.UID)}); err != nil {
		w.forget(k, fp)
		return err
	}
	return nil
}

// servedStandalone reports whether certflow serves a request with a workflow of its own:
// no Certificate controls it, and its issuer is a cert-manager.io one. Requests for
// issuers of other groups are their signers'.
func servedStandalone(cr *cmapi.CertificateRequest) bool {
	if kube.ExternalIssuerGroup(cr.Spec.IssuerRef.Group) {
		return false
	}
	for _, o := range cr.OwnerReferences {
		if o.Controller != nil && *o.Controller && o.Kind == cmapi.CertificateKind && o.APIVersion == cmapi.SchemeGroupVersion.String() {
			return false
		}
	}
	return true
}

// readyState is a request's Ready condition as status/reason, "" without one.
func readyState(cr *cmapi.CertificateRequest) string {
	for _, c := range cr.Status.Conditions {
		if c.Type == cmapi.CertificateRequestConditionReady {
			return string(c.Status) + "/" + c.Reason
		}
	}
	return ""
}

// approvalDecision is "approved", "denied" or "" (undecided, or approved by certflow's
// own internal approver: the workflow that asked for that approval already has it, and a
// signal would only make it replay its workflow task).
func approvalDecision(cr *cmapi.CertificateRequest) string {
	for _, c := range cr.Status.Conditions {
		if c.Status != cmmeta.ConditionTrue {
			continue
		}
		switch c.Type {
		case cmapi.CertificateRequestConditionApproved:
			if c.Reason == cmapi.ApprovedReasonCertManager {
				return ""
			}
			return "approved"
		case cmapi.CertificateRequestConditionDenied:
			return "denied"
		}
	}
	return ""
}

// requestIssuerIndex indexes the requests served standalone that are not done by their
// issuer, so that the issuer becoming ready wakes those waiting for it.
func requestIssuerIndex(obj any) ([]string, error) {
	cr, ok := obj.(*cmapi.CertificateRequest)
	if !ok || !servedStandalone(cr) || kube.RequestFinished(cr) {
		return nil, nil
	}
	kind := cr.Spec.IssuerRef.Kind
	if kind == "" {
		kind = kindIssuer
	}
	return []string{issuerIndexKey(kind, cr.Namespace, cr.Spec.IssuerRef.Name)}, nil
}
