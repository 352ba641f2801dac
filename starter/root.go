// Package starter is certflow's operator CLI, installed as the kubectl plugin
// `kubectl cert-manager` (binary kubectl-cert_manager) and usable standalone: cmctl's
// commands, flags and output shapes, plus the ones only a workflow engine can offer.
//
// Commands speak to Kubernetes first. Temporal is dialled only by the commands and the
// parts of commands that need a workflow's truth, so a user who may reach Kubernetes but
// not Temporal can still approve, deny, renew and read status.
package starter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/workflows"
)

// PluginName is the binary name kubectl finds as `kubectl cert-manager`.
const PluginName = "kubectl-cert_manager"

// temporalDialTimeout bounds how long a command waits for Temporal before it reports
// it unreachable (and carries on with what Kubernetes alone can tell).
const temporalDialTimeout = 10 * time.Second

// globals are the connection flags every command shares.
type globals struct {
	kube              *genericclioptions.ConfigFlags
	temporalAddress   string
	temporalNamespace string
	taskQueue         string
	codecSecret       string
	temporalUI        string
}

// CommandName is how the CLI names itself in usage and completion: `kubectl
// cert-manager` when run as the kubectl plugin, else the binary's own name.
func CommandName(arg0 string) string {
	base := filepath.Base(arg0)
	if strings.HasPrefix(base, "kubectl-") {
		// kubectl maps `kubectl cert-manager` to kubectl-cert_manager.
		return "kubectl " + strings.ReplaceAll(strings.TrimPrefix(base, "kubectl-"), "_", "-")
	}
	return base
}

// NewRootCommand returns the command tree, named name (see CommandName).
func NewRootCommand(name string) *cobra.Command {
	g := &globals{kube: genericclioptions.NewConfigFlags(true)}
	root := &cobra.Command{
		Use:           name,
		Short:         "Manage cert-manager resources run by certflow, and see and steer the workflows behind them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	if strings.HasPrefix(name, "kubectl ") {
		// cobra takes the first word of Use as the name; keep the whole for usage lines.
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: name}
	}
	pf := root.PersistentFlags()
	g.kube.AddFlags(pf)
	pf.StringVar(&g.temporalAddress, "temporal-address", "", "Temporal frontend (default: Temporal's client configuration, TEMPORAL_ADDRESS or the profile file, then "+clients.DefaultTemporalAddress+")")
	pf.StringVar(&g.temporalNamespace, "temporal-namespace", "", "Temporal namespace (default: TEMPORAL_NAMESPACE or the profile file, then default)")
	pf.StringVar(&g.taskQueue, "task-queue", workflows.TaskQueue, "task queue of a workflow that has to be started (the worker's)")
	pf.StringVar(&g.codecSecret, "payload-codec-secret", os.Getenv("CERTFLOW_PAYLOAD_CODEC_SECRET"), "namespace/name of the workers' payload codec Secret, to read encrypted workflow state (default $CERTFLOW_PAYLOAD_CODEC_SECRET)")
	pf.StringVar(&g.temporalUI, "temporal-ui-url", os.Getenv("CERTFLOW_TEMPORAL_UI_URL"), "base URL of the Temporal Web UI, for links to workflows (default $CERTFLOW_TEMPORAL_UI_URL; for a dev server on port 7233, the same host on port 8233)")
	root.AddCommand(newRenewCommand(g), newStatusCommand(g), newApproveCommand(g), newDenyCommand(g),
		newCreateCommand(g), newConvertCommand(),
		newInspectCommand(g),
		newCheckCommand(g), newVersionCommand(g), newCompletionCommand(), newExperimentalCommand(g),
		newHistoryCommand(g),
		newCampaignCommand(g),
	)
	return root
}

// conn holds the clients a command uses. Temporal is dialled on first use.
type conn struct {
	g         *globals
	config    *rest.Config
	kube      kubernetes.Interface
	certflow  versioned.Interface
	namespace string // -n, else the kubeconfig context's, else default
	taskQueue string

	temporalDialled bool
	temporal        client.Client
	temporalErr     error
}

// withConn connects to Kubernetes for cmd, runs f with the connection and closes it:
// the body of every command that talks to the cluster.
func (g *globals) withConn(cmd *cobra.Command, f func(ctx context.Context, c *conn) error) error {
	ctx := cmd.Context()
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.close()
	return f(ctx, c)
}

func (g *globals) connect() (*conn, error) {
	cfg, err := g.kube.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w (set --kubeconfig or KUBECONFIG)", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return nil, err
	}
	ns, _, err := g.kube.ToRawKubeConfigLoader().Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	return &conn{g: g, config: cfg, kube: kc, certflow: cf, namespace: ns, taskQueue: g.taskQueue}, nil
}

// Temporal dials Temporal once (with the payload codec when configured) and returns
// the client, or why it is unreachable.
func (c *conn) Temporal(ctx context.Context) (client.Client, error) {
	if c.temporalDialled {
		return c.temporal, c.temporalErr
	}
	c.temporalDialled = true
	c.temporal, c.temporalErr = c.dialTemporal(ctx)
	return c.temporal, c.temporalErr
}

func (c *conn) dialTemporal(ctx context.Context) (client.Client, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts, err := clients.TemporalClientOptions(c.g.temporalAddress, c.g.temporalNamespace, quiet)
	if err != nil {
		return nil, err
	}
	if c.g.codecSecret != "" {
		cd, err := codec.Load(ctx, c.kube, c.g.codecSecret, false, quiet)
		if err != nil {
			return nil, err
		}
		cd.Apply(&opts)
	}
	dctx, cancel := context.WithTimeout(ctx, temporalDialTimeout)
	defer cancel()
	tc, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("Temporal at %s is unreachable: %w", opts.HostPort, err)
	}
	return tc, nil
}

// TemporalNamespace is the Temporal namespace the commands use.
func (c *conn) TemporalNamespace() string {
	opts, err := clients.TemporalClientOptions(c.g.temporalAddress, c.g.temporalNamespace, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || opts.Namespace == "" {
		return "default"
	}
	return opts.Namespace
}

// WorkflowURL is the link to workflow id in the Temporal Web UI, or "" when the UI's
// address is unknown.
func (c *conn) WorkflowURL(id string) string {
	base := c.g.temporalUI
	if base == "" {
		opts, err := clients.TemporalClientOptions(c.g.temporalAddress, c.g.temporalNamespace, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return ""
		}
		// The dev server (temporal server start-dev) serves its UI on port 8233.
		host, port, err := net.SplitHostPort(opts.HostPort)
		if err != nil || port != "7233" {
			return ""
		}
		base = "http://" + net.JoinHostPort(host, "8233")
	}
	return strings.TrimSuffix(base, "/") + "/namespaces/" + url.PathEscape(c.TemporalNamespace()) + "/workflows/" + url.PathEscape(id)
}

func (c *conn) close() {
	if c.temporal != nil {
		c.temporal.Close()
	}
}
