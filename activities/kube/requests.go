package kube

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/pki"
	"github.com/certflow/certflow/policy"
)

// CreateRequestInput is the CertificateRequest of one revision.
type CreateRequestInput struct {
	Namespace       string
	CertificateName string
	CertificateUID  string
	Revision        int
	CSRPEM          []byte
	IssuerRef       cmmeta.IssuerReference
	Duration        *metav1.Duration
	IsCA            bool
	Usages          []cmapi.KeyUsage
	// PrivateKeySecretName is the Secret holding the key the CSR was made with.
	PrivateKeySecretName string
}

// RequestRef names a CertificateRequest.
type RequestRef struct {
	Namespace, Name, UID string
	// CreatedVersion is the resourceVersion of a request CreateCertificateRequest just
	// created (status empty): the first status write can then go out without reading the
	// request back, guarded by this version. Empty for a reused request.
	CreatedVersion string `json:",omitempty"`
}

// CreateCertificateRequest makes sure the request of this revision exists for this CSR's
// key. An existing request for the same key is reused (the activity ran before a crash);
// one that failed, was denied, belongs to an older Certificate or holds another key is
// replaced, so there is exactly one request per revision.
func (a *Activities) CreateCertificateRequest(ctx context.Context, in CreateRequestInput) (CreatedRequest, error) {
	cert, err := a.confirmCertificate(ctx, in.Namespace, in.CertificateName, in.CertificateUID)
	if err != nil {
		return CreatedRequest{}, err
	}
	ref, err := a.ensureRequest(ctx, in, cert.Annotations[cmapi.VenafiCustomFieldsAnnotationKey])
	if err != nil {
		return CreatedRequest{}, err
	}
	return CreatedRequest{RequestRef: ref, CertificateLabels: cert.Labels, LabelsRead: true,
		HTTP01Overrides: policy.HTTP01Overrides(cert.Annotations)}, nil
}

// CreatedRequest is CreateCertificateRequest's result: the request, and the
// Certificate's labels when it was made, which the ACME solvers' matchLabels select by
// (upstream's Order carries its request's labels, copied from the Certificate then):
// a label change needs no signal to count at the next issuance.
type CreatedRequest struct {
	RequestRef
	CertificateLabels map[string]string `json:",omitempty"`
	// LabelsRead is false in results recorded before the labels came with them.
	LabelsRead bool `json:",omitempty"`
	// HTTP01Overrides are the Certificate's annotations that change its HTTP-01
	// solver (policy.HTTP01OverrideKeys; ingress-shim and gateway-shim set them), as
	// upstream's Order carries them from the Certificate.
	HTTP01Overrides map[string]string `json:",omitempty"`
}

// ensureRequest makes sure the request of this revision exists for the CSR's key. A
// Certificate's Venafi custom fields (venafiCustomFields, its annotation) go onto the
// request, where the Venafi issuer reads them, as upstream copies them.
func (a *Activities) ensureRequest(ctx context.Context, in CreateRequestInput, venafiCustomFields string) (RequestRef, error) {
	name := conventions.CertificateRequestName(in.CertificateName, in.Revision)
	crs := a.CertFlow.CertmanagerV1().CertificateRequests(in.Namespace)
	wantKey, err := csrPublicKeyHash(in.CSRPEM)
	if err != nil {
		return RequestRef{}, nonRetryable(ErrTypeInvalidCSR, "CSR for %s/%s: %v", in.Namespace, in.CertificateName, err)
	}
	t := true
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: in.Namespace,
			Annotations: map[string]string{
				cmapi.CertificateNameKey:                        in.CertificateName,
				cmapi.CertificateRequestRevisionAnnotationKey:   strconv.Itoa(in.Revision),
				cmapi.CertificateRequestPrivateKeyAnnotationKey: in.PrivateKeySecretName,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateKind,
				Name: in.CertificateName, UID: types.UID(in.CertificateUID), Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: cmapi.CertificateRequestSpec{
			Request: in.CSRPEM, IssuerRef: in.IssuerRef, Duration: in.Duration, IsCA: in.IsCA, Usages: in.Usages,
		},
	}
	if venafiCustomFields != "" {
		cr.Annotations[cmapi.VenafiCustomFieldsAnnotationKey] = venafiCustomFields
	}
	// A request of the name is never someone else's: one this attempt cannot reuse is
	// replaced.
	cur, created, err := createOrReplace(ctx, crs, "CertificateRequest", cr, func(cur *cmapi.CertificateRequest) existing {
		if reusable(cur, in.CertificateUID, wantKey) {
			return existingOwn
		}
		return existingStale
	}, nil)
	if err != nil {
		return RequestRef{}, err
	}
	ref := RequestRef{Namespace: in.Namespace, Name: name, UID: string(cur.UID)}
	if created {
		ref.CreatedVersion = cur.ResourceVersion
	}
	return ref, nil
}

