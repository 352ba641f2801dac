package starter

import (
	"bytes"
	"strings"
	"testing"
)

// Bad arguments are refused before anything is dialled.
func TestHistoryCertificateArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"history", "certificate"}, "accepts 1 arg(s), received 0"},
		{[]string{"history", "certificate", "a", "b"}, "accepts 1 arg(s), received 2"},
		{[]string{"history", "certificate", "a", "-o", "yaml"}, `unknown output format "yaml": use text or json`},
		{[]string{"history", "certificate", "a", "--max-runs", "0"}, "--max-runs must be at least 1, not 0"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			root := NewRootCommand("kubectl cert-manager")
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(append(tc.args, "--kubeconfig", "/nonexistent"))
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
