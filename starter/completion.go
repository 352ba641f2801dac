package starter

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
)

// KubectlCompletionPlugin is the executable kubectl runs to complete `kubectl
// cert-manager <TAB>` (kubectl 1.26+ looks on the PATH for kubectl_complete-<plugin>,
// with the plugin name's dashes as underscores).
const KubectlCompletionPlugin = "kubectl_complete-cert_manager"

// kubectlCompletionScript is that executable: it hands the words to the plugin's
// hidden __complete command, which cobra answers in the format kubectl expects.
const kubectlCompletionScript = `#!/usr/bin/env sh
kubectl cert-manager __complete "$@"
`

func newCompletionCommand() *cobra.Command {
	completion := &cobra.Command{
		Use:   "completion",
		Short: "Generate completion scripts for the cert-manager CLI",
		Long: `Generate completion scripts for the shells, and for kubectl.

As a kubectl plugin, ` + "`kubectl cert-manager <TAB>`" + ` completes through kubectl's own completion
(source <(kubectl completion bash)) once the executable ` + KubectlCompletionPlugin + `
is on the PATH:

  kubectl cert-manager completion kubectl > ` + KubectlCompletionPlugin + `
  sudo install ` + KubectlCompletionPlugin + ` /usr/local/bin

The shell scripts complete the binary itself (kubectl-cert_manager, or starter) when
run directly.`,
	}
	shells := []struct {
		name, load string
		gen        func(root *cobra.Command, out io.Writer) error
	}{
		{"bash", "source <(%s completion bash)", func(r *cobra.Command, w io.Writer) error { return r.GenBashCompletionV2(w, true) }},
		{"zsh", "%s completion zsh > \"${fpath[1]}/_%s\"", func(r *cobra.Command, w io.Writer) error { return r.GenZshCompletion(w) }},
		{"fish", "%s completion fish | source", func(r *cobra.Command, w io.Writer) error { return r.GenFishCompletion(w, true) }},
		{"powershell", "%s completion powershell | Out-String | Invoke-Expression", func(r *cobra.Command, w io.Writer) error { return r.GenPowerShellCompletionWithDesc(w) }},
	}
	for _, s := range shells {
		completion.AddCommand(&cobra.Command{
			Use:                   s.name,
			Short:                 "Generate cert-manager CLI scripts for " + s.name,
			Long:                  "To load completions:\n  " + strings.ReplaceAll(s.load, "%s", "BINARY"),
			Args:                  cobra.NoArgs,
			DisableFlagsInUseLine: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				return withBinaryName(cmd.Root(), func(root *cobra.Command) error {
					return s.gen(root, cmd.OutOrStdout())
				})
			},
		})
	}
	completion.AddCommand(&cobra.Command{
		Use:                   "kubectl",
		Short:                 "Generate cert-manager CLI scripts for kubectl (the executable " + KubectlCompletionPlugin + ")",
		Long:                  "To load completions:\n  kubectl cert-manager completion kubectl > " + KubectlCompletionPlugin + "\n  sudo install " + KubectlCompletionPlugin + " /usr/local/bin",
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), kubectlCompletionScript)
			return err
		},
	})
	return completion
}

// withBinaryName runs gen with the root named after the executable: run as `kubectl
// cert-manager`, cobra would take the first word, "kubectl", and the script would take
// over kubectl's own completion. The shells complete the binary, kubectl-cert_manager,
// which is on the PATH as every kubectl plugin is.
func withBinaryName(root *cobra.Command, gen func(*cobra.Command) error) error {
	use := root.Use
	if name, ok := strings.CutPrefix(use, "kubectl "); ok {
		root.Use = "kubectl-" + strings.ReplaceAll(name, "-", "_")
		defer func() { root.Use = use }()
	}
	return gen(root)
}

// completeNames is a ValidArgsFunction listing the names of objects list returns in the
// command's namespace (-n, else the kubeconfig's), those already given left out.
func completeNames(g *globals, list func(ctx context.Context, c *conn) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		c, err := g.connect()
		if err != nil {
			cobra.CompDebugln(err.Error(), true)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer c.close()
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		names, err := list(ctx, c)
		if err != nil {
			cobra.CompDebugln(err.Error(), true)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return filterCompletions(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// filterCompletions keeps the names that start with prefix and are not among given,
// sorted.
func filterCompletions(names, given []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && !slices.Contains(given, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// completeCertificates completes Certificate names (renew, status certificate).
func completeCertificates(g *globals) cobra.CompletionFunc {
	return completeNames(g, func(ctx context.Context, c *conn) ([]string, error) {
		list, err := c.certflow.CertmanagerV1().Certificates(c.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list Certificates: %w", err)
		}
		var names []string
		for _, o := range list.Items {
			names = append(names, o.Name)
		}
		return names, nil
	})
}

// completeCertificateRequests completes CertificateRequest names (approve, deny).
func completeCertificateRequests(g *globals) cobra.CompletionFunc {
	return completeNames(g, func(ctx context.Context, c *conn) ([]string, error) {
		list, err := c.certflow.CertmanagerV1().CertificateRequests(c.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list CertificateRequests: %w", err)
		}
		var names []string
		for _, o := range list.Items {
			names = append(names, o.Name)
		}
		return names, nil
	})
}

// completeSecrets completes Secret names (inspect secret): only the names, through
// metadata (no Secret's data is read).
func completeSecrets(g *globals) cobra.CompletionFunc {
	return completeNames(g, func(ctx context.Context, c *conn) ([]string, error) {
		mc, err := metadata.NewForConfig(c.config)
		if err != nil {
			return nil, err
		}
		list, err := mc.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(c.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list Secrets: %w", err)
		}
		var names []string
		for _, o := range list.Items {
			names = append(names, o.Name)
		}
		return names, nil
	})
}
