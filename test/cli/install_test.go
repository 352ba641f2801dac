package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// experimental install --dry-run prints the manifests and creates nothing; install
// creates the release (the stack serves the CRDs already, so they are left out and
// stay as they are); uninstall removes the release's objects and keeps the CRDs.
// There is no kubelet (nor garbage collector): the Deployments get no Pods, so install
// and uninstall run with --wait=false.
func TestInstallUninstall(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	const ns, rel = "cli-install", "cli-install"
	// The stack has certflow's admission policies already; a second set is left out.
	sets := []string{"--set", "admissionPolicies.enabled=false"}

	r := mustRun(t, append([]string{"x", "install", "--dry-run", "-n", ns + "-dry", "--release-name", rel + "-dry"}, sets...)...)
	wantAll(t, "install --dry-run", r.stdout,
		"kind: Deployment", "name: "+rel+"-dry-certflow-worker", "name: "+rel+"-dry-certflow-k8swatch",
		"kind: ServiceAccount", "kind: ClusterRole", "namespace: "+ns+"-dry")
	if strings.Contains(r.stdout, "kind: CustomResourceDefinition") {
		t.Errorf("install --dry-run renders the CRDs the cluster serves already")
	}
	wantAll(t, "install --dry-run", r.stderr, "cert-manager's CRDs are already served: left as they are (crds.enabled=false)")
	if _, err := sys.Kube.CoreV1().Namespaces().Get(ctx, ns+"-dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("install --dry-run created namespace %s (%v)", ns+"-dry", err)
	}
	r = mustRun(t, "x", "install", "--dry-run", "--set", "crds.enabled=true")
	if n := strings.Count(r.stdout, "kind: CustomResourceDefinition"); n != 6 {
		t.Errorf("install --dry-run --set crds.enabled=true renders %d CRDs, want 6", n)
	}

	r = mustRun(t, append([]string{"x", "install", "-n", ns, "--release-name", rel, "--wait=false"}, sets...)...)
	wantAll(t, "install", r.stdout, "NAME: "+rel+"\n", "NAMESPACE: "+ns+"\n", "STATUS: deployed\n", "REVISION: 1\n")
	for _, d := range []string{rel + "-certflow-worker", rel + "-certflow-k8swatch"} {
		if _, err := sys.Kube.AppsV1().Deployments(ns).Get(ctx, d, metav1.GetOptions{}); err != nil {
			t.Errorf("Deployment %s/%s after install: %v", ns, d, err)
		}
		if _, err := sys.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, d, metav1.GetOptions{}); err != nil {
			t.Errorf("ServiceAccount %s/%s after install: %v", ns, d, err)
		}
		if _, err := sys.Kube.RbacV1().ClusterRoles().Get(ctx, d, metav1.GetOptions{}); err != nil {
			t.Errorf("ClusterRole %s after install: %v", d, err)
		}
		if _, err := sys.Kube.RbacV1().ClusterRoleBindings().Get(ctx, d, metav1.GetOptions{}); err != nil {
			t.Errorf("ClusterRoleBinding %s after install: %v", d, err)
		}
	}
	if _, err := sys.Kube.CoreV1().Secrets(ns).Get(ctx, "sh.helm.release.v1."+rel+".v1", metav1.GetOptions{}); err != nil {
		t.Errorf("the release is not recorded: %v", err)
	}
	out, err := sys.Kubectl(nil, "get", "crd", "-o", "name")
	if err != nil || strings.Count(out, ".cert-manager.io") != 6 {
		t.Errorf("CRDs after install (%v):\n%s", err, out)
	}
	r = kubectlCertManager(t, nil, append([]string{"x", "install", "-n", ns, "--release-name", rel, "--wait=false"}, sets...)...)
	if r.err == nil {
		t.Errorf("a second install of the same release was accepted:\n%s", r)
	}

	r = mustRun(t, "x", "uninstall", "-n", ns, "--release-name", rel, "--dry-run")
	wantAll(t, "uninstall --dry-run", r.stdout, "name: "+rel+"-certflow-worker")
	if _, err := sys.Kube.AppsV1().Deployments(ns).Get(ctx, rel+"-certflow-worker", metav1.GetOptions{}); err != nil {
		t.Errorf("uninstall --dry-run removed the worker's Deployment: %v", err)
	}

	r = mustRun(t, "x", "uninstall", "-n", ns, "--release-name", rel, "--wait=false")
	wantAll(t, "uninstall", r.stdout, `release "`+rel+`" uninstalled`)
	testkit.Eventually(t, time.Minute, "the release's objects gone", func() (bool, string) {
		for _, d := range []string{rel + "-certflow-worker", rel + "-certflow-k8swatch"} {
			if _, err := sys.Kube.AppsV1().Deployments(ns).Get(ctx, d, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, "Deployment " + d + " still there"
			}
			if _, err := sys.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, d, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, "ServiceAccount " + d + " still there"
			}
			if _, err := sys.Kube.RbacV1().ClusterRoles().Get(ctx, d, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, "ClusterRole " + d + " still there"
			}
		}
		return true, ""
	})
	out, err = sys.Kubectl(nil, "get", "crd", "-o", "name")
	if err != nil || strings.Count(out, ".cert-manager.io") != 6 {
		t.Errorf("CRDs after uninstall (%v):\n%s", err, out)
	}
	r = kubectlCertManager(t, nil, "x", "uninstall", "-n", ns, "--release-name", rel)
	if r.err == nil {
		t.Errorf("uninstall of a release that is gone exited 0:\n%s", r)
	}
	wantAll(t, "uninstall of a release that is gone", r.stderr, "release "+rel+" not found in namespace "+ns)
}

// certflow signs no Kubernetes CertificateSigningRequests: the command says so and fails.
func TestCreateCertificateSigningRequest(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	r := kubectlCertManager(t, nil, "x", "create", "csr", "my-csr", "--from-certificate-file", "cert.yaml")
	if r.err == nil {
		t.Fatalf("x create csr exited 0:\n%s", r)
	}
	wantAll(t, "x create csr", r.stderr, "certflow does not sign Kubernetes CertificateSigningRequests", "create certificaterequest")
}
