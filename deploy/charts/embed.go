// Package charts carries certflow's Helm chart (deploy/charts/certflow) inside the
// binaries that install it (`kubectl cert-manager experimental install`), so that the
// chart installed is always the one of the CLI's own version.
package charts

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
)

// Name is the embedded chart's name.
const Name = "certflow"

// all: keeps the templates whose names start with "_" (_helpers.tpl).
//
//go:embed all:certflow
var files embed.FS

// Certflow loads the embedded chart, leaving out what its .helmignore names, as the helm
// CLI does when it loads the chart's directory.
func Certflow() (*chart.Chart, error) {
	var ignore []string
	if b, err := fs.ReadFile(files, Name+"/.helmignore"); err == nil {
		ignore = ignorePatterns(string(b))
	}
	var buffered []*archive.BufferedFile
	err := fs.WalkDir(files, Name, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, Name+"/")
		if rel == ".helmignore" || ignored(ignore, rel) {
			return nil
		}
		data, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		buffered = append(buffered, &archive.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the embedded chart: %w", err)
	}
	c, err := loader.LoadFiles(buffered)
	if err != nil {
		return nil, fmt.Errorf("load the embedded chart: %w", err)
	}
	return c, nil
}

// ignorePatterns are the patterns of a .helmignore: one a line, # comments.
func ignorePatterns(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// ignored tells whether a file of the chart matches a pattern by its base name (the
// patterns certflow's .helmignore has: editor and OS leftovers).
func ignored(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, path.Base(name)); ok {
			return true
		}
	}
	return false
}
