package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/apperr"
	sharedpki "github.com/certflow/certflow/pki"
)

// Activities are the PKI activities. Register them with
// worker.RegisterActivity(&pki.Activities{Kube: client}); the activity names
// are the method names: CreateCSR, SignSelfSigned and SignWithCA.
type Activities struct {
	Kube kubernetes.Interface
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// CreateCSRInput asks for a CSR for a Certificate spec, made with the key a
// KeyRef points to.
type CreateCSRInput struct {
	Spec cmapi.CertificateSpec `json:"spec"`
	Key  keys.KeyRef           `json:"key"`
}

// CreateCSR loads the private key from its Secret and returns the PEM
// certificate request for the spec (see BuildCSR). The CSR is public data.
func (a *Activities) CreateCSR(ctx context.Context, in CreateCSRInput) ([]byte, error) {
	signer, err := keys.LoadSigner(ctx, a.Kube, in.Key)
	if err != nil {
		return nil, err
	}
	return BuildCSR(in.Spec, signer)
}

// SelfSignInput asks for a self-signed certificate for a CSR.
type SelfSignInput struct {
	// CSRPEM is the request (CertificateRequest.spec.request).
	CSRPEM []byte `json:"csrPEM"`
	// Key references the private key the CSR was made with (the
	// cert-manager.io/private-key-secret-name Secret).
	Key keys.KeyRef `json:"key"`
	// Duration of the certificate; 0 means 90 days.
	Duration time.Duration    `json:"duration,omitempty"`
	IsCA     bool             `json:"isCA,omitempty"`
	Usages   []cmapi.KeyUsage `json:"usages,omitempty"`
	// CRLDistributionPoints from the SelfSigned issuer spec.
	CRLDistributionPoints []string `json:"crlDistributionPoints,omitempty"`
}

// SignedCertificate is the result of signing: PEM certificate chain (leaf
// first) and PEM CA certificate, as written to tls.crt and ca.crt.
type SignedCertificate struct {
	CertificatePEM []byte `json:"certificatePEM"`
	CAPEM          []byte `json:"caPEM,omitempty"`
	// Warnings worth an event on the CertificateRequest (for example an empty
	// issuer DN).
	Warnings []string `json:"warnings,omitempty"`
}

// SignSelfSigned signs the CSR with the key it was made with. The CSR's
// public key must be the key in the referenced Secret (else a non-retryable
// "KeyMismatch" error). The certificate is signed with the signature
// algorithm the CSR was signed with (spec.signatureAlgorithm or the key's
// default); ca.crt is the certificate itself, as upstream.
func (a *Activities) SignSelfSigned(ctx context.Context, in SelfSignInput) (SignedCertificate, error) {
	csr, err := ParseCSRPEM(in.CSRPEM)
	if err != nil {
		return SignedCertificate{}, err
	}
	signer, err := keys.LoadSigner(ctx, a.Kube, in.Key)
	if err != nil {
		return SignedCertificate{}, err
	}
	if !sharedpki.PublicKeysEqual(csr.PublicKey, signer.Public()) {
		return SignedCertificate{}, keyMismatch(fmt.Sprintf(
			"the certificate request's public key (sha256 %s) is not the key in Secret %s/%s (sha256 %s)",
			keys.PublicKeySHA256(csr.PublicKey), in.Key.Namespace, in.Key.SecretName, keys.PublicKeySHA256(signer.Public())))
	}
	serial, err := NewSerialNumber(rand.Reader)
	if err != nil {
		return SignedCertificate{}, err
	}
	tmpl, err := CertificateTemplateFromCSR(in.CSRPEM, in.Duration, in.IsCA, in.Usages, a.now(),
		WithSerialNumber(serial), WithCRLDistributionPoints(in.CRLDistributionPoints))
	if err != nil {
		return SignedCertificate{}, err
	}
	cert, err := SignSelfSignedTemplate(tmpl, signer, csr.SignatureAlgorithm)
	if err != nil {
		return SignedCertificate{}, err
	}
	out := SignedCertificate{CertificatePEM: EncodeCertificatesPEM(cert), CAPEM: EncodeCertificatesPEM(cert)}
	if isSubjectEmpty(cert.RawSubject) {
		out.Warnings = append(out.Warnings, "the certificate has an empty subject, so its issuer DN is empty too, which RFC 5280 does not allow; some clients will reject it")
	}
	return out, nil
}

// CAKeyPairRef names a Secret holding a CA key pair (tls.crt with the CA
// certificate, optionally followed by its chain, and tls.key).
type CAKeyPairRef struct {
	Namespace  string `json:"namespace"`
	SecretName string `json:"secretName"`
}

// SignWithCAInput asks for a CSR to be signed by a CA key pair.
type SignWithCAInput struct {
	CSRPEM []byte       `json:"csrPEM"`
	CA     CAKeyPairRef `json:"ca"`
	// Duration of the certificate; 0 means 90 days. The certificate never
	// outlives the CA certificate.
	Duration time.Duration    `json:"duration,omitempty"`
	IsCA     bool             `json:"isCA,omitempty"`
	Usages   []cmapi.KeyUsage `json:"usages,omitempty"`
	// From the CA issuer spec.
	CRLDistributionPoints  []string `json:"crlDistributionPoints,omitempty"`
	OCSPServers            []string `json:"ocspServers,omitempty"`
	IssuingCertificateURLs []string `json:"issuingCertificateURLs,omitempty"`
}

// LoadCAKeyPair reads and checks a CA key pair Secret: its first tls.crt
// certificate must be a CA whose public key matches tls.key. It returns the
// CA certificate, the whole tls.crt bundle and the key. Problems with the
// Secret's content are non-retryable "InvalidCAKeyPair" errors; API errors
// are returned as they are.
func LoadCAKeyPair(ctx context.Context, kube kubernetes.Interface, ref CAKeyPairRef) (*x509.Certificate, []*x509.Certificate, crypto.Signer, error) {
	if ref.Namespace == "" || ref.SecretName == "" {
		return nil, nil, nil, inputErrorf("CA key pair reference needs a namespace and secretName")
	}
	// Served from kube-apiserver's watch cache: the CA is read for every signature, and
	// a CA Secret changed a moment ago is picked up by the next one. "Not found" is
	// confirmed from etcd, as the cache may not have a new Secret yet.
	s, err := kube.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.SecretName, metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		s, err = kube.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.SecretName, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("CA Secret %s/%s not found", ref.Namespace, ref.SecretName), ErrTypeCASecretNotFound, nil)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("getting CA Secret %s/%s: %w", ref.Namespace, ref.SecretName, err)
	}
	certs, err := ParseCertificatesPEM(s.Data[corev1.TLSCertKey])
	if err != nil {
		return nil, nil, nil, caErrorf("CA Secret %s/%s: %s: %v", ref.Namespace, ref.SecretName, corev1.TLSCertKey, err)
	}
	key, err := keys.ParsePrivateKeyPEM(s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, nil, nil, caErrorf("CA Secret %s/%s: %s: %s", ref.Namespace, ref.SecretName, corev1.TLSPrivateKeyKey, apperr.Message(err))
	}
	caCert := certs[0]
	if !sharedpki.PublicKeysEqual(key.Public(), caCert.PublicKey) {
		return nil, nil, nil, caErrorf("CA Secret %s/%s: the private key does not match the certificate", ref.Namespace, ref.SecretName)
	}
	if !caCert.BasicConstraintsValid || !caCert.IsCA {
		return nil, nil, nil, caErrorf("CA Secret %s/%s: the certificate is not a CA certificate", ref.Namespace, ref.SecretName)
	}
	return caCert, certs, key, nil
}

