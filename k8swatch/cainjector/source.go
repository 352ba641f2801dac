package cainjector

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// The pure half of the injector: which source a target's annotations name, which targets
// a change of a source touches, and whether a target's bundles need a write.

// SourceKind is where a target's CA comes from.
type SourceKind int

// The sources, in upstream's order of precedence when a target names several.
const (
	NoSource SourceKind = iota
	FromSecret
	FromCertificate
	FromAPIServer
)

func (k SourceKind) String() string {
	switch k {
	case FromSecret:
		return "Secret"
	case FromCertificate:
		return "Certificate"
	case FromAPIServer:
		return "APIServer"
	}
	return "none"
}

// Source is the CA source a target's annotations name.
type Source struct {
	Kind SourceKind
	// Namespace and Name of the Secret or Certificate (empty for FromAPIServer).
	Namespace, Name string
}

// Key is the source's "<namespace>/<name>", the value the target indexes hold.
func (s Source) Key() string { return s.Namespace + "/" + s.Name }

// SourceOf reads the target's annotations. The first of inject-ca-from-secret,
// inject-ca-from and inject-apiserver-ca that is set decides, as upstream; a value that
// cannot be read is an error (the target gets a Warning Event), not a fall-through to the
// next. No annotation: NoSource. inject-apiserver-ca "false" is no annotation.
func SourceOf(annotations map[string]string) (Source, error) {
	if v, ok := annotations[cmapi.WantInjectFromSecretAnnotation]; ok {
		ns, name, err := parseRef(v)
		if err != nil {
			return Source{}, fmt.Errorf("annotation %s: %w", cmapi.WantInjectFromSecretAnnotation, err)
		}
		return Source{Kind: FromSecret, Namespace: ns, Name: name}, nil
	}
	if v, ok := annotations[cmapi.WantInjectAnnotation]; ok {
		ns, name, err := parseRef(v)
		if err != nil {
			return Source{}, fmt.Errorf("annotation %s: %w", cmapi.WantInjectAnnotation, err)
		}
		return Source{Kind: FromCertificate, Namespace: ns, Name: name}, nil
	}
	if v, ok := annotations[cmapi.WantInjectAPIServerCAAnnotation]; ok {
		switch v {
		case "true":
			return Source{Kind: FromAPIServer}, nil
		case "false", "":
			return Source{}, nil
		}
		return Source{}, fmt.Errorf("annotation %s: %q is neither \"true\" nor \"false\"", cmapi.WantInjectAPIServerCAAnnotation, short(v))
	}
	return Source{}, nil
}

// HasInjectAnnotation says whether the object carries any of the injector's annotations
// (a valid one or not): only those are synced.
func HasInjectAnnotation(annotations map[string]string) bool {
	for _, k := range injectAnnotations {
		if _, ok := annotations[k]; ok {
			return true
		}
	}
	return false
}

var injectAnnotations = []string{cmapi.WantInjectFromSecretAnnotation, cmapi.WantInjectAnnotation, cmapi.WantInjectAPIServerCAAnnotation}

// parseRef reads "<namespace>/<name>".
func parseRef(v string) (namespace, name string, err error) {
	ns, n, ok := strings.Cut(v, "/")
	if !ok || ns == "" || n == "" {
		return "", "", fmt.Errorf("%q is not <namespace>/<name>", short(v))
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return "", "", fmt.Errorf("%q: namespace %q is not valid: %s", short(v), short(ns), errs[0])
	}
	if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
		return "", "", fmt.Errorf("%q: name %q is not valid: %s", short(v), short(n), errs[0])
	}
	return ns, n, nil
}

// short cuts a user's value for a message.
func short(s string) string {
	const limit = 300
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}

// Index names of the target caches: the "<namespace>/<name>" of the Secret or the
// Certificate a target injects from.
const (
	indexSecret      = "cainjector-secret"
	indexCertificate = "cainjector-certificate"
)

// targetIndexes are the index values of a target with these annotations: the source it
// injects from, by kind. A target whose annotations cannot be read is in no index.
func targetIndexes(annotations map[string]string) map[string][]string {
	s, err := SourceOf(annotations)
	if err != nil {
		return nil
	}
	switch s.Kind {
	case FromSecret:
		return map[string][]string{indexSecret: {s.Key()}}
	case FromCertificate:
		return map[string][]string{indexCertificate: {s.Key()}}
	}
	return nil
}

// SecretRef is a Secret as its change notification has it: name and the annotations
// that matter here.
type SecretRef struct {
	Namespace, Name string
	Annotations     map[string]string
}

// Touched are the index entries (index name → "<namespace>/<name>") whose targets a
// change of a source must re-sync.
type Touched map[string]map[string]bool

func (t Touched) add(index, key string) {
	if t[index] == nil {
		t[index] = map[string]bool{}
	}
	t[index][key] = true
}

