package kube

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/pki"
	"github.com/certflow/certflow/pki/keystores"
)

// outputKeys are all the data keys that keystores and additional output formats may
// write, in a fixed order.
var outputKeys = []string{
	cmapi.CertificateOutputFormatDERKey, cmapi.CertificateOutputFormatCombinedPEMKey,
	cmapi.PKCS12SecretKey, cmapi.PKCS12TruststoreKey,
	cmapi.JKSSecretKey, cmapi.JKSTruststoreKey,
}

// outputSpec is the part of a Certificate spec that asks for extra outputs.
type outputSpec struct {
	keystores *cmapi.CertificateKeystores
	formats   []cmapi.CertificateAdditionalOutputFormat
}

func (o outputSpec) jks() *cmapi.JKSKeystore {
	if o.keystores != nil && o.keystores.JKS != nil && o.keystores.JKS.Create {
		return o.keystores.JKS
	}
	return nil
}

func (o outputSpec) pkcs12() *cmapi.PKCS12Keystore {
	if o.keystores != nil && o.keystores.PKCS12 != nil && o.keystores.PKCS12.Create {
		return o.keystores.PKCS12
	}
	return nil
}

func (o outputSpec) hasFormat(t cmapi.CertificateOutputFormatType) bool {
	for _, f := range o.formats {
		if f.Type == t {
			return true
		}
	}
	return false
}

func (o outputSpec) jksAlias() string {
	if j := o.jks(); j != nil && j.Alias != nil && *j.Alias != "" {
		return *j.Alias
	}
	return cmapi.DefaultKeystoreAlias
}

// wanted lists the extra data keys the spec asks for. Truststores are written only when
// there is a CA certificate to put in them, as upstream.
func (o outputSpec) wanted(hasCA bool) map[string]bool {
	w := map[string]bool{}
	if o.hasFormat(cmapi.CertificateOutputFormatDER) {
		w[cmapi.CertificateOutputFormatDERKey] = true
	}
	if o.hasFormat(cmapi.CertificateOutputFormatCombinedPEM) {
		w[cmapi.CertificateOutputFormatCombinedPEMKey] = true
	}
	if o.pkcs12() != nil {
		w[cmapi.PKCS12SecretKey] = true
		w[cmapi.PKCS12TruststoreKey] = hasCA
	}
	if o.jks() != nil {
		w[cmapi.JKSSecretKey] = true
		w[cmapi.JKSTruststoreKey] = hasCA
	}
	for k, v := range w {
		if !v {
			delete(w, k)
		}
	}
	return w
}

// keystorePasswords are the passwords of the keystores the spec enables.
type keystorePasswords struct {
	jks, pkcs12 string
}

// InlinePasswordRedacted stands in for a keystore's inline password (spec.keystores.*.
// password) in the spec the watcher hands to a workflow: the password would otherwise be
// written into Temporal's history with every signal, workflow input and activity input
// that carries the spec. The redacted keystore has no password and a passwordSecretRef
// with this key and no Secret name: an activity that meets it reads the password from
// the Certificate itself, and a worker older than the redaction fails the keystore with
// "neither password nor passwordSecretRef" rather than using the marker as a password.
const InlinePasswordRedacted = "<redacted: the inline password is read from the Certificate>"

// RedactKeystorePasswords returns a copy of ks with every inline password replaced by
// the InlinePasswordRedacted reference (nil for nil). A passwordSecretRef is left as it
// is. Redacting twice changes nothing.
func RedactKeystorePasswords(ks *cmapi.CertificateKeystores) *cmapi.CertificateKeystores {
	if ks == nil {
		return nil
	}
	out := ks.DeepCopy()
	redacted := cmmeta.SecretKeySelector{Key: InlinePasswordRedacted}
	if out.JKS != nil && out.JKS.Password != nil {
		out.JKS.Password, out.JKS.PasswordSecretRef = nil, redacted
	}
	if out.PKCS12 != nil && out.PKCS12.Password != nil {
		out.PKCS12.Password, out.PKCS12.PasswordSecretRef = nil, redacted
	}
	return out
}

// redactedPassword reports whether a keystore's password was redacted by
// RedactKeystorePasswords.
func redactedPassword(inline *string, ref cmmeta.SecretKeySelector) bool {
	return inline == nil && ref.Name == "" && ref.Key == InlinePasswordRedacted
}

// CertificateRef names the Certificate whose keystores an activity writes or checks,
// for a redacted inline password: the password is read from generation Generation of
// the Certificate (or a newer one).
type CertificateRef struct {
	Name       string
	Generation int64
}

