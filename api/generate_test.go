package api_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// TestGeneratedFilesUpToDate fails when deploy/crds or the deepcopy code in
// api/*/v1 is not what controller-gen makes from the current types: run
// 'make generate' after changing api/. (The typed client under client/ is
// checked by 'make verify-generate'.)
func TestGeneratedFilesUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	controllerGen := filepath.Join(root, "bin", "controller-gen")
	if _, err := os.Stat(controllerGen); err != nil {
		t.Logf("building controller-gen with hack/build-tools.sh")
		run(t, root, filepath.Join(root, "hack", "build-tools.sh"), "controller-gen")
	}
	tmp := t.TempDir()

	crds := filepath.Join(tmp, "crds")
	run(t, root, controllerGen, "crd:crdVersions=v1", "paths=./api/...", "output:crd:dir="+crds)
	compareDirs(t, crds, filepath.Join(root, "deploy", "crds"))

	for _, pkg := range []string{"meta", "acme", "certmanager"} {
		out := filepath.Join(tmp, pkg)
		run(t, root, controllerGen, "object:headerFile=hack/boilerplate.go.txt", "paths=./api/"+pkg+"/v1", "output:object:dir="+out)
		compareFiles(t, filepath.Join(out, "zz_generated.deepcopy.go"), filepath.Join(root, "api", pkg, "v1", "zz_generated.deepcopy.go"))
	}
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func compareDirs(t *testing.T, want, got string) {
	t.Helper()
	list := func(dir string) []string {
		m, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			m[i] = filepath.Base(m[i])
		}
		sort.Strings(m)
		return m
	}
	w, g := list(want), list(got)
	if len(w) == 0 {
		t.Fatalf("controller-gen wrote no CRDs")
	}
	if !slices.Equal(w, g) {
		t.Errorf("deploy/crds has %v, controller-gen makes %v; run 'make generate'", g, w)
		return
	}
	for _, f := range w {
		compareFiles(t, filepath.Join(want, f), filepath.Join(got, f))
	}
}

func compareFiles(t *testing.T, want, got string) {
	t.Helper()
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("%v; run 'make generate'", err)
	}
	if !bytes.Equal(w, g) {
		t.Errorf("%s is stale; run 'make generate'", got)
	}
}
