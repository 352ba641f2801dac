package cli

import (
	"encoding/json"
	"testing"

	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/internal/version"
)

// version names the client's version, the API server's and the worker's build as
// Temporal sees it (the in-process worker: this test process's identity).
func TestVersion(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	r := mustRun(t, "version")
	t.Logf("version:\n%s", r.stdout)
	wantAll(t, "version", r.stdout,
		`Client Version: version.Info{GitVersion:"`+version.Version+`"`,
		`Kubernetes Version: version.Info{GitVersion:"v1.`,
		`Server Version: version.Info{Detected:"`+version.Version+`", TaskQueue:"certflow", TemporalNamespace:"default", Workers:`,
		"  Worker: "+version.WorkerIdentity()+" version "+version.Version,
	)

	r = mustRun(t, "version", "--short")
	wantAll(t, "version --short", r.stdout, "Client Version: "+version.Version+"\n", "Server Version: "+version.Version+"\n")

	r = mustRun(t, "version", "-o", "json")
	var info struct {
		ClientVersion     struct{ GitVersion string }
		KubernetesVersion struct{ GitVersion string }
		ServerVersion     struct {
			Detected string
			Workers  []struct{ Identity, Version string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, r)
	}
	if info.ClientVersion.GitVersion != version.Version || info.ServerVersion.Detected != version.Version || info.KubernetesVersion.GitVersion == "" {
		t.Errorf("version -o json: %+v", info)
	}
	found := false
	for _, w := range info.ServerVersion.Workers {
		found = found || w.Identity == version.WorkerIdentity() && w.Version == version.Version
	}
	if !found {
		t.Errorf("version -o json workers: %+v, want %s among them", info.ServerVersion.Workers, version.WorkerIdentity())
	}

	r = mustRun(t, "version", "-o", "yaml")
	wantAll(t, "version -o yaml", r.stdout, "clientVersion:\n  compiler: gc\n", "gitVersion: "+version.Version, "identity: "+version.WorkerIdentity())

	// --client needs no server: neither Kubernetes nor Temporal is reachable.
	r = kubectlCertManager(t, []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}, "version", "--client", "--server", "https://127.0.0.1:1")
	if r.err != nil {
		t.Fatalf("version --client:\n%s", r)
	}
	wantAll(t, "version --client", r.stdout, `Client Version: version.Info{GitVersion:"`+version.Version+`"`)
	if len(r.stdout) > 200 {
		t.Errorf("version --client printed more than the client:\n%s", r)
	}

	// No worker on the queue: the versions found are printed, and the exit code says
	// the server version is unknown.
	r = kubectlCertManager(t, nil, "version", "--task-queue", "nobody-polls")
	if r.err == nil {
		t.Errorf("version with no worker exited 0:\n%s", r)
	}
	wantAll(t, "version with no worker", r.stdout, "Client Version:", "Kubernetes Version:", `Server Version: version.Info{Detected:"", TaskQueue:"nobody-polls"`)
	wantAll(t, "version with no worker", r.stderr, "no worker polls task queue nobody-polls in Temporal namespace default")

	r = kubectlCertManager(t, nil, "version", "-o", "xml")
	if r.err == nil {
		t.Errorf("version -o xml was accepted:\n%s", r)
	}
	wantAll(t, "version -o xml", r.stderr, "--output must be '', 'yaml' or 'json'")
}
