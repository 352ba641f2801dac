// Package shim runs ingress-shim and gateway-shim end to end on the real local stack:
// kube-apiserver + etcd (with the Gateway API CRDs, ListenerSet included), the Temporal
// dev server, Pebble, the worker and the watcher (with --enable-gateway-api and a default
// issuer) in this process, as their ServiceAccounts. Tests skip only when
// CERTFLOW_INTEGRATION is unset.
package shim

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/k8swatch/shim"
)

// env is the shared system under test, started once by TestMain.
var env struct {
	*testkit.System
	root    string
	gateway gatewayclient.Interface
}

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{
		ACME: true, Namespaces: []string{"istio-system"},
		Shim: shim.Config{
			EnableGatewayAPI:  true,
			DefaultIssuerName: "ca-example-issuer", DefaultIssuerKind: cmapi.ClusterIssuerKind,
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim setup:", err)
		os.Exit(1)
	}
	env.System, env.root = sys, sys.Root
	if env.gateway, err = gatewayclient.NewForConfig(sys.Config); err != nil {
		fmt.Fprintln(os.Stderr, "shim setup:", err)
		sys.Stop(true)
		os.Exit(1)
	}
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

func mustKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := env.Kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var caOnce sync.Once

// caIssuer applies the user's CA flow (selfsigned Issuer, CA Certificate, ClusterIssuer
// ca-example-issuer) once and returns the CA certificate.
func caIssuer(t *testing.T) *x509.Certificate {
	t.Helper()
	caOnce.Do(func() {
		for _, step := range []struct{ file, ns string }{
			{"selfsigned-issuer.yaml", "cert-manager"},
			{"certificate-example-ca.yaml", "cert-manager"},
			{"clusterIssuer-ca-example.yaml", ""},
		} {
			args := []string{"apply", "-f", filepath.Join(env.root, "examples", step.file)}
			if step.ns != "" {
				args = append(args, "-n", step.ns)
			}
			mustKubectl(t, nil, args...)
		}
	})
	testkit.WaitCertificateReady(t, env.CertFlow, "cert-manager", "ca-example-com", 2*time.Minute)
	testkit.WaitIssuerCondition(t, env.CertFlow, "", "ca-example-issuer", 2*time.Minute, func(c cmapi.IssuerCondition) bool {
		return c.Type == cmapi.IssuerConditionReady && c.Status == "True"
	})
	_, ca := testkit.ReadTLSSecret(t, env.Kube, "cert-manager", "ca-example-com-tls")
	return ca
}

// siteAnnotations express examples/certificate-site-example-com.yaml on an Ingress or
// a Gateway, as YAML lines indented for metadata.annotations.
const siteAnnotations = `
    cert-manager.io/cluster-issuer: ca-example-issuer
    cert-manager.io/common-name: site.example.com
    cert-manager.io/subject-organizations: Example Inc.
    cert-manager.io/private-key-algorithm: RSA
    cert-manager.io/private-key-encoding: PKCS1
    cert-manager.io/private-key-size: "2048"
    cert-manager.io/duration: 2160h
    cert-manager.io/renew-before: 360h`

// siteExample is the user's Certificate, as the reference the shims must reproduce.
func siteExample(t *testing.T) *cmapi.Certificate {
	t.Helper()
	out := mustKubectl(t, nil, "create", "--dry-run=client", "-o", "json", "-f", filepath.Join(env.root, "examples", "certificate-site-example-com.yaml"))
	var crt cmapi.Certificate
	if err := json.Unmarshal([]byte(out), &crt); err != nil {
		t.Fatal(err)
	}
	return &crt
}

// checkSiteCertificate asserts that crt asks for what the user's site Certificate asks
// for (with the Secret name the object gave), controlled by the owner of kind.
func checkSiteCertificate(t *testing.T, crt *cmapi.Certificate, secretName, kind, ownerName string) {
	t.Helper()
	want := siteExample(t).Spec
	got := crt.Spec
	if got.SecretName != secretName || got.CommonName != want.CommonName || strings.Join(got.DNSNames, ",") != strings.Join(want.DNSNames, ",") ||
		got.IssuerRef != want.IssuerRef || got.Duration.Duration != want.Duration.Duration || got.RenewBefore.Duration != want.RenewBefore.Duration ||
		got.IsCA || got.Subject == nil || strings.Join(got.Subject.Organizations, ",") != strings.TrimSpace(strings.Join(want.Subject.Organizations, ",")) ||
		got.PrivateKey == nil || got.PrivateKey.Algorithm != want.PrivateKey.Algorithm || got.PrivateKey.Encoding != want.PrivateKey.Encoding ||
		got.PrivateKey.Size != want.PrivateKey.Size {
		t.Errorf("Certificate %s spec\n got %+v\nwant %+v", crt.Name, got, want)
	}
	ref := metav1.GetControllerOf(crt)
	if ref == nil || ref.Kind != kind || ref.Name != ownerName {
		t.Errorf("Certificate %s controller %+v, want %s %s", crt.Name, ref, kind, ownerName)
	}
}

// checkSiteSecret parses the issued Secret: site.example.com, O=Example Inc., signed
// by ca, an RSA 2048 key in PKCS#1, valid for the duration asked.
func checkSiteSecret(t *testing.T, ns, name string, ca *x509.Certificate, duration time.Duration) {
	t.Helper()
	secret, leaf := testkit.ReadTLSSecret(t, env.Kube, ns, name)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "site.example.com"}); err != nil {
		t.Errorf("%s: does not verify against the CA: %v", name, err)
	}
	if leaf.Subject.CommonName != "site.example.com" || strings.Join(leaf.Subject.Organization, ",") != "Example Inc." {
		t.Errorf("%s: subject %v", name, leaf.Subject)
	}
	// The CA (90 days too) caps a leaf issued after it at its own notAfter.
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got > duration || got < duration-5*time.Minute {
		t.Errorf("%s: valid for %s, want %s", name, got, duration)
	}
	block, _ := pem.Decode(secret.Data["tls.key"])
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("%s: tls.key is not a PKCS#1 RSA key", name)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil || key.N.BitLen() != 2048 {
		t.Fatalf("%s: key %v (%v), want RSA 2048", name, key != nil, err)
	}
	if pub, ok := leaf.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		t.Errorf("%s: tls.crt is not for tls.key", name)
	}
}

