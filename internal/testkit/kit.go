package testkit

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/localstack/system"
)

// Manifests, as the tests apply them with kubectl.

// Manifest joins YAML documents into one multi-document manifest.
func Manifest(docs ...string) []byte {
	return []byte(strings.Join(docs, "---\n"))
}

// SelfSignedIssuer is an Issuer with spec.selfSigned.
func SelfSignedIssuer(name string) string {
	return "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: " + name + "}\nspec: {selfSigned: {}}\n"
}

// CAIssuer is an Issuer with spec.ca reading secretName.
func CAIssuer(name, secretName string) string {
	return "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: " + name + "}\nspec: {ca: {secretName: " + secretName + "}}\n"
}

// Cert is a Certificate manifest; empty fields are left out, SecretName defaults to
// <Name>-tls.
type Cert struct {
	Name, SecretName, CommonName string
	IsCA                         bool
	DNSNames                     []string
	Duration                     string
	PrivateKey                   string // flow YAML, e.g. "{algorithm: ECDSA}"
	Issuer, IssuerKind           string
	Labels                       map[string]string
	// Extra are more YAML lines under spec, indented by two spaces.
	Extra string
}

// String renders the Certificate as YAML.
func (c Cert) String() string {
	secret := c.SecretName
	if secret == "" {
		secret = c.Name + "-tls"
	}
	var b strings.Builder
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		labels = append(labels, fmt.Sprintf("%q: %q", k, c.Labels[k]))
	}
	fmt.Fprintf(&b, "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: %s, labels: {%s}}\nspec:\n  secretName: %s\n", c.Name, strings.Join(labels, ", "), secret)
	if c.IsCA {
		b.WriteString("  isCA: true\n")
	}
	if c.CommonName != "" {
		fmt.Fprintf(&b, "  commonName: %s\n", c.CommonName)
	}
	if len(c.DNSNames) > 0 {
		fmt.Fprintf(&b, "  dnsNames: [%s]\n", strings.Join(c.DNSNames, ", "))
	}
	if c.Duration != "" {
		fmt.Fprintf(&b, "  duration: %s\n", c.Duration)
	}
	if c.PrivateKey != "" {
		fmt.Fprintf(&b, "  privateKey: %s\n", c.PrivateKey)
	}
	if c.IssuerKind != "" {
		fmt.Fprintf(&b, "  issuerRef: {name: %s, kind: %s}\n", c.Issuer, c.IssuerKind)
	} else {
		fmt.Fprintf(&b, "  issuerRef: {name: %s}\n", c.Issuer)
	}
	b.WriteString(c.Extra)
	return b.String()
}

// Waits and assertions on the cluster.

