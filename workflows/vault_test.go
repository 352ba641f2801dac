package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/activities/vault"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

var vaultSpec = cmapi.VaultIssuer{Server: "https://vault.example:8200", Path: "pki/sign/web",
	Auth: cmapi.VaultAuth{TokenSecretRef: &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "vault-token"}, Key: "token"}}}

var readyVault = kube.IssuerInfo{Found: true, Ready: true, Type: kube.IssuerTypeVault, ResourceNamespace: "ns",
	Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &vaultSpec}}}

// A Vault issuer is Ready=False VaultError with Vault's words while Vault refuses, is
// checked again on the backoff without any signal, and is Ready=True VaultVerified once
// Vault takes its credentials. The check gets references only, never a token.
func TestVaultIssuerIsCheckedAgainstVault(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflow(IssuerWorkflow)
	var checks []vault.CheckInput
	env.OnActivity(actCheckVault, mock.Anything, mock.Anything).Return(func(_ context.Context, in vault.CheckInput) error {
		checks = append(checks, in)
		if len(checks) == 1 {
			return temporal.NewNonRetryableApplicationError("vault token lookup-self: Vault answered 403: permission denied", vault.ErrTypeRefused, nil)
		}
		return nil
	})
	var written []kube.IssuerStatusInput
	env.OnActivity(actSetIssuerStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.IssuerStatusInput) error {
		written = append(written, in)
		if in.Ready.Status == cmmeta.ConditionTrue {
			env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-v"})
		}
		return nil
	})
	env.ExecuteWorkflow(IssuerWorkflow, NewIssuerInput(cmapi.IssuerKind, "team", "vault",
		IssuerSpecSignal{UID: "uid-v", Generation: 1, Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Vault: &vaultSpec}}}))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 {
		t.Fatalf("status writes %+v, want Ready=False then Ready=True", written)
	}
	if r := written[0].Ready; r.Status != cmmeta.ConditionFalse || r.Reason != reasonVaultError || !strings.Contains(r.Message, "permission denied") {
		t.Errorf("first Ready = %+v, want False VaultError with Vault's words", r)
	}
	if r := written[1].Ready; r.Status != cmmeta.ConditionTrue || r.Reason != reasonVaultVerified {
		t.Errorf("second Ready = %+v, want True VaultVerified", r)
	}
	if len(checks) != 2 || checks[0].Issuer != (vault.IssuerRef{Kind: cmapi.IssuerKind, Name: "vault", Namespace: "team"}) ||
		checks[0].Spec.Auth.TokenSecretRef.Name != "vault-token" {
		t.Errorf("checks %+v, want the issuer's reference and spec", checks)
	}
	if env.Now().After(epoch.Add(policy.RecheckBackoff(0) + time.Minute)) {
		t.Errorf("checked again at %v, want after the first re-check backoff (%v)", env.Now(), policy.RecheckBackoff(0))
	}
}

// A Certificate of a Vault issuer is signed by SignWithVault with the Certificate's
// duration and issuer, and the chain and ca.crt Vault returned reach its Secret.
func TestCertificateSignedByVault(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readyVault)
	onSecret(env, policy.SecretState{})
	var signIn vault.SignInput
	env.OnActivity(actSignWithVault, mock.Anything, mock.Anything).Return(func(_ context.Context, in vault.SignInput) (pki.SignedCertificate, error) {
		signIn = in
		return pki.SignedCertificate{CertificatePEM: []byte("leaf+intermediate"), CAPEM: []byte("root")}, nil
	})
	var secretIn kube.WriteSecretInput
	// Before expectIssuance's: the first matching expectation answers.
	env.OnActivity(actWriteCertificateSecret, mock.Anything, mock.Anything).Return(func(_ context.Context, in kube.WriteSecretInput) (policy.IssuedFacts, error) {
		secretIn = in
		return validSecret(epoch).Certificate, nil
	})
	expectIssuance(env, &statuses)
	in := testInput()
	in.Spec.IssuerRef = cmmeta.IssuerReference{Name: "vault", Kind: cmapi.IssuerKind}
	env.ExecuteWorkflow(CertificateWorkflow, in)

	var can *workflow.ContinueAsNewError
	if !errors.As(env.GetWorkflowError(), &can) {
		t.Fatalf("want continue-as-new after an issuance, got %v", env.GetWorkflowError())
	}
	if signIn.Issuer != (vault.IssuerRef{Kind: cmapi.IssuerKind, Name: "vault", Namespace: "ns"}) || signIn.Duration != 90*24*time.Hour ||
		signIn.Spec.Path != "pki/sign/web" || !strings.HasPrefix(string(signIn.CSRPEM), "-----BEGIN CERTIFICATE REQUEST") {
		t.Errorf("SignWithVault input %+v", signIn)
	}
	if string(secretIn.CertificatePEM) != "leaf+intermediate" || string(secretIn.CAPEM) != "root" {
		t.Errorf("Secret written with %q / %q, want Vault's chain and ca.crt", secretIn.CertificatePEM, secretIn.CAPEM)
	}
	if last := statuses[len(statuses)-1]; last.Ready.Status != cmmeta.ConditionTrue {
		t.Errorf("final status %+v, want Ready=True", last)
	}
	// Vault is a remote server: the issuance leaves its workflow task, so Issuing=True
	// is written first.
	if issuesWithinTask(readyVault, in.Spec) || statuses[0].Issuing == nil {
		t.Errorf("want Issuing=True written before Vault signs, statuses %+v", statuses)
	}
}

