package starter

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

func newApproveCommand(g *globals) *cobra.Command {
	return decisionCommand(g, "approve", cmapi.CertificateRequestConditionApproved, "Approved")
}

func newDenyCommand(g *globals) *cobra.Command {
	return decisionCommand(g, "deny", cmapi.CertificateRequestConditionDenied, "Denied")
}

// decisionCommand sets the Approved or Denied condition on a CertificateRequest, as cmctl
// does, through the Kubernetes API alone. The watcher relays it to the workflow waiting
// for it.
func decisionCommand(g *globals, verb string, typ cmapi.CertificateRequestConditionType, done string) *cobra.Command {
	var reason, message string
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: fmt.Sprintf("%s a CertificateRequest", strings.ToUpper(verb[:1])+verb[1:]),
		Args:  cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return fmt.Errorf("a reason must be given as to who %s this CertificateRequest", strings.ToLower(done))
			}
			if message == "" {
				return fmt.Errorf("a message must be given as to why this CertificateRequest is %s", strings.ToLower(done))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				if err := decide(ctx, c, args[0], typ, reason, message); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s CertificateRequest '%s/%s'\n", done, c.namespace, args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "KubectlCertManager", fmt.Sprintf("the reason for the %s condition (who %s it)", typ, strings.ToLower(done)))
	cmd.Flags().StringVar(&message, "message", fmt.Sprintf("manually %s by \"kubectl cert-manager\"", strings.ToLower(done)), fmt.Sprintf("the message of the %s condition (why)", typ))
	cmd.ValidArgsFunction = completeCertificateRequests(g)
	return cmd
}

func decide(ctx context.Context, c *conn, name string, typ cmapi.CertificateRequestConditionType, reason, message string) error {
	crs := c.certflow.CertmanagerV1().CertificateRequests(c.namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cr, err := crs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range cr.Status.Conditions {
			if (cond.Type == cmapi.CertificateRequestConditionApproved || cond.Type == cmapi.CertificateRequestConditionDenied) && cond.Status == cmmeta.ConditionTrue {
				return fmt.Errorf("CertificateRequest is already %s", strings.ToLower(string(cond.Type)))
			}
		}
		now := metav1.Now()
		cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
			Type: typ, Status: cmmeta.ConditionTrue, Reason: reason, Message: message, LastTransitionTime: &now,
		})
		_, err = crs.UpdateStatus(ctx, cr, metav1.UpdateOptions{FieldManager: conventions.CLIFieldManager})
		return err
	})
}
