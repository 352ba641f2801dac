package workflows

import (
	"go.temporal.io/sdk/activity"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/dns01"
	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/activities/issuance"
	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/activities/scheduler"
	"github.com/certflow/certflow/activities/vault"
	"github.com/certflow/certflow/activities/venafi"
)

// Activity types, as recorded in the histories of running workflows. Workflows call
// activities by these names and RegisterActivities binds each name to its Go method,
// so renaming a method renames nothing a history refers to. Never change a value.
const (
	// Kubernetes objects and status (activities/kube).
	actResolveIssuer               = "ResolveIssuer"
	actInspectSecret               = "InspectSecret"
	actInspectSecretAndIssuer      = "InspectSecretAndIssuer"
	actRefreshSecretOutputs        = "RefreshSecretOutputs"
	actWriteCertificateSecret      = "WriteCertificateSecret"
	actUpdateCertificateStatus     = "UpdateCertificateStatus"
	actCreateCertificateRequest    = "CreateCertificateRequest"
	actApproveCertificateRequest   = "ApproveCertificateRequest"
	actSetCertificateRequestStatus = "SetCertificateRequestStatus"
	actIssueWithinTask             = "IssueWithinTask"
	actCleanupCertificateRequests  = "CleanupCertificateRequests"
	actCheckCAKeyPair              = "CheckCAKeyPair"
	actSetIssuerStatus             = "SetIssuerStatus"
	actCreateOrder                 = "CreateOrder"
	actSetOrderStatus              = "SetOrderStatus"
	actCreateChallenge             = "CreateChallenge"
	actSetChallengeStatus          = "SetChallengeStatus"
	actDeleteChallenge             = "DeleteChallenge"
	actInspectRequest              = "InspectRequest"
	actReadRequestResult           = "ReadRequestResult"
	actDeleteOrdersOfRequest       = "DeleteOrdersOfRequest"
	actCountCampaignTargets        = "CountCampaignTargets"
	actListCampaignTargets         = "ListCampaignTargets"
	actReadManualRenewToken        = "ReadManualRenewToken"
	// Private keys (activities/keys).
	actGeneratePrivateKey     = "GeneratePrivateKey"
	actReadKeyRef             = "ReadKeyRef"
	actDeletePrivateKeySecret = "DeletePrivateKeySecret"
	// CSRs and signing (activities/pki).
	actCreateCSR      = "CreateCSR"
	actSignSelfSigned = "SignSelfSigned"
	actSignWithCA     = "SignWithCA"
	// The ACME server (activities/acme).
	actRegisterAccount  = "RegisterAccount"
	actGetSettings      = "GetSettings"
	actEnsureOrder      = "EnsureOrder"
	actGetOrder         = "GetOrder"
	actGetAuthorization = "GetAuthorization"
	actAcceptChallenge  = "AcceptChallenge"
	actFinalizeOrder    = "FinalizeOrder"
	actFetchCertificate = "FetchCertificate"
	actGetRenewalInfo   = "GetRenewalInfo"
	// Challenge solvers (activities/dns01, activities/http01).
	actPresentDNS01          = "PresentDNS01"
	actCheckDNS01Propagation = "CheckDNS01Propagation"
	actCleanUpDNS01          = "CleanUpDNS01"
	actEnsureHTTP01Solver    = "EnsureHTTP01Solver"
	actHTTP01SelfCheck       = "HTTP01SelfCheck"
	actCleanUpHTTP01Solver   = "CleanUpHTTP01Solver"
	// The Venafi issuer (activities/venafi).
	actCheckVenafiIssuer         = "CheckVenafiIssuer"
	actRequestVenafiCertificate  = "RequestVenafiCertificate"
	actRetrieveVenafiCertificate = "RetrieveVenafiCertificate"
	// Vault issuers (activities/vault).
	actCheckVault    = "CheckVault"
	actSignWithVault = "SignWithVault"
	// ACME account schedulers (activities/scheduler).
	actRequestSlot = "RequestSlot"
	actReleaseSlot = "ReleaseSlot"
)

// Activities are the implementations behind the activity names.
type Activities struct {
	Kube   *kube.Activities
	Keys   *keys.Activities
	PKI    *pki.Activities
	ACME   *acme.Activities
	DNS01  *dns01.Activities
	HTTP01 *http01.Activities
	Venafi *venafi.Activities
	Vault  *vault.Activities
	// Scheduler may be nil: orders then go on without asking for a slot.
	Scheduler *scheduler.Activities
}

