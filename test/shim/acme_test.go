package shim

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

// ingressLog records every state of the namespace's Ingresses from now on.
type ingressLog struct {
	mu     sync.Mutex
	events []watch.Event
}

func watchIngresses(t *testing.T, ns string) *ingressLog {
	t.Helper()
	w, err := env.Kube.NetworkingV1().Ingresses(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := &ingressLog{}
	go func() {
		for e := range w.ResultChan() {
			l.mu.Lock()
			l.events = append(l.events, e)
			l.mu.Unlock()
		}
	}()
	t.Cleanup(w.Stop)
	return l
}

// seen returns the Ingress states that match.
func (l *ingressLog) seen(match func(watch.EventType, *networkingv1.Ingress) bool) []*networkingv1.Ingress {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*networkingv1.Ingress
	for _, e := range l.events {
		if ing, ok := e.Object.(*networkingv1.Ingress); ok && match(e.Type, ing) {
			out = append(out, ing)
		}
	}
	return out
}

func hasChallengePath(ing *networkingv1.Ingress) bool {
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if strings.HasPrefix(p.Path, "/.well-known/acme-challenge/") {
				return true
			}
		}
	}
	return false
}

func isSolverIngress(ing *networkingv1.Ingress) bool {
	return ing.Labels[acmev1.SolverIdentificationLabelKey] == "true"
}

// The HTTP-01 annotations of an Ingress reach its ACME challenges' solver: with
// http01-edit-in-place the challenge is routed through that Ingress (its path added
// while the challenge runs, no solver Ingress made); with http01-ingress-class the
// solver Ingress gets that class instead of the issuer's ingressClassName. Pebble
// validates both, and issues.
func TestIngressACMEHTTP01Annotations(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "acme-http01"
	testkit.CreateNamespace(t, env.Kube, ns)
	mustKubectl(t, acmetest.Issuer(env.System, "Issuer", "letsencrypt", acmetest.IngressSolver), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env.System, ns, "letsencrypt")
	log := watchIngresses(t, ns)

	mustKubectl(t, ingressManifest("site", `
    cert-manager.io/issuer: letsencrypt
    acme.cert-manager.io/http01-edit-in-place: "true"`, "site-tls=site.example.org"), "apply", "-n", ns, "-f", "-")
	crt := testkit.WaitCertificateReady(t, env.CertFlow, ns, "site-tls", 3*time.Minute)
	if crt.Annotations[acmev1.ACMECertificateHTTP01IngressNameOverride] != "site" || crt.Annotations[cmapi.IssueTemporaryCertificateAnnotation] != "true" {
		t.Errorf("Certificate annotations %v", crt.Annotations)
	}
	acmetest.VerifyChain(t, env.System, ns, "site-tls", "site.example.org")
	testkit.Eventually(t, 10*time.Second, "the Ingress seen with the challenge path", func() (bool, string) {
		edited := log.seen(func(_ watch.EventType, ing *networkingv1.Ingress) bool {
			return ing.Name == "site" && hasChallengePath(ing)
		})
		return len(edited) > 0, "never edited"
	})
	if solvers := log.seen(func(_ watch.EventType, ing *networkingv1.Ingress) bool { return isSolverIngress(ing) }); len(solvers) > 0 {
		t.Errorf("a solver Ingress %s was made instead of editing the Ingress in place", solvers[0].Name)
	}
	testkit.Eventually(t, 30*time.Second, "the challenge path removed from the Ingress", func() (bool, string) {
		ing, err := env.Kube.NetworkingV1().Ingresses(ns).Get(context.Background(), "site", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return !hasChallengePath(ing), "still has it"
	})

	mustKubectl(t, ingressManifest("classy", `
    cert-manager.io/issuer: letsencrypt
    acme.cert-manager.io/http01-ingress-class: traefik`, "classy-tls=classy.example.org"), "apply", "-n", ns, "-f", "-")
	testkit.WaitCertificateReady(t, env.CertFlow, ns, "classy-tls", 3*time.Minute)
	acmetest.VerifyChain(t, env.System, ns, "classy-tls", "classy.example.org")
	// The classy Certificate's solver Ingress, and the only one.
	var solvers []*networkingv1.Ingress
	testkit.Eventually(t, 10*time.Second, "one solver Ingress seen", func() (bool, string) {
		solvers = log.seen(func(typ watch.EventType, ing *networkingv1.Ingress) bool {
			return typ == watch.Added && isSolverIngress(ing)
		})
		return len(solvers) > 0, "none"
	})
	if len(solvers) != 1 {
		t.Fatalf("%d solver Ingresses made, want 1", len(solvers))
	}
	if s := solvers[0]; s.Annotations["kubernetes.io/ingress.class"] != "traefik" || s.Spec.IngressClassName != nil {
		t.Errorf("solver Ingress class annotation %q, ingressClassName %v: want traefik and none", s.Annotations["kubernetes.io/ingress.class"], s.Spec.IngressClassName)
	}
	acmetest.AssertNothingLeft(t, env.System, ns)
}
