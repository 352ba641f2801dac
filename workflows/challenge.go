package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/dns01"
	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/activities/kube"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/apperr"
)

// ChallengeInput starts a ChallengeWorkflow for one Challenge object.
type ChallengeInput struct {
	Challenge       kube.ObjectRef
	Account         acme.AccountRef
	IssuerNamespace string // "" for a ClusterIssuer
	Spec            acmev1.ChallengeSpec
	// SelfCheckTimeout is how long the self check may fail before the ACME server is
	// asked to validate anyway: its verdict (and message) ends the challenge instead
	// of a self check that never passes (upstream's stuck challenges).
	SelfCheckTimeout time.Duration
	// Changes counts the rows of the ChallengeWorkflow's change table (versions.go)
	// the run adopts, as CertificateInput.Changes does: the OrderWorkflow starts its
	// challenges with all of them.
	Changes int `json:",omitempty"`
}

// ChallengeResult is how the challenge ended.
type ChallengeResult struct {
	State  acmev1.State
	Reason string
	// AccountUnknown: the server refused the account (acme.ErrTypeAccountUnknown);
	// the order fails so that the Certificate registers again and retries.
	AccountUnknown bool `json:",omitempty"`
}

// Self-check retries: 2 s doubling to 30 s, on durable timers.
const (
	selfCheckFirstDelay = 2 * time.Second
	selfCheckMaxDelay   = 30 * time.Second
)

// validationSettle is how long the first look after the accept waits in its activity
// for the server's verdict (Let's Encrypt decides most validations in a second or
// two), before the challenge writes Processing and polls on timers.
const validationSettle = 3 * time.Second

