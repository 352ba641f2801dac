package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/workflows"
)

func newCampaignCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "campaign",
		Short: "Re-issue a fleet of Certificates as one durable workflow: paced, visible, pausable",
		Long: `A campaign re-issues every Certificate of an issuer, of a label selector or of namespaces
(a CA rotation, a key compromise) as one Temporal workflow, campaign/<name>: at a given
rate, each Certificate once, with its progress in the campaign's progress query, paused,
resumed and cancelled by signal, and carrying on across worker restarts. Needs Temporal.`,
	}
	cmd.AddCommand(newCampaignReissueCommand(g), newCampaignStatusCommand(g),
		newCampaignSignalCommand(g, "pause", workflows.SignalCampaignPause, "Pause a campaign: no new re-issuance starts until it is resumed"),
		newCampaignSignalCommand(g, "resume", workflows.SignalCampaignResume, "Resume a paused campaign"),
		newCampaignSignalCommand(g, "cancel", workflows.SignalCampaignCancel, "Cancel a campaign: it starts no new re-issuance and ends with what it did"),
		newCampaignListCommand(g))
	return cmd
}

// reissueTargets are the reissue command's selection flags.
type reissueTargets struct {
	issuer, issuerKind string
	selector           string
	namespace          string // -n as given ("" when not given)
	contextNamespace   string // the kubeconfig context's namespace (default: default)
	allNamespaces      bool
}

// selection turns the flags into the campaign's selection. Something must be chosen:
// a campaign over every Certificate of the cluster takes -A. An Issuer is namespaced,
// so its Certificates are those of its namespace (-n or the context's); a ClusterIssuer's
// are in every namespace unless -n narrows them; a label selector applies in the
// namespace (-n or the context's) unless -A.
func (t reissueTargets) selection() (kube.CampaignSelection, error) {
	sel := kube.CampaignSelection{IssuerName: t.issuer, LabelSelector: t.selector}
	if t.issuer == "" && t.selector == "" && t.namespace == "" && !t.allNamespaces {
		return sel, errors.New("choose the Certificates to re-issue: --issuer NAME [--issuer-kind ClusterIssuer], -l SELECTOR, -n NAMESPACE, or -A for every Certificate in the cluster")
	}
	if t.issuer == "" && t.issuerKind != "" {
		return sel, errors.New("--issuer-kind goes with --issuer NAME")
	}
	if t.issuer != "" {
		switch strings.ToLower(t.issuerKind) {
		case "", "issuer":
			sel.IssuerKind = cmapi.IssuerKind
		case "clusterissuer":
			sel.IssuerKind = cmapi.ClusterIssuerKind
		default:
			return sel, fmt.Errorf("--issuer-kind %q: want Issuer or ClusterIssuer", t.issuerKind)
		}
	}
	ns := t.namespace
	if ns == "" {
		ns = t.contextNamespace
	}
	switch {
	case sel.IssuerKind == cmapi.IssuerKind && t.allNamespaces:
		return sel, errors.New("an Issuer is namespaced and only Certificates of its namespace use it: drop -A, or use --issuer-kind ClusterIssuer")
	case t.allNamespaces:
	case sel.IssuerKind == cmapi.ClusterIssuerKind && t.namespace == "":
	default:
		sel.Namespaces = []string{ns}
	}
	return sel, sel.Validate()
}

var campaignNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$`)

// campaignName is the name given, checked, or one made of the time.
func campaignName(given string, now time.Time) (string, error) {
	if given == "" {
		return "reissue-" + now.UTC().Format("20060102-150405"), nil
	}
	if !campaignNameRE.MatchString(given) {
		return "", fmt.Errorf("campaign name %q: use lower case letters, digits, '-' and '.' (at most 63, starting and ending with a letter or digit)", given)
	}
	return given, nil
}

func newCampaignReissueCommand(g *globals) *cobra.Command {
	var (
		t          reissueTargets
		rate, name string
		wait       bool
	)
	cmd := &cobra.Command{
		Use:   "reissue (--issuer NAME [--issuer-kind ClusterIssuer] | -l SELECTOR | -n NAMESPACE | -A)",
		Short: "Start a campaign that re-issues every selected Certificate once, at a given rate",
		Example: `  # Re-issue every Certificate of the ClusterIssuer ca-issuer, 20 a second
  kubectl cert-manager campaign reissue --issuer ca-issuer --issuer-kind ClusterIssuer --rate 20/s
  # Re-issue the Certificates labelled team=payments in namespace shop, and wait for the end
  kubectl cert-manager campaign reissue -n shop -l team=payments --name payments-rekey --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := workflows.ParseRate(rate)
			if err != nil {
				return err
			}
			if g.kube.Namespace != nil {
				t.namespace = *g.kube.Namespace
			}
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				t.contextNamespace = c.namespace
				sel, err := t.selection()
				if err != nil {
					return err
				}
				n, err := campaignName(name, time.Now())
				if err != nil {
					return err
				}
				return runReissue(ctx, cmd, c, n, sel, r, wait)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.issuer, "issuer", "", "re-issue the Certificates of this issuer")
	f.StringVar(&t.issuerKind, "issuer-kind", "", "kind of --issuer: Issuer (default) or ClusterIssuer")
	f.StringVarP(&t.selector, "selector", "l", "", "re-issue the Certificates matching this label selector (e.g. -l key1=value1,key2=value2)")
	f.BoolVarP(&t.allNamespaces, "all-namespaces", "A", false, "look in every namespace (the --namespace flag is ignored)")
	f.StringVar(&rate, "rate", "20/s", "how many Certificates to re-issue per second, minute or hour (20/s, 100/m, 5/h)")
	f.StringVar(&name, "name", "", "the campaign's name, its workflow ID being campaign/<name> (default reissue-<UTC time>)")
	f.BoolVar(&wait, "wait", false, "follow the campaign until it ends, printing its progress")
	return cmd
}

// campaignTemporal is Temporal's client, or why a campaign command cannot run.
func campaignTemporal(ctx context.Context, c *conn) (client.Client, error) {
	tc, err := c.Temporal(ctx)
	if err != nil {
		return nil, fmt.Errorf("campaigns are Temporal workflows and Temporal is needed: %w", err)
	}
	return tc, nil
}

func runReissue(ctx context.Context, cmd *cobra.Command, c *conn, name string, sel kube.CampaignSelection, r workflows.Rate, wait bool) error {
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	warnMissingIssuer(ctx, errOut, c, sel)
	tc, err := campaignTemporal(ctx, c)
	if err != nil {
		return err
	}
	id := workflows.CampaignWorkflowID(name)
	what := fmt.Sprintf("Re-issue the Certificates %s at %s", sel, r)
	_, err = tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                c.taskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            what,
		StaticDetails: fmt.Sprintf("Campaign **%s** re-issues each Certificate %s once, at %s.\n\n"+
			"Query `progress` for done, failed and remaining; signal `pause`, `resume` or `cancel`.", name, sel, r),
	}, workflows.CampaignWorkflowType, workflows.CampaignInput{Name: name, Selection: sel, Rate: r})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return fmt.Errorf("a campaign named %s exists already (workflow %s): choose another --name", name, id)
	}
	if err != nil {
		return fmt.Errorf("start campaign %s: %w", name, err)
	}
	root := cmd.Root().DisplayName()
	fmt.Fprintf(out, "Started campaign %s (workflow %s): %s\n", name, id, strings.ToLower(what[:1])+what[1:])
	fmt.Fprintf(out, "Follow it:  %s campaign status %s\n", root, name)
	fmt.Fprintf(out, "Steer it:   %s campaign pause|resume|cancel %s\n", root, name)
	if u := c.WorkflowURL(id); u != "" {
		fmt.Fprintf(out, "Web UI:     %s\n", u)
	}
	if !wait {
		return nil
	}
	return followCampaign(ctx, out, tc, id)
}

