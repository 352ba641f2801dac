package starter

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestFilterCompletions(t *testing.T) {
	names := []string{"web", "web-2", "api", "web"}
	for _, tc := range []struct {
		given  []string
		prefix string
		want   []string
	}{
		{nil, "", []string{"api", "web", "web-2"}},
		{nil, "we", []string{"web", "web-2"}},
		{[]string{"web"}, "we", []string{"web-2"}},
		{nil, "x", nil},
	} {
		if got := filterCompletions(names, tc.given, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("filterCompletions(%q, %q) = %q, want %q", tc.given, tc.prefix, got, tc.want)
		}
	}
}

// Run as the kubectl plugin, the shell scripts complete the plugin's binary, never
// kubectl itself; the root keeps its name afterwards.
func TestCompletionScriptsNameTheBinary(t *testing.T) {
	for _, tc := range []struct{ name, binary string }{
		{"kubectl cert-manager", "kubectl-cert_manager"},
		{"starter", "starter"},
	} {
		root := NewRootCommand(tc.name)
		for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetArgs([]string{"completion", shell})
			if err := root.Execute(); err != nil {
				t.Fatalf("%s completion %s: %v", tc.name, shell, err)
			}
			if !strings.Contains(out.String(), tc.binary) {
				t.Errorf("%s completion %s does not name %s", tc.name, shell, tc.binary)
			}
			if shell == "bash" && strings.Contains(out.String(), "__start_kubectl kubectl") {
				t.Errorf("%s completion bash takes over kubectl's completion", tc.name)
			}
		}
		if root.Use != tc.name {
			t.Errorf("root renamed to %q after completion", root.Use)
		}
	}
	var out bytes.Buffer
	root := NewRootCommand("kubectl cert-manager")
	root.SetOut(&out)
	root.SetArgs([]string{"completion", "kubectl"})
	if err := root.Execute(); err != nil || out.String() != "#!/usr/bin/env sh\nkubectl cert-manager __complete \"$@\"\n" {
		t.Errorf("completion kubectl: %v\n%s", err, out.String())
	}
}

// The commands that take names complete them from the cluster.
func TestNameCompletionsAreWired(t *testing.T) {
	root := NewRootCommand("kubectl cert-manager")
	for _, path := range [][]string{{"renew"}, {"approve"}, {"deny"}, {"status", "certificate"}, {"inspect", "secret"}} {
		cmd, _, err := root.Find(path)
		if err != nil || cmd.ValidArgsFunction == nil {
			t.Errorf("%q has no ValidArgsFunction (%v)", path, err)
		}
	}
}
