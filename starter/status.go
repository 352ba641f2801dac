package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/workflows"
)

func newStatusCommand(g *globals) *cobra.Command {
	status := &cobra.Command{Use: "status", Short: "Get details on the current status of cert-manager resources"}
	status.AddCommand(&cobra.Command{
		Use:   "certificate NAME",
		Short: "Show a Certificate, its Issuer, Secret, CertificateRequest, Order and Challenges, and what its workflow is doing",
		Long: `Show the current status of a Certificate as cmctl does (its conditions, DNS names and
Events; the issuer and its conditions; the Secret with the details of its certificate; the
CertificateRequest; for ACME issuers the Order and its Challenges), and what its workflow
is doing: phase, what it waits for and until when, its last error and a link to it in the
Temporal Web UI. When Temporal cannot be reached, the Workflow section says why and the
rest is shown all the same.`,
		Example:           "  kubectl cert-manager status certificate my-crt --namespace my-namespace",
		Args:              exactlyOne("the name of the Certificate"),
		ValidArgsFunction: completeCertificates(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				st, err := gatherCertificateStatus(ctx, c, args[0])
				if err != nil {
					return err
				}
				_, err = io.WriteString(cmd.OutOrStdout(), st.String())
				return err
			})
		},
	})
	return status
}

// exactlyOne accepts exactly one argument, with cmctl's words otherwise.
func exactlyOne(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < 1:
			return fmt.Errorf("%s has to be provided as argument", what)
		case len(args) > 1:
			return fmt.Errorf("only one argument can be passed in: %s", what)
		}
		return nil
	}
}

// gatherCertificateStatus reads everything status certificate shows. Only a Certificate
// that cannot be read is an error; every other part that cannot be read is reported in
// its own section.
func gatherCertificateStatus(ctx context.Context, c *conn, name string) (*certificateStatus, error) {
	cert, err := c.certflow.CertmanagerV1().Certificates(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("error when getting Certificate resource: %w", err)
	}
	st := &certificateStatus{Now: nowFunc(), Certificate: cert}
	st.Events = objectEvents(ctx, c, cert.Namespace, cmapi.CertificateKind, cert.Name, cert.UID)

	st.Issuer = gatherIssuer(ctx, c, cert)
	if st.Issuer.Object != nil {
		o := st.Issuer.Object
		st.Issuer.Events = objectEvents(ctx, c, o.GetNamespace(), st.Issuer.Kind, o.GetName(), o.GetUID())
	}

	st.Secret.Name = cert.Spec.SecretName
	st.Secret.Object, st.Secret.Err = c.kube.CoreV1().Secrets(cert.Namespace).Get(ctx, cert.Spec.SecretName, metav1.GetOptions{})
	if st.Secret.Err == nil {
		st.Secret.Events = objectEvents(ctx, c, cert.Namespace, "Secret", st.Secret.Object.Name, st.Secret.Object.UID)
	} else {
		st.Secret.Object = nil
	}

	st.Request.Object, st.Request.Err = findRequest(ctx, c, cert)
	if r := st.Request.Object; r != nil {
		st.Request.Events = objectEvents(ctx, c, r.Namespace, cmapi.CertificateRequestKind, r.Name, r.UID)
	}

	if r := st.Request.Object; r != nil && st.Issuer.Object != nil && st.Issuer.Object.GetSpec().ACME != nil {
		st.ACME = true
		st.Order, st.OrderErr = findOrder(ctx, c, r)
		if st.Order != nil {
			st.Challenges, st.ChallengesErr = findChallenges(ctx, c, st.Order)
		}
	}

	st.Workflow = gatherWorkflow(ctx, c, workflows.CertificateWorkflowID(cert.Namespace, cert.Name), st.Order, st.Challenges)
	return st, nil
}

func gatherIssuer(ctx context.Context, c *conn, cert *cmapi.Certificate) issuerSection {
	ref := cert.Spec.IssuerRef
	s := issuerSection{Name: ref.Name, Kind: ref.Kind, Group: ref.Group}
	if s.Kind == "" {
		s.Kind = cmapi.IssuerKind
	}
	if ref.Group != "" && ref.Group != cmapi.SchemeGroupVersion.Group {
		return s // an external issuer: named, not read
	}
	switch s.Kind {
	case cmapi.ClusterIssuerKind:
		iss, err := c.certflow.CertmanagerV1().ClusterIssuers().Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			s.Err = err
		} else {
			s.Object = iss
		}
	default:
		iss, err := c.certflow.CertmanagerV1().Issuers(cert.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			s.Err = err
		} else {
			s.Object = iss
		}
	}
	return s
}

// objectEvents lists the core/v1 Events about one object (by kind, name and UID, as
// kubectl describe finds them). Events that cannot be listed are shown as none: they
// are a help, not the status.
func objectEvents(ctx context.Context, c *conn, ns, kind, name string, uid types.UID) []corev1.Event {
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}
	if uid != "" {
		sel["involvedObject.uid"] = string(uid)
	}
	l, err := c.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		return nil
	}
	return l.Items
}

// findRequest finds the CertificateRequest owned by cert for its next revision (the
// one in flight, as cmctl looks for it) or, when there is none, the one of its current
// revision (the one that issued the certificate in the Secret).
func findRequest(ctx context.Context, c *conn, cert *cmapi.Certificate) (*cmapi.CertificateRequest, error) {
	l, err := c.certflow.CertmanagerV1().CertificateRequests(cert.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("error when listing CertificateRequest resources: %w", err)
	}
	return pickRequest(cert, l.Items)
}

