package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/activities/venafi"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/apperr"
)

var (
	// venafiCheckStep checks a Venafi issuer: the activity answers with the
	// connector's words rather than an error, so it is retried only when the API
	// server fails; the IssuerWorkflow's re-check backoff takes over after that. TPP's
	// ping alone may wait 90 s for a sleeping server.
	venafiCheckStep = stepKind{timeout: 3 * time.Minute, retry: acmeRegisterRetry}
	// venafiRequestStep sends a CSR to Venafi: retried when the server cannot be
	// reached; its refusals are non-retryable.
	venafiRequestStep = stepKind{timeout: 3 * time.Minute, retry: &temporal.RetryPolicy{
		InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute, MaximumAttempts: 8}}
	// venafiPickupStep picks the certificate up; one still pending at Venafi (a
	// person's approval in TPP, a slow CA) is retried for about a day and a half
	// before the attempt fails into the Certificate's backoff.
	venafiPickupStep = stepKind{timeout: 3 * time.Minute, retry: &temporal.RetryPolicy{
		InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute, MaximumAttempts: 200}}
)

// venafiIssuerRef is the issuer a Certificate's or request's issuerRef names.
func venafiIssuerRef(ref cmmeta.IssuerReference, namespace string) venafi.IssuerRef {
	if ref.Kind == cmapi.ClusterIssuerKind {
		return venafi.IssuerRef{Kind: ref.Kind, Name: ref.Name}
	}
	return venafi.IssuerRef{Kind: cmapi.IssuerKind, Namespace: namespace, Name: ref.Name}
}

// checkVenafiIssuer is a Venafi issuer's Ready condition: the connector pings the
// server, authenticates and reads the zone, or says why not.
func checkVenafiIssuer(ctx workflow.Context, in IssuerInput) kube.Condition {
	ref := venafi.IssuerRef{Kind: in.Kind, Namespace: issuerResourceNamespace(in), Name: in.Name, UID: in.UID}
	var res venafi.CheckResult
	summary := fmt.Sprintf("verify Venafi zone %q", in.Spec.Venafi.Zone)
	if err := step(ctx, venafiCheckStep, summary, actCheckVenafiIssuer, ref).Get(ctx, &res); err != nil {
		return kube.Condition{Status: cmmeta.ConditionFalse, Reason: venafi.ReasonErrorSetup, Message: "Failed to setup Venafi issuer: " + apperr.Message(err)}
	}
	if !res.Ready {
		return kube.Condition{Status: cmmeta.ConditionFalse, Reason: res.Reason, Message: res.Message}
	}
	return kube.Condition{Status: cmmeta.ConditionTrue, Reason: res.Reason, Message: res.Message}
}

// venafiRecheck reports whether reason is one of the Venafi issuer's not-ready reasons that may fix
// themselves (a server back up, a Secret made or fixed by hand, which no signal
// reports): the issuer is checked again on the re-check backoff.
func venafiRecheck(reason string) bool {
	switch reason {
	case venafi.ReasonErrorSetup, venafi.ReasonAuthFailed, venafi.ReasonSecretMissing:
		return true
	}
	return false
}

// signWithVenafi has a Venafi issuer sign a request's CSR: the request goes to the
// zone, then the certificate is picked up by its ID (retried while Venafi says it is
// pending). The activities read the CSR, its duration and custom fields from the
// request, and the issuer's spec and credentials from the API server.
func signWithVenafi(ctx workflow.Context, issuer venafi.IssuerRef, req kube.RequestRef) (pki.SignedCertificate, error) {
	in := venafi.SignInput{Request: venafi.RequestRef{Namespace: req.Namespace, Name: req.Name, UID: req.UID}, Issuer: issuer}
	var requested venafi.Requested
	if err := step(ctx, venafiRequestStep, "request certificate for "+req.Name+" from Venafi issuer "+issuer.Name,
		actRequestVenafiCertificate, in).Get(ctx, &requested); err != nil {
		return pki.SignedCertificate{}, err
	}
	var signed pki.SignedCertificate
	err := step(ctx, venafiPickupStep, "pick up the certificate of "+req.Name+" from Venafi",
		actRetrieveVenafiCertificate, venafi.PickupInput{SignInput: in, PickupID: requested.PickupID}).Get(ctx, &signed)
	return signed, err
}
