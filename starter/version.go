package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"sigs.k8s.io/yaml"

	"github.com/certflow/certflow/internal/version"
)

// clientVersion is this CLI's build, as cmctl's util.Version names its fields.
type clientVersion struct {
	GitVersion string `json:"gitVersion"`
	GoVersion  string `json:"goVersion"`
	Compiler   string `json:"compiler"`
	Platform   string `json:"platform"`
}

// kubernetesVersion is the API server's version.
type kubernetesVersion struct {
	GitVersion string `json:"gitVersion"`
	Platform   string `json:"platform,omitempty"`
}

// serverVersion is certflow's version as its workers tell Temporal: Detected is the one
// version all the task queue's workers run; Workers lists each poller.
type serverVersion struct {
	Detected  string         `json:"detected,omitempty"`
	TaskQueue string         `json:"taskQueue"`
	Namespace string         `json:"temporalNamespace"`
	Workers   []workerBuild  `json:"workers"`
	Sources   map[string]int `json:"-"`
}

// workerBuild is one worker polling the task queue.
type workerBuild struct {
	Identity   string    `json:"identity"`
	Version    string    `json:"version,omitempty"`
	BuildID    string    `json:"buildID,omitempty"`
	LastAccess time.Time `json:"lastAccessTime"`
}

// versionInfo is what `version -o json|yaml` prints.
type versionInfo struct {
	ClientVersion     *clientVersion     `json:"clientVersion,omitempty"`
	KubernetesVersion *kubernetesVersion `json:"kubernetesVersion,omitempty"`
	ServerVersion     *serverVersion     `json:"serverVersion,omitempty"`
}

func newVersionCommand(g *globals) *cobra.Command {
	var clientOnly, short bool
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the cert-manager CLI version and the deployed certflow version",
		Long: `Print the CLI's version, the Kubernetes API server's, and the version of certflow that
runs: each worker polling the task queue tells Temporal its identity,
<pid>@<host>@certflow-worker/<version>, and its build ID. When every worker runs the
same version, that is the server version; workers of different versions, or none, are
an error (the versions found are printed all the same).

The '--client' flag prints the client version only, with no server needed.`,
		Example: `  kubectl cert-manager version
  kubectl cert-manager version --client
  kubectl cert-manager version --short
  kubectl cert-manager version -o yaml`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "", "yaml", "json":
				return nil
			}
			return fmt.Errorf("--output must be '', 'yaml' or 'json', not %q", output)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			info := versionInfo{ClientVersion: &clientVersion{
				GitVersion: version.Version,
				GoVersion:  runtime.Version(),
				Compiler:   runtime.Compiler,
				Platform:   runtime.GOOS + "/" + runtime.GOARCH,
			}}
			var serverErr error
			if !clientOnly {
				serverErr = g.withConn(cmd, func(ctx context.Context, c *conn) error {
					var err error
					info.KubernetesVersion, info.ServerVersion, err = serverVersions(ctx, c)
					return err
				})
			}
			if err := printVersion(cmd.OutOrStdout(), info, output, short); err != nil {
				return err
			}
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "If true, shows client version only (no server required).")
	cmd.Flags().BoolVar(&short, "short", false, "If true, print just the version number.")
	cmd.Flags().StringVarP(&output, "output", "o", "", "One of 'yaml' or 'json'.")
	return cmd
}

// serverVersions asks the API server its version and Temporal for the task queue's
// pollers. What it learnt is returned with the error of what it could not.
func serverVersions(ctx context.Context, c *conn) (*kubernetesVersion, *serverVersion, error) {
	var errs []error
	var kv *kubernetesVersion
	if info, err := c.kube.Discovery().ServerVersion(); err != nil {
		errs = append(errs, fmt.Errorf("the Kubernetes API server's version: %w", err))
	} else {
		kv = &kubernetesVersion{GitVersion: info.GitVersion, Platform: info.Platform}
	}
	_, namespace := temporalTarget(c.g)
	tc, err := c.Temporal(ctx)
	if err != nil {
		return kv, nil, errors.Join(append(errs, fmt.Errorf("the workers' version: %w", err))...)
	}
	byIdentity := map[string]poller{}
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := tc.DescribeTaskQueue(ctx, c.taskQueue, kind)
		if err != nil {
			return kv, nil, errors.Join(append(errs, fmt.Errorf("describe task queue %s: %w", c.taskQueue, err))...)
		}
		for _, p := range resp.GetPollers() {
			q := pollerOf(p.GetIdentity(), p.GetLastAccessTime().AsTime(), p.GetWorkerVersionCapabilities().GetBuildId())
			if old, ok := byIdentity[q.Identity]; !ok || q.LastAccess.After(old.LastAccess) {
				byIdentity[q.Identity] = q
			}
		}
	}
	var pollers []poller
	for _, p := range byIdentity {
		pollers = append(pollers, p)
	}
	sv, err := detectServerVersion(c.taskQueue, namespace, livePollers(pollers, time.Now()))
	if err != nil {
		errs = append(errs, err)
	}
	return kv, sv, errors.Join(errs...)
}

