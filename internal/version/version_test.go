package version

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestVersionIsARelease(t *testing.T) {
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(Version) {
		t.Errorf("Version %q is not vMAJOR.MINOR.PATCH", Version)
	}
}

// The manifests name this version's image, never another tag or "latest".
func TestManifestsNameThisImage(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "deploy", "manifests", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in deploy/manifests (%v)", err)
	}
	images := regexp.MustCompile(`(?m)^\s*image:\s*"?([^"\s]+)`)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		found := images.FindAllStringSubmatch(string(b), -1)
		if len(found) == 0 {
			t.Errorf("%s names no image", p)
		}
		for _, m := range found {
			if m[1] != Image() {
				t.Errorf("%s names image %s, want %s", p, m[1], Image())
			}
		}
		if strings.Contains(string(b), ":latest") {
			t.Errorf("%s names a :latest image", p)
		}
	}
}