// waitCertificate waits until the Certificate exists and done says so.
func waitCertificate(t *testing.T, ns, name, what string, done func(*cmapi.Certificate) bool) *cmapi.Certificate {
	t.Helper()
	return testkit.WaitCertificate(t, env.CertFlow, ns, name, 2*time.Minute, what, done)
}

// waitGone waits until the Certificate is deleted.
func waitGone(t *testing.T, ns, name string) {
	t.Helper()
	testkit.Eventually(t, time.Minute, "Certificate "+ns+"/"+name+" deleted", func() (bool, string) {
		c, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, "still there, uid " + string(c.UID)
	})
}

// waitEvent waits for an Event of reason on the object of kind and name whose message
// contains msg, and returns it.
func waitEvent(t *testing.T, ns, kind, name, reason, msg string) corev1.Event {
	t.Helper()
	var found corev1.Event
	testkit.Eventually(t, time.Minute, fmt.Sprintf("%s Event %q on %s %s/%s", reason, msg, kind, ns, name), func() (bool, string) {
		list, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: fields.Set{
			"involvedObject.kind": kind, "involvedObject.name": name, "reason": reason,
		}.String()})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if strings.Contains(e.Message, msg) {
				found = e
				return true, ""
			}
			seen = append(seen, e.Message)
		}
		return false, fmt.Sprintf("events: %q", seen)
	})
	return found
}