// SignWithCA signs the CSR with the CA key pair held in a Secret. NotAfter
// is capped at the CA certificate's NotAfter; a CA certificate that has
// expired or is not yet valid is refused ("InvalidCAKeyPair"). tls.crt gets
// the leaf followed by the intermediates found in the CA's tls.crt (a
// self-signed root is left out), ca.crt the top-most CA certificate.
func (a *Activities) SignWithCA(ctx context.Context, in SignWithCAInput) (SignedCertificate, error) {
	if _, err := ParseCSRPEM(in.CSRPEM); err != nil {
		return SignedCertificate{}, err
	}
	caCert, bundle, caKey, err := LoadCAKeyPair(ctx, a.Kube, in.CA)
	if err != nil {
		return SignedCertificate{}, err
	}
	now := a.now()
	if now.After(caCert.NotAfter) {
		return SignedCertificate{}, caErrorf("CA certificate in Secret %s/%s expired at %s", in.CA.Namespace, in.CA.SecretName, caCert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(caCert.NotBefore) {
		return SignedCertificate{}, caErrorf("CA certificate in Secret %s/%s is not valid before %s", in.CA.Namespace, in.CA.SecretName, caCert.NotBefore.UTC().Format(time.RFC3339))
	}
	serial, err := NewSerialNumber(rand.Reader)
	if err != nil {
		return SignedCertificate{}, err
	}
	tmpl, err := CertificateTemplateFromCSR(in.CSRPEM, in.Duration, in.IsCA, in.Usages, now,
		WithSerialNumber(serial),
		WithCRLDistributionPoints(in.CRLDistributionPoints),
		WithOCSPServers(in.OCSPServers),
		WithIssuingCertificateURLs(in.IssuingCertificateURLs))
	if err != nil {
		return SignedCertificate{}, err
	}
	var warnings []string
	if tmpl.NotAfter.After(caCert.NotAfter) {
		tmpl.NotAfter = caCert.NotAfter
		warnings = append(warnings, fmt.Sprintf("the certificate's notAfter was capped at the CA certificate's notAfter (%s)", caCert.NotAfter.UTC().Format(time.RFC3339)))
	}
	cert, err := SignTemplateWithCA(tmpl, caCert, caKey)
	if err != nil {
		return SignedCertificate{}, err
	}
	chain, ca := ChainFor(cert, bundle)
	return SignedCertificate{
		CertificatePEM: EncodeCertificatesPEM(chain...),
		CAPEM:          EncodeCertificatesPEM(ca),
		Warnings:       warnings,
	}, nil
}