// SecretTouches is what a change of a Secret touches: the targets injecting from it
// directly, and those injecting from the Certificate its cert-manager.io/certificate-name
// annotation names (upstream's test that a Secret belongs to a Certificate). An update
// passes the old and the new Secret, so that a Secret that stops naming a Certificate
// still re-syncs that Certificate's targets.
func SecretTouches(secrets ...SecretRef) Touched {
	t := Touched{}
	for _, s := range secrets {
		t.add(indexSecret, s.Namespace+"/"+s.Name)
		if c := s.Annotations[cmapi.CertificateNameKey]; c != "" {
			t.add(indexCertificate, s.Namespace+"/"+c)
		}
	}
	return t
}

// CertificateTouches is what a change of a Certificate touches: the targets injecting
// from it, when it came (old nil), went (new nil) or names another Secret. A change of
// anything else changes no CA.
func CertificateTouches(old, new *cmapi.Certificate) Touched {
	t := Touched{}
	c := new
	if c == nil {
		c = old
	}
	if c == nil {
		return t
	}
	if old == nil || new == nil || old.Spec.SecretName != new.Spec.SecretName {
		t.add(indexCertificate, c.Namespace+"/"+c.Name)
	}
	return t
}

// Problem is why a target gets no CA now: the reason and message of its Warning Event.
type Problem struct{ Reason, Message string }

// The reasons of the Warning Events on targets.
const (
	ReasonInvalidAnnotation    = "InvalidAnnotation"
	ReasonCertificateNotFound  = "CertificateNotFound"
	ReasonSecretNotFound       = "SecretNotFound"
	ReasonSecretNotOwned       = "SecretNotOwnedByCertificate"
	ReasonDirectInjectionNotOK = "DirectInjectionNotAllowed"
	ReasonInvalidCA            = "InvalidCA"
	ReasonNoAPIServerCA        = "NoAPIServerCA"
	ReasonNoCABundleField      = "NoCABundleField"
	ReasonInjectFailed         = "InjectFailed"
)

// CAOfCertificateSecret is the ca.crt of the Secret of Certificate certNamespace/certName,
// if that Secret says it is the Certificate's (its cert-manager.io/certificate-name
// annotation, as upstream checks), so that a Certificate pointed at someone else's Secret
// does not inject that Secret's CA.
func CAOfCertificateSecret(certNamespace, certName string, secret *corev1.Secret) ([]byte, *Problem) {
	if secret.Namespace != certNamespace || secret.Annotations[cmapi.CertificateNameKey] != certName {
		return nil, &Problem{ReasonSecretNotOwned, fmt.Sprintf("Secret %s/%s is not Certificate %s/%s's: its annotation %s is %q",
			secret.Namespace, secret.Name, certNamespace, certName, cmapi.CertificateNameKey, short(secret.Annotations[cmapi.CertificateNameKey]))}
	}
	return caOf(secret)
}

// CAOfSecret is the ca.crt of a Secret named by inject-ca-from-secret, if the Secret
// allows it (cert-manager.io/allow-direct-injection: "true", as upstream).
func CAOfSecret(secret *corev1.Secret) ([]byte, *Problem) {
	if secret.Annotations[cmapi.AllowsInjectionFromSecretAnnotation] != "true" {
		return nil, &Problem{ReasonDirectInjectionNotOK, fmt.Sprintf("Secret %s/%s does not allow injection from it: it needs the annotation %s: \"true\"",
			secret.Namespace, secret.Name, cmapi.AllowsInjectionFromSecretAnnotation)}
	}
	return caOf(secret)
}

func caOf(secret *corev1.Secret) ([]byte, *Problem) {
	ca, ok := secret.Data[cmmeta.TLSCAKey]
	if !ok {
		return nil, &Problem{ReasonInvalidCA, fmt.Sprintf("Secret %s/%s has no %s", secret.Namespace, secret.Name, cmmeta.TLSCAKey)}
	}
	if err := CheckCA(ca); err != nil {
		return nil, &Problem{ReasonInvalidCA, fmt.Sprintf("%s of Secret %s/%s %v", cmmeta.TLSCAKey, secret.Namespace, secret.Name, err)}
	}
	return ca, nil
}

// Slot is one caBundle field of a target: a webhook's (by its name), the APIService's or
// the CRD's conversion webhook's.
type Slot struct {
	Name     string
	CABundle []byte
}

// NeedsWrite says whether any of the slots holds another bundle than ca. No slot: no
// write.
func NeedsWrite(slots []Slot, ca []byte) bool {
	for _, s := range slots {
		if !bytes.Equal(s.CABundle, ca) {
			return true
		}
	}
	return false
}

// MaxCABundle bounds the CA data the injector copies into a target (kube-apiserver takes
// objects up to about 1.5 MiB; a bundle this large is certainly a mistake).
const MaxCABundle = 512 << 10

// CheckCA refuses CA data that is empty, too large or not a PEM bundle of certificates:
// injected, it would break the webhook or API it is meant to secure.
func CheckCA(ca []byte) error {
	if len(bytes.TrimSpace(ca)) == 0 {
		return fmt.Errorf("is empty")
	}
	if len(ca) > MaxCABundle {
		return fmt.Errorf("is %d bytes, more than %d", len(ca), MaxCABundle)
	}
	rest, n := ca, 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM block of type %q, not only certificates", short(b.Type))
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("holds no PEM certificate")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return fmt.Errorf("has data after its last PEM certificate")
	}
	return nil
}
