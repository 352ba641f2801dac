package workflows

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/apperr"
	"github.com/certflow/certflow/policy"
)

// acmeAccountRef is how activities find an ACME issuer's account.
func acmeAccountRef(spec *acmev1.ACMEIssuer, keyNamespace, url string) acme.AccountRef {
	return acme.AccountRef{
		Server: spec.Server, CABundle: spec.CABundle, SkipTLSVerify: spec.SkipTLSVerify,
		KeyNamespace: keyNamespace, KeySecretName: spec.PrivateKeySecretRef.Name, KeySecretKey: spec.PrivateKeySecretRef.Key,
		URL: url,
	}
}

// OrderInput starts an OrderWorkflow: one ACME order for one CertificateRequest.
type OrderInput struct {
	Request   kube.RequestRef
	OrderName string
	IssuerRef cmmeta.IssuerReference
	Account   acme.AccountRef
	// IssuerNamespace is the Issuer's namespace, "" for a ClusterIssuer (DNS-01
	// credentials are read from the cluster resource namespace then).
	IssuerNamespace string
	Solvers         []acmev1.ACMEChallengeSolver
	// CertificateLabels feed the solvers' matchLabels selectors.
	CertificateLabels map[string]string `json:",omitempty"`
	// HTTP01Overrides are the Certificate's HTTP-01 solver annotations
	// (policy.ApplyHTTP01Overrides): applied to the solver of each HTTP-01 challenge.
	HTTP01Overrides map[string]string `json:",omitempty"`
	Spec            acmev1.OrderSpec
	PreferredChain  string     `json:",omitempty"`
	NotAfter        *time.Time `json:",omitempty"`
	// Changes counts the rows of the OrderWorkflow's change table (versions.go) the
	// run adopts, as CertificateInput.Changes does.
	Changes int `json:",omitempty"`
	// Replaces is the ARI identifier of the certificate this order renews (RFC 9773).
	Replaces string `json:",omitempty"`
	// RenewalWindowOpen says the order renews a certificate whose ARI window has begun:
	// Let's Encrypt exempts such orders from its rate limits.
	RenewalWindowOpen bool `json:",omitempty"`
	// RateLimits are the issuer's overrides of the account's rate limits.
	RateLimits *acmev1.ACMERateLimits `json:",omitempty"`
	// ReadRenewalInfo asks for the issued certificate's renewal information (RFC 9773)
	// right after the download, in OrderResult: the Certificate then knows its renewal
	// time before it writes its status.
	ReadRenewalInfo bool `json:",omitempty"`
}

// OrderResult is the issued chain.
type OrderResult struct {
	CertificatePEM []byte
	URL            string
	// RenewalInfo is the chain's renewal information, when OrderInput.ReadRenewalInfo
	// asked for it and the read ran (its Error says what went wrong at the server).
	RenewalInfo *acme.RenewalInfo `json:",omitempty"`
}

// finalizeSettle is how long the finalize waits in its activity for the server to
// process the CSR, before the order polls on timers.
const finalizeSettle = 3 * time.Second

// ErrTypeOrderFailed is the error type of an order that ended invalid: final for this
// revision; the Certificate backs off and the next attempt is a new revision.
const ErrTypeOrderFailed = "ACMEOrderFailed"

// ErrTypeChallengesErrored is the error type of challenges that failed on this side
// (none invalid): the order ends errored, and no name counts as a failed validation.
const ErrTypeChallengesErrored = "ACMEChallengesErrored"

// acmeAccountUnknown reports whether err (an activity's, or an order's that failed
// for it) says that the ACME server does not know the account, or no longer accepts it.
func acmeAccountUnknown(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == acme.ErrTypeAccountUnknown
}

// OrderName is the Order object of a request, as upstream names it: the request's
// name and a hash of what is ordered.
func OrderName(requestName string, spec acmev1.OrderSpec) string {
	h := fnv.New32a()
	h.Write([]byte(requestName + "|" + strings.Join(spec.DNSNames, ",") + "|" + strings.Join(spec.IPAddresses, ",") + "|" + spec.CommonName))
	return requestName + "-" + strconv.FormatUint(uint64(h.Sum32()), 10)
}

