package kube

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/pki"
	"github.com/certflow/certflow/policy"
)

// Keys of a kubernetes.io/tls Secret, as upstream writes them.
const (
	TLSCertKey = corev1.TLSCertKey       // tls.crt: leaf and chain
	TLSKeyKey  = corev1.TLSPrivateKeyKey // tls.key
	CACertKey  = cmmeta.TLSCAKey
)

// InspectSecretInput names the target Secret of a Certificate and the extra outputs
// (keystores, additional formats) and secretTemplate metadata it should carry.
type InspectSecretInput struct {
	Namespace, SecretName string
	// The Certificate and the generation of its spec the Keystores are from, for a
	// redacted inline keystore password.
	CertificateName         string
	CertificateGeneration   int64
	Keystores               *cmapi.CertificateKeystores
	AdditionalOutputFormats []cmapi.CertificateAdditionalOutputFormat
	SecretTemplate          *cmapi.CertificateSecretTemplate
}

// InspectSecret reports what the target Secret holds, for the trigger policies. It
// returns facts only: never the key bytes nor keystore passwords.
//
// OutputsUpToDate is true when the Secret holds a valid key pair and everything derived
// from it is as the spec asks: each wanted keystore decodes with the current password
// (and PKCS#12 profile) to the current key, chain and CA; key.der and tls-combined.pem
// are byte for byte what would be written; no extra key, label or annotation that
// certflow applied is unwanted now; the managed label and the secretTemplate labels and
// annotations are there. A password that cannot be read makes it false (the refresh
// then reports InvalidKeystorePassword).
func (a *Activities) InspectSecret(ctx context.Context, in InspectSecretInput) (policy.SecretState, error) {
	s, err := a.Kube.CoreV1().Secrets(in.Namespace).Get(ctx, in.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return policy.SecretState{}, nil
	}
	if err != nil {
		return policy.SecretState{}, fmt.Errorf("get Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	st := inspect(s)
	if st.UsedBy, err = a.otherUser(ctx, s, in.CertificateName); err != nil {
		return policy.SecretState{}, err
	}
	if !st.KeyMatchesCertificate || st.UsedBy != "" {
		return st, nil
	}
	m, err := newMaterial(s.Data[TLSKeyKey], s.Data[TLSCertKey], s.Data[CACertKey])
	if err != nil {
		return st, nil
	}
	o := outputSpec{keystores: in.Keystores, formats: in.AdditionalOutputFormats}
	pw, err := a.readKeystorePasswords(ctx, in.Namespace, CertificateRef{Name: in.CertificateName, Generation: in.CertificateGeneration}, o)
	if err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			return st, nil // not up to date; RefreshSecretOutputs says why
		}
		return policy.SecretState{}, err
	}
	st.OutputsUpToDate = outputsUpToDate(s, m, o, pw, in.SecretTemplate)
	return st, nil
}

// otherUser names the Certificate other than certName that wrote Secret s (its
// certificate-name annotation) if that Certificate still exists and names s as its
// secretName; "" when s is certName's, or free to take over.
func (a *Activities) otherUser(ctx context.Context, s *corev1.Secret, certName string) (string, error) {
	other := s.Annotations[cmapi.CertificateNameKey]
	if certName == "" || other == "" || other == certName {
		return "", nil
	}
	c, err := a.CertFlow.CertmanagerV1().Certificates(s.Namespace).Get(ctx, other, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("get Certificate %s/%s that wrote Secret %s: %w", s.Namespace, other, s.Name, err)
	case c.Spec.SecretName != s.Name:
		return "", nil
	}
	return other, nil
}