// ActivityRegistry is where activities are registered: a worker, or a test environment.
type ActivityRegistry interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// RegisterActivities registers every activity the workflows call under its name.
func RegisterActivities(r ActivityRegistry, a Activities) {
	for _, e := range []struct {
		name string
		fn   any
	}{
		{actResolveIssuer, a.Kube.ResolveIssuer},
		{actInspectSecret, a.Kube.InspectSecret},
		{actInspectSecretAndIssuer, a.Kube.InspectSecretAndIssuer},
		{actRefreshSecretOutputs, a.Kube.RefreshSecretOutputs},
		{actWriteCertificateSecret, a.Kube.WriteCertificateSecret},
		{actUpdateCertificateStatus, a.Kube.UpdateCertificateStatus},
		{actCreateCertificateRequest, a.Kube.CreateCertificateRequest},
		{actApproveCertificateRequest, a.Kube.ApproveCertificateRequest},
		{actSetCertificateRequestStatus, a.Kube.SetCertificateRequestStatus},
		{actIssueWithinTask, (&issuance.Activities{Kube: a.Kube, PKI: a.PKI}).IssueWithinTask},
		{actCleanupCertificateRequests, a.Kube.CleanupCertificateRequests},
		{actCheckCAKeyPair, a.Kube.CheckCAKeyPair},
		{actSetIssuerStatus, a.Kube.SetIssuerStatus},
		{actCreateOrder, a.Kube.CreateOrder},
		{actSetOrderStatus, a.Kube.SetOrderStatus},
		{actCreateChallenge, a.Kube.CreateChallenge},
		{actSetChallengeStatus, a.Kube.SetChallengeStatus},
		{actDeleteChallenge, a.Kube.DeleteChallenge},
		{actInspectRequest, a.Kube.InspectRequest},
		{actReadRequestResult, a.Kube.ReadRequestResult},
		{actDeleteOrdersOfRequest, a.Kube.DeleteOrdersOfRequest},
		{actCountCampaignTargets, a.Kube.CountCampaignTargets},
		{actListCampaignTargets, a.Kube.ListCampaignTargets},
		{actReadManualRenewToken, a.Kube.ReadManualRenewToken},
		{actGeneratePrivateKey, a.Keys.GeneratePrivateKey},
		{actReadKeyRef, a.Keys.ReadKeyRef},
		{actDeletePrivateKeySecret, a.Keys.DeletePrivateKeySecret},
		{actCreateCSR, a.PKI.CreateCSR},
		{actSignSelfSigned, a.PKI.SignSelfSigned},
		{actSignWithCA, a.PKI.SignWithCA},
		{actRegisterAccount, a.ACME.RegisterAccount},
		{actGetSettings, a.ACME.GetSettings},
		{actEnsureOrder, a.ACME.EnsureOrder},
		{actGetOrder, a.ACME.GetOrder},
		{actGetAuthorization, a.ACME.GetAuthorization},
		{actAcceptChallenge, a.ACME.AcceptChallenge},
		{actFinalizeOrder, a.ACME.FinalizeOrder},
		{actFetchCertificate, a.ACME.FetchCertificate},
		{actGetRenewalInfo, a.ACME.GetRenewalInfo},
		{actPresentDNS01, a.DNS01.PresentDNS01},
		{actCheckDNS01Propagation, a.DNS01.CheckDNS01Propagation},
		{actCleanUpDNS01, a.DNS01.CleanUpDNS01},
		{actEnsureHTTP01Solver, a.HTTP01.EnsureHTTP01Solver},
		{actHTTP01SelfCheck, a.HTTP01.HTTP01SelfCheck},
		{actCleanUpHTTP01Solver, a.HTTP01.CleanUpHTTP01Solver},
		{actCheckVenafiIssuer, a.Venafi.CheckVenafiIssuer},
		{actRequestVenafiCertificate, a.Venafi.RequestVenafiCertificate},
		{actRetrieveVenafiCertificate, a.Venafi.RetrieveVenafiCertificate},
		{actCheckVault, a.Vault.CheckVault},
		{actSignWithVault, a.Vault.SignWithVault},
		{actRequestSlot, a.Scheduler.RequestSlot},
		{actReleaseSlot, a.Scheduler.ReleaseSlot},
	} {
		r.RegisterActivityWithOptions(e.fn, activity.RegisterOptions{Name: e.name})
	}
}
