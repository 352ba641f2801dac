package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/starter"
)

// completion bash loads in bash and completes the plugin binary; cobra's __complete
// lists the cluster's Certificates for renew and CertificateRequests for approve; and
// with the kubectl_complete-cert_manager executable on the PATH, kubectl itself
// completes `kubectl cert-manager renew <TAB>`.
func TestCompletion(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-completion"
	apply(t, ns, testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "web-complete", DNSNames: []string{"web.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String())
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "web-complete", 90*time.Second)

	dir := t.TempDir()
	r := mustRun(t, "completion", "bash")
	script := filepath.Join(dir, "completion.bash")
	if err := os.WriteFile(script, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", "-c", "source "+script+" && complete -p "+starter.PluginName).CombinedOutput()
	if err != nil {
		t.Fatalf("the bash completion does not load: %v\n%s", err, out)
	}
	wantAll(t, "complete -p", string(out), "__start_"+starter.PluginName, starter.PluginName)
	if strings.Contains(r.stdout, "complete -o default -F __start_kubectl kubectl") {
		t.Errorf("completion bash takes over kubectl's completion:\n%s", r.stdout)
	}
	for _, shell := range []string{"zsh", "fish", "powershell"} {
		r := mustRun(t, "completion", shell)
		wantAll(t, "completion "+shell, r.stdout, starter.PluginName, "__complete")
	}

	r = mustRun(t, "__complete", "renew", "-n", ns, "")
	wantAll(t, "__complete renew", r.stdout, "web-complete\n", ":4\n") // 4: ShellCompDirectiveNoFileComp
	r = mustRun(t, "__complete", "renew", "-n", ns, "nothing-")
	if strings.Contains(r.stdout, "web-complete") {
		t.Errorf("__complete renew nothing- lists web-complete:\n%s", r)
	}
	r = mustRun(t, "__complete", "approve", "-n", ns, "web-")
	wantAll(t, "__complete approve", r.stdout, "web-complete-1\n")
	r = mustRun(t, "__complete", "status", "certificate", "-n", ns, "")
	wantAll(t, "__complete status certificate", r.stdout, "web-complete\n")
	r = mustRun(t, "__complete", "inspect", "secret", "-n", ns, "web-")
	wantAll(t, "__complete inspect secret", r.stdout, "web-complete-tls\n")

	// kubectl's completion of plugins: kubectl runs kubectl_complete-cert_manager.
	r = mustRun(t, "completion", "kubectl")
	if err := os.WriteFile(filepath.Join(dir, starter.KubectlCompletionPlugin), []byte(r.stdout), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(sys.Root, "bin", "kubectl"), "__complete", "cert-manager", "renew", "-n", ns, "")
	cmd.Env = append(os.Environ(),
		"PATH="+strings.Join([]string{dir, pluginDir, filepath.Join(sys.Root, "bin"), os.Getenv("PATH")}, string(os.PathListSeparator)),
		"KUBECONFIG="+sys.Stack.Kubeconfig,
	)
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl __complete cert-manager renew: %v\n%s", err, out)
	}
	wantAll(t, "kubectl __complete cert-manager renew", string(out), "web-complete\n")
}
