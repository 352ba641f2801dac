package charts

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// The embedded chart is the chart's directory as the helm CLI loads it: the same
// metadata, values and templates, byte for byte.
func TestEmbeddedIsTheDirectory(t *testing.T) {
	got, err := Certflow()
	if err != nil {
		t.Fatal(err)
	}
	want, err := loader.Load(filepath.Join(".", Name))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name() != Name || got.Metadata.Version != want.Metadata.Version || got.Metadata.AppVersion != want.Metadata.AppVersion {
		t.Errorf("embedded chart %s %s, want %s %s", got.Name(), got.Metadata.Version, want.Name(), want.Metadata.Version)
	}
	templates := map[string][]byte{}
	var gotNames, wantNames []string
	for _, f := range got.Templates {
		templates[f.Name] = f.Data
		gotNames = append(gotNames, f.Name)
	}
	for _, f := range want.Templates {
		wantNames = append(wantNames, f.Name)
		if d, ok := templates[f.Name]; ok && !bytes.Equal(d, f.Data) {
			t.Errorf("embedded %s differs from the directory's", f.Name)
		}
	}
	slices.Sort(gotNames)
	slices.Sort(wantNames)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("embedded templates %q, want %q", gotNames, wantNames)
	}
	if !slices.Contains(gotNames, "templates/_helpers.tpl") {
		t.Errorf("embedded templates %q lack _helpers.tpl", gotNames)
	}
	if got.Values["installCRDs"] != want.Values["installCRDs"] || len(got.Values) != len(want.Values) {
		t.Errorf("embedded values differ from the directory's")
	}
}

func TestIgnored(t *testing.T) {
	p := ignorePatterns("# editors\n.DS_Store\n*.swp\n\n*~\n")
	for name, want := range map[string]bool{
		"templates/rbac.yaml":      false,
		"templates/.rbac.yaml.swp": true,
		"templates/rbac.yaml~":     true,
		".DS_Store":                true,
		"values.yaml":              false,
		"# editors":                false,
	} {
		if got := ignored(p, name); got != want {
			t.Errorf("ignored(%q) = %v, want %v", name, got, want)
		}
	}
}
