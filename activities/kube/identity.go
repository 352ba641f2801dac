package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// Temporal is not a back door: an activity that writes for a Certificate first confirms
// that the Certificate exists and is the object its workflow acts for (by UID), and
// takes the names it writes from the Certificate rather than from its input. A workflow
// started by hand with forged input, or one whose Certificate was deleted or replaced,
// writes nothing.

// confirmCertificate returns the Certificate namespace/name if it exists with uid ("" is
// accepted for inputs recorded before activities carried the UID: the name must match).
func (a *Activities) confirmCertificate(ctx context.Context, namespace, name, uid string) (*cmapi.Certificate, error) {
	c, err := a.CertFlow.CertmanagerV1().Certificates(namespace).Get(ctx, name, metav1.GetOptions{})
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
