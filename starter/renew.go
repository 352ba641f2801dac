package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/entity"
	"github.com/certflow/certflow/policy"
	"github.com/certflow/certflow/workflows"
)

func newRenewCommand(g *globals) *cobra.Command {
	var (
		all, allNamespaces bool
		selector           string
	)
	cmd := &cobra.Command{
		Use:   "renew [NAME...]",
		Short: "Mark a Certificate for manual renewal",
		Long: `Mark Certificates for manual renewal, as cmctl does: the Issuing condition is set True
with reason ManuallyTriggered, through the Kubernetes API alone. A Certificate in backoff
after a failure is re-issued at once.

When Temporal is reachable, a Certificate whose workflow is gone (terminated, failed) gets
its workflow back, started from the Certificate with the renewal as its first act.`,
		Example: `  # Renew the Certificates named my-app and vault in the current namespace
  kubectl cert-manager renew my-app vault
  # Renew every Certificate in kube-system
  kubectl cert-manager renew -n kube-system --all
  # Renew every Certificate labelled app=my-service in every namespace
  kubectl cert-manager renew -A -l app=my-service`,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return checkRenewTargets(args, all, allNamespaces, selector)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				return runRenew(ctx, cmd, c, args, all || selector != "", allNamespaces, selector)
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "renew every Certificate in the namespace, or in every namespace with -A")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "look in every namespace (the --namespace flag is ignored)")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector of the Certificates to renew (e.g. -l key1=value1,key2=value2)")
	cmd.ValidArgsFunction = completeCertificates(g)
	return cmd
}

// checkRenewTargets rejects what cmctl rejects: names, --all and -l are exclusive, one
// of them is needed, and names go with one namespace, not -A.
func checkRenewTargets(names []string, all, allNamespaces bool, selector string) error {
	var given []string
	if len(names) > 0 {
		given = append(given, fmt.Sprintf("the Certificate resource names %q", names))
	}
	if all {
		given = append(given, "the --all flag")
	}
	if selector != "" {
		given = append(given, "a label selector")
	}
	switch {
	case len(given) > 1:
		return fmt.Errorf("cannot specify %s in conjunction with %s", given[0], strings.Join(given[1:], " and "))
	case len(given) == 0:
		return errors.New("please either supply one or more Certificate resource names, label selectors, or use the --all flag to renew all Certificate resources")
	case allNamespaces && len(names) > 0:
		return errors.New("cannot specify Certificate names in conjunction with --all-namespaces flag")
	}
	return nil
}

func runRenew(ctx context.Context, cmd *cobra.Command, c *conn, names []string, list, allNamespaces bool, selector string) error {
	ns := c.namespace
	if allNamespaces {
		ns = metav1.NamespaceAll
	}
	var targets []cmapi.Certificate
	if list {
		l, err := c.certflow.CertmanagerV1().Certificates(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		targets = l.Items
	} else {
		for _, name := range names {
			cert, err := c.certflow.CertmanagerV1().Certificates(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			targets = append(targets, *cert)
		}
	}
	if len(targets) == 0 {
		if allNamespaces {
			fmt.Fprintln(cmd.ErrOrStderr(), "No Certificates found")
		} else {
			fmt.Fprintf(cmd.ErrOrStderr(), "No Certificates found in %s namespace.\n", ns)
		}
		return nil
	}
	// One Certificate that cannot be renewed does not stop the others.
	var errs []error
	for i := range targets {
		cert, err := markForRenewal(ctx, c, &targets[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to trigger issuance of Certificate %s/%s: %w", targets[i].Namespace, targets[i].Name, err))
			continue
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Manually triggered issuance of Certificate %s/%s\n", cert.Namespace, cert.Name)
		restartGoneWorkflow(ctx, cmd.ErrOrStderr(), c, cert)
	}
	return errors.Join(errs...)
}

// markForRenewal sets Issuing=True ManuallyTriggered on the Certificate's status. As
// upstream, a Certificate already Issuing keeps the condition's lastTransitionTime (its
// issuance is under way); otherwise the new time is the request's token, which the
// watcher relays and the workflow acts on once.
func markForRenewal(ctx context.Context, c *conn, cert *cmapi.Certificate) (*cmapi.Certificate, error) {
	certs := c.certflow.CertmanagerV1().Certificates(cert.Namespace)
	var out *cmapi.Certificate
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := certs.Get(ctx, cert.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
		next := cmapi.CertificateCondition{
			Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue,
			Reason: policy.ReasonManuallyTriggered, Message: "Certificate re-issuance manually triggered",
			ObservedGeneration: cur.Generation, LastTransitionTime: &now,
		}
		set := false
		for i, cond := range cur.Status.Conditions {
			if cond.Type != cmapi.CertificateConditionIssuing {
				continue
			}
			if cond.Status == cmmeta.ConditionTrue {
				next.LastTransitionTime = cond.LastTransitionTime
			}
			cur.Status.Conditions[i], set = next, true
		}
		if !set {
			cur.Status.Conditions = append(cur.Status.Conditions, next)
		}
		out, err = certs.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: conventions.CLIFieldManager})
		return err
	})
	return out, err
}

// restartGoneWorkflow starts the workflow of a Certificate whose workflow does not run,
// from the Certificate as it is now (carrying the renewal token), when Temporal can be
// reached. The watcher's sweep would restart it too; this makes it happen now. Nothing
// here is needed for the renewal itself, so problems are warnings.
func restartGoneWorkflow(ctx context.Context, errOut io.Writer, c *conn, cert *cmapi.Certificate) {
	tc, err := c.Temporal(ctx)
	if err != nil {
		return // Kubernetes alone carries the renewal; the watcher relays it.
	}
	id := workflows.CertificateWorkflowID(cert.Namespace, cert.Name)
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &nf):
	case err != nil:
		fmt.Fprintf(errOut, "warning: could not look up workflow %s: %v\n", id, err)
		return
	case d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return
	}
	if err := entity.Certificate(ctx, tc, c.taskQueue, cert, workflows.SignalSpec, entity.CertificateSpec(cert)); err != nil {
		fmt.Fprintf(errOut, "warning: workflow %s does not run and could not be restarted: %v\n", id, err)
		return
	}
	fmt.Fprintf(errOut, "Restarted workflow %s, which was not running\n", id)
}
