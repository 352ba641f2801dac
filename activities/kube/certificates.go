// Package kube holds the activities that read and write Kubernetes objects: Secrets,
// Certificate and Issuer status, Events. Every activity is idempotent: it reads what is
// there, writes only what differs, and can run twice without a second effect.
package kube

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/policy"
)

// Activities touch the Kubernetes API. Register a pointer to it with the worker.
type Activities struct {
	Kube     kubernetes.Interface
	CertFlow versioned.Interface
	// ClusterResourceNamespace holds the Secrets that ClusterIssuers refer to.
	ClusterResourceNamespace string
	// DisableApprover turns off the internal approver: requests then wait for a human
	// (kubectl cert-manager approve / deny, or the Approved/Denied condition set with kubectl).
	DisableApprover bool
}

// Condition is one status condition the workflow wants on an object.
type Condition struct {
	Status  cmmeta.ConditionStatus
	Reason  string
	Message string
}

// Event is a Kubernetes Event to record on the Certificate.
type Event struct {
	Type    string // Normal or Warning
	Reason  string
	Message string
}

// CertificateStatusInput is the whole status the workflow owns. Nil fields are cleared,
// so replaying the same input converges on the same status.
type CertificateStatusInput struct {
	Namespace, Name, UID     string
	ObservedGeneration       int64
	Ready                    Condition
	Issuing                  *Condition // nil removes the Issuing condition
	NotBefore, NotAfter      *time.Time
	RenewalTime              *time.Time
	Revision                 *int
	NextPrivateKeySecretName *string
	FailedIssuanceAttempts   *int
	LastFailureTime          *time.Time
	Events                   []Event
}

// CertificateStatusResult reports what the status write left behind.
type CertificateStatusResult struct {
	// IssuingSince is the token (ConditionToken) of the Issuing=True condition, if any.
	IssuingSince string
	// Revision is status.revision as written. Revisions never go down: when the object
	// already holds a higher one (an earlier attempt of a workflow task issued it, and
	// the retry found the Secret up to date), that one stays and the workflow adopts it.
	Revision int
	// ClearedNextPrivateKey names the next-key Secret that status.nextPrivateKeySecretName
	// pointed to before this write cleared it: an issuance was cut short (a worker died
	// mid-task) and the workflow deletes that Secret rather than leave a key lying around.
	ClearedNextPrivateKey string
}

// ConditionToken renders a condition's lastTransitionTime as the token the watcher and
// the workflow use to tell manual renewal requests apart.
func ConditionToken(t *metav1.Time) string {
	if t == nil {
		return "unset"
	}
	return t.UTC().Format(time.RFC3339)
}

// ManualRenewToken is the token of the manual renewal request a Certificate's status
// carries (the Issuing=True condition with reason ManuallyTriggered that cmctl renew
// sets), or "".
func ManualRenewToken(st *cmapi.CertificateStatus) string {
	for _, c := range st.Conditions {
		if c.Type == cmapi.CertificateConditionIssuing && c.Status == cmmeta.ConditionTrue && c.Reason == cmapi.ReasonManuallyTriggered {
			return ConditionToken(c.LastTransitionTime)
		}
	}
	return ""
}

// CertificateIdentity names one Certificate object: a name, and the UID it must have.
type CertificateIdentity struct {
	Namespace, Name, UID string
}

// ReadManualRenewToken reads the Certificate from etcd, not the watch cache, and returns
// the token of the manual renewal it asks for now: "" when it asks for none, or when it
// is gone or another object. A workflow that removed a request's condition reads this
// to tell a new request written in the same second (tokens are to the second) from a
// late relay of the old one.
func (a *Activities) ReadManualRenewToken(ctx context.Context, in CertificateIdentity) (string, error) {
	cert, err := a.CertFlow.CertmanagerV1().Certificates(in.Namespace).Get(ctx, in.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("get Certificate %s/%s: %w", in.Namespace, in.Name, err)
	case in.UID != "" && string(cert.UID) != in.UID:
		return "", nil
	}
	return ManualRenewToken(&cert.Status), nil
}