// A Certificate whose Vault refuses to sign fails the attempt (into the backoff) with
// Vault's words.
func TestCertificateVaultRefusalFailsWithVaultsWords(t *testing.T) {
	env := newEnv(t)
	var statuses []kube.CertificateStatusInput
	onIssuer(env, readyVault)
	onSecret(env, policy.SecretState{})
	expectIssuance(env, &statuses)
	env.OnActivity(actSignWithVault, mock.Anything, mock.Anything).Return(pki.SignedCertificate{},
		temporal.NewNonRetryableApplicationError(`vault sign at pki/sign/web: Vault answered 400: common name x is not allowed by this role`, vault.ErrTypeRefused, nil))
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalDelete, DeleteSignal{UID: "uid-1"}) }, time.Hour)
	in := testInput()
	in.Spec.IssuerRef = cmmeta.IssuerReference{Name: "vault", Kind: cmapi.IssuerKind}
	env.ExecuteWorkflow(CertificateWorkflow, in)
	found := false
	for _, s := range statuses {
		for _, e := range s.Events {
			if e.Type == "Warning" && e.Reason == "Failed" && strings.Contains(e.Message, "not allowed by this role") && s.FailedIssuanceAttempts != nil {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no failed attempt with Vault's words in %+v", statuses)
	}
}

// A CertificateRequest of a ClusterIssuer of type Vault is signed with the request's
// duration; the issuer is named without a namespace.
func TestRequestSignedByVault(t *testing.T) {
	env := newRequestEnv(t)
	ref := cmmeta.IssuerReference{Name: "vault", Kind: cmapi.ClusterIssuerKind}
	env.OnActivity(actInspectRequest, mock.Anything, mock.Anything).Return(requestFacts(ref, kube.Approval{}), nil)
	env.OnActivity(actApproveCertificateRequest, mock.Anything, mock.Anything).Return(kube.Approval{Approved: true, Record: true, Reason: cmapi.ApprovedReasonCertManager}, nil)
	onIssuer(env, readyVault)
	var signIn vault.SignInput
	env.OnActivity(actSignWithVault, mock.Anything, mock.Anything).Return(func(_ context.Context, in vault.SignInput) (pki.SignedCertificate, error) {
		signIn = in
		return pki.SignedCertificate{CertificatePEM: []byte("leaf"), CAPEM: []byte("root")}, nil
	})
	var statuses []kube.RequestStatusInput
	recordStatuses(env, &statuses)
	env.ExecuteWorkflow(CertificateRequestWorkflow, requestInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if signIn.Issuer != (vault.IssuerRef{Kind: cmapi.ClusterIssuerKind, Name: "vault"}) || signIn.Duration != defaultDuration || string(signIn.CSRPEM) != "csr" {
		t.Errorf("SignWithVault input %+v", signIn)
	}
	if len(statuses) != 1 || statuses[0].Ready.Reason != cmapi.CertificateRequestReasonIssued || string(statuses[0].CAPEM) != "root" {
		t.Errorf("statuses %+v, want issued with Vault's chain", statuses)
	}
}
