package helm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/certflow/certflow/internal/localstack"
)

// The user's release: `helm install certflow deploy/charts/certflow --namespace cert-manager`.
const (
	releaseName = "certflow"
	namespace   = "cert-manager"
)

// The user's --set flags (README.md's install command).
var userSets = []string{"installCRDs=true", "extraArgs={--feature-gates=ExperimentalGatewayAPISupport=true}"}

// chartDir is deploy/charts/certflow.
func chartDir(t testing.TB) string {
	t.Helper()
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy", "charts", "certflow")
}

// kubeVersion is the Kubernetes version of the local stack (hack/build-tools.sh's
// K8S_VERSION), as the helm CLI built next to it reports it. (Helm's library says
// v1.20 in a test binary.)
func kubeVersion(t testing.TB) *common.KubeVersion {
	t.Helper()
	v, err := common.ParseKubeVersion(buildToolsVar(t, "K8S_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// buildToolsVar is a version pinned in hack/build-tools.sh.
func buildToolsVar(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(t), "..", "..", "..", "hack", "build-tools.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("hack/build-tools.sh has no %s", name)
	}
	return string(m[1])
}

func loadChart(t testing.TB) chart.Charter {
	t.Helper()
	c, err := loader.Load(chartDir(t))
	if err != nil {
		t.Fatalf("load the chart: %v", err)
	}
	return c
}

// values parses --set flags as the helm CLI does.
func values(t testing.TB, sets ...string) map[string]any {
	t.Helper()
	v := map[string]any{}
	for _, s := range sets {
		if err := strvals.ParseInto(s, v); err != nil {
			t.Fatalf("--set %s: %v", s, err)
		}
	}
	return v
}

// renderRelease renders the chart as `helm template NAME --namespace NS --set ...`
// does (no cluster), returning the manifest or the chart's error.
func renderRelease(t testing.TB, name, ns string, sets ...string) (string, error) {
	t.Helper()
	cfg := action.NewConfiguration()
	in := action.NewInstall(cfg)
	in.DryRunStrategy = action.DryRunClient
	in.Replace = true
	in.ReleaseName, in.Namespace = name, ns
	in.WaitStrategy = kube.HookOnlyStrategy
	in.KubeVersion = kubeVersion(t)
	rel, err := in.Run(loadChart(t), values(t, sets...))
	if err != nil {
		return "", err
	}
	return manifestOf(t, rel), nil
}

// render renders the user's release with sets, failing the test on a chart error.
func render(t testing.TB, sets ...string) []*unstructured.Unstructured {
	t.Helper()
	m, err := renderRelease(t, releaseName, namespace, sets...)
	if err != nil {
		t.Fatalf("render with %q: %v", sets, err)
	}
	return decode(t, m)
}

func manifestOf(t testing.TB, rel release.Releaser) string {
	t.Helper()
	acc, err := release.NewAccessor(rel)
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Hooks()) > 0 {
		t.Fatalf("the chart has %d hooks; the tests (and the static bundle) expect none", len(acc.Hooks()))
	}
	return acc.Manifest()
}

// decode splits a multi-document manifest into objects (empty documents skipped).
func decode(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs
			}
			t.Fatalf("decode the manifest: %v\n%s", err, manifest)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the object of kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func mustFind(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("no %s %s in the rendering; it has %s", kind, name, names(objs))
	}
	return o
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func names(objs []*unstructured.Unstructured) string {
	var b bytes.Buffer
	for _, o := range objs {
		b.WriteString(o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName() + "; ")
	}
	return b.String()
}

// typed converts an object to its Go type.
func typed[T any](t testing.TB, o *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return out
}

// deployment returns a rendered Deployment and its one container.
func deployment(t testing.TB, objs []*unstructured.Unstructured, name string) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	d := typed[appsv1.Deployment](t, mustFind(t, objs, "Deployment", name))
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", name, n)
	}
	return d, d.Spec.Template.Spec.Containers[0]
}

// envValue returns a container's plain environment variable and whether it is set.
func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}