// OrderWorkflowID is the ID of the workflow driving an Order object.
func OrderWorkflowID(namespace, name string) string { return "order/" + namespace + "/" + name }

// ChallengeWorkflowID is the ID of the workflow driving a Challenge object.
func ChallengeWorkflowID(namespace, name string) string { return "challenge/" + namespace + "/" + name }

// OrderWorkflow drives one ACME order: the Order object and the order at the server
// (its URL recorded first, so a crash resumes the same order), one ChallengeWorkflow
// per pending authorization, finalization with the request's CSR and the chain. The
// Order object's status follows every step; its Challenges are deleted at the end.
func OrderWorkflow(ctx workflow.Context, in OrderInput) (res OrderResult, err error) {
	changes := resolveChanges(ctx, orderChanges, in.Changes)
	status := Status{Phase: "Pending", WaitingFor: "creating the order"}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return status, nil }); err != nil {
		return OrderResult{}, err
	}
	// The account's scheduler gives the order its slot before the order is created at
	// the server; the slot goes back with the order's outcome when it ends (refused:
	// the names whose challenge the server refused).
	var slot orderSlot
	var refused []string
	useScheduler := changes.has(changeAccountScheduler)
	defer func() {
		if useScheduler {
			releaseSlot(ctx, &slot, orderOutcome(err, refused))
		}
	}()
	var order kube.ObjectRef
	if err := step(ctx, kubeStep, "create Order "+in.OrderName, actCreateOrder, kube.CreateOrderInput{
		Request: in.Request, Name: in.OrderName, Spec: in.Spec,
	}).Get(ctx, &order); err != nil {
		return OrderResult{}, err
	}
	// fail records the Order's end. The order fails with ErrTypeOrderFailed, or with
	// acme.ErrTypeAccountUnknown when the server no longer knows the account (cause):
	// the Certificate then registers again and retries at once.
	fail := func(state acmev1.State, reason string, cause error) error {
		status.Phase, status.LastError = string(state), reason
		// A disconnected context: the Order records its end even when cancelled.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = step(dctx, kubeStep, "mark Order "+string(state),
			actSetOrderStatus, kube.OrderStatusInput{Order: order, State: state, Reason: reason}).Get(dctx, nil)
		errType := ErrTypeOrderFailed
		if acmeAccountUnknown(cause) {
			errType = acme.ErrTypeAccountUnknown
		}
		return temporal.NewNonRetryableApplicationError(reason, errType, nil)
	}

	identifiers := append(append([]string{}, in.Spec.DNSNames...), in.Spec.IPAddresses...)
	var st acme.OrderState
	ensure := acme.EnsureOrderInput{
		Account: in.Account, Order: acme.OrderRef{Namespace: order.Namespace, Name: order.Name, UID: order.UID},
		Identifiers: identifiers, Profile: in.Spec.Profile, NotAfter: in.NotAfter, Replaces: in.Replaces,
	}
	if useScheduler {
		st, err = createOrderWithSlot(ctx, in, &slot, &status, ensure, changes.has(changeOrderLocalCreate))
	} else {
		err = step(ctx, acmeStep, "create or resume the ACME order", actEnsureOrder, ensure).Get(ctx, &st)
	}
	if err != nil {
		return OrderResult{}, fail(acmev1.Errored, "Failed to create the ACME order: "+apperr.Message(err), err)
	}
	status.Phase, status.WaitingFor = st.Status, "authorizations"
	// Local: the ACME calls after the order's creation are local activities.
	local := changes.has(changeOrderLocalACMESteps)
	acmeKind := acmeStep
	if local {
		acmeKind = acmeLocalStep
	}

	if st.Status == "pending" {
		if refused, err = solveAuthorizations(ctx, in, order, st, &status, acmeKind, local); err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.Type() == ErrTypeOrderFailed {
				return OrderResult{}, fail(acmev1.Invalid, appErr.Message(), nil)
			}
			return OrderResult{}, fail(acmev1.Errored, apperr.Message(err), err)
		}
	}

	// The server moves the order to ready once every authorization is valid.
	if st, err = pollOrder(ctx, acmeKind, in.Account, st.URL, &status, "ready"); err != nil {
		return OrderResult{}, fail(acmev1.Errored, apperr.Message(err), err)
	}
	if st.Status == "ready" {
		if !local {
			// (Local: the finalize and the download follow in the same workflow task, and
			// the Order's next write says valid, or why not.)
			_ = step(ctx, kubeStep, "mark Order ready",
				actSetOrderStatus, kube.OrderStatusInput{Order: order, State: acmev1.Ready}).Get(ctx, nil)
		}
		fin := acme.FinalizeInput{Account: in.Account, URL: st.URL, FinalizeURL: st.FinalizeURL, CSRPEM: in.Spec.Request}
		if changes.has(changeOrderLocalCreate) {
			fin.SettleFor = finalizeSettle
		}
		if err := step(ctx, acmeKind, "finalize the ACME order with the CSR of "+in.Request.Name, actFinalizeOrder, fin).Get(ctx, &st); err != nil {
			return OrderResult{}, fail(acmev1.Errored, "Failed to finalize the order: "+apperr.Message(err), err)
		}
		if st, err = pollOrder(ctx, acmeKind, in.Account, st.URL, &status, "valid"); err != nil {
			return OrderResult{}, fail(acmev1.Errored, apperr.Message(err), err)
		}
	} else if st.Status == "processing" {
		// Resumed after the CSR went in (a worker lost after finalizing): wait for it.
		if st, err = pollOrder(ctx, acmeKind, in.Account, st.URL, &status, "valid"); err != nil {
			return OrderResult{}, fail(acmev1.Errored, apperr.Message(err), err)
		}
	}
	if st.Status != "valid" {
		reason := fmt.Sprintf("ACME order is %s", st.Status)
		if st.Error != "" {
			reason += ": " + st.Error
		}
		return OrderResult{}, fail(acmev1.Invalid, reason, nil)
	}
	var chain acme.Chain
	if err := step(ctx, acmeKind, "download the certificate", actFetchCertificate, acme.FetchInput{
		Account: in.Account, CertificateURL: st.CertificateURL, PreferredChain: in.PreferredChain,
	}).Get(ctx, &chain); err != nil {
		return OrderResult{}, fail(acmev1.Errored, "Failed to download the certificate: "+apperr.Message(err), err)
	}
	if err := step(ctx, kubeStep, "mark Order valid", actSetOrderStatus, kube.OrderStatusInput{
		Order: order, State: acmev1.Valid, Certificate: chain.CertificatePEM,
	}).Get(ctx, nil); err != nil {
		return OrderResult{}, err
	}
	status.Phase, status.WaitingFor = "valid", "nothing"
	res = OrderResult{CertificatePEM: chain.CertificatePEM, URL: st.URL}
	if in.ReadRenewalInfo {
		res.RenewalInfo = readRenewalInfo(ctx, acmeKind, in.Account, chain.CertificatePEM)
	}
	return res, nil
}

