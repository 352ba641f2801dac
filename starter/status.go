package starter

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/workflows"
)

func newStatusCommand(g *globals) *cobra.Command {
	status := &cobra.Command{Use: "status", Short: "Show the state of certflow resources"}
	status.AddCommand(&cobra.Command{
		Use:   "certificate NAME",
		Short: "Show a Certificate, its Issuer, its Secret and what its workflow is doing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				return certificateStatus(ctx, cmd.OutOrStdout(), c, args[0])
			})
		},
	})
	return status
}

func certificateStatus(ctx context.Context, out io.Writer, c *conn, name string) error {
	cert, err := c.certflow.CertmanagerV1().Certificates(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	fmt.Fprintf(w, "Name:\t%s\nNamespace:\t%s\nCreated at:\t%s\n", cert.Name, cert.Namespace, cert.CreationTimestamp.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Conditions:\t\n")
	for _, cond := range cert.Status.Conditions {
		fmt.Fprintf(w, "  %s: %s\t%s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}
	ts := func(t *metav1.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Not Before:\t%s\nNot After:\t%s\nRenewal Time:\t%s\n", ts(cert.Status.NotBefore), ts(cert.Status.NotAfter), ts(cert.Status.RenewalTime))
	if cert.Status.Revision != nil {
		fmt.Fprintf(w, "Revision:\t%d\n", *cert.Status.Revision)
	}
	if n := cert.Status.FailedIssuanceAttempts; n != nil {
		fmt.Fprintf(w, "Failed Issuance Attempts:\t%d (last at %s)\n", *n, ts(cert.Status.LastFailureTime))
	}

	ref := cert.Spec.IssuerRef
	kind := ref.Kind
	if kind == "" {
		kind = cmapi.IssuerKind
	}
	fmt.Fprintf(w, "Issuer:\t%s %s\n", kind, ref.Name)
	var conds []cmapi.IssuerCondition
	if kind == cmapi.ClusterIssuerKind {
		iss, err := c.certflow.CertmanagerV1().ClusterIssuers().Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			conds = iss.Status.Conditions
		} else {
			fmt.Fprintf(w, "  error:\t%v\n", err)
		}
	} else {
		iss, err := c.certflow.CertmanagerV1().Issuers(cert.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			conds = iss.Status.Conditions
		} else {
			fmt.Fprintf(w, "  error:\t%v\n", err)
		}
	}
	for _, cond := range conds {
		fmt.Fprintf(w, "  %s: %s\t%s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
	}

	fmt.Fprintf(w, "Secret:\t%s\n", cert.Spec.SecretName)
	s, err := c.kube.CoreV1().Secrets(cert.Namespace).Get(ctx, cert.Spec.SecretName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		fmt.Fprintf(w, "  \tdoes not exist\n")
	case err != nil:
		fmt.Fprintf(w, "  error:\t%v\n", err)
	default:
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		fmt.Fprintf(w, "  Type:\t%s\n  Keys:\t%s\n", s.Type, strings.Join(slices.Sorted(slices.Values(keys)), ", "))
	}

	{
		// The request in flight (next revision) if any, else the one that issued the current certificate.
		rev := 0
		if cert.Status.Revision != nil {
			rev = *cert.Status.Revision
		}
		reqName := conventions.CertificateRequestName(cert.Name, rev+1)
		req, err := c.certflow.CertmanagerV1().CertificateRequests(cert.Namespace).Get(ctx, reqName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && rev > 0 {
			reqName = conventions.CertificateRequestName(cert.Name, rev)
			req, err = c.certflow.CertmanagerV1().CertificateRequests(cert.Namespace).Get(ctx, reqName, metav1.GetOptions{})
		}
		fmt.Fprintf(w, "CertificateRequest:\t%s\n", reqName)
		if err != nil {
			fmt.Fprintf(w, "  error:\t%v\n", err)
		} else {
			for _, cond := range req.Status.Conditions {
				fmt.Fprintf(w, "  %s: %s\t%s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
		}
	}

	id := workflows.CertificateWorkflowID(cert.Namespace, cert.Name)
	fmt.Fprintf(w, "Workflow:\t%s\n", id)
	tc, err := c.Temporal(ctx)
	if err != nil {
		fmt.Fprintf(w, "  error:\t%v\n", err)
		return nil
	}
	v, err := tc.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		fmt.Fprintf(w, "  error:\t%v\n", err)
		return nil
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		if strings.Contains(err.Error(), codec.Encoding) {
			fmt.Fprintf(w, "  error:\tthe workflow's state is encrypted by the payload codec: pass --payload-codec-secret NAMESPACE/NAME (or set CERTFLOW_PAYLOAD_CODEC_SECRET) to read it\n")
			return nil
		}
		return err
	}
	fmt.Fprintf(w, "  Phase:\t%s\n  Waiting for:\t%s\n", st.Phase, st.WaitingFor)
	if st.Until != nil {
		fmt.Fprintf(w, "  Until:\t%s (in %s)\n", st.Until.UTC().Format(time.RFC3339), time.Until(*st.Until).Round(time.Second))
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "  Last error:\t%s\n", st.LastError)
	}
	return nil
}
