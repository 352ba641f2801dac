// Package entity delivers signals to the entity workflows of certflow's objects. Every
// signal goes out as signal-with-start, carrying the object as it is now: a workflow
// that does not run (terminated in the Temporal UI, failed, or never started) is
// started from the object's current spec instead of the signal being dropped. The
// spec of a Certificate whose status no workflow wrote yet starts its workflow (and is
// signalled only if that runs). The watcher and the CLI both deliver through here.
package entity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/workflows"
)

// Certificate sends the signal name with arg to cert's workflow, starting the workflow
// from cert when it does not run (the signal is then the new run's first).
func Certificate(ctx context.Context, tc client.Client, taskQueue string, cert *cmapi.Certificate, name string, arg any) error {
	id := workflows.CertificateWorkflowID(cert.Namespace, cert.Name)
	opts := client.StartWorkflowOptions{
		ID: id, TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AttrCertNamespace.ValueSet(cert.Namespace),
			workflows.AttrCertName.ValueSet(cert.Name),
			workflows.AttrIssuerName.ValueSet(cert.Spec.IssuerRef.Name),
			workflows.AttrCertState.ValueSet("Pending"),
		),
		StaticSummary: fmt.Sprintf("Certificate %s/%s (secret %s, issuer %s)", cert.Namespace, cert.Name, cert.Spec.SecretName, cert.Spec.IssuerRef.Name),
	}
	in := workflows.NewCertificateInput(cert.Namespace, cert.Name, CertificateSpec(cert))
	if name == workflows.SignalSpec && NeverWritten(cert) {
		// A new Certificate: its workflow most likely does not run yet. Its input
		// carries the spec, so a start is all it needs: one history event and a
		// server call cheaper than a signal-with-start. One that runs gets the signal.
		start := opts
		start.WorkflowExecutionErrorWhenAlreadyStarted = true
		_, err := tc.ExecuteWorkflow(ctx, start, workflows.CertificateWorkflow, in)
		var running *serviceerror.WorkflowExecutionAlreadyStarted
		if !errors.As(err, &running) {
			if err != nil {
				return fmt.Errorf("start %s: %w", id, err)
			}
			return nil
		}
	}
	if _, err := tc.SignalWithStartWorkflow(ctx, id, name, arg, opts, workflows.CertificateWorkflow, in); err != nil {
		return fmt.Errorf("signal-with-start %s to %s: %w", name, id, err)
	}
	return nil
}

// NeverWritten says that no workflow has written the Certificate's status yet.
func NeverWritten(cert *cmapi.Certificate) bool {
	return cert.Status.Revision == nil && len(cert.Status.Conditions) == 0 && cert.Status.NotAfter == nil
}

// CertificateSpec is what the workflow of a Certificate is told of it. Inline keystore
// passwords stay out of it, and so out of Temporal's history: the activities that need
// them read them from the Certificate.
func CertificateSpec(cert *cmapi.Certificate) workflows.SpecSignal {
	sig := workflows.SpecSignal{
		UID: string(cert.UID), Generation: cert.Generation, Spec: cert.Spec,
		ManualRenewToken: ManualRenewToken(cert), Labels: cert.Labels,
	}
	if sig.ManualRenewToken != "" {
		sig.ManualRenewBy = ManualRenewRequester(cert)
	}
	sig.Spec.Keystores = kube.RedactKeystorePasswords(cert.Spec.Keystores)
	if cert.Status.Revision != nil {
		sig.Revision = *cert.Status.Revision
	}
	return sig
}

// ManualRenewToken identifies a manual renewal request (the Issuing=True condition
// with reason ManuallyTriggered that cmctl renew sets), or is "".
func ManualRenewToken(cert *cmapi.Certificate) string {
	return kube.ManualRenewToken(&cert.Status)
}

// ManualRenewRequester names the field manager that set the Certificate's Issuing
// condition (the one cmctl renew writes), from the managedFields of its status: the
// newest entry of the status subresource that owns that condition's reason. An entry
// without field sets (as the watcher's cache keeps it, see LeanManualRenewFields)
// counts as owning it. "" when nothing says.
func ManualRenewRequester(cert *cmapi.Certificate) string {
	who, _ := manualRenewEntry(cert)
	return who
}

func manualRenewEntry(cert *cmapi.Certificate) (string, *metav1.Time) {
	var who string
	var newest *metav1.Time
	for _, e := range cert.ManagedFields {
		if e.Subresource != "status" || e.Time == nil || (newest != nil && e.Time.Before(newest)) {
			continue
		}
		if e.FieldsV1 != nil && !ownsIssuingReason(e.FieldsV1.Raw) {
			continue
		}
		who, newest = e.Manager, e.Time
	}
	return who, newest
}

