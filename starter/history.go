package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/starter/history"
	"github.com/certflow/certflow/workflows"
)

// defaultMaxRuns bounds how many runs of a workflow chain history reads.
const defaultMaxRuns = 50

func newHistoryCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Tell the life of a resource from its workflow's history",
	}
	cmd.AddCommand(newHistoryCertificateCommand(g))
	return cmd
}

func newHistoryCertificateCommand(g *globals) *cobra.Command {
	var (
		output  string
		maxRuns int
	)
	cmd := &cobra.Command{
		Use:   "certificate NAME",
		Short: "Tell a Certificate's life: issuances, failures, backoffs, renewals and who asked",
		Long: `Tell a Certificate's life as its workflow lived it, one fact a line, oldest first: each
issuance with its revision, trigger, duration, serial number and expiry; failures in
their own words; backoffs and renewals scheduled, until when; manual renewals, spec
changes and other signals, with who sent them. Read from the Temporal histories of the
workflow certificate/<namespace>/<name>, every run across continue-as-new (at most
--max-runs of the newest). Needs Temporal.`,
		Example: `  # The life of the Certificate my-app in the current namespace
  kubectl cert-manager history certificate my-app
  # As a JSON array of facts, for tools
  kubectl cert-manager history certificate my-app -n prod -o json`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("unknown output format %q: use text or json", output)
			}
			if maxRuns < 1 {
				return fmt.Errorf("--max-runs must be at least 1, not %d", maxRuns)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				return runHistoryCertificate(ctx, cmd.OutOrStdout(), c, args[0], output, maxRuns)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().IntVar(&maxRuns, "max-runs", defaultMaxRuns, "read at most this many of the newest runs of the workflow")
	return cmd
}

func runHistoryCertificate(ctx context.Context, out io.Writer, c *conn, name, output string, maxRuns int) error {
	tc, err := c.Temporal(ctx)
	if err != nil {
		return fmt.Errorf("the history of a Certificate is in Temporal, which this command needs: %w", err)
	}
	cv, err := c.historyConverters(ctx)
	if err != nil {
		return err
	}
	id := workflows.CertificateWorkflowID(c.namespace, name)
	runs, cut, err := readRuns(ctx, tc, c.TemporalNamespace(), id, maxRuns)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		msg := fmt.Sprintf("no workflow %s in Temporal namespace %s", id, c.TemporalNamespace())
		if _, kerr := c.certflow.CertmanagerV1().Certificates(c.namespace).Get(ctx, name, metav1.GetOptions{}); kerr != nil {
			msg += fmt.Sprintf(" (and Certificate %s/%s: %v)", c.namespace, name, kerr)
		}
		return errors.New(msg)
	}
	facts := history.Interpret(runs, cv)
	if cut != "" && len(facts) > 0 {
		facts = append([]history.Fact{{Time: facts[0].Time, Kind: history.KindHistoryIncomplete, Message: cut, RunID: runs[0].RunID}}, facts...)
	}
	if output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(facts)
	}
	fmt.Fprintf(out, "History of Certificate %s/%s (workflow %s, %d run(s))\n", c.namespace, name, id, len(runs))
	if u := c.WorkflowURL(id); u != "" {
		fmt.Fprintf(out, "Temporal UI: %s\n", u)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tFACT\tDETAILS")
	for _, f := range facts {
		fmt.Fprintf(w, "%s\t%s\t%s\n", f.Time.UTC().Format(time.RFC3339), f.Kind, history.Describe(f))
	}
	return w.Flush()
}

// historyConverters decode what the workers wrote, through the payload codec when
// --payload-codec-secret names one.
func (c *conn) historyConverters(ctx context.Context) (history.Converters, error) {
	if c.g.codecSecret == "" {
		return history.DefaultConverters(), nil
	}
	cd, err := codec.Load(ctx, c.kube, c.g.codecSecret, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return history.Converters{}, err
	}
	return history.CodecConverters(cd.DataConverter()), nil
}

// readRuns reads the runs of workflow id, oldest first, at most maxRuns of the newest:
// back from the current run along continue-as-new, then the chains before it that
// Temporal's visibility still lists (a workflow terminated and started again). cut
// says why older runs were left out, or is "".
func readRuns(ctx context.Context, tc client.Client, namespace, id string, maxRuns int) (runs []history.Run, cut string, err error) {
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("workflow %s: %w", id, err)
	}
	seen := map[string]bool{}
	// walk reads the chain ending in runID, newest first.
	walk := func(runID string) error {
		for runID != "" {
			if len(runs) >= maxRuns {
				cut = fmt.Sprintf("older runs not read: stopped after --max-runs %d", maxRuns)
				return nil
			}
			if seen[runID] {
				return nil
			}
			r, prev, err := readRun(ctx, tc, id, runID)
			if errors.As(err, &nf) {
				if len(runs) > 0 {
					cut = fmt.Sprintf("older runs are gone from Temporal (retention): run %s not found", runID)
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("history of workflow %s run %s: %w", id, runID, err)
			}
			seen[runID] = true
			runs = append(runs, r)
			runID = prev
		}
		return nil
	}
	if err := walk(d.GetWorkflowExecutionInfo().GetExecution().GetRunId()); err != nil {
		return nil, "", err
	}
	if len(runs) > 0 && cut == "" {
		// Earlier chains (terminated or failed, then started again) are found in
		// visibility; best effort, the current chain is what matters most.
		for _, e := range listExecutions(ctx, tc, namespace, id) {
			if cut != "" {
				break
			}
			if seen[e] {
				continue
			}
			if err := walk(e); err != nil { // sets cut when maxRuns are read
				return nil, "", err
			}
		}
	}
	sort.SliceStable(runs, func(i, j int) bool { return runStart(runs[i]).Before(runStart(runs[j])) })
	return runs, cut, nil
}

func runStart(r history.Run) time.Time {
	if len(r.Events) == 0 {
		return time.Time{}
	}
	return r.Events[0].GetEventTime().AsTime()
}

// readRun reads every event of one run and the run it continued from.
func readRun(ctx context.Context, tc client.Client, id, runID string) (history.Run, string, error) {
	it := tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	r := history.Run{RunID: runID}
	prev := ""
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return r, "", err
		}
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			prev = a.GetContinuedExecutionRunId()
		}
		r.Events = append(r.Events, ev)
	}
	if len(r.Events) == 0 {
		return r, "", serviceerror.NewNotFound("empty history")
	}
	return r, prev, nil
}

// listExecutions lists the run IDs of the executions of id that visibility knows,
// newest first (nil when visibility cannot say).
func listExecutions(ctx context.Context, tc client.Client, namespace, id string) []string {
	var ids []string
	var token []byte
	for range 10 {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, PageSize: 100, NextPageToken: token,
			Query: fmt.Sprintf("WorkflowId = '%s'", strings.ReplaceAll(id, "'", `\'`)),
		})
		if err != nil {
			return ids
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetRunId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	return ids
}