// reusable reports whether an existing request can serve this issuance attempt.
func reusable(cr *cmapi.CertificateRequest, certUID, wantKey string) bool {
	if !ownedBy(cr.OwnerReferences, certUID) || requestFinishedBadly(cr) {
		return false
	}
	got, err := csrPublicKeyHash(cr.Spec.Request)
	return err == nil && got == wantKey
}

func ownedBy(refs []metav1.OwnerReference, uid string) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return string(r.UID) == uid })
}

func requestFinishedBadly(cr *cmapi.CertificateRequest) bool {
	for _, c := range cr.Status.Conditions {
		if c.Status != cmmeta.ConditionTrue && c.Type == cmapi.CertificateRequestConditionReady &&
			(c.Reason == cmapi.CertificateRequestReasonFailed || c.Reason == cmapi.CertificateRequestReasonDenied) {
			return true
		}
		if c.Type == cmapi.CertificateRequestConditionDenied && c.Status == cmmeta.ConditionTrue {
			return true
		}
	}
	return false
}

func csrPublicKeyHash(csrPEM []byte) (string, error) {
	if err := pki.CheckSize("certificate request", csrPEM); err != nil {
		return "", err
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return "", fmt.Errorf("no PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return "", err
	}
	return keys.PublicKeySHA256(csr.PublicKey), nil
}

// Approval is the approval state of a CertificateRequest.
type Approval struct {
	Approved, Denied bool
	Reason, Message  string
	// Record is set when the internal approver decided: the Approved condition is then
	// written together with the request's result (SetCertificateRequestStatus with
	// RecordApproval), one API write instead of two.
	Record bool
}

// ApproveInput asks for the internal approver's decision on a request.
type ApproveInput struct {
	Request RequestRef
	// Signer, when set, is the request's issuer of another group than cert-manager.io
	// (SignerName): the internal approver approves it only when certflow holds the
	// approve verb on it, as upstream's RBAC decides; otherwise it waits for others.
	Signer string `json:",omitempty"`
}

// ApproveCertificateRequest is the internal approver. Enabled (the default), it approves
// a request for a cert-manager.io issuer at once, without an API call: the request was
// just created or checked by CreateCertificateRequest, which never reuses a denied one.
// A request for an issuer of another group it approves only if certflow may (Signer).
// Otherwise it reads the request's conditions, so the workflow knows whether someone
// already decided.
func (a *Activities) ApproveCertificateRequest(ctx context.Context, in ApproveInput) (Approval, error) {
	if !a.DisableApprover {
		approve := in.Signer == ""
		if !approve {
			var err error
			if approve, err = a.mayApprove(ctx, in.Signer); err != nil {
				return Approval{}, err
			}
		}
		if approve {
			return Approval{Approved: true, Record: true, Reason: cmapi.ApprovedReasonCertManager, Message: internalApprovalMessage}, nil
		}
	}
	cr, err := a.getRequest(ctx, in.Request, metav1.GetOptions{})
	if err != nil {
		return Approval{}, err
	}
	return approvalOf(cr), nil
}

const internalApprovalMessage = "Certificate request has been approved by cert-manager.io"

func approvalOf(cr *cmapi.CertificateRequest) Approval {
	var out Approval
	for _, c := range cr.Status.Conditions {
		if c.Status != cmmeta.ConditionTrue {
			continue
		}
		switch c.Type {
		case cmapi.CertificateRequestConditionApproved:
			out.Approved, out.Reason, out.Message = true, c.Reason, c.Message
		case cmapi.CertificateRequestConditionDenied:
			out.Denied, out.Reason, out.Message = true, c.Reason, c.Message
		}
	}
	return out
}

// getRequest reads a request and checks it is still the one the workflow created.
func (a *Activities) getRequest(ctx context.Context, ref RequestRef, opts metav1.GetOptions) (*cmapi.CertificateRequest, error) {
	cr, err := cachedGet(ctx, opts, a.CertFlow.CertmanagerV1().CertificateRequests(ref.Namespace).Get, ref.Name)
	if apierrors.IsNotFound(err) || (err == nil && ref.UID != "" && string(cr.UID) != ref.UID) {
		return nil, nonRetryable(ErrTypeRequestGone, "CertificateRequest %s/%s was deleted or replaced", ref.Namespace, ref.Name)
	}
	return cr, err
}

// RequestStatusInput is the Ready condition (and result) the workflow wants on a request.
type RequestStatusInput struct {
	Request        RequestRef
	Ready          Condition
	CertificatePEM []byte
	CAPEM          []byte
	Failed         bool // sets failureTime
	// RecordApproval adds the internal approver's Approved condition (if the request has
	// no decision yet). A request denied meanwhile is left alone: the write fails with a
	// non-retryable "Denied" error.
	RecordApproval bool
	// ApprovalOnly writes the approval and leaves the Ready condition alone: a request for
	// an issuer of another group is that signer's to report on.
	ApprovalOnly bool `json:",omitempty"`
}

// SetCertificateRequestStatus writes a request's Ready condition and, when issued, its
// certificate and CA, if they differ. The first write to a request this workflow just
// created assumes its empty status and goes out unread, guarded by the resourceVersion
// of the create: anyone else's write in between (a person approving) makes it a
// conflict, and the retry reads the request.
func (a *Activities) SetCertificateRequestStatus(ctx context.Context, in RequestStatusInput) error {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	get := fromWatchCache
	unread := in.Request.CreatedVersion != ""
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur *cmapi.CertificateRequest
		if unread {
			unread = false
			cur = &cmapi.CertificateRequest{ObjectMeta: metav1.ObjectMeta{
				Namespace: in.Request.Namespace, Name: in.Request.Name, UID: types.UID(in.Request.UID), ResourceVersion: in.Request.CreatedVersion,
			}}
		} else {
			var err error
			cur, err = a.getRequest(ctx, in.Request, get)
			get = metav1.GetOptions{} // a conflict means the cache was behind: read from etcd
			if err != nil {
				return err
			}
		}
		want := cur.Status.DeepCopy()
		if in.RecordApproval {
			switch ap := approvalOf(cur); {
			case ap.Denied:
				return nonRetryable(ErrTypeDenied, "CertificateRequest %s/%s was denied: %s: %s", cur.Namespace, cur.Name, ap.Reason, ap.Message)
			case !ap.Approved:
				setRequestCondition(want, cmapi.CertificateRequestConditionApproved,
					Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.ApprovedReasonCertManager, Message: internalApprovalMessage}, now)
			}
		}
		if !in.ApprovalOnly {
			setRequestCondition(want, cmapi.CertificateRequestConditionReady, in.Ready, now)
		}
		if in.CertificatePEM != nil {
			want.Certificate, want.CA = in.CertificatePEM, in.CAPEM
		}
		if in.Failed && want.FailureTime == nil {
			want.FailureTime = &now
		}
		if equality.Semantic.DeepEqual(want, &cur.Status) {
			return nil
		}
		cur = cur.DeepCopy()
		cur.Status = *want
		_, err := a.CertFlow.CertmanagerV1().CertificateRequests(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: conventions.FieldManager})
		if apierrors.IsNotFound(err) {
			return nonRetryable(ErrTypeRequestGone, "CertificateRequest %s/%s was deleted or replaced", cur.Namespace, cur.Name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update status of CertificateRequest %s/%s: %w", in.Request.Namespace, in.Request.Name, err)
	}
	return nil
}

