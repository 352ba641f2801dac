package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/version"
	"github.com/certflow/certflow/workflows/searchattr"
)

func newCheckCommand(g *globals) *cobra.Command {
	check := &cobra.Command{
		Use:   "check",
		Short: "Check that certflow is ready to serve the cert-manager API",
	}
	var wait, interval time.Duration
	api := &cobra.Command{
		Use:   "api",
		Short: "Check if the cert-manager API is ready",
		Long: `Check that the cert-manager API is ready, as cmctl does, by a dry-run create of a
Certificate in the namespace; and that certflow can act on it: the six CRDs served,
Temporal reachable with its namespace, workers polling the task queue for workflow and
activity tasks (their identities name their version), and the search attributes the
workflows set registered in the Temporal namespace.

Each line names what failed and how to fix it. The exit code is non-zero unless every
check passes. With --wait the checks are retried every --interval until they all pass
or --wait has gone by.`,
		Example: `  # Check once
  kubectl cert-manager check api
  # Wait up to 2 minutes for a fresh install to be ready
  kubectl cert-manager check api --wait 2m`,
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if wait < 0 {
				return fmt.Errorf("--wait %s: must not be negative", wait)
			}
			if interval <= 0 {
				return fmt.Errorf("--interval %s: must be more than 0 (e.g. 5s)", interval)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheckAPI(cmd.Context(), cmd.OutOrStdout(), g, wait, interval)
		},
	}
	api.Flags().DurationVar(&wait, "wait", 0, "Wait until the cert-manager API is ready (default 0s = poll once)")
	api.Flags().DurationVar(&interval, "interval", 5*time.Second, "Time between checks when waiting, must include unit, e.g. 1m or 10m")
	check.AddCommand(api)
	return check
}

// runCheckAPI runs the checks until they pass or wait is over, and prints the last
// attempt's lines.
func runCheckAPI(ctx context.Context, out io.Writer, g *globals, wait, interval time.Duration) error {
	start := time.Now()
	for {
		lines, err := checkAPIOnce(ctx, g)
		if err != nil {
			return err
		}
		failed := failedChecks(lines)
		if failed == 0 {
			fmt.Fprint(out, formatChecks(lines))
			fmt.Fprintln(out, "The cert-manager API is ready")
			return nil
		}
		if time.Since(start)+interval > wait {
			fmt.Fprint(out, formatChecks(lines))
			if wait > 0 {
				return &exitError{code: timeoutExitCode, err: fmt.Errorf("the cert-manager API is not ready after %s: %d of %d checks failed", wait, failed, len(lines))}
			}
			return fmt.Errorf("the cert-manager API is not ready: %d of %d checks failed", failed, len(lines))
		}
		select {
		case <-ctx.Done():
			fmt.Fprint(out, formatChecks(lines))
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// timeoutExitCode is cmctl's exit code when --wait runs out (timeout(1)'s).
const timeoutExitCode = 124

// exitError is an error that ends the CLI with its own exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the CLI's exit code for err: an exitError's, else 1.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// checkAPIOnce makes every check once, on fresh connections (a Temporal unreachable at
// the last attempt is dialled again).
func checkAPIOnce(ctx context.Context, g *globals) ([]checkLine, error) {
	c, err := g.connect()
	if err != nil {
		return nil, err
	}
	defer c.close()
	lines := []checkLine{dryRunCheck(ctx, c), crdCheck(servedResources(c))}

	address, namespace := temporalTarget(g)
	tc, err := c.Temporal(ctx)
	if err == nil {
		_, err = tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	}
	lines = append(lines, temporalCheck(address, namespace, err))
	if err != nil {
		for _, what := range []string{"workflow pollers", "activity pollers", "search attributes"} {
			lines = append(lines, checkLine{Name: what, Skipped: true, Detail: "not checked: Temporal is not reachable"})
		}
		return lines, nil
	}
	now := time.Now()
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := tc.DescribeTaskQueue(ctx, c.taskQueue, kind)
		var pollers []poller
		for _, p := range resp.GetPollers() {
			pollers = append(pollers, pollerOf(p.GetIdentity(), p.GetLastAccessTime().AsTime(), p.GetWorkerVersionCapabilities().GetBuildId()))
		}
		lines = append(lines, pollerCheck(kind, c.taskQueue, namespace, pollers, err, now))
	}
	missing, err := clients.MissingSearchAttributes(ctx, tc, namespace)
	lines = append(lines, searchAttributesCheck(namespace, missing, err))
	return lines, nil
}

// temporalTarget is the Temporal address and namespace the commands use.
func temporalTarget(g *globals) (address, namespace string) {
	opts, err := clients.TemporalClientOptions(g.temporalAddress, g.temporalNamespace, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return g.temporalAddress, g.temporalNamespace
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	return opts.HostPort, opts.Namespace
}

// dryRunCheck creates a Certificate with dryRun=All, as cmctl does: it passes only
// when the CRD is served and the API server's admission accepts it.
func dryRunCheck(ctx context.Context, c *conn) checkLine {
	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "cmapichecker-"},
		Spec: cmapi.CertificateSpec{
			DNSNames:   []string{"cmapichecker.example.com"},
			SecretName: "cmapichecker",
			IssuerRef:  cmmeta.IssuerReference{Name: "cmapichecker"},
		},
	}
	_, err := c.certflow.CertmanagerV1().Certificates(c.namespace).Create(ctx, cert, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return dryRunLine(c.namespace, err)
}

// dryRunLine is the line of the dry-run create's outcome.
func dryRunLine(namespace string, err error) checkLine {
	l := checkLine{Name: "Kubernetes API"}
	switch {
	case err == nil:
		l.OK, l.Detail = true, "a Certificate is accepted (dry-run create in namespace "+namespace+")"
	case apierrors.IsNotFound(err) && strings.Contains(err.Error(), "namespaces"):
		l.Detail = fmt.Sprintf("namespace %s does not exist: %v", namespace, err)
		l.Fix = "run the check in an existing namespace (-n NAMESPACE)"
	case apierrors.IsNotFound(err):
		l.Detail = "the cert-manager CRDs are not yet installed on the Kubernetes API server: " + err.Error()
		l.Fix = "install them: kubectl cert-manager experimental install, or kubectl apply --server-side -f deploy/crds/"
	case apierrors.IsForbidden(err):
		l.Detail = "creating a Certificate is forbidden: " + err.Error()
		l.Fix = "check as a user that may create certificates.cert-manager.io in namespace " + namespace
	default:
		l.Detail = "a dry-run create of a Certificate failed: " + err.Error()
		l.Fix = "read the API server's words above; see kubectl get --raw /readyz?verbose"
	}
	return l
}

// requiredResources are the six CRDs certflow serves, by resource.group, and their
// group versions.
var requiredResources = []struct{ groupVersion, resource string }{
	{"cert-manager.io/v1", "certificates"},
	{"cert-manager.io/v1", "certificaterequests"},
	{"cert-manager.io/v1", "issuers"},
	{"cert-manager.io/v1", "clusterissuers"},
	{"acme.cert-manager.io/v1", "orders"},
	{"acme.cert-manager.io/v1", "challenges"},
}

// servedResources asks discovery which of requiredResources the API server serves, as
// "resource.group"; errors are kept per group version.
func servedResources(c *conn) (map[string]bool, error) {
	served := map[string]bool{}
	var errs []error
	for _, gv := range []string{"cert-manager.io/v1", "acme.cert-manager.io/v1"} {
		list, err := c.kube.Discovery().ServerResourcesForGroupVersion(gv)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("%s: %w", gv, err))
			}
			continue
		}
		group, _, _ := strings.Cut(gv, "/")
		for _, r := range list.APIResources {
			served[r.Name+"."+group] = true
		}
	}
	return served, errors.Join(errs...)
}