// readKeystorePasswords reads the password of each enabled keystore: inline, or from the
// Secret key that passwordSecretRef names in the Certificate's namespace. A redacted
// inline password is read from the Certificate cert names (a password changed since is a
// new generation, which the workflow hears of). A missing Secret or key is a
// non-retryable "InvalidKeystorePassword" error naming both.
func (a *Activities) readKeystorePasswords(ctx context.Context, namespace string, cert CertificateRef, o outputSpec) (keystorePasswords, error) {
	var pw keystorePasswords
	j, p := o.jks(), o.pkcs12()
	jRedacted := j != nil && redactedPassword(j.Password, j.PasswordSecretRef)
	pRedacted := p != nil && redactedPassword(p.Password, p.PasswordSecretRef)
	if jRedacted || pRedacted {
		cur, err := a.currentKeystores(ctx, namespace, cert)
		if err != nil {
			return keystorePasswords{}, err
		}
		if jRedacted {
			if cur.JKS == nil {
				return keystorePasswords{}, nonRetryable(ErrTypeInvalidKeystorePassword, "Certificate %s/%s no longer has the JKS keystore whose inline password is needed", namespace, cert.Name)
			}
			j = cur.JKS
		}
		if pRedacted {
			if cur.PKCS12 == nil {
				return keystorePasswords{}, nonRetryable(ErrTypeInvalidKeystorePassword, "Certificate %s/%s no longer has the PKCS#12 keystore whose inline password is needed", namespace, cert.Name)
			}
			p = cur.PKCS12
		}
	}
	var err error
	if j != nil {
		if pw.jks, err = a.readPassword(ctx, namespace, "JKS", j.Password, j.PasswordSecretRef.Name, j.PasswordSecretRef.Key); err != nil {
			return keystorePasswords{}, err
		}
	}
	if p != nil {
		if pw.pkcs12, err = a.readPassword(ctx, namespace, "PKCS#12", p.Password, p.PasswordSecretRef.Name, p.PasswordSecretRef.Key); err != nil {
			return keystorePasswords{}, err
		}
	}
	return pw, nil
}

// currentKeystores returns the keystores of the Certificate as stored, for their inline
// passwords: from the watch cache when it has the generation asked for, else from etcd
// (a cache a moment behind would hand out the password the spec had before). A keystore
// the Certificate no longer has is an error for the caller: the spec change that
// removed it reaches the workflow as a new generation.
func (a *Activities) currentKeystores(ctx context.Context, namespace string, ref CertificateRef) (cmapi.CertificateKeystores, error) {
	if ref.Name == "" {
		return cmapi.CertificateKeystores{}, nonRetryable(ErrTypeInvalidKeystorePassword, "a redacted inline keystore password needs the Certificate's name")
	}
	certs := a.CertFlow.CertmanagerV1().Certificates(namespace)
	cert, err := cachedGet(ctx, fromWatchCache, certs.Get, ref.Name)
	if err == nil && cert.Generation < ref.Generation {
		cert, err = certs.Get(ctx, ref.Name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return cmapi.CertificateKeystores{}, nonRetryable(ErrTypeInvalidKeystorePassword, "Certificate %s/%s, whose inline keystore password is needed, was deleted", namespace, ref.Name)
	}
	if err != nil {
		return cmapi.CertificateKeystores{}, fmt.Errorf("read the inline keystore passwords of Certificate %s/%s: %w", namespace, ref.Name, err)
	}
	if cert.Spec.Keystores == nil {
		return cmapi.CertificateKeystores{}, nil
	}
	return *cert.Spec.Keystores, nil
}

func (a *Activities) readPassword(ctx context.Context, namespace, kind string, inline *string, name, key string) (string, error) {
	if inline != nil {
		return *inline, nil
	}
	if name == "" {
		return "", nonRetryable(ErrTypeInvalidKeystorePassword, "%s keystore has neither password nor passwordSecretRef", kind)
	}
	s, err := a.Kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nonRetryable(ErrTypeInvalidKeystorePassword, "%s keystore password Secret %s/%s (key %q) not found", kind, namespace, name, key)
	}
	if err != nil {
		return "", fmt.Errorf("read %s keystore password Secret %s/%s: %w", kind, namespace, name, err)
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return "", nonRetryable(ErrTypeInvalidKeystorePassword, "%s keystore password Secret %s/%s has no data for key %q", kind, namespace, name, key)
	}
	return string(v), nil
}

// material is the key pair the extra outputs are derived from.
type material struct {
	keyPEM, certPEM []byte
	key             crypto.Signer
	certs           []*x509.Certificate // tls.crt, leaf first
	cas             []*x509.Certificate // ca.crt
}