// pickRequest is findRequest's choice among the namespace's requests.
func pickRequest(cert *cmapi.Certificate, reqs []cmapi.CertificateRequest) (*cmapi.CertificateRequest, error) {
	rev := 0
	if cert.Status.Revision != nil {
		rev = *cert.Status.Revision
	}
	for _, want := range []int{rev + 1, rev} {
		if want < 1 {
			continue
		}
		var found []*cmapi.CertificateRequest
		for i := range reqs {
			r := &reqs[i]
			if ownedBy(r.OwnerReferences, cert.UID) && r.Annotations[cmapi.CertificateRequestRevisionAnnotationKey] == strconv.Itoa(want) {
				found = append(found, r)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		default:
			return nil, fmt.Errorf("found multiple certificate requests with revision %d and owner %s", want, cert.Name)
		}
	}
	return nil, nil
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
}

// findOrder finds the Order owned by the request, as cmctl does.
func findOrder(ctx context.Context, c *conn, req *cmapi.CertificateRequest) (*acmev1.Order, error) {
	l, err := c.certflow.AcmeV1().Orders(req.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("error when listing Orders: %w", err)
	}
	var found []*acmev1.Order
	for i := range l.Items {
		if ownedBy(l.Items[i].OwnerReferences, req.UID) {
			found = append(found, &l.Items[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	default:
		return nil, fmt.Errorf("found multiple orders owned by CertificateRequest %s", req.Name)
	}
}

// findChallenges finds the Challenges owned by the order, as cmctl does.
func findChallenges(ctx context.Context, c *conn, order *acmev1.Order) ([]acmev1.Challenge, error) {
	l, err := c.certflow.AcmeV1().Challenges(order.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("error when listing Challenges: %w", err)
	}
	var out []acmev1.Challenge
	for _, ch := range l.Items {
		if ownedBy(ch.OwnerReferences, order.UID) {
			out = append(out, ch)
		}
	}
	slices.SortFunc(out, func(a, b acmev1.Challenge) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// gatherWorkflow reads the Certificate's workflow and, while an ACME order is in
// flight, its Order's and Challenges' workflows; what cannot be read goes into the
// sections' Err, never into the command's exit status.
func gatherWorkflow(ctx context.Context, c *conn, id string, order *acmev1.Order, challenges []acmev1.Challenge) workflowSection {
	tc, err := c.Temporal(ctx)
	if err != nil {
		return workflowSection{ID: id, URL: c.WorkflowURL(id), Err: err.Error()}
	}
	s := readWorkflow(ctx, tc, id)
	s.URL = c.WorkflowURL(id)
	if order == nil || s.Err != "" {
		return s
	}
	ids := []string{workflows.OrderWorkflowID(order.Namespace, order.Name)}
	for _, ch := range challenges {
		ids = append(ids, workflows.ChallengeWorkflowID(ch.Namespace, ch.Name))
	}
	for _, cid := range ids {
		child := readWorkflow(ctx, tc, cid)
		if child.ExecutionStatus == "" {
			continue // never started, or gone from Temporal's retention: nothing to add
		}
		if child.Status != nil {
			child.Status.WaitingFor = explainSlotWait(ctx, tc, cid, child.Status.WaitingFor)
		}
		s.Children = append(s.Children, child)
	}
	return s
}

// readWorkflow reads one workflow's latest run and, while it runs, its status query.
func readWorkflow(ctx context.Context, tc client.Client, id string) workflowSection {
	s := workflowSection{ID: id}
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		s.Err = err.Error()
		return s
	}
	if info := desc.GetWorkflowExecutionInfo(); info != nil {
		s.RunID = info.GetExecution().GetRunId()
		s.ExecutionStatus = executionStatusName(info.GetStatus())
	}
	for _, pa := range desc.GetPendingActivities() {
		if f := pa.GetLastFailure(); f != nil {
			s.Retrying = append(s.Retrying, fmt.Sprintf("%s (attempt %d): %s", pa.GetActivityType().GetName(), pa.GetAttempt(), f.GetMessage()))
		}
	}
	if s.ExecutionStatus != "Running" {
		return s // a closed workflow's last state is its history's; say how it ended
	}
	v, err := tc.QueryWorkflow(ctx, id, s.RunID, workflows.QueryStatus)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		if strings.Contains(err.Error(), codec.Encoding) {
			s.Err = "the workflow's state is encrypted by the payload codec: pass --payload-codec-secret NAMESPACE/NAME (or set CERTFLOW_PAYLOAD_CODEC_SECRET) to read it"
		} else {
			s.Err = "reading the status query's answer: " + err.Error()
		}
		return s
	}
	s.Status = &st
	return s
}

// executionStatusName is Temporal's name of a workflow's execution status (Running,
// Completed, Failed, Terminated...).
func executionStatusName(st enums.WorkflowExecutionStatus) string {
	n := st.String()
	if n == "Unspecified" || n == "" {
		return "Unknown"
	}
	return n
}

// errNoCertificate is the Secret section's error when tls.crt is empty.
var errNoCertificate = errors.New("'tls.crt' is not set")
