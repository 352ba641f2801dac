package localstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped file holds the two policies and their bindings, one of each; anything
// else in such a file is refused, as is a file without any.
func TestReadAdmissionPolicies(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	docs, err := readAdmissionPolicies(filepath.Join(root, AdmissionPoliciesFile))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, d := range docs {
		kinds[d.kind]++
		if d.name == "" || len(d.raw) == 0 {
			t.Errorf("%s without a name or body", d.kind)
		}
	}
	for kind := range admissionKinds {
		if kinds[kind] != 1 {
			t.Errorf("%s has %d %s, want 1", AdmissionPoliciesFile, kinds[kind], kind)
		}
	}

	dir := t.TempDir()
	for name, c := range map[string]struct{ body, err string }{
		"other kind": {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "not an admissionregistration.k8s.io/v1 admission policy"},
		"beta":       {"apiVersion: admissionregistration.k8s.io/v1beta1\nkind: MutatingAdmissionPolicy\nmetadata: {name: x}\n", "not an admissionregistration.k8s.io/v1 admission policy"},
		"no name":    {"apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {}\n", "without metadata.name"},
		"empty":      {"# nothing\n---\n", "no admission policies"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readAdmissionPolicies(path); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.err)
		}
	}
}