// RequestCondition returns a condition of a CertificateRequest, or nil.
func RequestCondition(cr *cmapi.CertificateRequest, typ cmapi.CertificateRequestConditionType) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == typ {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

// GetRequest reads a CertificateRequest, failing the test when it cannot.
func GetRequest(t testing.TB, cf versioned.Interface, ns, name string) *cmapi.CertificateRequest {
	t.Helper()
	cr, err := cf.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

// CertificateCondition returns a condition of a Certificate, or nil.
func CertificateCondition(c *cmapi.Certificate, typ cmapi.CertificateConditionType) *cmapi.CertificateCondition {
	for i := range c.Status.Conditions {
		if c.Status.Conditions[i].Type == typ {
			return &c.Status.Conditions[i]
		}
	}
	return nil
}

// CertificateReady is Ready=True for the current generation with no Issuing
// condition left.
func CertificateReady(c *cmapi.Certificate) bool {
	r := CertificateCondition(c, cmapi.CertificateConditionReady)
	return r != nil && r.Status == cmmeta.ConditionTrue && r.ObservedGeneration == c.Generation &&
		CertificateCondition(c, cmapi.CertificateConditionIssuing) == nil
}

// WaitCertificate polls a Certificate until done says so, and returns it.
func WaitCertificate(t testing.TB, cf versioned.Interface, ns, name string, timeout time.Duration, what string, done func(*cmapi.Certificate) bool) *cmapi.Certificate {
	t.Helper()
	var cert *cmapi.Certificate
	Eventually(t, timeout, "Certificate "+ns+"/"+name+" "+what, func() (bool, string) {
		c, err := cf.CertmanagerV1().Certificates(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		cert = c
		return done(c), fmt.Sprintf("%+v", c.Status)
	})
	return cert
}

// WaitCertificateReady waits until CertificateReady.
func WaitCertificateReady(t testing.TB, cf versioned.Interface, ns, name string, timeout time.Duration) *cmapi.Certificate {
	t.Helper()
	return WaitCertificate(t, cf, ns, name, timeout, "Ready", CertificateReady)
}

// WaitRevision waits until the Certificate is Ready at status.revision rev.
func WaitRevision(t testing.TB, cf versioned.Interface, ns, name string, rev int, timeout time.Duration) *cmapi.Certificate {
	t.Helper()
	return WaitCertificate(t, cf, ns, name, timeout, fmt.Sprintf("Ready at revision %d", rev), func(c *cmapi.Certificate) bool {
		return CertificateReady(c) && c.Status.Revision != nil && *c.Status.Revision == rev
	})
}

// WaitIssuerCondition waits until the Ready condition of Issuer ns/name (of
// ClusterIssuer name when ns is empty) satisfies ok.
func WaitIssuerCondition(t testing.TB, cf versioned.Interface, ns, name string, timeout time.Duration, ok func(cmapi.IssuerCondition) bool) {
	t.Helper()
	what := "Issuer " + ns + "/" + name
	if ns == "" {
		what = "ClusterIssuer " + name
	}
	Eventually(t, timeout, what+" Ready condition", func() (bool, string) {
		var iss cmapi.GenericIssuer
		var err error
		if ns == "" {
			iss, err = cf.CertmanagerV1().ClusterIssuers().Get(context.Background(), name, metav1.GetOptions{})
		} else {
			iss, err = cf.CertmanagerV1().Issuers(ns).Get(context.Background(), name, metav1.GetOptions{})
		}
		if err != nil {
			return false, err.Error()
		}
		for _, c := range iss.GetStatus().Conditions {
			if c.Type == cmapi.IssuerConditionReady {
				return ok(c), fmt.Sprintf("%+v", c)
			}
		}
		return false, "no Ready condition"
	})
}

// WaitIssuerReady waits for Ready=True of Issuer ns/name (ClusterIssuer name when ns
// is empty).
func WaitIssuerReady(t testing.TB, cf versioned.Interface, ns, name string, timeout time.Duration) {
	t.Helper()
	WaitIssuerCondition(t, cf, ns, name, timeout, func(c cmapi.IssuerCondition) bool { return c.Status == cmmeta.ConditionTrue })
}

// ReadTLSSecret returns a Secret and the certificate of its tls.crt, failing the test
// when either is missing.
func ReadTLSSecret(t testing.TB, kc kubernetes.Interface, ns, name string) (*corev1.Secret, *x509.Certificate) {
	t.Helper()
	s, err := kc.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Secret %s/%s: %v", ns, name, err)
	}
	leaf, err := ParseLeaf(s.Data["tls.crt"])
	if err != nil {
		t.Fatalf("Secret %s/%s tls.crt: %v", ns, name, err)
	}
	return s, leaf
}

// ParseLeaf parses the first PEM certificate.
func ParseLeaf(pemBytes []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("no PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// CreateNamespace creates a namespace if it is missing, failing the test on error.
func CreateNamespace(t testing.TB, kc kubernetes.Interface, ns string) {
	t.Helper()
	if err := system.EnsureNamespaces(context.Background(), kc, ns); err != nil {
		t.Fatal(err)
	}
}
