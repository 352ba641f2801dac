package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certflow/certflow/internal/testkit/integration"
)

// Every manifest in api/testdata/invalid is refused by `kubectl apply` with a message
// naming the field (its `# expect:` lines), and every one in api/testdata/valid applies.
func TestInvalidManifestsAreRefusedWithFieldNames(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	mustKubectl(t, nil, "create", "namespace", "validation")
	files, err := filepath.Glob(filepath.Join(env.root, "api", "testdata", "invalid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid manifests found (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			expects := expectations(t, f)
			out, err := kubectl(t, nil, "apply", "-n", "validation", "-f", f)
			if err == nil {
				t.Fatalf("kubectl apply accepted an invalid manifest:\n%s", out)
			}
			for _, e := range expects {
				if !strings.Contains(out, e) {
					t.Errorf("error does not name %q:\n%s", e, out)
				}
			}
		})
	}
	valid, _ := filepath.Glob(filepath.Join(env.root, "api", "testdata", "valid", "*.yaml"))
	for _, f := range valid {
		t.Run("valid/"+filepath.Base(f), func(t *testing.T) {
			mustKubectl(t, nil, "apply", "--dry-run=server", "-n", "validation", "-f", f)
		})
	}
}

func expectations(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if e, ok := strings.CutPrefix(strings.TrimSpace(line), "# expect:"); ok {
			out = append(out, strings.TrimSpace(e))
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no '# expect:' line", file)
	}
	return out
}

// The user's manifests in examples/ (copied unchanged from their notes) still pass the
// API server's validation, applied the way their notes apply them.
func TestUserManifestsApply(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	namespaces := map[string]string{
		"selfsigned-issuer.yaml":                   "cert-manager",
		"certificate-example-ca.yaml":              "cert-manager",
		"clusterIssuer-ca-example.yaml":            "",
		"certificate-site-example-com.yaml":        "istio-system",
		"ca-issuer.yaml":                           "",
		"certificate-bookinfo.yaml":                "istio-system",
		"letsencrypt-http01-gatewayHTTPRoute.yaml": "istio",
		"certificate-http01-example.yaml":          "istio",
		"letsencrypt-dns01.yaml":                   "",
	}
	files, _ := filepath.Glob(filepath.Join(env.root, "examples", "*.yaml"))
	if len(files) != len(namespaces) {
		t.Errorf("examples/ has %d manifests, the test knows %d", len(files), len(namespaces))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			ns, ok := namespaces[name]
			if !ok {
				t.Fatalf("no namespace known for %s", name)
			}
			args := []string{"apply", "--dry-run=server", "-f", f}
			if ns != "" {
				args = append(args, "-n", ns)
			}
			mustKubectl(t, nil, args...)
		})
	}
}
