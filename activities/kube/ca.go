package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
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
	s, err := a.Kube.CoreV1().Secrets(ns).Get(ctx, in.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return CAKeyPairCheck{Reason: "ErrGetKeyPair", Message: fmt.Sprintf("Error getting keypair for CA issuer: secret %s/%s not found", ns, in.SecretName)}, nil
	}
	if err != nil {
		return CAKeyPairCheck{}, fmt.Errorf("get Secret %s/%s: %w", ns, in.SecretName, err)
	}
	cert, err := firstCertificate(s.Data[TLSCertKey])
	if err != nil {
		return CAKeyPairCheck{Reason: "ErrInvalidKeyPair", Message: fmt.Sprintf("Error decoding %s in Secret %s/%s: %v", TLSCertKey, ns, in.SecretName, err)}, nil
	}
	signer, err := keys.ParsePrivateKeyPEM(s.Data[TLSKeyKey])
	if err != nil {
		return CAKeyPairCheck{Reason: "ErrInvalidKeyPair", Message: fmt.Sprintf("Error decoding %s in Secret %s/%s: %v", TLSKeyKey, ns, in.SecretName, err)}, nil
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return CAKeyPairCheck{Reason: "ErrInvalidKeyPair", Message: fmt.Sprintf("The private key in Secret %s/%s does not match its certificate", ns, in.SecretName)}, nil
	}
	if !cert.IsCA {
		return CAKeyPairCheck{Reason: "ErrInvalidKeyPair", Message: fmt.Sprintf("The certificate in Secret %s/%s is not a CA certificate (basicConstraints CA:TRUE)", ns, in.SecretName)}, nil
	}
	return CAKeyPairCheck{Valid: true}, nil
}
