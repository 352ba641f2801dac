package kube

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// Temporal is not a back door: an activity that writes for a Certificate first confirms
// that the Certificate exists and is the object its workflow acts for (by UID), and
// takes the names it writes from the Certificate rather than from its input. A workflow
// started by hand with forged input, or one whose Certificate was deleted or replaced,
// writes nothing.

// confirmedCtx holds the Certificate an activity confirmed (WithConfirmedCertificate).
type confirmedCtx struct{}

type confirmed struct {
	mu   sync.Mutex
	cert *cmapi.Certificate
}

// WithConfirmedCertificate returns a context in which the first confirmation of a
// Certificate stands for the activity's later writes for it, and its status update
// starts from the object read then (as fresh as a read from the watch cache; a
// conflict reads again from etcd): one issuance in one step (activities/issuance)
// reads the Certificate once instead of before each of its three writes.
func WithConfirmedCertificate(ctx context.Context) context.Context {
	return context.WithValue(ctx, confirmedCtx{}, &confirmed{})
}

// confirmedCertificate is the Certificate confirmed in ctx, if it is namespace/name
// (with uid, when given).
func confirmedCertificate(ctx context.Context, namespace, name, uid string) *cmapi.Certificate {
	m, _ := ctx.Value(confirmedCtx{}).(*confirmed)
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.cert; c != nil && c.Namespace == namespace && c.Name == name && (uid == "" || string(c.UID) == uid) {
		return c
	}
	return nil
}

func rememberConfirmed(ctx context.Context, c *cmapi.Certificate) {
	if m, _ := ctx.Value(confirmedCtx{}).(*confirmed); m != nil {
		m.mu.Lock()
		m.cert = c
		m.mu.Unlock()
	}
}

// confirmCertificate returns the Certificate namespace/name if it exists with uid ("" is
// accepted for inputs recorded before activities carried the UID: the name must match).
func (a *Activities) confirmCertificate(ctx context.Context, namespace, name, uid string) (*cmapi.Certificate, error) {
	if c := confirmedCertificate(ctx, namespace, name, uid); c != nil {
		return c, nil
	}
	c, err := a.readConfirmed(ctx, namespace, name, uid)
	if err == nil {
		rememberConfirmed(ctx, c)
	}
	return c, err
}

func (a *Activities) readConfirmed(ctx context.Context, namespace, name, uid string) (*cmapi.Certificate, error) {
	certs := a.CertFlow.CertmanagerV1().Certificates(namespace)
	// The watch cache spares etcd a read per write; "not found" and another UID are
	// only concluded from etcd, since the cache may be behind a create or a re-creation.
	c, err := cachedGet(ctx, fromWatchCache, certs.Get, name)
	if err == nil && uid != "" && string(c.UID) != uid {
		c, err = certs.Get(ctx, name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nonRetryable(ErrTypeObjectGone, "Certificate %s/%s does not exist: nothing is written for it", namespace, name)
	case err != nil:
		return nil, fmt.Errorf("get Certificate %s/%s: %w", namespace, name, err)
	case uid != "" && string(c.UID) != uid:
		return nil, nonRetryable(ErrTypeObjectGone, "Certificate %s/%s is another object now (UID %s, not %s): nothing is written for the old one", namespace, name, c.UID, uid)
	}
	return c, nil
}

// confirmSecretOf returns the Certificate as confirmCertificate does, and confirms that
// secretName is its spec.secretName.
func (a *Activities) confirmSecretOf(ctx context.Context, namespace, certName, uid, secretName string) error {
	c, err := a.confirmCertificate(ctx, namespace, certName, uid)
	if err != nil {
		return err
	}
	if c.Spec.SecretName != secretName {
		return nonRetryable(ErrTypeObjectGone, "Certificate %s/%s writes Secret %q, not %q", namespace, certName, c.Spec.SecretName, secretName)
	}
	return nil
}

// ConfirmOwner confirms that the owner of a Secret an activity is about to write (a
// next-key Secret, owned by its Certificate) exists with the owner reference's UID. It
// is the keys activities' owner check.
func (a *Activities) ConfirmOwner(ctx context.Context, namespace string, owner metav1.OwnerReference) error {
	if owner.Kind != cmapi.CertificateKind {
		return nonRetryable(ErrTypeObjectGone, "unexpected owner kind %q", owner.Kind)
	}
	_, err := a.confirmCertificate(ctx, namespace, owner.Name, string(owner.UID))
	return err
}

// confirmUID fails, for good, when get finds no kind namespace/name or one with
// another UID than uid.
func confirmUID[T metav1.Object](ctx context.Context, kind, namespace, name, uid string, get func(context.Context, string, metav1.GetOptions) (T, error)) error {
	_, err := getConfirmed(ctx, kind, namespace, name, uid, get)
	return err
}

// getConfirmed returns kind namespace/name when it exists with uid, and fails for good
// when it does not.
func getConfirmed[T metav1.Object](ctx context.Context, kind, namespace, name, uid string, get func(context.Context, string, metav1.GetOptions) (T, error)) (T, error) {
	obj, err := get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return obj, nonRetryable(ErrTypeObjectGone, "%s %s/%s does not exist: nothing is written for it", kind, namespace, name)
	case err != nil:
		return obj, fmt.Errorf("get %s %s/%s: %w", kind, namespace, name, err)
	case string(obj.GetUID()) != uid:
		return obj, nonRetryable(ErrTypeObjectGone, "%s %s/%s is another object now (UID %s, not %s): nothing is written for the old one", kind, namespace, name, obj.GetUID(), uid)
	}
	return obj, nil
}

// confirmRequest confirms that the CertificateRequest an Order is created for exists
// with the UID in the activity's input.
func (a *Activities) confirmRequest(ctx context.Context, ref RequestRef) error {
	return confirmUID(ctx, "CertificateRequest", ref.Namespace, ref.Name, ref.UID, a.CertFlow.CertmanagerV1().CertificateRequests(ref.Namespace).Get)
}

// confirmOrder confirms that the Order a Challenge is created for exists with the UID
// in the activity's input.
func (a *Activities) confirmOrder(ctx context.Context, ref ObjectRef) error {
	return confirmUID(ctx, "Order", ref.Namespace, ref.Name, ref.UID, a.CertFlow.AcmeV1().Orders(ref.Namespace).Get)
}

// ConfirmChallenge confirms that the Challenge a solver acts for exists with uid: the
// HTTP-01 solver's objects are created for a Challenge that is there, never for forged
// input.
func (a *Activities) ConfirmChallenge(ctx context.Context, namespace, name, uid string) error {
	_, err := a.LoadChallenge(ctx, namespace, name, uid)
	return err
}

// LoadChallenge returns the Challenge a DNS-01 record is presented for when it exists
// with uid: its solver and issuer, not the activity's input, say whose credentials
// write the record.
func (a *Activities) LoadChallenge(ctx context.Context, namespace, name, uid string) (*acmev1.Challenge, error) {
	return getConfirmed(ctx, "Challenge", namespace, name, uid, a.CertFlow.AcmeV1().Challenges(namespace).Get)
}