// detectServerVersion is the version the live pollers run: one version for all, else
// an error naming what was found.
func detectServerVersion(taskQueue, namespace string, live []poller) (*serverVersion, error) {
	sv := &serverVersion{TaskQueue: taskQueue, Namespace: namespace, Workers: []workerBuild{}, Sources: map[string]int{}}
	for _, p := range live {
		sv.Workers = append(sv.Workers, workerBuild{Identity: p.Identity, Version: p.Version, BuildID: p.BuildID, LastAccess: p.LastAccess.UTC()})
		v := p.Version
		if v == "" {
			v = "unknown"
		}
		sv.Sources[v]++
	}
	slices.SortFunc(sv.Workers, func(a, b workerBuild) int { return strings.Compare(a.Identity, b.Identity) })
	switch {
	case len(live) == 0:
		return sv, fmt.Errorf("no worker polls task queue %s in Temporal namespace %s, so the server version is unknown", taskQueue, namespace)
	case len(sv.Sources) > 1:
		var vs []string
		for v, n := range sv.Sources {
			vs = append(vs, fmt.Sprintf("%s (%d)", v, n))
		}
		slices.Sort(vs)
		return sv, fmt.Errorf("the workers of task queue %s run different versions: %s", taskQueue, strings.Join(vs, ", "))
	case sv.Sources["unknown"] > 0:
		return sv, fmt.Errorf("the workers of task queue %s do not name their version in their identity", taskQueue)
	}
	sv.Detected = live[0].Version
	return sv, nil
}

// printVersion prints info as cmctl's version does: a line per component, or the whole
// as yaml or json.
func printVersion(out io.Writer, info versionInfo, output string, short bool) error {
	switch output {
	case "yaml":
		b, err := yaml.Marshal(info)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	case "json":
		b, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	case "":
		_, err := io.WriteString(out, formatVersion(info, short))
		return err
	}
	return fmt.Errorf("--output must be '', 'yaml' or 'json', not %q", output)
}

func formatVersion(info versionInfo, short bool) string {
	var b strings.Builder
	cv := info.ClientVersion
	if short {
		fmt.Fprintf(&b, "Client Version: %s\n", cv.GitVersion)
		if info.KubernetesVersion != nil {
			fmt.Fprintf(&b, "Kubernetes Version: %s\n", info.KubernetesVersion.GitVersion)
		}
		if sv := info.ServerVersion; sv != nil && sv.Detected != "" {
			fmt.Fprintf(&b, "Server Version: %s\n", sv.Detected)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "Client Version: version.Info{GitVersion:%q, GoVersion:%q, Compiler:%q, Platform:%q}\n", cv.GitVersion, cv.GoVersion, cv.Compiler, cv.Platform)
	if kv := info.KubernetesVersion; kv != nil {
		fmt.Fprintf(&b, "Kubernetes Version: version.Info{GitVersion:%q, Platform:%q}\n", kv.GitVersion, kv.Platform)
	}
	if sv := info.ServerVersion; sv != nil {
		fmt.Fprintf(&b, "Server Version: version.Info{Detected:%q, TaskQueue:%q, TemporalNamespace:%q, Workers:%d}\n", sv.Detected, sv.TaskQueue, sv.Namespace, len(sv.Workers))
		for _, w := range sv.Workers {
			v := w.Version
			if v == "" {
				v = "unknown"
			}
			fmt.Fprintf(&b, "  Worker: %s version %s", w.Identity, v)
			if w.BuildID != "" {
				fmt.Fprintf(&b, " build ID %s", w.BuildID)
			}
			fmt.Fprintf(&b, " last access %s\n", w.LastAccess.Format(time.RFC3339))
		}
	}
	return b.String()
}