// refuseOtherUsers fails, for good, a write into a Secret another Certificate uses.
func (a *Activities) refuseOtherUsers(ctx context.Context, s *corev1.Secret, certName string) error {
	other, err := a.otherUser(ctx, s, certName)
	if err != nil || other == "" {
		return err
	}
	return nonRetryable(ErrTypeSecretInUse, "Secret %s/%s is used by Certificate %s: it is not overwritten", s.Namespace, s.Name, other)
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
	st.Revision, _ = strconv.Atoi(s.Annotations[conventions.RevisionAnnotation])
	if !st.HasCertificate || !st.HasPrivateKey {
		return st
	}
	cert, err := pki.FirstCertificate(s.Data[TLSCertKey])
	if err != nil {
		st.CertificateError = err.Error()
		return st
	}
	st.Certificate = factsOf(cert)
	signer, err := keys.ParsePrivateKeyPEM(s.Data[TLSKeyKey])
	st.KeyMatchesCertificate = err == nil && pki.PublicKeysEqual(signer.Public(), cert.PublicKey)
	return st
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
	// CertificateUID is the Certificate the workflow acts for (confirmed before writing).
	CertificateUID string `json:",omitempty"`
	// CertificateGeneration is the generation of the spec the outputs are from, for a
	// redacted inline keystore password.
	CertificateGeneration int64
	SecretName            string
	Key                   keys.KeyRef
	CertificatePEM        []byte // leaf + chain
	Revision              int    // recorded as the certflow.io/revision annotation
	CAPEM                 []byte
	IssuerName            string
	IssuerKind            string
	IssuerGroup           string
	SecretTemplate        *cmapi.CertificateSecretTemplate
	// Extra outputs derived from the key and certificate.
	Keystores               *cmapi.CertificateKeystores
	AdditionalOutputFormats []cmapi.CertificateAdditionalOutputFormat
}