// UpdateCertificateStatus writes the Certificate's status if it differs and records events.
// A Certificate that is gone (or replaced by one with another UID) is not an error: the
// workflow learns of the deletion from its own signal.
func (a *Activities) UpdateCertificateStatus(ctx context.Context, in CertificateStatusInput) (CertificateStatusResult, error) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	var (
		cert *cmapi.Certificate
		res  CertificateStatusResult
	)
	get := fromWatchCache
	confirmed := confirmedCertificate(ctx, in.Namespace, in.Name, in.UID)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur *cmapi.Certificate
		var err error
		if confirmed != nil {
			cur, confirmed = confirmed, nil // read at the start of this activity
		} else {
			cur, err = cachedGet(ctx, get, a.CertFlow.CertmanagerV1().Certificates(in.Namespace).Get, in.Name)
		}
		get = metav1.GetOptions{} // a conflict means what was read is behind: read from etcd
		if err != nil {
			return err
		}
		if in.UID != "" && string(cur.UID) != in.UID {
			return apierrors.NewNotFound(cmapi.Resource("certificates"), in.Name)
		}
		cert = cur
		want := cur.Status.DeepCopy()
		setCertificateCondition(want, cmapi.CertificateConditionReady, &in.Ready, in.ObservedGeneration, now)
		setCertificateCondition(want, cmapi.CertificateConditionIssuing, in.Issuing, in.ObservedGeneration, now)
		want.NotBefore = metaTime(in.NotBefore)
		want.NotAfter = metaTime(in.NotAfter)
		want.RenewalTime = metaTime(in.RenewalTime)
		want.Revision = in.Revision
		if cur.Status.Revision != nil && (in.Revision == nil || *cur.Status.Revision > *in.Revision) {
			want.Revision = cur.Status.Revision
		}
		want.NextPrivateKeySecretName = in.NextPrivateKeySecretName
		want.FailedIssuanceAttempts = in.FailedIssuanceAttempts
		want.LastFailureTime = metaTime(in.LastFailureTime)
		res = CertificateStatusResult{}
		if want.Revision != nil {
			res.Revision = *want.Revision
		}
		if prev := cur.Status.NextPrivateKeySecretName; prev != nil && want.NextPrivateKeySecretName == nil {
			res.ClearedNextPrivateKey = *prev
		}
		for _, c := range want.Conditions {
			if c.Type == cmapi.CertificateConditionIssuing && c.Status == cmmeta.ConditionTrue {
				res.IssuingSince = ConditionToken(c.LastTransitionTime)
			}
		}
		if equality.Semantic.DeepEqual(want, &cur.Status) {
			return nil
		}
		cur = cur.DeepCopy()
		cur.Status = *want
		_, err = a.CertFlow.CertmanagerV1().Certificates(in.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: conventions.FieldManager})
		return err
	})
	if apierrors.IsNotFound(err) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("update status of Certificate %s/%s: %w", in.Namespace, in.Name, err)
	}
	for _, e := range coalesceEvents(in.Events) {
		if err := a.recordEvent(ctx, cert, e, revisionOf(in), now); err != nil {
			return res, err
		}
	}
	return res, nil
}

func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// setCertificateCondition sets (or with c == nil removes) one condition, keeping
// lastTransitionTime when the status does not change, as Kubernetes conventions ask.
func setCertificateCondition(st *cmapi.CertificateStatus, typ cmapi.CertificateConditionType, c *Condition, gen int64, now metav1.Time) {
	idx := -1
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			idx = i
		}
	}
	if c == nil {
		if idx >= 0 {
			st.Conditions = append(st.Conditions[:idx:idx], st.Conditions[idx+1:]...)
		}
		return
	}
	next := cmapi.CertificateCondition{Type: typ, Status: c.Status, Reason: c.Reason, Message: c.Message, ObservedGeneration: gen, LastTransitionTime: &now}
	if idx < 0 {
		st.Conditions = append(st.Conditions, next)
		return
	}
	if st.Conditions[idx].Status == c.Status {
		next.LastTransitionTime = st.Conditions[idx].LastTransitionTime
	}
	st.Conditions[idx] = next
}

func revisionOf(in CertificateStatusInput) string {
	if in.Revision == nil {
		return "0"
	}
	return fmt.Sprint(*in.Revision)
}

// recordEvent writes an Event. Its name is derived from the object, revision, reason and
// message, so a retried activity finds its Event already there instead of adding another.
func (a *Activities) recordEvent(ctx context.Context, cert *cmapi.Certificate, e Event, revision string, now metav1.Time) error {
	name := fmt.Sprintf("%s.%x", cert.Name, eventHash(string(cert.UID), revision, e.Reason, e.Message))
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: cert.Namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: cmapi.SchemeGroupVersion.String(), Kind: "Certificate",
			Namespace: cert.Namespace, Name: cert.Name, UID: cert.UID, ResourceVersion: cert.ResourceVersion,
		},
		Type: e.Type, Reason: e.Reason, Message: e.Message,
		Source:         corev1.EventSource{Component: conventions.EventComponent},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
		ReportingController: conventions.EventReportingController, ReportingInstance: conventions.EventReportingInstance,
	}
	_, err := a.Kube.CoreV1().Events(cert.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record event %s on Certificate %s/%s: %w", e.Reason, cert.Namespace, cert.Name, err)
	}
	return nil
}

// factsOf extracts the public facts of a certificate for the trigger policies.
func factsOf(c *x509.Certificate) policy.IssuedFacts {
	f := policy.IssuedFacts{
		NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		CommonName: c.Subject.CommonName, DNSNames: c.DNSNames, EmailAddresses: c.EmailAddresses,
		IsCA: c.IsCA,
	}
	for _, ip := range c.IPAddresses {
		f.IPAddresses = append(f.IPAddresses, ip.String())
	}
	for _, u := range c.URIs {
		f.URIs = append(f.URIs, u.String())
	}
	f.KeyAlgorithm, f.KeySize = publicKeyKind(c)
	return f
}

// fromWatchCache reads an object from kube-apiserver's watch cache instead of etcd: much
// cheaper for the API server, and at most milliseconds behind. Used where staleness is
// harmless: reads before an update (a stale object fails the update with a conflict,
// and the retry reads from etcd) and issuer lookups (a newer issuer comes as a signal).
var fromWatchCache = metav1.GetOptions{ResourceVersion: "0"}

// cachedGet reads with opts and, when a read from the watch cache finds nothing, again
// from etcd: an object created a moment ago may not be in the cache yet, and "not
// found" must never be concluded from a cache that is behind.
func cachedGet[T any](ctx context.Context, opts metav1.GetOptions, get func(context.Context, string, metav1.GetOptions) (T, error), name string) (T, error) {
	obj, err := get(ctx, name, opts)
	if apierrors.IsNotFound(err) && opts.ResourceVersion != "" {
		return get(ctx, name, metav1.GetOptions{})
	}
	return obj, err
}