// readRenewalInfo reads the renewal information of a chain the order downloaded; nil
// when the read did not run to an answer (the Certificate then reads it itself).
func readRenewalInfo(ctx workflow.Context, acmeKind stepKind, account acme.AccountRef, chain []byte) *acme.RenewalInfo {
	var info acme.RenewalInfo
	if err := step(ctx, acmeKind, "read the certificate's ACME renewal information", actGetRenewalInfo, acme.RenewalInfoInput{
		Account: account, CertificatePEM: chain,
	}).Get(ctx, &info); err != nil {
		return nil
	}
	return &info
}

// solveAuthorizations runs one ChallengeWorkflow per pending authorization, records
// the authorizations on the Order, waits for all of them, and deletes the Challenge
// objects afterwards (also when one failed or the order was cancelled). It returns the
// names whose challenge the server refused: only those count as failed validations.
func solveAuthorizations(ctx workflow.Context, in OrderInput, order kube.ObjectRef, st acme.OrderState, status *Status, acmeKind stepKind, local bool) (refused []string, err error) {
	type running struct {
		ref    kube.ObjectRef
		future workflow.ChildWorkflowFuture
		name   string
	}
	var children []running
	var recorded []acmev1.ACMEAuthorization
	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		for _, c := range children {
			_ = step(dctx, kubeStep, "delete Challenge "+c.ref.Name, actDeleteChallenge, c.ref).Get(dctx, nil)
		}
	}()
	var settings acme.Settings
	if err := step(ctx, kubeStep, "read the worker's ACME settings", actGetSettings).Get(ctx, &settings); err != nil {
		return nil, err
	}
	for i, url := range st.Authorizations {
		var az acme.Authorization
		if err := step(ctx, acmeKind, "get authorization "+url,
			actGetAuthorization, acme.AuthorizationInput{Account: in.Account, URL: url}).Get(ctx, &az); err != nil {
			return nil, err
		}
		rec := acmev1.ACMEAuthorization{URL: url, Identifier: az.Identifier, Wildcard: &az.Wildcard, InitialState: acmev1.State(az.Status)}
		for _, ch := range az.Challenges {
			rec.Challenges = append(rec.Challenges, acmev1.ACMEChallenge{URL: ch.URL, Token: ch.Token, Type: ch.Type})
		}
		recorded = append(recorded, rec)
		if az.Status != "pending" {
			continue // valid already (reused), or final: the order's state tells
		}
		name := az.Identifier
		if az.Wildcard {
			name = "*." + name
		}
		solverIdx, ch, ok := pickSolver(in, az, name)
		if !ok {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no configured challenge solvers can be used for %s (offered: %s)", name, offeredTypes(az)), ErrTypeOrderFailed, nil)
		}
		chType := acmev1.ACMEChallengeTypeHTTP01
		if ch.Type == "dns-01" {
			chType = acmev1.ACMEChallengeTypeDNS01
		}
		chName := challengeName(order.Name, i, az.Identifier, az.Wildcard)
		// Without overrides (every history recorded before they existed) the solver is
		// the issuer's as it is. Its map ranges are DeepCopy's: copies, whatever the order.
		solver, err := policy.ApplyHTTP01Overrides(in.Solvers[solverIdx], in.HTTP01Overrides, order.Namespace) //workflowcheck:ignore
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the Certificate's HTTP-01 override annotations for %s: %v", name, err), ErrTypeOrderFailed, nil)
		}
		spec := acmev1.ChallengeSpec{
			URL: ch.URL, AuthorizationURL: url, DNSName: az.Identifier, Wildcard: az.Wildcard, Type: chType,
			Token: ch.Token, Key: ch.KeyAuthorization, Solver: solver, IssuerRef: in.IssuerRef,
		}
		var ref kube.ObjectRef
		if err := step(ctx, kubeStep, "create Challenge "+chName,
			actCreateChallenge, kube.CreateChallengeInput{Order: order, Name: chName, Spec: spec}).Get(ctx, &ref); err != nil {
			return nil, err
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:        ChallengeWorkflowID(ref.Namespace, ref.Name),
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
			StaticSummary:     fmt.Sprintf("%s challenge for %s", ch.Type, name),
		})
		chIn := ChallengeInput{
			Challenge: ref, Account: in.Account, IssuerNamespace: in.IssuerNamespace, Spec: spec, SelfCheckTimeout: settings.SelfCheckTimeout,
		}
		if local {
			chIn.Changes = len(challengeChanges)
		}
		f := workflow.ExecuteChildWorkflow(cctx, ChallengeWorkflow, chIn)
		children = append(children, running{ref: ref, future: f, name: name})
	}
	if err := step(ctx, kubeStep, "record authorizations on Order "+order.Name, actSetOrderStatus, kube.OrderStatusInput{
		Order: order, State: acmev1.Pending, Authorizations: recorded,
	}).Get(ctx, nil); err != nil {
		return nil, err
	}
	status.WaitingFor = fmt.Sprintf("%d challenge(s)", len(children))
	// The server's refusals (invalid) are validation failures of their names; a
	// challenge that errored on this side (a present, a self check or an accept that
	// did not run) says nothing of its name.
	var invalid, errored []string
	accountUnknown := false
	for _, c := range children {
		var res ChallengeResult
		if err := c.future.Get(ctx, &res); err != nil {
			errored = append(errored, fmt.Sprintf("%s: %s", c.name, apperr.Message(err)))
			continue
		}
		switch res.State {
		case acmev1.Valid:
		case acmev1.Invalid:
			refused = append(refused, c.name)
			invalid = append(invalid, fmt.Sprintf("%s: %s", c.name, res.Reason))
		default:
			errored = append(errored, fmt.Sprintf("%s: %s", c.name, res.Reason))
		}
		// Not the names' fault: the Certificate registers again and orders anew.
		accountUnknown = accountUnknown || res.AccountUnknown
	}
	return refused, challengesFailure(invalid, errored, accountUnknown)
}

