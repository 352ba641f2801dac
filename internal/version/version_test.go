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

// The static bundle (deploy/certflow.yaml, rendered from the chart) names this version's
// image, never another tag or "latest"; the only other image is the embedded Temporal's,
// at a pinned tag.
func TestBundleNamesThisImage(t *testing.T) {
	p := filepath.Join("..", "..", "deploy", "certflow.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	images := regexp.MustCompile(`(?m)^\s*image:\s*"?([^"\s]+)`)
	found := images.FindAllStringSubmatch(string(b), -1)
	ours := 0
	for _, m := range found {
		switch {
		case strings.HasPrefix(m[1], Repository+":") || strings.HasPrefix(m[1], Repository+"@"):
			ours++
			if m[1] != Image() {
				t.Errorf("%s names image %s, want %s", p, m[1], Image())
			}
		case strings.HasPrefix(m[1], "temporalio/temporal:"):
		default:
			t.Errorf("%s names image %s, neither certflow's nor the embedded Temporal's", p, m[1])
		}
	}
	if ours == 0 {
		t.Errorf("%s names no image of certflow's", p)
	}
	if strings.Contains(string(b), ":latest") {
		t.Errorf("%s names a :latest image", p)
	}
	if !strings.Contains(string(b), "--http01-solver-image="+Image()+"\n") {
		t.Errorf("%s does not give the worker --http01-solver-image=%s", p, Image())
	}
}

// The chart's version and appVersion are this version (its default image tag is the
// appVersion).
func TestChartVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "charts", "certflow", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"version", "appVersion"} {
		m := regexp.MustCompile(`(?m)^` + key + `:\s*"?([^"\s]+)"?\s*$`).FindStringSubmatch(string(b))
		if m == nil {
			t.Errorf("Chart.yaml has no %s", key)
		} else if m[1] != Version {
			t.Errorf("Chart.yaml's %s is %s, want %s (internal/version/VERSION)", key, m[1], Version)
		}
	}
}
