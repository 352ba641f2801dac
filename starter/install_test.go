package starter

import (
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
)

func TestCRDsValue(t *testing.T) {
	for _, tc := range []struct {
		sets         []string
		enabled, set bool
	}{
		{nil, false, false},
		{[]string{"crds.enabled=true"}, true, true},
		{[]string{"crds.enabled=false"}, false, true},
		{[]string{"installCRDs=true"}, true, true},
		{[]string{"crds.keep=false"}, false, false},
		{[]string{"crds.enabled=false", "installCRDs=true"}, false, true},
	} {
		o := values.Options{Values: tc.sets}
		vals, err := o.MergeValues(getter.Providers{})
		if err != nil {
			t.Fatal(err)
		}
		enabled, set := crdsValue(vals)
		if enabled != tc.enabled || set != tc.set {
			t.Errorf("crdsValue(%q) = %v, %v; want %v, %v", tc.sets, enabled, set, tc.enabled, tc.set)
		}
		setCRDsEnabled(vals, true)
		if e, s := crdsValue(vals); !e || !s {
			t.Errorf("setCRDsEnabled(%q, true) left %v, %v", tc.sets, e, s)
		}
	}
}

func TestKeepCRDsInManifest(t *testing.T) {
	manifest := `---
# Source: certflow/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: certflow-worker
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: certificates.cert-manager.io
  annotations:
    helm.sh/resource-policy: keep
spec: {group: cert-manager.io}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: issuers.cert-manager.io
spec: {group: cert-manager.io}
`
	out, crds, changed, err := keepCRDsInManifest(manifest)
	if err != nil || crds != 2 || !changed {
		t.Fatalf("keepCRDsInManifest = %d CRDs, changed %v, %v", crds, changed, err)
	}
	if n := strings.Count(out, "helm.sh/resource-policy: keep"); n != 2 {
		t.Errorf("%d CRDs kept, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "kind: ServiceAccount") || strings.Index(out, "certflow-worker") > strings.Index(out, "issuers.cert-manager.io") {
		t.Errorf("the other objects or the order lost:\n%s", out)
	}
	again, crds, changed, err := keepCRDsInManifest(out)
	if err != nil || crds != 2 || changed || again != out {
		t.Errorf("keepCRDsInManifest of a kept manifest changed it (%d, %v, %v)", crds, changed, err)
	}
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	none, crds, changed, err := keepCRDsInManifest(cm)
	if err != nil || crds != 0 || changed || none != cm {
		t.Errorf("keepCRDsInManifest without CRDs: %q %d %v %v", none, crds, changed, err)
	}
}

func TestLoadChart(t *testing.T) {
	c, err := loadChart("certflow")
	if err != nil || c.Name() != "certflow" {
		t.Fatalf("loadChart(certflow) = %v, %v", c, err)
	}
	if _, err := loadChart("/nonexistent/chart"); err == nil || !strings.Contains(err.Error(), "neither the embedded chart") {
		t.Errorf("loadChart of a missing path: %v", err)
	}
}

// install --dry-run renders the embedded chart with no cluster at all: the CRDs are
// rendered when the cluster cannot be asked.
func TestInstallDryRunWithoutCluster(t *testing.T) {
	root := NewRootCommand("kubectl cert-manager")
	var out, errOut strings.Builder
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"x", "install", "--dry-run", "--server", "https://127.0.0.1:1", "--set", "replicaCount=2"})
	if err := root.Execute(); err != nil {
		t.Fatalf("install --dry-run: %v\n%s", err, errOut.String())
	}
	for _, w := range []string{"name: certflow-worker\n", "namespace: cert-manager\n", "replicas: 2\n", "kind: ClusterRole\n"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("install --dry-run lacks %q", w)
		}
	}
	if n := strings.Count(out.String(), "kind: CustomResourceDefinition"); n != 6 {
		t.Errorf("install --dry-run without a cluster renders %d CRDs, want 6", n)
	}
}