// newMaterial parses tls.key, tls.crt and ca.crt and checks that the key is the
// certificate's. Errors never quote key bytes.
func newMaterial(keyPEM, certPEM, caPEM []byte) (material, error) {
	m := material{keyPEM: keyPEM, certPEM: certPEM}
	var err error
	if m.certs, err = pki.ParseCertificates(certPEM); err != nil {
		return material{}, fmt.Errorf("tls.crt: %v", err)
	}
	if len(m.certs) == 0 {
		return material{}, fmt.Errorf("tls.crt holds no certificate")
	}
	if m.cas, err = pki.ParseCertificates(caPEM); err != nil {
		return material{}, fmt.Errorf("ca.crt: %v", err)
	}
	if m.key, err = keys.ParsePrivateKeyPEM(keyPEM); err != nil {
		return material{}, fmt.Errorf("tls.key: %v", err)
	}
	if !pki.PublicKeysEqual(m.key.Public(), m.certs[0].PublicKey) {
		return material{}, fmt.Errorf("tls.key is not the private key of tls.crt")
	}
	return m, nil
}

// encodeOutput produces the data of one extra key.
func encodeOutput(name string, m material, o outputSpec, pw keystorePasswords) ([]byte, error) {
	created := m.certs[0].NotBefore
	switch {
	case (name == cmapi.PKCS12SecretKey || name == cmapi.PKCS12TruststoreKey) && o.pkcs12() == nil,
		(name == cmapi.JKSSecretKey || name == cmapi.JKSTruststoreKey) && o.jks() == nil:
		return nil, fmt.Errorf("%s is not enabled", name)
	}
	switch name {
	case cmapi.CertificateOutputFormatDERKey:
		return keystores.DER(m.key)
	case cmapi.CertificateOutputFormatCombinedPEMKey:
		return keystores.CombinedPEM(m.keyPEM, m.certPEM), nil
	case cmapi.PKCS12SecretKey:
		return keystores.PKCS12(m.key, keystores.Chain(m.certs, m.cas), pw.pkcs12, o.pkcs12().Profile)
	case cmapi.PKCS12TruststoreKey:
		return keystores.PKCS12Truststore(m.cas, pw.pkcs12, o.pkcs12().Profile)
	case cmapi.JKSSecretKey:
		return keystores.JKS(m.key, m.certs, m.cas, o.jksAlias(), pw.jks, created)
	case cmapi.JKSTruststoreKey:
		return keystores.JKSTruststore(m.cas, pw.jks, created)
	}
	return nil, fmt.Errorf("unknown output %s", name)
}

// outputCurrent says whether data already is what the spec wants under name for m:
// keystores decode with the current password (and, for PKCS#12, were written with the
// current profile) to the current key, chain and CA certificates; the deterministic
// formats are byte for byte what encodeOutput would write.
func outputCurrent(name string, data []byte, m material, o outputSpec, pw keystorePasswords) bool {
	if len(data) == 0 {
		return false
	}
	switch name {
	case cmapi.CertificateOutputFormatDERKey, cmapi.CertificateOutputFormatCombinedPEMKey:
		want, err := encodeOutput(name, m, o, pw)
		return err == nil && bytes.Equal(data, want)
	case cmapi.PKCS12SecretKey, cmapi.PKCS12TruststoreKey:
		if o.pkcs12() == nil {
			return false
		}
		profile, err := keystores.PKCS12ProfileOf(data)
		want := o.pkcs12().Profile
		if want == "" {
			want = cmapi.LegacyRC2PKCS12Profile
		}
		if err != nil || profile != want {
			return false
		}
		if name == cmapi.PKCS12TruststoreKey {
			cas, err := keystores.DecodePKCS12Truststore(data, pw.pkcs12)
			return err == nil && pki.CertificatesEqual(cas, m.cas)
		}
		key, chain, err := keystores.DecodePKCS12(data, pw.pkcs12)
		return err == nil && pki.PrivateKeysEqual(key, m.key) && pki.CertificatesEqual(chain, keystores.Chain(m.certs, m.cas))
	case cmapi.JKSSecretKey:
		if o.jks() == nil {
			return false
		}
		c, err := keystores.DecodeJKS(data, o.jksAlias(), pw.jks)
		return err == nil && c.Key != nil && pki.PrivateKeysEqual(c.Key, m.key) && pki.CertificatesEqual(c.Chain, m.certs) && sameCertificateSet(c.Trusted, m.cas)
	case cmapi.JKSTruststoreKey:
		if o.jks() == nil {
			return false
		}
		c, err := keystores.DecodeJKS(data, "", pw.jks)
		return err == nil && c.Key == nil && sameCertificateSet(c.Trusted, m.cas)
	}
	return false
}

