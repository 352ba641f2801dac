package kube

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// CAKeyPairInput names the Secret of a CA issuer. An empty Namespace means the cluster
// resource namespace (the issuer is a ClusterIssuer).
type CAKeyPairInput struct {
	Namespace, SecretName string
}

// CAKeyPairCheck is the verdict on a CA issuer's key pair, with upstream's reasons.
type CAKeyPairCheck struct {
	Valid   bool
	Reason  string
	Message string
}

// CheckCAKeyPair verifies that the Secret holds a CA certificate and its private key.
// A bad Secret is a verdict, not an error: the issuer shows it as Ready=False.
func (a *Activities) CheckCAKeyPair(ctx context.Context, in CAKeyPairInput) (CAKeyPairCheck, error) {
	ns := in.Namespace
	if ns == "" {
		ns = a.ClusterResourceNamespace
	}
	_, _, _, err := pki.LoadCAKeyPair(ctx, a.Kube, pki.CAKeyPairRef{Namespace: ns, SecretName: in.SecretName})
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return CAKeyPairCheck{Valid: true}, nil
	case errors.As(err, &appErr) && appErr.Type() == pki.ErrTypeCASecretNotFound:
		return CAKeyPairCheck{Reason: cmapi.IssuerReasonErrorGetKeyPair, Message: fmt.Sprintf("Error getting keypair for CA issuer: secret %s/%s not found", ns, in.SecretName)}, nil
	case errors.As(err, &appErr) && appErr.NonRetryable():
		return CAKeyPairCheck{Reason: cmapi.IssuerReasonErrorInvalidKeyPair, Message: fmt.Sprintf("Error getting keypair for CA issuer: %s", appErr.Message())}, nil
	}
	return CAKeyPairCheck{}, err
}