func setRequestCondition(st *cmapi.CertificateRequestStatus, typ cmapi.CertificateRequestConditionType, c Condition, now metav1.Time) {
	next := cmapi.CertificateRequestCondition{Type: typ, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: &now}
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			if st.Conditions[i].Status == c.Status {
				next.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = next
			return
		}
	}
	st.Conditions = append(st.Conditions, next)
}

// CleanupRequestsInput names the revisions whose requests are past the history limit.
type CleanupRequestsInput struct {
	Namespace       string
	CertificateName string
	CertificateUID  string
	// Requests of revisions FromRevision..ToRevision (inclusive) are deleted.
	FromRevision, ToRevision int
	// WithOrders also deletes the ACME Orders the requests own (their Challenges are
	// gone already): a cluster's garbage collector would, but certflow does not leave
	// its own objects to it (upstream pain point #8).
	WithOrders bool `json:",omitempty"`
}

// CleanupCertificateRequests deletes the Certificate's requests that fell out of its
// revisionHistoryLimit, by name: no listing, so the cost does not grow with the number
// of requests in the namespace, and requests never pile up (upstream pain point #8).
func (a *Activities) CleanupCertificateRequests(ctx context.Context, in CleanupRequestsInput) error {
	crs := a.CertFlow.CertmanagerV1().CertificateRequests(in.Namespace)
	deleted := map[string]bool{} // request UIDs
	defer func() {
		if in.WithOrders && len(deleted) > 0 {
			a.deleteOrdersOf(ctx, in.Namespace, deleted)
		}
	}()
	for rev := max(in.FromRevision, 1); rev <= in.ToRevision; rev++ {
		name := conventions.CertificateRequestName(in.CertificateName, rev)
		cr, err := crs.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get CertificateRequest %s/%s: %w", in.Namespace, name, err)
		}
		if !ownedBy(cr.OwnerReferences, in.CertificateUID) {
			continue // not ours (another Certificate of the same name, or made by hand)
		}
		uid := cr.UID
		if err := crs.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete CertificateRequest %s/%s: %w", in.Namespace, name, err)
		}
		deleted[string(uid)] = true
	}
	return nil
}

// deleteOrdersOf deletes the Orders owned by the given requests. Best effort: an Order
// left by a failed call has no owner left and is listed again by the next cleanup.
func (a *Activities) deleteOrdersOf(ctx context.Context, namespace string, requestUIDs map[string]bool) {
	orders := a.CertFlow.AcmeV1().Orders(namespace)
	list, err := orders.List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return
	}
	for _, o := range list.Items {
		for _, ref := range o.OwnerReferences {
			if requestUIDs[string(ref.UID)] {
				uid := o.UID
				_ = orders.Delete(ctx, o.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
				break
			}
		}
	}
}
