package workflows

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/activities/venafi"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

var venafiSpec = cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Venafi: &cmapi.VenafiIssuer{Zone: "z",
	Cloud: &cmapi.VenafiCloud{APITokenSecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "token"}}}}}}

// A Venafi issuer's Ready condition is what the connector's check found; one that
// fails for a reason that may fix itself (a Secret made by hand) is checked again on
// the backoff, without a signal, until it passes.
func TestVenafiIssuerCheckedUntilReady(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(IssuerWorkflow)
	var refs []venafi.IssuerRef
	results := []venafi.CheckResult{
		{Reason: venafi.ReasonSecretMissing, Message: "Secret ns/token not found"},
		{Reason: venafi.ReasonErrorSetup, Message: "Failed to setup Venafi issuer: connection refused"},
		{Ready: true, Reason: venafi.ReasonVerified, Message: "Verified"},
	}
	env.OnActivity(actCheckVenafiIssuer, mock.Anything, mock.Anything).Return(func(_ context.Context, ref venafi.IssuerRef) (venafi.CheckResult, error) {
		refs = append(refs, ref)
		return results[min(len(refs), len(results))-1], nil
	})
	var written []kube.Condition
	env.OnActivity(actSetIssuerStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.IssuerStatusInput) error {
		written = append(written, in.Ready)
		return nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-v"}) }, time.Hour)
	env.ExecuteWorkflow(IssuerWorkflow, NewIssuerInput(cmapi.IssuerKind, "ns", "venafi", IssuerSpecSignal{UID: "uid-v", Generation: 1, Spec: venafiSpec}))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(refs) != 3 || refs[0] != (venafi.IssuerRef{Kind: cmapi.IssuerKind, Namespace: "ns", Name: "venafi", UID: "uid-v"}) {
		t.Fatalf("checks %+v, want three of Issuer ns/venafi uid-v", refs)
	}
	if len(written) != 3 || written[0].Reason != venafi.ReasonSecretMissing || written[1].Status != cmmeta.ConditionFalse ||
		written[2].Status != cmmeta.ConditionTrue || written[2].Reason != venafi.ReasonVerified {
		t.Errorf("conditions %+v, want SecretMissing, ErrorSetup, then Ready", written)
	}
}

// A run that an older certflow started, before Venafi issuers were checked, keeps
// saying Unsupported (the old branch).
func TestVenafiIssuerOldRunStaysUnsupported(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(IssuerWorkflow)
	var written []kube.Condition
	env.OnActivity(actSetIssuerStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.IssuerStatusInput) error {
		written = append(written, in.Ready)
		return nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-v"}) }, time.Hour)
	in := NewIssuerInput(cmapi.IssuerKind, "ns", "venafi", IssuerSpecSignal{UID: "uid-v", Generation: 1, Spec: venafiSpec})
	in.Changes = slices.IndexFunc(issuerChanges, func(c change) bool { return c.id == changeVenafiIssuers })
	env.OnGetVersion(changeVenafiIssuers, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(IssuerWorkflow, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || written[0].Reason != "Unsupported" {
		t.Errorf("conditions %+v, want Unsupported", written)
	}
}

// A request for a Venafi issuer is requested, picked up (retried while Venafi says it
// is pending) and its chain recorded.
func TestRequestSignedByVenafi(t *testing.T) {
	env := newRequestEnv(t)
	env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(requestFacts(cmmeta.IssuerReference{Name: "venafi"}, kube.Approval{Approved: true}), nil)
	onIssuer(env, kube.IssuerInfo{Found: true, Ready: true, Type: kube.IssuerTypeVenafi, ResourceNamespace: "ns", Spec: venafiSpec})
	wantIn := venafi.SignInput{Request: venafi.RequestRef{Namespace: "ns", Name: "req", UID: "uid-r"}, Issuer: venafi.IssuerRef{Kind: cmapi.IssuerKind, Namespace: "ns", Name: "venafi"}}
	env.OnActivity(actRequestVenafiCertificate, mock.Anything, wantIn).Return(venafi.Requested{PickupID: "pickup-1"}, nil).Once()
	pickups := 0
	env.OnActivity(actRetrieveVenafiCertificate, mock.Anything, venafi.PickupInput{SignInput: wantIn, PickupID: "pickup-1"}).Return(
		func(context.Context, venafi.PickupInput) (pki.SignedCertificate, error) {
			if pickups++; pickups < 3 {
				return pki.SignedCertificate{}, temporal.NewApplicationError("certificate still in a pending state", venafi.ErrTypePending)
			}
			return signedByCA, nil
		})
	var statuses []kube.RequestStatusInput
	recordStatuses(env, &statuses)
	env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if pickups != 3 {
		t.Errorf("%d pickups, want 3 (two pending)", pickups)
	}
	if n := len(statuses); n == 0 || statuses[n-1].Ready.Reason != cmapi.CertificateRequestReasonIssued || string(statuses[n-1].CAPEM) != "ca" {
		t.Errorf("statuses %+v, want issued with the chain", statuses)
	}
}

// Venafi's refusal fails the request for good, in Venafi's words.
func TestRequestRefusedByVenafiFails(t *testing.T) {
	env := newRequestEnv(t)
	env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(requestFacts(cmmeta.IssuerReference{Name: "venafi", Kind: cmapi.ClusterIssuerKind}, kube.Approval{Approved: true}), nil)
	onIssuer(env, kube.IssuerInfo{Found: true, Ready: true, Type: kube.IssuerTypeVenafi, Spec: venafiSpec})
	env.OnActivity(actRequestVenafiCertificate, mock.Anything, mock.MatchedBy(func(in venafi.SignInput) bool {
		return in.Issuer == venafi.IssuerRef{Kind: cmapi.ClusterIssuerKind, Name: "venafi"}
	})).Return(venafi.Requested{}, temporal.NewNonRetryableApplicationError("Failed to request certificate from Venafi: zone policy forbids example.com", venafi.ErrTypeRequestFailed, nil)).Once()
	var statuses []kube.RequestStatusInput
	recordStatuses(env, &statuses)
	env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if n := len(statuses); n == 0 || statuses[n-1].Ready.Reason != cmapi.CertificateRequestReasonFailed ||
		statuses[n-1].Ready.Message != "Failed to request certificate from Venafi: zone policy forbids example.com" {
		t.Errorf("statuses %+v, want Failed with Venafi's words", statuses)
	}
}
