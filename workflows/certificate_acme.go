package workflows

import (
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/apperr"
)

// orderFromACME runs the request's ACME order as a child OrderWorkflow (one per
// revision: its ID is derived from the request) and returns the chain it got.
// Signals keep being handled while the order runs: a deleted Certificate or a new spec
// cancels it (its challenges clean up after themselves) instead of finishing an order
// nobody wants.
func (c *certificateRun) orderFromACME(issuer kube.IssuerInfo, csr []byte, req kube.RequestRef) (pki.SignedCertificate, error) {
	in := c.orderInput(issuer, csr, req)
	id := OrderWorkflowID(c.st.Namespace, in.OrderName)
	c.setPhase(PhaseIssuing, "ACME order "+id, nil)
	ctx := workflow.WithChildOptions(c.ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		StaticSummary:     fmt.Sprintf("ACME order for %s (%s)", req.Name, strings.Join(c.st.Spec.DNSNames, ", ")),
	})
	ctx, cancel := workflow.WithCancel(ctx)
	order := workflow.ExecuteChildWorkflow(ctx, OrderWorkflow, in)
	startUID, startGeneration := c.st.UID, c.st.Generation
	c.flushSearchAttributes()
	for done := false; !done; {
		woke := false
		sel := workflow.NewSelector(c.ctx)
		sel.AddFuture(order, func(workflow.Future) { done = true })
		c.addSignalHandlers(sel, &woke)
		sel.Select(c.ctx)
		if !done && c.superseded(startUID, startGeneration) {
			cancel()
			_ = order.Get(c.ctx, nil) // wait until the cancelled order has cleaned up
			return pki.SignedCertificate{}, errSuperseded
		}
	}
	var res OrderResult
	if err := order.Get(c.ctx, &res); err != nil {
		return pki.SignedCertificate{}, err
	}
	c.orderARI = res.RenewalInfo
	return pki.SignedCertificate{CertificatePEM: res.CertificatePEM}, nil
}

// orderWithAccountRegisteredAgain follows an order the ACME server refused because it
// does not know the issuer's account (a server that lost its accounts, as a restarted
// Pebble does, or an account deactivated since): the account is registered again with
// its key (the server returns the account it knows for the key, or a new one), the
// IssuerWorkflow is asked to check again (its status then names that account), and
// the order runs once more, at once, as that account. Its Order object replaces the
// failed one (kube.CreateOrder). No backoff for what registering fixes; a second
// refusal, or a registration the server refuses, fails the attempt as usual.
func (c *certificateRun) orderWithAccountRegisteredAgain(issuer kube.IssuerInfo, csr []byte, req kube.RequestRef, orderErr error) (pki.SignedCertificate, error) {
	spec := issuer.Spec.ACME
	var res acme.AccountResult
	err := step(c.ctx, accountStep, "register ACME account again at "+spec.Server, actRegisterAccount,
		acmeRegisterInput(spec, issuer.ResourceNamespace)).Get(c.ctx, &res)
	c.askIssuerToRecheck()
	if err != nil {
		return pki.SignedCertificate{}, temporal.NewNonRetryableApplicationError(
			apperr.Message(orderErr)+"; registering the ACME account again failed: "+apperr.Message(err), ErrTypeOrderFailed, nil)
	}
	issuer.ACMEAccountURL = res.URI
	return c.orderFromACME(issuer, csr, req)
}

// orderInput is the OrderWorkflow's input for the request: the Order object's spec,
// the issuer's account and solvers.
func (c *certificateRun) orderInput(issuer kube.IssuerInfo, csr []byte, req kube.RequestRef) OrderInput {
	spec, acmeSpec := c.st.Spec, issuer.Spec.ACME
	orderSpec := acmev1.OrderSpec{
		Request: csr, IssuerRef: spec.IssuerRef, CommonName: spec.CommonName,
		DNSNames: spec.DNSNames, IPAddresses: spec.IPAddresses, Profile: acmeSpec.Profile,
	}
	in := OrderInput{
		Request: req, OrderName: OrderName(req.Name, orderSpec), IssuerRef: spec.IssuerRef,
		Account: acmeAccountRef(acmeSpec, issuer.ResourceNamespace, issuer.ACMEAccountURL), Solvers: acmeSpec.Solvers,
		CertificateLabels: c.st.Labels, Spec: orderSpec, PreferredChain: acmeSpec.PreferredChain,
		Changes: len(orderChanges), RateLimits: acmeSpec.RateLimits,
		HTTP01Overrides: c.http01Overrides,
	}
	if defaulted(spec.IssuerRef.Kind, cmapi.IssuerKind) == cmapi.IssuerKind {
		in.IssuerNamespace = c.st.Namespace
	}
	in.Replaces, in.RenewalWindowOpen = c.ariOrder(issuer)
	in.ReadRenewalInfo = c.changes.has(changeARIFromOrder) && ariEnabled(issuer)
	in.Spec.Replaces = in.Replaces
	if acmeSpec.EnableDurationFeature && spec.Duration != nil {
		in.Spec.Duration = spec.Duration
		notAfter := workflow.Now(c.ctx).Add(spec.Duration.Duration)
		in.NotAfter = &notAfter
	}
	return in
}