// warnMissingIssuer says so when the selected issuer does not exist: its Certificates
// may still name it, so the campaign goes on.
func warnMissingIssuer(ctx context.Context, errOut io.Writer, c *conn, sel kube.CampaignSelection) {
	if sel.IssuerName == "" {
		return
	}
	var err error
	if sel.IssuerKind == cmapi.ClusterIssuerKind {
		_, err = c.certflow.CertmanagerV1().ClusterIssuers().Get(ctx, sel.IssuerName, metav1.GetOptions{})
	} else {
		_, err = c.certflow.CertmanagerV1().Issuers(sel.Namespaces[0]).Get(ctx, sel.IssuerName, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		fmt.Fprintf(errOut, "warning: %s %s does not exist; the campaign re-issues the Certificates that name it\n", sel.IssuerKind, sel.IssuerName)
	}
}

// campaignPollInterval is how often --wait reads the progress.
const campaignPollInterval = 2 * time.Second

// followCampaign prints the progress each time it changes until the campaign ends,
// then its result; an error when some Certificates failed.
func followCampaign(ctx context.Context, out io.Writer, tc client.Client, id string) error {
	last := ""
	for {
		p, status, err := campaignProgress(ctx, tc, id)
		if err != nil {
			return err
		}
		if s := p.Summary(); s != last {
			fmt.Fprintf(out, "%s  %s\n", time.Now().UTC().Format(time.TimeOnly), s)
			last = s
		}
		if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			printFailures(out, p)
			if status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				return fmt.Errorf("campaign workflow %s ended %s", id, workflowStatusName(status))
			}
			if p.Failed > 0 {
				return fmt.Errorf("%d Certificates could not be re-issued", p.Failed)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(campaignPollInterval):
		}
	}
}

// campaignProgress reads a campaign's progress: its query while it runs, its result
// once it ended (the query of a closed workflow would need a worker to replay it).
func campaignProgress(ctx context.Context, tc client.Client, id string) (workflows.CampaignProgress, enumspb.WorkflowExecutionStatus, error) {
	var p workflows.CampaignProgress
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return p, 0, fmt.Errorf("no campaign %s (workflow %s not found)", strings.TrimPrefix(id, "campaign/"), id)
	}
	if err != nil {
		return p, 0, err
	}
	status := d.GetWorkflowExecutionInfo().GetStatus()
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		v, err := tc.QueryWorkflow(ctx, id, "", workflows.QueryCampaignProgress)
		if err != nil {
			return p, status, fmt.Errorf("query the progress of %s: %w", id, err)
		}
		return p, status, v.Get(&p)
	}
	if status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		if err := tc.GetWorkflow(ctx, id, "").Get(ctx, &p); err != nil {
			return p, status, fmt.Errorf("read the result of %s: %w", id, err)
		}
		return p, status, nil
	}
	p.State = workflowStatusName(status)
	return p, status, nil
}

func workflowStatusName(s enumspb.WorkflowExecutionStatus) string {
	name := strings.TrimPrefix(s.String(), "WorkflowExecutionStatus")
	return strings.TrimPrefix(name, "WORKFLOW_EXECUTION_STATUS_")
}

func newCampaignStatusCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show a campaign's progress: done, failed (with reasons), remaining, paused, rate, times",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" {
				return fmt.Errorf("--output %q: only json is supported", output)
			}
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				tc, err := campaignTemporal(ctx, c)
				if err != nil {
					return err
				}
				id := workflows.CampaignWorkflowID(args[0])
				p, status, err := campaignProgress(ctx, tc, id)
				if err != nil {
					return err
				}
				if output == "json" {
					e := json.NewEncoder(cmd.OutOrStdout())
					e.SetIndent("", "  ")
					return e.Encode(p)
				}
				fmt.Fprint(cmd.OutOrStdout(), formatCampaign(args[0], id, workflowStatusName(status), p, c.WorkflowURL(id), time.Now()))
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: the progress as JSON, for tools")
	return cmd
}

// formatCampaign renders a campaign's status for people.
func formatCampaign(name, id, workflowStatus string, p workflows.CampaignProgress, webUI string, now time.Time) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Campaign:\t%s\n", name)
	fmt.Fprintf(w, "Workflow:\t%s (%s)\n", id, workflowStatus)
	if p.Selection != "" {
		fmt.Fprintf(w, "Selection:\t%s\n", p.Selection)
	}
	fmt.Fprintf(w, "State:\t%s\n", p.State)
	if p.Rate != "" {
		fmt.Fprintf(w, "Rate:\t%s\n", p.Rate)
	}
	fmt.Fprintf(w, "Total:\t%d\nDone:\t%d\nFailed:\t%d\nRemaining:\t%d\n", p.Total, p.Done, p.Failed, p.Remaining)
	if p.InFlight > 0 {
		fmt.Fprintf(w, "Being signalled:\t%d\n", p.InFlight)
	}
	if !p.Started.IsZero() {
		fmt.Fprintf(w, "Started:\t%s (%s ago)\n", p.Started.UTC().Format(time.RFC3339), now.Sub(p.Started).Round(time.Second))
	}
	if p.Finished != nil {
		fmt.Fprintf(w, "Finished:\t%s (took %s)\n", p.Finished.UTC().Format(time.RFC3339), p.Finished.Sub(p.Started).Round(time.Second))
	}
	if webUI != "" {
		fmt.Fprintf(w, "Web UI:\t%s\n", webUI)
	}
	w.Flush()
	printFailures(&b, p)
	return b.String()
}