// crdCheck is the line of the CRDs served.
func crdCheck(served map[string]bool, err error) checkLine {
	l := checkLine{Name: "CRDs"}
	var missing []string
	for _, r := range requiredResources {
		group, _, _ := strings.Cut(r.groupVersion, "/")
		if !served[r.resource+"."+group] {
			missing = append(missing, r.resource+"."+group+" ("+r.groupVersion+")")
		}
	}
	switch {
	case err != nil:
		l.Detail = "discovery of the cert-manager API groups failed: " + err.Error()
		l.Fix = "check the API server (kubectl api-resources --api-group=cert-manager.io)"
	case len(missing) > 0:
		l.Detail = fmt.Sprintf("%d of %d not served: %s", len(missing), len(requiredResources), strings.Join(missing, ", "))
		l.Fix = "install the CRDs: kubectl cert-manager experimental install, or kubectl apply --server-side -f deploy/crds/"
	default:
		l.OK = true
		l.Detail = fmt.Sprintf("all %d served (certificates, certificaterequests, issuers, clusterissuers.cert-manager.io/v1; orders, challenges.acme.cert-manager.io/v1)", len(requiredResources))
	}
	return l
}

// temporalCheck is the line of Temporal's reachability and of its namespace.
func temporalCheck(address, namespace string, err error) checkLine {
	l := checkLine{Name: "Temporal"}
	if err == nil {
		l.OK, l.Detail = true, fmt.Sprintf("%s reachable, namespace %s", address, namespace)
		return l
	}
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		l.Detail = fmt.Sprintf("%s reachable, but it has no namespace %s: %v", address, namespace, err)
		l.Fix = "use the worker's namespace (--temporal-namespace or TEMPORAL_NAMESPACE), or create it: temporal operator namespace create --namespace " + namespace
		return l
	}
	l.Detail = fmt.Sprintf("%s (namespace %s) is not reachable: %v", address, namespace, err)
	l.Fix = "point at the Temporal frontend the worker uses: --temporal-address or TEMPORAL_ADDRESS (a profile with TEMPORAL_CONFIG_FILE), e.g. through kubectl port-forward"
	return l
}

