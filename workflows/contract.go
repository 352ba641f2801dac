// Package workflows holds certflow's Temporal workflows. Workflows decide; activities act.
// Nothing here touches Kubernetes, the network, the wall clock or key material: every
// effect is an activity, every wait a durable timer or a signal.
package workflows

import (
	"fmt"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/policy"
)

// TaskQueue is the one task queue the worker polls and the watcher starts workflows on.
const TaskQueue = "certflow"

// Signal and query names. They are part of the public interface: users send
// `temporal workflow signal --workflow-id certificate/<ns>/<name> --name renew`.
const (
	SignalSpec          = "spec"           // SpecSignal: the object changed (new generation)
	SignalRenew         = "renew"          // RenewSignal: issue now, cutting any backoff short
	SignalSecretChanged = "secret-changed" // SecretChangedSignal: the target Secret changed or vanished
	SignalIssuerChanged = "issuer-changed" // IssuerChangedSignal: the referenced issuer changed
	SignalDelete        = "delete"         // DeleteSignal: the object was deleted
	SignalApproval      = "approval"       // ApprovalSignal: a CertificateRequest was approved or denied
	QueryStatus         = "status"
)

// CertificateWorkflowID is the stable, readable ID of a Certificate's workflow.
func CertificateWorkflowID(namespace, name string) string {
	return fmt.Sprintf("certificate/%s/%s", namespace, name)
}

// IssuerWorkflowID is the ID of an Issuer's (namespace set) or ClusterIssuer's workflow.
func IssuerWorkflowID(namespace, name string) string {
	if namespace == "" {
		return "clusterissuer/" + name
	}
	return fmt.Sprintf("issuer/%s/%s", namespace, name)
}

// SpecSignal carries a Certificate as the watcher saw it. Generation orders signals:
// an older or equal generation than the workflow already has is ignored.
type SpecSignal struct {
	UID        string
	Generation int64
	Spec       cmapi.CertificateSpec
	// Revision is status.revision when the watcher saw it, so a workflow started for an
	// existing Certificate continues its revision count.
	Revision int
	// ManualRenewToken is set when the Certificate carries Issuing=True with reason
	// ManuallyTriggered (what cmctl renew writes): the condition's lastTransitionTime.
	// Each distinct token acts once, like a renew signal; the workflow remembers the
	// tokens of Issuing conditions it wrote itself, so its own writes never re-trigger.
	ManualRenewToken string
	// ManualRenewBy is the field manager that set that condition (managedFields of the
	// Certificate's status), for the history of who asked; "" when unknown.
	ManualRenewBy string `json:",omitempty"`
	// Labels are the Certificate's labels, for ACME solver selectors (matchLabels); the
	// workflow reads them again with each CertificateRequest it makes.
	Labels map[string]string `json:",omitempty"`
}

// RenewSignal asks for an issuance now.
type RenewSignal struct {
	Reason string
}

// SecretChangedSignal says the target Secret changed; the workflow re-reads it.
type SecretChangedSignal struct {
	ResourceVersion string
}

// IssuerChangedSignal says the referenced Issuer or ClusterIssuer changed (for example
// became Ready); a Certificate waiting for its issuer wakes up.
type IssuerChangedSignal struct {
	Ready bool
}

// ApprovalSignal says a CertificateRequest of the Certificate got its Approved or Denied
// condition; a workflow waiting for that request reads the decision.
type ApprovalSignal struct {
	Request string
}

// DeleteSignal says the object is gone; the workflow finishes.
type DeleteSignal struct {
	UID string
}