func printFailures(out io.Writer, p workflows.CampaignProgress) {
	if len(p.Failures) == 0 {
		return
	}
	head := "Failures:"
	if len(p.Failures) < p.Failed {
		head = fmt.Sprintf("Failures (the first %d of %d):", len(p.Failures), p.Failed)
	}
	fmt.Fprintln(out, head)
	for _, f := range p.Failures {
		fmt.Fprintf(out, "  %s: %s\n", f.Certificate, f.Reason)
	}
}

func newCampaignSignalCommand(g *globals, use, signal, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				tc, err := campaignTemporal(ctx, c)
				if err != nil {
					return err
				}
				id := workflows.CampaignWorkflowID(args[0])
				err = tc.SignalWorkflow(ctx, id, "", signal, workflows.CampaignSignal{})
				var nf *serviceerror.NotFound
				if errors.As(err, &nf) {
					return fmt.Errorf("no running campaign %s (workflow %s not found, or ended)", args[0], id)
				}
				if err != nil {
					return fmt.Errorf("signal %s to %s: %w", signal, id, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), signalledMessage(signal, args[0], cmd.Root().DisplayName()))
				return nil
			})
		},
	}
}

func signalledMessage(signal, name, root string) string {
	switch signal {
	case workflows.SignalCampaignPause:
		return fmt.Sprintf("Campaign %s paused: re-issuances under way finish, no new one starts until `%s campaign resume %s`", name, root, name)
	case workflows.SignalCampaignResume:
		return fmt.Sprintf("Campaign %s resumed", name)
	default:
		return fmt.Sprintf("Campaign %s cancelled: it starts no new re-issuance; `%s campaign status %s` shows what it did", name, root, name)
	}
}

// maxCampaignsListed bounds campaign list.
const maxCampaignsListed = 200

func newCampaignListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the campaigns, newest first, with their progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				tc, err := campaignTemporal(ctx, c)
				if err != nil {
					return err
				}
				return listCampaigns(ctx, cmd.OutOrStdout(), tc)
			})
		},
	}
}

func listCampaigns(ctx context.Context, out io.Writer, tc client.Client) error {
	var rows []campaignRow
	var token []byte
	for len(rows) < maxCampaignsListed {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s'", workflows.CampaignWorkflowType), PageSize: 100, NextPageToken: token,
		})
		if err != nil {
			return fmt.Errorf("list campaign workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			if len(rows) == maxCampaignsListed {
				break
			}
			if e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
				continue // an earlier run of a campaign listed by its latest
			}
			id := e.GetExecution().GetWorkflowId()
			row := campaignRow{Name: strings.TrimPrefix(id, "campaign/"), Status: workflowStatusName(e.GetStatus()), Started: e.GetStartTime().AsTime()}
			if p, _, err := campaignProgress(ctx, tc, id); err == nil {
				row.Progress = &p
			}
			rows = append(rows, row)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(out, "No campaigns found")
		return nil
	}
	fmt.Fprint(out, formatCampaignList(rows))
	return nil
}

type campaignRow struct {
	Name, Status string
	Started      time.Time
	Progress     *workflows.CampaignProgress
}

// formatCampaignList renders campaign list's table.
func formatCampaignList(rows []campaignRow) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 3, ' ', 0)
	fmt.Fprintln(w, "NAME\tWORKFLOW\tSTATE\tDONE\tFAILED\tREMAINING\tRATE\tSTARTED")
	for _, r := range rows {
		state, done, failed, remaining, rate := "-", "-", "-", "-", "-"
		if p := r.Progress; p != nil {
			state, rate = p.State, p.Rate
			done, failed, remaining = fmt.Sprint(p.Done), fmt.Sprint(p.Failed), fmt.Sprint(p.Remaining)
			if p.Total > 0 {
				done = fmt.Sprintf("%d/%d", p.Done, p.Total)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Status, state, done, failed, remaining, rate, r.Started.UTC().Format(time.RFC3339))
	}
	w.Flush()
	return b.String()
}