// sameCertificateSet compares JKS trusted entries, which come back in alias order.
func sameCertificateSet(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if x.Equal(y) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// buildOutputs returns the data of every extra key the spec wants. A keystore in
// existing (the Secret's current data) that is still current is kept byte for byte:
// keystores hold random salts, and re-encoding them would change the Secret, and restart
// whatever watches it, on every run. Errors never quote key bytes or passwords.
func buildOutputs(m material, o outputSpec, pw keystorePasswords, existing map[string][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	for name := range o.wanted(len(m.cas) > 0) {
		if old := existing[name]; len(old) > 0 && outputCurrent(name, old, m, o, pw) {
			out[name] = old
			continue
		}
		data, err := encodeOutput(name, m, o, pw)
		if err != nil {
			return nil, nonRetryable(ErrTypeInvalidSecretOutput, "encode %s: %v", name, err)
		}
		out[name] = data
	}
	return out, nil
}

// secretLabels and templateAnnotations are the metadata the apply lists besides the
// certificate annotations: the managed label and the secretTemplate.
func secretLabels(t *cmapi.CertificateSecretTemplate) map[string]string {
	labels := map[string]string{conventions.ManagedSecretLabel: "true"}
	if t != nil {
		for k, v := range t.Labels {
			labels[k] = v
		}
	}
	return labels
}

func templateAnnotations(t *cmapi.CertificateSecretTemplate) map[string]string {
	annotations := map[string]string{}
	if t != nil {
		for k, v := range t.Annotations {
			annotations[k] = v
		}
	}
	return annotations
}

// certificateAnnotationKeys are the annotations that describe the certificate; they win
// over secretTemplate annotations of the same name.
var certificateAnnotationKeys = []string{
	cmapi.CertificateNameKey, cmapi.IssuerNameAnnotationKey, cmapi.IssuerKindAnnotationKey,
	cmapi.IssuerGroupAnnotationKey, cmapi.CommonNameAnnotationKey, cmapi.AltNamesAnnotationKey,
	cmapi.IPSANAnnotationKey, cmapi.URISANAnnotationKey, cmapi.EmailsAnnotationKey,
	conventions.RevisionAnnotation,
}

func isCertificateAnnotation(k string) bool {
	for _, c := range certificateAnnotationKeys {
		if c == k {
			return true
		}
	}
	return false
}

// appliedFields are the fields of a Secret that one field manager owns through apply.
type appliedFields struct {
	data, labels, annotations map[string]bool
}

// fieldsAppliedBy reads managedFields: what manager last applied. Fields it does not list
// in its next apply are removed by the API server, unless another manager owns them too.
func fieldsAppliedBy(s *corev1.Secret, manager string) appliedFields {
	f := appliedFields{data: map[string]bool{}, labels: map[string]bool{}, annotations: map[string]bool{}}
	for _, mf := range s.ManagedFields {
		if mf.Manager != manager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Data     map[string]json.RawMessage `json:"f:data"`
			Metadata struct {
				Labels      map[string]json.RawMessage `json:"f:labels"`
				Annotations map[string]json.RawMessage `json:"f:annotations"`
			} `json:"f:metadata"`
		}
		if json.Unmarshal(mf.FieldsV1.Raw, &fields) != nil {
			continue
		}
		for dst, src := range map[*map[string]bool]map[string]json.RawMessage{
			&f.data: fields.Data, &f.labels: fields.Metadata.Labels, &f.annotations: fields.Metadata.Annotations,
		} {
			for k := range src {
				if name, ok := strings.CutPrefix(k, "f:"); ok {
					(*dst)[name] = true
				}
			}
		}
	}
	return f
}

// outputsUpToDate is InspectSecret's verdict on everything but the certificate itself:
// every wanted extra key is current, certflow applies no extra key, label or annotation
// that the spec no longer wants, and the managed label and secretTemplate metadata are
// there. m must be the Secret's valid key pair.
func outputsUpToDate(s *corev1.Secret, m material, o outputSpec, pw keystorePasswords, t *cmapi.CertificateSecretTemplate) bool {
	wanted := o.wanted(len(m.cas) > 0)
	for name := range wanted {
		if !outputCurrent(name, s.Data[name], m, o, pw) {
			return false
		}
	}
	applied := fieldsAppliedBy(s, conventions.FieldManager)
	for name := range applied.data {
		if !wanted[name] && name != TLSCertKey && name != TLSKeyKey && name != CACertKey {
			return false
		}
	}
	labels := secretLabels(t)
	for k, v := range labels {
		if got, ok := s.Labels[k]; !ok || got != v {
			return false
		}
	}
	for k := range applied.labels {
		if _, ok := labels[k]; !ok {
			return false
		}
	}
	annotations := templateAnnotations(t)
	for k, v := range annotations {
		if isCertificateAnnotation(k) {
			continue
		}
		if got, ok := s.Annotations[k]; !ok || got != v {
			return false
		}
	}
	for k := range applied.annotations {
		if _, ok := annotations[k]; !ok && !isCertificateAnnotation(k) {
			return false
		}
	}
	return true
}
