// Package starter is certflow's operator CLI: cmctl-style commands (renew, status) that
// speak to Kubernetes and, where that is the truth, to the Certificate's workflow.
package starter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/workflows"
)

// globals are the connection flags every command shares.
type globals struct {
	kubeconfig        string
	namespace         string
	temporalAddress   string
	temporalNamespace string
	taskQueue         string
	codecSecret       string
}

// NewRootCommand returns the `starter` command tree.
func NewRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "starter",
		Short:         "Operate certflow: renew certificates and see what their workflows are doing",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG)")
	pf.StringVarP(&g.namespace, "namespace", "n", "", "namespace (default: the kubeconfig context's)")
	pf.StringVar(&g.temporalAddress, "temporal-address", "", "Temporal frontend (default: Temporal's client configuration, TEMPORAL_ADDRESS or the profile file, then "+clients.DefaultTemporalAddress+")")
	pf.StringVar(&g.temporalNamespace, "temporal-namespace", "", "Temporal namespace (default: TEMPORAL_NAMESPACE or the profile file, then default)")
	pf.StringVar(&g.taskQueue, "task-queue", workflows.TaskQueue, "task queue of a workflow that has to be started (the worker's)")
	pf.StringVar(&g.codecSecret, "payload-codec-secret", os.Getenv("CERTFLOW_PAYLOAD_CODEC_SECRET"), "namespace/name of the workers' payload codec Secret, to read encrypted workflow state (default $CERTFLOW_PAYLOAD_CODEC_SECRET)")
	root.AddCommand(newRenewCommand(g), newStatusCommand(g), newApproveCommand(g), newDenyCommand(g))
	return root
}

// conn holds the clients a command uses.
type conn struct {
	kube      kubernetes.Interface
	certflow  versioned.Interface
	temporal  client.Client
	namespace string
	taskQueue string
}

// withConn connects for cmd, runs f with the connection and closes it: the body of
// every command that talks to the cluster and to Temporal.
func (g *globals) withConn(cmd *cobra.Command, f func(ctx context.Context, c *conn) error) error {
	ctx := cmd.Context()
	c, err := g.connect(ctx, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	defer c.temporal.Close()
	return f(ctx, c)
}

func (g *globals) connect(ctx context.Context, out io.Writer) (*conn, error) {
	cfg, err := clients.RESTConfig(g.kubeconfig, 50, 100)
	if err != nil {
		return nil, err
	}
	cfg.DisableCompression = false // a person's terminal may be far from the cluster
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := clients.TemporalClientOptions(g.temporalAddress, g.temporalNamespace, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	if g.codecSecret != "" {
		c, err := codec.Load(ctx, kc, g.codecSecret, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return nil, err
		}
		c.Apply(&opts)
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal: %w", err)
	}
	ns := g.namespace
	if ns == "" {
		ns = "default"
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if g.kubeconfig != "" {
			rules.ExplicitPath = g.kubeconfig
		}
		if n, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).Namespace(); err == nil && n != "" {
			ns = n
		}
	}
	return &conn{kube: kc, certflow: cf, temporal: tc, namespace: ns, taskQueue: g.taskQueue}, nil
}
