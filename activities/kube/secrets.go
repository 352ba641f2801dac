package kube

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"hash/fnv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/policy"
)

// Keys of a kubernetes.io/tls Secret, as upstream writes them.
const (
	TLSCertKey = corev1.TLSCertKey       // tls.crt: leaf and chain
	TLSKeyKey  = corev1.TLSPrivateKeyKey // tls.key
	CACertKey  = "ca.crt"
)

// ManagedSecretLabel marks Secrets certflow writes, so the watcher can watch only those
// (metadata only) instead of every Secret in the cluster.
const ManagedSecretLabel = "controller.cert-manager.io/fao"

// InspectSecretInput names the target Secret of a Certificate and the extra outputs
// (keystores, additional formats) it should carry.
type InspectSecretInput struct {
	Namespace, SecretName   string
	Keystores               *cmapi.CertificateKeystores
	AdditionalOutputFormats []cmapi.CertificateAdditionalOutputFormat
}

// InspectSecret reports what the target Secret holds, for the trigger policies. It
// returns facts only: never the key bytes.
func (a *Activities) InspectSecret(ctx context.Context, in InspectSecretInput) (policy.SecretState, error) {
	s, err := a.Kube.CoreV1().Secrets(in.Namespace).Get(ctx, in.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return policy.SecretState{}, nil
	}
	if err != nil {
		return policy.SecretState{}, fmt.Errorf("get Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	return inspect(s), nil
}

func inspect(s *corev1.Secret) policy.SecretState {
	st := policy.SecretState{
		Exists:         true,
		HasCertificate: len(s.Data[TLSCertKey]) > 0,
		HasPrivateKey:  len(s.Data[TLSKeyKey]) > 0,
		IssuerName:     s.Annotations[cmapi.IssuerNameAnnotationKey],
		IssuerKind:     s.Annotations[cmapi.IssuerKindAnnotationKey],
		IssuerGroup:    s.Annotations[cmapi.IssuerGroupAnnotationKey],
	}
	if !st.HasCertificate || !st.HasPrivateKey {
		return st
	}
	cert, err := firstCertificate(s.Data[TLSCertKey])
	if err != nil {
		st.CertificateError = err.Error()
		return st
	}
	st.Certificate = factsOf(cert)
	signer, err := keys.ParsePrivateKeyPEM(s.Data[TLSKeyKey])
	st.KeyMatchesCertificate = err == nil && publicKeysEqual(signer.Public(), cert.PublicKey)
	return st
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// publicKeyKind names the key algorithm and size the way the Certificate spec does.
func publicKeyKind(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return string(cmapi.RSAKeyAlgorithm), k.N.BitLen()
	case *ecdsa.PublicKey:
		return string(cmapi.ECDSAKeyAlgorithm), k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return string(cmapi.Ed25519KeyAlgorithm), 0
	}
	return "", 0
}

// WriteSecretInput is everything the target Secret is made of, except the key bytes,
// which the activity copies from the key Secret named by Key.
type WriteSecretInput struct {
	Namespace       string
	CertificateName string
	SecretName      string
	Key             keys.KeyRef
	CertificatePEM  []byte // leaf + chain
	CAPEM           []byte
	IssuerName      string
	IssuerKind      string
	IssuerGroup     string
	SecretTemplate  *cmapi.CertificateSecretTemplate
	// Extra outputs derived from the key and certificate.
	Keystores               *cmapi.CertificateKeystores
	AdditionalOutputFormats []cmapi.CertificateAdditionalOutputFormat
}

// WriteCertificateSecret server-side applies the kubernetes.io/tls Secret with the
// certificate, its key and upstream's annotations, and returns the certificate's facts.
func (a *Activities) WriteCertificateSecret(ctx context.Context, in WriteSecretInput) (policy.IssuedFacts, error) {
	cert, err := firstCertificate(in.CertificatePEM)
	if err != nil {
		return policy.IssuedFacts{}, nonRetryable("InvalidCertificate", "certificate for %s/%s: %v", in.Namespace, in.CertificateName, err)
	}
	keySecret, err := a.Kube.CoreV1().Secrets(in.Key.Namespace).Get(ctx, in.Key.SecretName, metav1.GetOptions{})
	if err != nil {
		return policy.IssuedFacts{}, fmt.Errorf("read private key Secret %s/%s: %w", in.Key.Namespace, in.Key.SecretName, err)
	}
	keyPEM := keySecret.Data[in.Key.DataKey]
	signer, err := keys.ParsePrivateKeyPEM(keyPEM)
	if err != nil || !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return policy.IssuedFacts{}, nonRetryable("KeyMismatch", "private key in Secret %s/%s does not match the issued certificate", in.Key.Namespace, in.Key.SecretName)
	}

	annotations := map[string]string{}
	labels := map[string]string{ManagedSecretLabel: "true"}
	if t := in.SecretTemplate; t != nil {
		for k, v := range t.Annotations {
			annotations[k] = v
		}
		for k, v := range t.Labels {
			labels[k] = v
		}
	}
	for k, v := range secretAnnotations(in, cert) {
		annotations[k] = v
	}
	apply := applycorev1.Secret(in.SecretName, in.Namespace).
		WithType(corev1.SecretTypeTLS).
		WithLabels(labels).
		WithAnnotations(annotations).
		WithData(map[string][]byte{TLSCertKey: in.CertificatePEM, TLSKeyKey: keyPEM, CACertKey: in.CAPEM})
	if _, err := a.Kube.CoreV1().Secrets(in.Namespace).Apply(ctx, apply, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return policy.IssuedFacts{}, fmt.Errorf("apply Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	return factsOf(cert), nil
}

// secretAnnotations are upstream's annotations describing the certificate in a Secret.
func secretAnnotations(in WriteSecretInput, cert *x509.Certificate) map[string]string {
	facts := factsOf(cert)
	return map[string]string{
		cmapi.CertificateNameKey:       in.CertificateName,
		cmapi.IssuerNameAnnotationKey:  in.IssuerName,
		cmapi.IssuerKindAnnotationKey:  in.IssuerKind,
		cmapi.IssuerGroupAnnotationKey: in.IssuerGroup,
		cmapi.CommonNameAnnotationKey:  cert.Subject.CommonName,
		cmapi.AltNamesAnnotationKey:    strings.Join(facts.DNSNames, ","),
		cmapi.IPSANAnnotationKey:       strings.Join(facts.IPAddresses, ","),
		cmapi.URISANAnnotationKey:      strings.Join(facts.URIs, ","),
		cmapi.EmailsAnnotationKey:      strings.Join(facts.EmailAddresses, ","),
	}
}

func eventHash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

var _ = pem.Decode