// WriteCertificateSecret server-side applies the kubernetes.io/tls Secret with the
// certificate, its key, upstream's annotations, the secretTemplate metadata and the extra
// outputs the spec asks for (keystores, additional output formats), all in one apply, and
// returns the certificate's facts. Extra keys the spec no longer asks for disappear: the
// apply stops listing them, and the API server removes fields that their only manager
// stops applying.
//
// Keystores embed random salts. To keep a re-run from changing the Secret, a keystore
// already in the Secret that decodes with the current password to this key and
// certificate is kept byte for byte. Keystore passwords are read from Secrets in the
// Certificate's namespace; a missing Secret or key is a non-retryable
// "InvalidKeystorePassword" error.
func (a *Activities) WriteCertificateSecret(ctx context.Context, in WriteSecretInput) (policy.IssuedFacts, error) {
	if err := a.confirmSecretOf(ctx, in.Namespace, in.CertificateName, in.CertificateUID, in.SecretName); err != nil {
		return policy.IssuedFacts{}, err
	}
	cert, err := pki.FirstCertificate(in.CertificatePEM)
	if err != nil {
		return policy.IssuedFacts{}, nonRetryable(ErrTypeInvalidCertificate, "certificate for %s/%s: %v", in.Namespace, in.CertificateName, err)
	}
	keyPEM, err := keys.LoadKeyPEM(ctx, a.Kube, in.Key)
	if err != nil {
		// A workflow task that wrote the Secret and deleted the next-key Secret, then
		// was not recorded (a signal came in as it completed), runs this again: the key
		// is then the one the Secret already holds with this certificate.
		var kerr error
		if keyPEM, kerr = a.keyAlreadyWritten(ctx, in, cert); kerr != nil {
			return policy.IssuedFacts{}, err
		}
	}
	signer, err := keys.ParsePrivateKeyPEM(keyPEM)
	if err != nil || !pki.PublicKeysEqual(signer.Public(), cert.PublicKey) {
		return policy.IssuedFacts{}, nonRetryable(ErrTypeKeyMismatch, "private key in Secret %s/%s does not match the issued certificate", in.Key.Namespace, in.Key.SecretName)
	}

	cur, err := a.Kube.CoreV1().Secrets(in.Namespace).Get(ctx, in.SecretName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cur = nil
	case err != nil:
		return policy.IssuedFacts{}, fmt.Errorf("get Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	default:
		if err := a.refuseOtherUsers(ctx, cur, in.CertificateName); err != nil {
			return policy.IssuedFacts{}, err
		}
	}

	data := map[string][]byte{TLSCertKey: in.CertificatePEM, TLSKeyKey: keyPEM, CACertKey: in.CAPEM}
	o := outputSpec{keystores: in.Keystores, formats: in.AdditionalOutputFormats}
	if len(o.wanted(true)) > 0 {
		m, err := newMaterial(keyPEM, in.CertificatePEM, in.CAPEM)
		if err != nil {
			return policy.IssuedFacts{}, nonRetryable(ErrTypeInvalidCertificate, "certificate for %s/%s: %v", in.Namespace, in.CertificateName, err)
		}
		pw, err := a.readKeystorePasswords(ctx, in.Namespace, CertificateRef{Name: in.CertificateName, Generation: in.CertificateGeneration}, o)
		if err != nil {
			return policy.IssuedFacts{}, err
		}
		var existing map[string][]byte
		if cur != nil && (o.jks() != nil || o.pkcs12() != nil) {
			existing = cur.Data
		}
		outputs, err := buildOutputs(m, o, pw, existing)
		if err != nil {
			return policy.IssuedFacts{}, err
		}
		for k, v := range outputs {
			data[k] = v
		}
	}

	annotations := templateAnnotations(in.SecretTemplate)
	for k, v := range secretAnnotations(in.CertificateName, in.IssuerName, in.IssuerKind, in.IssuerGroup, cert) {
		annotations[k] = v
	}
	if in.Revision > 0 {
		annotations[conventions.RevisionAnnotation] = strconv.Itoa(in.Revision)
	}
	apply := applycorev1.Secret(in.SecretName, in.Namespace).
		WithType(corev1.SecretTypeTLS).
		WithLabels(secretLabels(in.SecretTemplate)).
		WithAnnotations(annotations).
		WithData(data)
	if cur != nil {
		// Only over the Secret just checked: another Certificate's write in between is
		// a conflict, retried and then refused.
		apply = apply.WithResourceVersion(cur.ResourceVersion)
	}
	if _, err := a.Kube.CoreV1().Secrets(in.Namespace).Apply(ctx, apply, metav1.ApplyOptions{FieldManager: conventions.FieldManager, Force: true}); err != nil {
		return policy.IssuedFacts{}, fmt.Errorf("apply Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	return factsOf(cert), nil
}

// RefreshOutputsInput names a Certificate's Secret and the extra outputs and metadata it
// should carry.
type RefreshOutputsInput struct {
	Namespace               string
	CertificateName         string
	CertificateUID          string `json:",omitempty"` // confirmed before writing
	CertificateGeneration   int64  // for a redacted inline keystore password
	SecretName              string
	SecretTemplate          *cmapi.CertificateSecretTemplate
	Keystores               *cmapi.CertificateKeystores
	AdditionalOutputFormats []cmapi.CertificateAdditionalOutputFormat
}

// RefreshSecretOutputs brings the extra outputs (keystores, additional output formats)
// and the secretTemplate metadata of a Secret up to date from the key pair already in
// it, so that a change to those fields needs no new certificate. It is the same
// server-side apply as WriteCertificateSecret (same field manager), listing tls.crt,
// tls.key and ca.crt with the values read, so they stay as they are; the apply carries
// the resourceVersion read, so a Secret rewritten in between is never overwritten with
// the old key pair (the activity fails and is retried). Keystores that are still current
// are kept byte for byte, so running it twice changes nothing.
//
// A Secret without a valid key pair is a non-retryable "SecretNotReady" error (the
// Certificate needs issuing); a missing password Secret or key is a non-retryable
// "InvalidKeystorePassword" error. Neither the result nor any error holds key bytes or
// passwords.
func (a *Activities) RefreshSecretOutputs(ctx context.Context, in RefreshOutputsInput) error {
	if err := a.confirmSecretOf(ctx, in.Namespace, in.CertificateName, in.CertificateUID, in.SecretName); err != nil {
		return err
	}
	s, err := a.Kube.CoreV1().Secrets(in.Namespace).Get(ctx, in.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nonRetryable(ErrTypeSecretNotReady, "Secret %s/%s does not exist", in.Namespace, in.SecretName)
	}
	if err != nil {
		return fmt.Errorf("get Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	if err := a.refuseOtherUsers(ctx, s, in.CertificateName); err != nil {
		return err
	}
	m, err := newMaterial(s.Data[TLSKeyKey], s.Data[TLSCertKey], s.Data[CACertKey])
	if err != nil {
		return nonRetryable(ErrTypeSecretNotReady, "Secret %s/%s holds no valid key pair: %v", in.Namespace, in.SecretName, err)
	}
	o := outputSpec{keystores: in.Keystores, formats: in.AdditionalOutputFormats}
	pw, err := a.readKeystorePasswords(ctx, in.Namespace, CertificateRef{Name: in.CertificateName, Generation: in.CertificateGeneration}, o)
	if err != nil {
		return err
	}
	outputs, err := buildOutputs(m, o, pw, s.Data)
	if err != nil {
		return err
	}
	data := map[string][]byte{TLSCertKey: s.Data[TLSCertKey], TLSKeyKey: s.Data[TLSKeyKey]}
	if ca, ok := s.Data[CACertKey]; ok {
		data[CACertKey] = ca
	}
	for k, v := range outputs {
		data[k] = v
	}

	// The certificate annotations: recomputed from tls.crt, issuer ones kept as found.
	annotations := templateAnnotations(in.SecretTemplate)
	for k, v := range secretAnnotations(in.CertificateName, "", "", "", m.certs[0]) {
		annotations[k] = v
	}
	for _, k := range []string{cmapi.IssuerNameAnnotationKey, cmapi.IssuerKindAnnotationKey, cmapi.IssuerGroupAnnotationKey, conventions.RevisionAnnotation} {
		if v, ok := s.Annotations[k]; ok {
			annotations[k] = v
		} else {
			delete(annotations, k)
		}
	}
	typ := s.Type
	if typ == "" {
		typ = corev1.SecretTypeTLS
	}
	apply := applycorev1.Secret(in.SecretName, in.Namespace).
		WithResourceVersion(s.ResourceVersion).
		WithType(typ).
		WithLabels(secretLabels(in.SecretTemplate)).
		WithAnnotations(annotations).
		WithData(data)
	_, err = a.Kube.CoreV1().Secrets(in.Namespace).Apply(ctx, apply, metav1.ApplyOptions{FieldManager: conventions.FieldManager, Force: true})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("Secret %s/%s changed while refreshing its outputs; will retry", in.Namespace, in.SecretName)
	}
	if err != nil {
		return fmt.Errorf("apply Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	return nil
}

// secretAnnotations are upstream's annotations describing the certificate in a Secret.
func secretAnnotations(certificateName, issuerName, issuerKind, issuerGroup string, cert *x509.Certificate) map[string]string {
	facts := factsOf(cert)
	return map[string]string{
		cmapi.CertificateNameKey:       certificateName,
		cmapi.IssuerNameAnnotationKey:  issuerName,
		cmapi.IssuerKindAnnotationKey:  issuerKind,
		cmapi.IssuerGroupAnnotationKey: issuerGroup,
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

// keyAlreadyWritten is the private key of the target Secret when the key Secret in.Key
// is gone and the target Secret already holds the issued certificate with its key.
func (a *Activities) keyAlreadyWritten(ctx context.Context, in WriteSecretInput, cert *x509.Certificate) ([]byte, error) {
	cur, err := a.Kube.CoreV1().Secrets(in.Namespace).Get(ctx, in.SecretName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(cur.Data[TLSCertKey], in.CertificatePEM) {
		return nil, errors.New("the Secret does not hold the issued certificate")
	}
	keyPEM := cur.Data[TLSKeyKey]
	signer, err := keys.ParsePrivateKeyPEM(keyPEM)
	if err != nil || !pki.PublicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, errors.New("the Secret's key does not match the issued certificate")
	}
	return keyPEM, nil
}