// poller is one poller of a task queue as Temporal saw it.
type poller struct {
	Identity   string
	Version    string // certflow's version in the identity, "" when it names none
	BuildID    string
	LastAccess time.Time
}

func pollerOf(identity string, lastAccess time.Time, buildID string) poller {
	return poller{Identity: identity, Version: version.OfWorkerIdentity(identity), BuildID: buildID, LastAccess: lastAccess}
}

// staleAfter is how long after its last poll a poller no longer counts as polling: a
// live worker polls again at least every minute (Temporal's long poll), and Temporal
// lists pollers for minutes after they are gone.
const staleAfter = 2 * time.Minute

// livePollers are the pollers seen within staleAfter of now, most recent first.
func livePollers(pollers []poller, now time.Time) []poller {
	var live []poller
	for _, p := range pollers {
		if now.Sub(p.LastAccess) <= staleAfter {
			live = append(live, p)
		}
	}
	slices.SortStableFunc(live, func(a, b poller) int { return b.LastAccess.Compare(a.LastAccess) })
	return live
}

// pollerCheck is the line of the pollers of one kind of the task queue.
func pollerCheck(kind enumspb.TaskQueueType, taskQueue, namespace string, pollers []poller, err error, now time.Time) checkLine {
	what := "workflow"
	if kind == enumspb.TASK_QUEUE_TYPE_ACTIVITY {
		what = "activity"
	}
	l := checkLine{Name: what + " pollers"}
	if err != nil {
		l.Detail = fmt.Sprintf("describing task queue %s failed: %v", taskQueue, err)
		l.Fix = "check that this identity may DescribeTaskQueue in namespace " + namespace
		return l
	}
	live := livePollers(pollers, now)
	if len(live) == 0 {
		l.Detail = fmt.Sprintf("no worker polls task queue %s in namespace %s for %s tasks", taskQueue, namespace, what)
		if len(pollers) > 0 {
			l.Detail += fmt.Sprintf(" (the last, %s, polled %s ago)", pollers[0].Identity, now.Sub(pollers[0].LastAccess).Round(time.Second))
		}
		l.Fix = fmt.Sprintf("start certflow-worker with --task-queue %s against namespace %s (kubectl get deploy -A -l app.kubernetes.io/component=worker; its logs), or pass the worker's --task-queue here", taskQueue, namespace)
		return l
	}
	var ids []string
	for _, p := range live {
		ids = append(ids, p.Identity+" (last access "+ago(now.Sub(p.LastAccess))+")")
	}
	l.OK = true
	l.Detail = fmt.Sprintf("%d on task queue %s: %s", len(live), taskQueue, strings.Join(ids, ", "))
	return l
}

func ago(d time.Duration) string {
	if d < time.Second {
		return "just now"
	}
	return d.Round(time.Second).String() + " ago"
}

// searchAttributesCheck is the line of the search attributes the workflows set.
func searchAttributesCheck(namespace string, missing []clients.SearchAttribute, err error) checkLine {
	l := checkLine{Name: "search attributes"}
	switch {
	case err != nil:
		l.Detail = err.Error()
		l.Fix = "see the search attributes with: temporal operator search-attribute list --namespace " + namespace
	case len(missing) > 0:
		var names []string
		for _, a := range missing {
			names = append(names, a.Name+" ("+a.CLIType()+")")
		}
		l.Detail = fmt.Sprintf("%d missing in namespace %s: %s", len(missing), namespace, strings.Join(names, ", "))
		l.Fix = "the worker adds them when it starts, if allowed; else add them once: " + strings.ReplaceAll(clients.CreateSearchAttributesCommand(namespace, missing), "\n", "; ")
	default:
		var names []string
		for _, k := range searchattr.All {
			names = append(names, k.GetName())
		}
		l.OK = true
		l.Detail = fmt.Sprintf("all %d registered in namespace %s (%s)", len(names), namespace, strings.Join(names, ", "))
	}
	return l
}

// checkLine is the outcome of one check.
type checkLine struct {
	Name    string
	OK      bool
	Skipped bool   // not made, because one it depends on failed
	Detail  string // what was found
	Fix     string // how to fix it, when it failed
}

func failedChecks(lines []checkLine) int {
	n := 0
	for _, l := range lines {
		if !l.OK {
			n++
		}
	}
	return n
}

// formatChecks prints one line per check: its mark, name and findings, and for a failed
// one how to fix it.
func formatChecks(lines []checkLine) string {
	var b strings.Builder
	for _, l := range lines {
		mark := "[FAIL]"
		switch {
		case l.OK:
			mark = "[ok]  "
		case l.Skipped:
			mark = "[--]  "
		}
		fmt.Fprintf(&b, "%s %s: %s\n", mark, l.Name, l.Detail)
		if !l.OK && l.Fix != "" {
			fmt.Fprintf(&b, "       fix: %s\n", l.Fix)
		}
	}
	return b.String()
}
