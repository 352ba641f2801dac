package starter

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/entity"
	"github.com/certflow/certflow/workflows"
)

func newRenewCommand(g *globals) *cobra.Command {
	var (
		all, allNamespaces bool
		selector           string
	)
	cmd := &cobra.Command{
		Use:   "renew [NAME...]",
		Short: "Renew certificates now: sends the renew signal to their workflows, cutting any backoff short",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRenewTargets(args, all, allNamespaces, selector); err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := g.connect(ctx, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			defer c.temporal.Close()
			ns := c.namespace
			if allNamespaces {
				ns = metav1.NamespaceAll
			}
			var targets []cmapi.Certificate
			if len(args) > 0 {
				for _, name := range args {
					cert, err := c.certflow.CertmanagerV1().Certificates(ns).Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					targets = append(targets, *cert)
				}
			} else {
				list, err := c.certflow.CertmanagerV1().Certificates(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
				if err != nil {
					return err
				}
				targets = list.Items
			}
			// One workflow that cannot be signalled does not stop the others.
			var errs []error
			for i := range targets {
				cert := &targets[i]
				if err := renew(ctx, c, cert); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Manually triggered issuance of Certificate %s/%s\n", cert.Namespace, cert.Name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "renew every certificate in the namespace")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "look in every namespace")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector of certificates to renew")
	return cmd
}

// checkRenewTargets rejects the combinations cmctl rejects: names together with --all,
// -l or -A (a name is looked up in one namespace), and nothing to renew at all.
func checkRenewTargets(names []string, all, allNamespaces bool, selector string) error {
	switch {
	case len(names) > 0 && (all || selector != ""):
		return errors.New("name certificates, or use --all or -l, not both")
	case len(names) > 0 && allNamespaces:
		return errors.New("-A looks in every namespace: use it with --all or -l, and -n with names")
	case len(names) == 0 && !all && selector == "":
		return errors.New("name certificates, or use --all or -l")
	}
	return nil
}

// renew signals the Certificate's workflow to issue now; a workflow that does not run
// (terminated by hand, failed) is started from the Certificate with the renewal as its
// first signal.
func renew(ctx context.Context, c *conn, cert *cmapi.Certificate) error {
	return entity.Certificate(ctx, c.temporal, c.taskQueue, cert, workflows.SignalRenew, workflows.RenewSignal{Reason: "starter renew"})
}