// challengesFailure is the error of an order whose challenges did not all pass, nil
// when they did: the errored ones, then those the server refused ("Failed to
// validate"). An order with no refused challenge is errored, not invalid
// (ErrTypeOrderFailed makes it invalid).
func challengesFailure(invalid, errored []string, accountUnknown bool) error {
	var parts []string
	if len(errored) > 0 {
		parts = append(parts, "Failed to complete the challenges: "+strings.Join(errored, "; "))
	}
	if len(invalid) > 0 {
		parts = append(parts, "Failed to validate: "+strings.Join(invalid, "; "))
	}
	errType := ErrTypeOrderFailed
	switch {
	case len(parts) == 0:
		return nil
	case accountUnknown:
		errType = acme.ErrTypeAccountUnknown
	case len(invalid) == 0:
		errType = ErrTypeChallengesErrored
	}
	return temporal.NewNonRetryableApplicationError(strings.Join(parts, ". "), errType, nil)
}

// pickSolver chooses the solver (upstream's selector precedence, among the challenge
// types the server offers) and that solver's challenge of the authorization.
func pickSolver(in OrderInput, az acme.Authorization, name string) (int, acme.ChallengeInfo, bool) {
	var offered []acmev1.ACMEChallengeType
	for _, ch := range az.Challenges {
		switch ch.Type {
		case "http-01":
			if !az.Wildcard {
				offered = append(offered, acmev1.ACMEChallengeTypeHTTP01)
			}
		case "dns-01":
			offered = append(offered, acmev1.ACMEChallengeTypeDNS01)
		}
	}
	// Its only map range checks that all matchLabels match: order does not matter.
	idx, ok := policy.SelectSolverForTypes(in.Solvers, in.CertificateLabels, name, offered) //workflowcheck:ignore
	if !ok {
		return 0, acme.ChallengeInfo{}, false
	}
	want := "http-01"
	if in.Solvers[idx].DNS01 != nil {
		want = "dns-01"
	}
	for _, ch := range az.Challenges {
		if ch.Type == want {
			return idx, ch, true
		}
	}
	return 0, acme.ChallengeInfo{}, false
}