// ownsIssuingReason reports whether a managedFields field set holds the reason of the
// Issuing condition (conditions are a list map keyed by type).
func ownsIssuingReason(raw []byte) bool {
	var fields struct {
		Status struct {
			Conditions map[string]map[string]json.RawMessage `json:"f:conditions"`
		} `json:"f:status"`
	}
	if json.Unmarshal(raw, &fields) != nil {
		return false
	}
	_, ok := fields.Status.Conditions[`k:{"type":"Issuing"}`]["f:reason"]
	return ok
}

// LeanManualRenewFields reduces a Certificate's managedFields to what
// ManualRenewRequester reads, without field sets: one entry naming who set its
// ManuallyTriggered condition, or none. For caches that would otherwise drop them.
func LeanManualRenewFields(cert *cmapi.Certificate) {
	var keep []metav1.ManagedFieldsEntry
	if ManualRenewToken(cert) != "" {
		if who, at := manualRenewEntry(cert); who != "" {
			keep = []metav1.ManagedFieldsEntry{{Manager: who, Subresource: "status", Time: at}}
		}
	}
	cert.ManagedFields = keep
}

// Issuer is an Issuer or a ClusterIssuer (kind), as its workflow is told of it.
type Issuer struct {
	Kind, Namespace, Name string // Namespace is "" for a ClusterIssuer
	UID                   string
	Generation            int64
	Spec                  cmapi.IssuerSpec
}

// IssuerOf is the Issuer or ClusterIssuer obj.
func IssuerOf(obj any) (Issuer, bool) {
	switch iss := obj.(type) {
	case *cmapi.Issuer:
		return Issuer{Kind: cmapi.IssuerKind, Namespace: iss.Namespace, Name: iss.Name, UID: string(iss.UID), Generation: iss.Generation, Spec: iss.Spec}, true
	case *cmapi.ClusterIssuer:
		return Issuer{Kind: cmapi.ClusterIssuerKind, Name: iss.Name, UID: string(iss.UID), Generation: iss.Generation, Spec: iss.Spec}, true
	}
	return Issuer{}, false
}

// SpecSignal is what the issuer's workflow is told of it.
func (i Issuer) SpecSignal() workflows.IssuerSpecSignal {
	return workflows.IssuerSpecSignal{UID: i.UID, Generation: i.Generation, Spec: i.Spec}
}

// WorkflowID is the ID of the issuer's workflow.
func (i Issuer) WorkflowID() string { return workflows.IssuerWorkflowID(i.Namespace, i.Name) }

// Signal sends the signal name with arg to the issuer's workflow, starting the workflow
// from the issuer when it does not run.
func (i Issuer) Signal(ctx context.Context, tc client.Client, taskQueue, name string, arg any) error {
	id := i.WorkflowID()
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue, StaticSummary: i.Kind + " " + i.Name}
	in := workflows.NewIssuerInput(i.Kind, i.Namespace, i.Name, i.SpecSignal())
	if _, err := tc.SignalWithStartWorkflow(ctx, id, name, arg, opts, workflows.IssuerWorkflow, in); err != nil {
		return fmt.Errorf("signal-with-start %s to %s: %w", name, id, err)
	}
	return nil
}

// Request sends the signal name with arg to the workflow of a CertificateRequest that
// no Certificate made, starting it when it does not run.
func Request(ctx context.Context, tc client.Client, taskQueue string, cr *cmapi.CertificateRequest, name string, arg any) error {
	id := workflows.CertificateRequestWorkflowID(cr.Namespace, cr.Name)
	opts := client.StartWorkflowOptions{
		ID: id, TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AttrCertNamespace.ValueSet(cr.Namespace),
			workflows.AttrIssuerName.ValueSet(cr.Spec.IssuerRef.Name),
		),
		StaticSummary: fmt.Sprintf("CertificateRequest %s/%s (issuer %s %s)", cr.Namespace, cr.Name, cr.Spec.IssuerRef.Kind, cr.Spec.IssuerRef.Name),
	}
	in := workflows.RequestInput{Namespace: cr.Namespace, Name: cr.Name, UID: string(cr.UID)}
	if _, err := tc.SignalWithStartWorkflow(ctx, id, name, arg, opts, workflows.CertificateRequestWorkflow, in); err != nil {
		return fmt.Errorf("signal-with-start %s to %s: %w", name, id, err)
	}
	return nil
}

// Delete tells the workflow id that the object with uid is gone. A workflow that does
// not run has nothing to finish; one that runs for a newer object of the same name
// (another UID) goes on.
func Delete(ctx context.Context, tc client.Client, id, uid string) error {
	err := tc.SignalWorkflow(ctx, id, "", workflows.SignalDelete, workflows.DeleteSignal{UID: uid})
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("signal %s to %s: %w", workflows.SignalDelete, id, err)
	}
	return nil
}
