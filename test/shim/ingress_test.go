package shim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// ingressManifest is an Ingress with the annotations (YAML lines indented for
// metadata.annotations) and one TLS entry per secret=host pair.
func ingressManifest(name, annotations string, tls ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\n  annotations:%s\nspec:\n", name, annotations)
	b.WriteString("  rules:\n  - host: site.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {service: {name: web, port: {number: 80}}}\n")
	if len(tls) > 0 {
		b.WriteString("  tls:\n")
	}
	for _, t := range tls {
		secret, host, _ := strings.Cut(t, "=")
		fmt.Fprintf(&b, "  - secretName: %s\n    hosts: [%s]\n", secret, host)
	}
	return []byte(b.String())
}

func certReady(c *cmapi.Certificate) bool { return testkit.CertificateReady(c) }

// The user's site certificate, served through an Ingress whose annotations express it:
// the Certificate is made as the user wrote it, issued by their CA, follows annotation
// edits, is left as it is on a bad annotation (BadConfig Event), and goes with its TLS
// entry.
func TestIngressSiteCertificate(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ca := caIssuer(t)
	ns := "istio-system"
	mustKubectl(t, ingressManifest("site", siteAnnotations, "site-example-com-tls=site.example.com"), "apply", "-n", ns, "-f", "-")
	crt := waitCertificate(t, ns, "site-example-com-tls", "Ready", certReady)
	checkSiteCertificate(t, crt, "site-example-com-tls", "Ingress", "site")
	checkSiteSecret(t, ns, "site-example-com-tls", ca, 2160*time.Hour)
	waitEvent(t, ns, "Ingress", "site", "CreateCertificate", `"site-example-com-tls"`)

	// An annotation edit changes the Certificate, which is issued again.
	mustKubectl(t, nil, "annotate", "-n", ns, "ingress", "site", "--overwrite", "cert-manager.io/duration=720h")
	crt = waitCertificate(t, ns, "site-example-com-tls", "duration 720h, issued again", func(c *cmapi.Certificate) bool {
		return c.Spec.Duration != nil && c.Spec.Duration.Duration == 720*time.Hour && certReady(c) &&
			c.Status.Revision != nil && *c.Status.Revision >= 2
	})
	checkSiteSecret(t, ns, "site-example-com-tls", ca, 720*time.Hour)
	waitEvent(t, ns, "Ingress", "site", "UpdateCertificate", `"site-example-com-tls"`)

	// A bad value: a BadConfig Event, and the Certificate as it was.
	before := crt.Generation
	mustKubectl(t, nil, "annotate", "-n", ns, "ingress", "site", "--overwrite", "cert-manager.io/private-key-size=1024")
	waitEvent(t, ns, "Ingress", "site", "BadConfig", "invalid private key size for RSA algorithm")
	crt, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "site-example-com-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if crt.Generation != before || crt.Spec.PrivateKey.Size != 2048 {
		t.Errorf("Certificate changed on a bad annotation: generation %d (was %d), key size %d", crt.Generation, before, crt.Spec.PrivateKey.Size)
	}
	mustKubectl(t, nil, "annotate", "-n", ns, "ingress", "site", "--overwrite", "cert-manager.io/private-key-size=2048")

	// A second TLS entry gets its Certificate; removing the entry removes it.
	mustKubectl(t, ingressManifest("site", siteAnnotations, "site-example-com-tls=site.example.com", "www-example-com-tls=www.example.com"), "apply", "-n", ns, "-f", "-")
	www := waitCertificate(t, ns, "www-example-com-tls", "created", func(*cmapi.Certificate) bool { return true })
	if strings.Join(www.Spec.DNSNames, ",") != "www.example.com" || metav1.GetControllerOf(www) == nil {
		t.Errorf("www Certificate: dnsNames %v, controller %v", www.Spec.DNSNames, metav1.GetControllerOf(www))
	}
	mustKubectl(t, ingressManifest("site", siteAnnotations, "site-example-com-tls=site.example.com"), "apply", "-n", ns, "-f", "-")
	waitGone(t, ns, "www-example-com-tls")
	waitEvent(t, ns, "Ingress", "site", "DeleteCertificate", `"www-example-com-tls"`)
	if _, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "site-example-com-tls", metav1.GetOptions{}); err != nil {
		t.Errorf("the site Certificate went with the other entry: %v", err)
	}

	// The Ingress deleted: its Certificate goes too, with no garbage collector running
	// (the local stack has none).
	mustKubectl(t, nil, "delete", "-n", ns, "ingress", "site")
	waitGone(t, ns, "site-example-com-tls")
}

// A Certificate written by hand under the name an Ingress asks for is never changed or
// deleted by ingress-shim: the Ingress gets an Event instead.
func TestHandWrittenCertificateLeftAlone(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	caIssuer(t)
	ns := "hand"
	testkit.CreateNamespace(t, env.Kube, ns)
	mustKubectl(t, []byte(testkit.Cert{Name: "site-example-com-tls", DNSNames: []string{"hand.example.com"}, Issuer: "ca-example-issuer", IssuerKind: "ClusterIssuer"}.String()),
		"apply", "-n", ns, "-f", "-")
	hand := waitCertificate(t, ns, "site-example-com-tls", "Ready", certReady)

	mustKubectl(t, ingressManifest("site", siteAnnotations, "site-example-com-tls=site.example.com"), "apply", "-n", ns, "-f", "-")
	waitEvent(t, ns, "Ingress", "site", "CertificateNotOwned", `"site-example-com-tls"`)
	// Then drop the entry for another: the hand-written Certificate is not the
	// Ingress's to delete (the other's Certificate shows the change was synced).
	mustKubectl(t, ingressManifest("site", siteAnnotations, "other-tls=other.example.com"), "apply", "-n", ns, "-f", "-")
	waitCertificate(t, ns, "other-tls", "created", func(*cmapi.Certificate) bool { return true })
	got, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), "site-example-com-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the hand-written Certificate is gone: %v", err)
	}
	if got.UID != hand.UID || got.Generation != hand.Generation || len(got.OwnerReferences) != 0 ||
		strings.Join(got.Spec.DNSNames, ",") != "hand.example.com" || got.Spec.CommonName != "" {
		t.Errorf("hand-written Certificate changed: uid %s→%s generation %d→%d owners %v dnsNames %v CN %q",
			hand.UID, got.UID, hand.Generation, got.Generation, got.OwnerReferences, got.Spec.DNSNames, got.Spec.CommonName)
	}
}

// kubernetes.io/tls-acme: "true" alone asks the default issuer (--default-issuer-*).
func TestTLSACMEDefaultIssuer(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	caIssuer(t)
	ns := "acme-default"
	testkit.CreateNamespace(t, env.Kube, ns)
	mustKubectl(t, ingressManifest("web", "\n    kubernetes.io/tls-acme: \"true\"", "web-tls=web.example.com"), "apply", "-n", ns, "-f", "-")
	crt := waitCertificate(t, ns, "web-tls", "Ready", certReady)
	if crt.Spec.IssuerRef.Name != "ca-example-issuer" || crt.Spec.IssuerRef.Kind != cmapi.ClusterIssuerKind || crt.Spec.IssuerRef.Group != "cert-manager.io" {
		t.Errorf("issuerRef %+v, want the default issuer", crt.Spec.IssuerRef)
	}
	_, leaf := testkit.ReadTLSSecret(t, env.Kube, ns, "web-tls")
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "web.example.com" {
		t.Errorf("dnsNames %v", leaf.DNSNames)
	}
}
