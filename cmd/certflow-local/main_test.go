package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/localstack"
)

// TestWelcomeACME: the next steps name Pebble's directory, the CA bundle file and the
// Cloudflare token, and the printed sed line turns the user's Let's Encrypt example
// into an issuer for Pebble.
func TestWelcomeACME(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "acme-ca.crt")
	caPEM := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &localstack.Stack{
		Kubeconfig: filepath.Join(dir, "kubeconfig"), TemporalAddress: "127.0.0.1:7233", TemporalUIURL: "http://127.0.0.1:8233",
		ACMEDirectoryURL: "https://127.0.0.1:14000/dir", ACMECABundleFile: ca, HTTP01Port: 5002, StateDir: dir,
	}
	var out bytes.Buffer
	printWelcome(&out, s, "/repo/bin", 1500*time.Millisecond)
	text := out.String()
	for _, want := range []string{"https://127.0.0.1:14000/dir", ca, localstack.CloudflareToken, "127.0.0.1:5002", "export KUBECONFIG=" + s.Kubeconfig} {
		if !strings.Contains(text, want) {
			t.Errorf("welcome lacks %q:\n%s", want, text)
		}
	}

	// Run the printed sed command (two lines joined by a backslash) on the example.
	i := strings.Index(text, "  sed -E ")
	if i < 0 {
		t.Fatalf("no sed line:\n%s", text)
	}
	cmdText := text[i:]
	cmdText = cmdText[:strings.Index(cmdText, "| kubectl apply -f -")]
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", cmdText)
	cmd.Dir = root
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmdText, err)
	}
	want := "    server: https://127.0.0.1:14000/dir\n    caBundle: " + base64.StdEncoding.EncodeToString(caPEM) + "\n"
	if !bytes.Contains(got, []byte(want)) || bytes.Contains(got, []byte("letsencrypt.org")) {
		t.Errorf("sed output:\n%s\nwant it to contain\n%s", got, want)
	}

	// Without ACME, nothing about it.
	out.Reset()
	printWelcome(&out, &localstack.Stack{TemporalAddress: "127.0.0.1:7233", StateDir: dir}, "/repo/bin", time.Second)
	if strings.Contains(out.String(), "Pebble") || strings.Contains(out.String(), localstack.CloudflareToken) {
		t.Errorf("ACME lines without ACME:\n%s", out.String())
	}
}