// CertificateInput starts (or continues as new) a CertificateWorkflow. Everything a run
// needs is here, so continue-as-new carries the whole state.
type CertificateInput struct {
	Namespace string
	Name      string
	SpecSignal
	// State carried across runs.
	IssuedGeneration int64      // generation last issued for, 0 = never
	FailedAttempts   int        // consecutive failed issuances (status.failedIssuanceAttempts)
	LastFailureTime  *time.Time // status.lastFailureTime
	PendingRenew     bool       // a renew signal drained before continue-as-new
	LastManualToken  string     // newest ManuallyTriggered token acted on or written
	HistoryLimit     int        // revisionHistoryLimit in force at the last issuance
	NotBefore        *time.Time
	NotAfter         *time.Time
	// ManualTokenGone says that a status write since LastManualToken was acted on found
	// no Issuing condition of it; RecheckManual that a spec signal carried that token
	// again after it, so the next evaluation reads the Certificate to tell a new
	// request written in the same second (tokens are to the second) from a late relay.
	ManualTokenGone bool `json:",omitempty"`
	RecheckManual   bool `json:",omitempty"`
	// IssuedRequest is what the spec asked of the request of the current certificate
	// (nil: not issued by this chain since it began keeping it); FailedRequest that of
	// the last failed attempt. A spec that no longer matches them re-issues, or ends
	// the backoff.
	IssuedRequest *policy.RequestSpec `json:",omitempty"`
	FailedRequest *policy.RequestSpec `json:",omitempty"`
	// ARI is the ACME server's renewal information about the current certificate.
	ARI *ARIState `json:",omitempty"`
	// Changes is how many rows of the workflow's change table (versions.go) this chain
	// has adopted: the watcher starts new workflows with all of them and every
	// continue-as-new carries all the worker knows. Zero, as in the input of a workflow
	// an older certflow started, has the run ask workflow.GetVersion (versions.go).
	Changes int
}

// NewCertificateInput is the input of a new CertificateWorkflow: every versioned change
// of the workflow in effect from its first run.
func NewCertificateInput(namespace, name string, sig SpecSignal) CertificateInput {
	return CertificateInput{Namespace: namespace, Name: name, SpecSignal: sig, Changes: len(certificateChanges)}
}

// IssuerInput starts an IssuerWorkflow.
type IssuerInput struct {
	Kind       string // Issuer or ClusterIssuer
	Namespace  string // empty for ClusterIssuer
	Name       string
	UID        string
	Generation int64
	Spec       cmapi.IssuerSpec
	// Changes counts the rows of the IssuerWorkflow's change table this chain has
	// adopted, as CertificateInput.Changes does.
	Changes int `json:",omitempty"`
}

// NewIssuerInput is the input of a new IssuerWorkflow, every versioned change in effect.
func NewIssuerInput(kind, namespace, name string, sig IssuerSpecSignal) IssuerInput {
	return IssuerInput{Kind: kind, Namespace: namespace, Name: name, UID: sig.UID, Generation: sig.Generation, Spec: sig.Spec, Changes: len(issuerChanges)}
}

// IssuerSpecSignal carries an Issuer or ClusterIssuer as the watcher saw it.
type IssuerSpecSignal struct {
	UID        string
	Generation int64
	Spec       cmapi.IssuerSpec
}

// Status is the answer to the `status` query: what the workflow is doing and why.
type Status struct {
	// UID is the object's the workflow acts for (the watcher's sweep deletes by it).
	UID        string     `json:",omitempty"`
	Phase      string     // Evaluating, Issuing, Ready, WaitingForIssuer, Backoff, Deleted
	WaitingFor string     // human words: "renewal timer", "issuer selfsigned-issuer to become Ready"...
	Until      *time.Time // when the current timer fires, if any
	Revision   int
	Generation int64
	NotAfter   *time.Time
	// RenewalTime is when the current certificate will be renewed.
	RenewalTime *time.Time
	// RenewalRule says what set RenewalTime: the ACME server's renewal info window,
	// spec.renewBefore, spec.renewBeforePercentage or 2/3 of the lifetime.
	RenewalRule    string `json:",omitempty"`
	FailedAttempts int
	LastError      string
}

// ReasonDuplicateSecretName is Ready=False for a Certificate whose secretName another
// Certificate uses.
const ReasonDuplicateSecretName = "DuplicateSecretName"

// Phases of a CertificateWorkflow, also the CertState search attribute.
const (
	PhaseEvaluating         = "Evaluating"
	PhaseIssuing            = "Issuing"
	PhaseReady              = "Ready"
	PhaseWaitingForIssuer   = "WaitingForIssuer"
	PhaseBackoff            = "Backoff"
	PhaseWaitingForApproval = "WaitingForApproval"
	PhaseSecretInUse        = "SecretInUse"
	PhaseDeleted            = "Deleted"
)
