package starter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDetectServerVersion(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v1 := pollerOf("1@a@certflow-worker/v0.1.0", at, "")
	v1b := pollerOf("2@b@certflow-worker/v0.1.0", at, "abc123")
	v2 := pollerOf("3@c@certflow-worker/v0.2.0", at, "")
	old := pollerOf("4@d@certflow", at, "")
	for _, tc := range []struct {
		name     string
		live     []poller
		detected string
		err      string
	}{
		{"one", []poller{v1}, "v0.1.0", ""},
		{"two alike", []poller{v1b, v1}, "v0.1.0", ""},
		{"none", nil, "", "no worker polls task queue q in Temporal namespace ns, so the server version is unknown"},
		{"mixed", []poller{v1, v2, v1b}, "", "the workers of task queue q run different versions: v0.1.0 (2), v0.2.0 (1)"},
		{"mixed with unknown", []poller{v1, old}, "", "run different versions: unknown (1), v0.1.0 (1)"},
		{"unknown", []poller{old}, "", "do not name their version in their identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sv, err := detectServerVersion("q", "ns", tc.live)
			if sv.Detected != tc.detected {
				t.Errorf("Detected = %q, want %q", sv.Detected, tc.detected)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
			if len(sv.Workers) != len(tc.live) {
				t.Errorf("%d workers listed, want %d", len(sv.Workers), len(tc.live))
			}
		})
	}
}

func TestPrintVersion(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sv, _ := detectServerVersion("certflow", "default", []poller{pollerOf("7@h@certflow-worker/v0.1.0", at, "b1d")})
	info := versionInfo{
		ClientVersion:     &clientVersion{GitVersion: "v0.1.0", GoVersion: "go1.26.0", Compiler: "gc", Platform: "linux/amd64"},
		KubernetesVersion: &kubernetesVersion{GitVersion: "v1.36.0", Platform: "linux/amd64"},
		ServerVersion:     sv,
	}
	var b bytes.Buffer
	if err := printVersion(&b, info, "", false); err != nil {
		t.Fatal(err)
	}
	want := `Client Version: version.Info{GitVersion:"v0.1.0", GoVersion:"go1.26.0", Compiler:"gc", Platform:"linux/amd64"}
Kubernetes Version: version.Info{GitVersion:"v1.36.0", Platform:"linux/amd64"}
Server Version: version.Info{Detected:"v0.1.0", TaskQueue:"certflow", TemporalNamespace:"default", Workers:1}
  Worker: 7@h@certflow-worker/v0.1.0 version v0.1.0 build ID b1d last access 2026-01-02T03:04:05Z
`
	if b.String() != want {
		t.Errorf("version:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := printVersion(&b, info, "", true); err != nil {
		t.Fatal(err)
	}
	if want := "Client Version: v0.1.0\nKubernetes Version: v1.36.0\nServer Version: v0.1.0\n"; b.String() != want {
		t.Errorf("version --short:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := printVersion(&b, versionInfo{ClientVersion: info.ClientVersion}, "json", false); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 1 || back["clientVersion"] == nil {
		t.Errorf("version --client -o json: %v %s", err, b.String())
	}
	b.Reset()
	if err := printVersion(&b, info, "yaml", false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"clientVersion:\n", "gitVersion: v0.1.0\n", "detected: v0.1.0\n", "identity: 7@h@certflow-worker/v0.1.0\n", "buildID: b1d\n", "lastAccessTime: \"2026-01-02T03:04:05Z\"\n"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("version -o yaml lacks %q:\n%s", w, b.String())
		}
	}
	if err := printVersion(&b, info, "xml", false); err == nil {
		t.Error("printVersion -o xml: no error")
	}
}