func offeredTypes(az acme.Authorization) string {
	var ts []string
	for _, ch := range az.Challenges {
		ts = append(ts, ch.Type)
	}
	return strings.Join(ts, ", ")
}

// challengeName is deterministic per order and authorization, so a replayed step
// finds the object it created.
func challengeName(orderName string, i int, identifier string, wildcard bool) string {
	h := fnv.New32a()
	h.Write([]byte(strconv.Itoa(i) + "|" + identifier + "|" + strconv.FormatBool(wildcard)))
	return orderName + "-" + strconv.FormatUint(uint64(h.Sum32()), 10)
}

// pollOrder reads the order until it reaches want or a final state, on durable timers
// (1 s doubling to 10 s) between reads.
func pollOrder(ctx workflow.Context, acmeKind stepKind, account acme.AccountRef, url string, status *Status, want string) (acme.OrderState, error) {
	delay := time.Second
	for {
		var st acme.OrderState
		if err := step(ctx, acmeKind, "get ACME order",
			actGetOrder, acme.OrderURLInput{Account: account, URL: url}).Get(ctx, &st); err != nil {
			return st, err
		}
		status.Phase = st.Status
		if st.Status == want || st.Status == "valid" || st.Status == "invalid" || (want == "ready" && st.Status != "pending") {
			return st, nil
		}
		if want == "valid" && st.Status != "processing" && st.Status != "ready" {
			return st, nil
		}
		status.WaitingFor = fmt.Sprintf("the ACME order to become %s (now %s)", want, st.Status)
		if err := workflow.NewTimerWithOptions(ctx, delay, workflow.TimerOptions{Summary: "order is " + st.Status + ", next look"}).Get(ctx, nil); err != nil {
			return st, err
		}
		delay = min(2*delay, 10*time.Second)
	}
}