// ChallengeWorkflow solves one challenge: present (DNS-01 record or HTTP-01 solver),
// self-check until it passes (each failure's what-and-why in the Challenge's reason,
// with the next try's time), accept, wait for the server's verdict, and clean up
// always — after success, failure or cancellation, in a disconnected context.
func ChallengeWorkflow(ctx workflow.Context, in ChallengeInput) (res ChallengeResult, err error) {
	status := Status{Phase: string(acmev1.Pending), WaitingFor: "presenting"}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return status, nil }); err != nil {
		return res, err
	}
	changes := resolveChanges(ctx, challengeChanges, in.Changes)
	// Local: every step a local activity, and no status write that the next one, in
	// the same workflow task, would overwrite at once.
	local := changes.has(changeChallengeLocalSteps)
	acmeKind := acmeStep
	if local {
		acmeKind = acmeLocalStep
	}
	spec := in.Spec
	isDNS := spec.Type == acmev1.ACMEChallengeTypeDNS01
	wroteStatus := false
	setStatus := func(ctx workflow.Context, processing, presented bool, state acmev1.State, reason string) {
		status.Phase, status.LastError = string(state), reason
		wroteStatus = true
		_ = step(ctx, kubeStep, fmt.Sprintf("Challenge %s: %s", state, truncate(reason, 80)),
			actSetChallengeStatus, kube.ChallengeStatusInput{
				Challenge: in.Challenge, Processing: processing, Presented: presented, State: state, Reason: reason,
			}).Get(ctx, nil)
	}
	dnsIn := dns01.DNS01Input{Challenge: dns01.ChallengeRef{Namespace: in.Challenge.Namespace, Name: in.Challenge.Name, UID: in.Challenge.UID},
		IssuerNamespace: in.IssuerNamespace, DNSName: spec.DNSName, KeyAuthorization: spec.Key}
	if spec.Solver.DNS01 != nil {
		dnsIn.Solver = *spec.Solver.DNS01
	}
	httpIn := http01.SolverInput{Namespace: in.Challenge.Namespace, Name: in.Challenge.Name, UID: in.Challenge.UID, DNSName: spec.DNSName, Token: spec.Token, Key: spec.Key}
	if spec.Solver.HTTP01 != nil {
		httpIn.HTTP01 = *spec.Solver.HTTP01
	}

	presented := false
	// A challenge valid without a status written before (no self-check failure, no
	// Processing) is not given one: its Order deletes it next, and the Order's own
	// status says it went well. One that showed a reason is given its end.
	validUnwritten := changes.has(changeChallengeValidUnwritten)
	defer func() {
		// Clean up always, even when cancelled: nothing may be left behind.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		cleanedUp := true
		if presented {
			var cerr error
			if isDNS {
				cerr = step(dctx, acmeKind, "remove TXT record of "+spec.DNSName, actCleanUpDNS01, dnsIn).Get(dctx, nil)
			} else {
				cerr = step(dctx, acmeKind, "remove HTTP-01 solver of "+spec.DNSName, actCleanUpHTTP01Solver, httpIn).Get(dctx, nil)
			}
			if cerr != nil && err == nil {
				res.Reason += "; clean up failed: " + apperr.Message(cerr)
			}
			cleanedUp = cerr == nil
		}
		if res.State == "" {
			res.State = acmev1.Errored
			if err != nil {
				res.Reason = apperr.Message(err)
			} else {
				res.Reason = "cancelled"
			}
		}
		if validUnwritten && !wroteStatus && res.State == acmev1.Valid && err == nil && cleanedUp {
			status.Phase = string(res.State)
			return
		}
		setStatus(dctx, false, false, res.State, res.Reason)
	}()

	if !local {
		setStatus(ctx, true, false, acmev1.Pending, "Presenting "+string(spec.Type)+" challenge")
	}
	presented = true // a present that failed halfway is cleaned up too
	if isDNS {
		var rec dns01.DNS01Record
		if err := step(ctx, acmeKind, "present TXT record for "+spec.DNSName, actPresentDNS01, dnsIn).Get(ctx, &rec); err != nil {
			return ChallengeResult{State: acmev1.Errored, Reason: "Error presenting challenge: " + apperr.Message(err)}, nil
		}
	} else {
		if err := step(ctx, acmeKind, "create HTTP-01 solver for "+spec.DNSName, actEnsureHTTP01Solver, httpIn).Get(ctx, nil); err != nil {
			return ChallengeResult{State: acmev1.Errored, Reason: "Error presenting challenge: " + apperr.Message(err)}, nil
		}
	}

	// Self check on durable timers, each failure visible in the Challenge's reason.
	deadline := workflow.Now(ctx).Add(in.SelfCheckTimeout)
	delay := selfCheckFirstDelay
	ensureSolver := func() error {
		// Idempotent: with the worker serving HTTP-01 itself (the local stack) the token
		// lives in the memory of one worker process; a restarted or other worker serves
		// it again from here.
		return step(ctx, acmeKind, "make sure the HTTP-01 solver for "+spec.DNSName+" is in place",
			actEnsureHTTP01Solver, httpIn).Get(ctx, nil)
	}
	for attempt := 1; ; attempt++ {
		if !isDNS && attempt > 1 {
			if err := ensureSolver(); err != nil {
				return ChallengeResult{State: acmev1.Errored, Reason: "Error presenting challenge: " + apperr.Message(err)}, nil
			}
		}
		ok, detail, err := selfCheck(ctx, acmeKind, isDNS, dnsIn, spec)
		if err != nil {
			return ChallengeResult{State: acmev1.Errored, Reason: "Self check could not run: " + apperr.Message(err)}, nil
		}
		if ok {
			break
		}
		now := workflow.Now(ctx)
		if !now.Before(deadline) {
			setStatus(ctx, true, true, acmev1.Pending, fmt.Sprintf("Self check still failing after %s (%s); asking the ACME server to validate anyway", in.SelfCheckTimeout, detail))
			break
		}
		next := min(delay, deadline.Sub(now))
		reason := fmt.Sprintf("Waiting for %s challenge propagation: %s (attempt %d; next check at %s)", spec.Type, detail, attempt, now.Add(next).UTC().Format(time.RFC3339))
		setStatus(ctx, true, true, acmev1.Pending, reason)
		status.WaitingFor = "self check"
		if err := workflow.NewTimerWithOptions(ctx, next, workflow.TimerOptions{Summary: "self check failed, next try"}).Get(ctx, nil); err != nil {
			return res, err
		}
		delay = min(2*delay, selfCheckMaxDelay)
	}

	var accepted acme.ChallengeInfo
	if err := step(ctx, acmeKind, "ask the ACME server to validate",
		actAcceptChallenge, acme.ChallengeInput{Account: in.Account, URL: spec.URL}).Get(ctx, &accepted); err != nil {
		return ChallengeResult{State: acmev1.Errored, Reason: "Error accepting challenge: " + apperr.Message(err), AccountUnknown: acmeAccountUnknown(err)}, nil
	}
	// verdict reads the authorization (settling for a moment while the server
	// validates, when settle is given); final is false while it is still undecided.
	verdict := func(settle time.Duration) (res ChallengeResult, final bool) {
		var az acme.Authorization
		if err := step(ctx, acmeKind, "get authorization", actGetAuthorization, acme.AuthorizationInput{
			Account: in.Account, URL: spec.AuthorizationURL, SettleFor: settle,
		}).Get(ctx, &az); err != nil {
			return ChallengeResult{State: acmev1.Errored, Reason: "Error reading the authorization: " + apperr.Message(err), AccountUnknown: acmeAccountUnknown(err)}, true
		}
		switch az.Status {
		case "valid":
			return ChallengeResult{State: acmev1.Valid, Reason: "Successfully authorized domain"}, true
		case "pending", "processing":
			return ChallengeResult{}, false
		}
		reason := "Authorization " + az.Status
		if az.Error != "" {
			reason += ": " + az.Error
		}
		return ChallengeResult{State: acmev1.Invalid, Reason: reason}, true
	}
	if changes.has(changeChallengeSettle) {
		// A validation the server decides within validationSettle ends here: no
		// Processing write that the final one would overwrite, no timer.
		if res, final := verdict(validationSettle); final {
			return res, nil
		}
	}
	setStatus(ctx, true, true, acmev1.Processing, "Waiting for the ACME server to validate")
	status.WaitingFor = "the ACME server's validation"
	delay = time.Second
	for {
		if res, final := verdict(0); final {
			return res, nil
		}
		if err := workflow.NewTimerWithOptions(ctx, delay, workflow.TimerOptions{Summary: "validation pending, next look"}).Get(ctx, nil); err != nil {
			return res, err
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// selfCheck runs one pass of the self check: the TXT record at the nameservers, or a
// GET of the HTTP-01 URL.
func selfCheck(ctx workflow.Context, kind stepKind, isDNS bool, dnsIn dns01.DNS01Input, spec acmev1.ChallengeSpec) (bool, string, error) {
	if isDNS {
		var r dns01.CheckResult
		err := step(ctx, kind, "check TXT record propagation", actCheckDNS01Propagation, dnsIn).Get(ctx, &r)
		return r.Ready, r.Detail, err
	}
	var r http01.SelfCheckResult
	err := step(ctx, kind, "self check http://"+spec.DNSName+"/.well-known/acme-challenge/"+spec.Token,
		actHTTP01SelfCheck, http01.SelfCheckInput{
			DNSName: spec.DNSName, Token: spec.Token, Key: spec.Key,
		}).Get(ctx, &r)
	return r.OK, r.Detail, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
