package shim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// gatewayManifest is a Gateway with the annotations, an HTTP listener, and one HTTPS
// listener (Terminate) per secret=host pair.
func gatewayManifest(name, annotations string, tls ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: %s\n  annotations:%s\nspec:\n  gatewayClassName: istio\n  listeners:\n", name, annotations)
	b.WriteString("  - {name: http, protocol: HTTP, port: 80}\n")
	for i, t := range tls {
		secret, host, _ := strings.Cut(t, "=")
		fmt.Fprintf(&b, "  - name: https-%d\n    protocol: HTTPS\n    port: 443\n    hostname: %s\n    tls:\n      mode: Terminate\n      certificateRefs: [{kind: Secret, name: %s}]\n", i, host, secret)
	}
	return []byte(b.String())
}

// The user's site certificate through a Gateway listener: made as the user wrote it,
// issued, its solver annotations pointing at the Gateway, following annotation edits
// and going with the listener.
func TestGatewaySiteCertificate(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ca := caIssuer(t)
	ns := "istio-system"
	mustKubectl(t, gatewayManifest("site-gateway", siteAnnotations, "gw-site-example-com-tls=site.example.com"), "apply", "-n", ns, "-f", "-")
	crt := waitCertificate(t, ns, "gw-site-example-com-tls", "Ready", certReady)
	checkSiteCertificate(t, crt, "gw-site-example-com-tls", "Gateway", "site-gateway")
	if crt.Annotations[acmev1.ACMECertificateHTTP01ParentRefKind] != "Gateway" || crt.Annotations[acmev1.ACMECertificateHTTP01ParentRefName] != "site-gateway" {
		t.Errorf("annotations %v: want the HTTP-01 parentRef of the Gateway", crt.Annotations)
	}
	checkSiteSecret(t, ns, "gw-site-example-com-tls", ca, 2160*time.Hour)

	mustKubectl(t, nil, "annotate", "-n", ns, "gateway", "site-gateway", "--overwrite", "cert-manager.io/duration=720h")
	waitCertificate(t, ns, "gw-site-example-com-tls", "duration 720h, issued again", func(c *cmapi.Certificate) bool {
		return c.Spec.Duration != nil && c.Spec.Duration.Duration == 720*time.Hour && certReady(c) &&
			c.Status.Revision != nil && *c.Status.Revision >= 2
	})
	checkSiteSecret(t, ns, "gw-site-example-com-tls", ca, 720*time.Hour)

	mustKubectl(t, gatewayManifest("site-gateway", siteAnnotations), "apply", "-n", ns, "-f", "-")
	waitGone(t, ns, "gw-site-example-com-tls")
	waitEvent(t, ns, "Gateway", "site-gateway", "DeleteCertificate", `"gw-site-example-com-tls"`)

	// A Gateway deleted takes its Certificates along, with no garbage collector.
	mustKubectl(t, gatewayManifest("site-gateway", siteAnnotations, "gw-site-example-com-tls=site.example.com"), "apply", "-n", ns, "-f", "-")
	waitCertificate(t, ns, "gw-site-example-com-tls", "made again", func(*cmapi.Certificate) bool { return true })
	mustKubectl(t, nil, "delete", "-n", ns, "gateway", "site-gateway")
	waitGone(t, ns, "gw-site-example-com-tls")
}

// A ListenerSet attached to an annotated Gateway gets Certificates for its listeners
// from the Gateway's issuer, controlled by the ListenerSet.
func TestListenerSetInheritsGatewayIssuer(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	caIssuer(t)
	ns := "istio-system"
	mustKubectl(t, gatewayManifest("shared-gateway", "\n    cert-manager.io/cluster-issuer: ca-example-issuer"), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, []byte(`apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: team}
spec:
  parentRef: {name: shared-gateway}
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    hostname: team.example.com
    tls:
      mode: Terminate
      certificateRefs: [{kind: Secret, name: team-tls}]
`), "apply", "-n", ns, "-f", "-")
	crt := waitCertificate(t, ns, "team-tls", "Ready", certReady)
	if ref := metav1.GetControllerOf(crt); ref == nil || ref.Kind != "ListenerSet" || ref.Name != "team" {
		t.Errorf("controller %+v, want ListenerSet team", ref)
	}
	if crt.Spec.IssuerRef.Name != "ca-example-issuer" || crt.Spec.IssuerRef.Kind != cmapi.ClusterIssuerKind || strings.Join(crt.Spec.DNSNames, ",") != "team.example.com" {
		t.Errorf("spec %+v", crt.Spec)
	}
	if crt.Annotations[acmev1.ACMECertificateHTTP01ParentRefKind] != "ListenerSet" || crt.Annotations[acmev1.ACMECertificateHTTP01ParentRefName] != "team" {
		t.Errorf("annotations %v", crt.Annotations)
	}
	if _, err := env.gateway.GatewayV1().ListenerSets(ns).Get(context.Background(), "team", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}
