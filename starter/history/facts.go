// Package history reads a Certificate's life out of the Temporal histories of its
// workflow (certificate/<ns>/<name>, every run across continue-as-new) as facts a
// person reads: issuances with revision, trigger and duration, failures in their own
// words, backoffs, renewals scheduled, signals and who sent them, approvals, spec
// changes. Interpret is pure: events in, facts out, no I/O.
package history

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/activities/issuance"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/policy"
	"github.com/certflow/certflow/workflows"
)

// Kinds of facts, the "kind" of each in -o json. Part of the JSON contract.
const (
	KindStarted           = "Started"           // the workflow chain began (By: who started it)
	KindSpecChanged       = "SpecChanged"       // a new generation of the Certificate (Generation)
	KindObjectReplaced    = "ObjectReplaced"    // the Certificate was deleted and created again (new UID)
	KindRenewRequested    = "RenewRequested"    // a manual renewal (Reason ManuallyTriggered, or the renew signal's reason)
	KindSecretChanged     = "SecretChanged"     // the target Secret changed or vanished
	KindIssuerChanged     = "IssuerChanged"     // the issuer's readiness changed
	KindApprovalSignal    = "ApprovalSignal"    // a CertificateRequest was approved or denied (Request)
	KindDeleteRequested   = "DeleteRequested"   // the Certificate was deleted
	KindIssued            = "Issued"            // an issuance wrote the Secret (Revision, Reason, Duration, Serial, NotAfter)
	KindFailed            = "Failed"            // a step gave up (Step, Message); an issuance attempt failed
	KindBackoff           = "Backoff"           // issuance backs off after failures (Until, Attempts)
	KindRenewalScheduled  = "RenewalScheduled"  // sleeps until the renewal time (Until)
	KindWaiting           = "Waiting"           // any other wait on a timer (Message: for what; Until)
	KindNotReady          = "NotReady"          // the status written says Ready=False (Reason)
	KindApproved          = "Approved"          // a request approved by someone else than certflow's approver
	KindDenied            = "Denied"            // a request denied (Reason, Message)
	KindWorkflowEnded     = "WorkflowEnded"     // the chain ended (Reason: Completed, Terminated, Failed...)
	KindHistoryIncomplete = "HistoryIncomplete" // older runs were not read (bound reached, or gone)
)

// Fact is one line of a Certificate's history. Its JSON is the -o json contract:
// field names are stable, empty fields are left out.
type Fact struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	// Revision is the revision issued, or attempted by a failed issuance.
	Revision int `json:"revision,omitempty"`
	// Reason is a trigger's or a condition's reason (DoesNotExist, Renewing,
	// ManuallyTriggered, IssuerNotReady...), or how a workflow ended.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Step is the activity that failed (SignWithCA, ...).
	Step string `json:"step,omitempty"`
	// By is who asked: the Kubernetes field manager that set a ManuallyTriggered
	// condition, or the Temporal identity that sent a signal or started the workflow.
	By string `json:"by,omitempty"`
	// Via is the Temporal identity that relayed the request when By is someone else
	// (the watcher relaying a Certificate's condition).
	Via        string     `json:"via,omitempty"`
	Generation int64      `json:"generation,omitempty"`
	Until      *time.Time `json:"until,omitempty"`
	// DurationMillis is how long an issuance took, from the evaluation that decided it
	// to the Secret written.
	DurationMillis *int64     `json:"durationMillis,omitempty"`
	Serial         string     `json:"serial,omitempty"`
	NotAfter       *time.Time `json:"notAfter,omitempty"`
	Attempts       int        `json:"attempts,omitempty"`
	Request        string     `json:"request,omitempty"`
	RunID          string     `json:"runId"`
	EventID        int64      `json:"eventId"`
}

// Run is the history of one run of the workflow.
type Run struct {
	RunID  string
	Events []*historypb.HistoryEvent
}

// Converters decode payloads and failures as the workers encoded them (with the
// payload codec when they use one).
type Converters struct {
	Data    converter.DataConverter
	Failure converter.FailureConverter
}

// DefaultConverters are the SDK's, for histories written without a codec.
func DefaultConverters() Converters {
	dc := converter.GetDefaultDataConverter()
	return Converters{Data: dc, Failure: temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc})}
}

// CodecConverters decode histories a worker wrote through a payload codec (dc is the
// codec's data converter): payloads, summaries and failures' messages, which the
// workers encode too.
func CodecConverters(dc converter.DataConverter) Converters {
	return Converters{Data: dc, Failure: temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})}
}

// interpreter carries what the facts read so far imply.
type interpreter struct {
	cv    Converters
	facts []Fact
	runID string

	generation  int64
	uid         string
	manualToken string
	pendingWhy  *Fact // the last manual renewal request not yet issued for

	// The issuance under way.
	evaluatedAt time.Time // completion of the evaluation that may start an issuance
	issuing     bool
	revision    int
	reason      string
	message     string
	startedAt   time.Time
	serial      string
	notAfter    *time.Time
	failures    int

	scheduled        map[int64]string // regular activities' types by their scheduled event
	undecodable      int              // payloads that did not decode
	lastStatusReason string
	lastUntil        map[string]time.Time // kind -> until of the last timer fact
}

// Interpret turns the runs of one workflow chain, oldest first, into facts, oldest
// first. An event it cannot decode is skipped rather than failing the whole history.
func Interpret(runs []Run, cv Converters) []Fact {
	in := &interpreter{cv: cv, lastUntil: map[string]time.Time{}, scheduled: map[int64]string{}}
	for i, r := range runs {
		in.runID = r.RunID
		for _, ev := range r.Events {
			in.event(ev, i == 0)
		}
	}
	if in.undecodable > 0 && len(runs) > 0 && len(runs[0].Events) > 0 {
		first := runs[0].Events[0]
		in.facts = append([]Fact{{
			Time: first.GetEventTime().AsTime().UTC(), Kind: KindHistoryIncomplete, RunID: runs[0].RunID, EventID: first.GetEventId(),
			Message: fmt.Sprintf("%d payload(s) could not be decoded (encrypted by the workers' payload codec? set --payload-codec-secret): facts that need them are left out", in.undecodable),
		}}, in.facts...)
	}
	return in.facts
}

func (in *interpreter) add(ev *historypb.HistoryEvent, f Fact) {
	if f.Time.IsZero() {
		f.Time = ev.GetEventTime().AsTime().UTC()
	}
	f.RunID, f.EventID = in.runID, ev.GetEventId()
	in.facts = append(in.facts, f)
}

func (in *interpreter) event(ev *historypb.HistoryEvent, firstRun bool) {
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		in.started(ev, firstRun)
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		in.signaled(ev)
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		in.marker(ev)
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		in.scheduled[ev.GetEventId()] = ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := ev.GetActivityTaskFailedEventAttributes()
		in.stepFailed(ev, in.scheduled[a.GetScheduledEventId()], a.GetFailure())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := ev.GetActivityTaskTimedOutEventAttributes()
		in.stepFailed(ev, in.scheduled[a.GetScheduledEventId()], a.GetFailure())
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
		a := ev.GetChildWorkflowExecutionFailedEventAttributes()
		in.stepFailed(ev, "order "+a.GetWorkflowExecution().GetWorkflowId(), a.GetFailure())
	case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
		var order workflows.OrderResult // an ACME order's certificate
		if in.decode(ev.GetChildWorkflowExecutionCompletedEventAttributes().GetResult(), &order) == nil && len(order.CertificatePEM) > 0 {
			in.serial, in.notAfter = leafFacts(order.CertificatePEM)
		}
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		in.timer(ev)
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
		in.add(ev, Fact{Kind: KindWorkflowEnded, Reason: "Completed"})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		in.add(ev, Fact{Kind: KindWorkflowEnded, Reason: "Failed", Message: in.failureMessage(ev.GetWorkflowExecutionFailedEventAttributes().GetFailure())})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
		a := ev.GetWorkflowExecutionTerminatedEventAttributes()
		in.add(ev, Fact{Kind: KindWorkflowEnded, Reason: "Terminated", Message: a.GetReason(), By: a.GetIdentity()})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
		in.add(ev, Fact{Kind: KindWorkflowEnded, Reason: "Canceled"})
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
		in.add(ev, Fact{Kind: KindWorkflowEnded, Reason: "TimedOut"})
	}
}

// started reads a run's input: the first run of the chain is the Certificate's
// workflow beginning; later runs (continue-as-new) carry the state on.
func (in *interpreter) started(ev *historypb.HistoryEvent, firstRun bool) {
	a := ev.GetWorkflowExecutionStartedEventAttributes()
	var input workflows.CertificateInput
	decoded := in.decode(a.GetInput(), &input) == nil
	if a.GetContinuedExecutionRunId() != "" && !firstRun {
		return
	}
	renewed := false
	if decoded {
		renewed = input.ManualRenewToken != "" && input.ManualRenewToken != in.manualToken && !firstRun
		in.generation, in.uid, in.manualToken = input.Generation, input.UID, input.ManualRenewToken
		in.revision = input.Revision
	}
	f := Fact{Kind: KindStarted, By: a.GetIdentity(), Generation: in.generation, Revision: in.revision}
	if a.GetContinuedExecutionRunId() != "" {
		f.Message = "continued from an earlier run that is not shown"
	}
	in.add(ev, f)
	if renewed {
		// Started again (after it was terminated, say) for a manual renewal.
		r := Fact{Kind: KindRenewRequested, Reason: policy.ReasonManuallyTriggered, By: input.ManualRenewBy, Via: a.GetIdentity()}
		if r.By == "" {
			r.By, r.Via = r.Via, ""
		}
		in.add(ev, r)
		in.pendingWhy = &r
	}
}

func (in *interpreter) signaled(ev *historypb.HistoryEvent) {
	a := ev.GetWorkflowExecutionSignaledEventAttributes()
	who := a.GetIdentity()
	switch a.GetSignalName() {
	case workflows.SignalSpec:
		var s workflows.SpecSignal
		if in.decode(a.GetInput(), &s) != nil {
			return
		}
		in.spec(ev, s, who)
	case workflows.SignalRenew:
		var s workflows.RenewSignal
		_ = in.decode(a.GetInput(), &s)
		f := Fact{Kind: KindRenewRequested, Reason: policy.ReasonManuallyTriggered, Message: s.Reason, By: who}
		in.add(ev, f)
		in.pendingWhy = &f
	case workflows.SignalSecretChanged:
		in.add(ev, Fact{Kind: KindSecretChanged, By: who})
	case workflows.SignalIssuerChanged:
		var s workflows.IssuerChangedSignal
		_ = in.decode(a.GetInput(), &s)
		msg := "issuer is not ready"
		if s.Ready {
			msg = "issuer is ready"
		}
		in.add(ev, Fact{Kind: KindIssuerChanged, Message: msg, By: who})
	case workflows.SignalApproval:
		var s workflows.ApprovalSignal
		_ = in.decode(a.GetInput(), &s)
		in.add(ev, Fact{Kind: KindApprovalSignal, Request: s.Request, By: who})
	case workflows.SignalDelete:
		var s workflows.DeleteSignal
		_ = in.decode(a.GetInput(), &s)
		if s.UID == "" || in.uid == "" || s.UID == in.uid {
			in.add(ev, Fact{Kind: KindDeleteRequested, By: who})
		}
	}
}

// spec reads a spec signal: most are the watcher's no-op resyncs of what the workflow
// has; a new UID, a new generation or a new manual renewal token is a fact.
func (in *interpreter) spec(ev *historypb.HistoryEvent, s workflows.SpecSignal, via string) {
	if s.UID != "" && in.uid != "" && s.UID != in.uid {
		in.uid, in.generation = s.UID, s.Generation
		in.add(ev, Fact{Kind: KindObjectReplaced, Generation: s.Generation, By: via})
	} else {
		if s.UID != "" {
			in.uid = s.UID
		}
		if s.Generation > in.generation {
			in.generation = s.Generation
			in.add(ev, Fact{Kind: KindSpecChanged, Generation: s.Generation, By: via})
		}
	}
	if s.ManualRenewToken != "" && s.ManualRenewToken != in.manualToken {
		in.manualToken = s.ManualRenewToken
		f := Fact{Kind: KindRenewRequested, Reason: policy.ReasonManuallyTriggered, By: s.ManualRenewBy, Via: via}
		if f.By == "" {
			f.By, f.Via = via, ""
		}
		in.add(ev, f)
		in.pendingWhy = &f
	}
}

// requestSummary is workflows.RequestStepSummary's shape, oneStepSummary
// workflows.OneStepIssuanceSummary's: the request's name and revision, the trigger's
// reason and message.
var (
	requestSummary = regexp.MustCompile(`^create CertificateRequest (\S+?)(?:-(\d+))?(?: \(([A-Za-z]+): (.*)\))?$`)
	oneStepSummary = regexp.MustCompile(`^issue: .*, create CertificateRequest (\S+?)-(\d+), .*, write Secret \S+(?: \(([A-Za-z]+): (.*)\))?$`)
)

// marker reads a local activity's marker: the issuance steps and their failures.
func (in *interpreter) marker(ev *historypb.HistoryEvent) {
	a := ev.GetMarkerRecordedEventAttributes()
	if a.GetMarkerName() != "LocalActivity" {
		return
	}
	var data struct {
		ActivityType string
		ReplayTime   time.Time
	}
	if in.decode(a.GetDetails()["data"], &data) != nil {
		return
	}
	at := data.ReplayTime.UTC()
	if at.IsZero() {
		at = ev.GetEventTime().AsTime().UTC()
	}
	if a.GetFailure() != nil {
		if data.ActivityType == "IssueWithinTask" {
			in.beginIssuance(ev, at, oneStepSummary) // the whole issuance failed: its revision and trigger
		}
		in.stepFailedAt(ev, at, data.ActivityType, a.GetFailure())
		return
	}
	result := a.GetDetails()["result"]
	switch data.ActivityType {
	case "InspectSecret", "ResolveIssuer", "InspectSecretAndIssuer":
		// The evaluation an issuance starts from (also after an attempt a newer spec
		// superseded, which left no failure).
		in.evaluatedAt = at
	case "CreateCertificateRequest":
		in.beginIssuance(ev, at, requestSummary)
	case "IssueWithinTask":
		var res issuance.Result
		if in.decode(result, &res) != nil || res.ApproverOff {
			return // nothing was done: the issuance goes on step by step
		}
		in.beginIssuance(ev, at, oneStepSummary)
		in.serial, in.notAfter = leafFacts(res.Signed.CertificatePEM)
		in.issued(ev, at, res.Facts)
	case "SignWithCA", "SignSelfSigned", "SignWithVault", "RetrieveVenafiCertificate", "FetchCertificate":
		var signed pki.SignedCertificate
		if in.decode(result, &signed) == nil {
			in.serial, in.notAfter = leafFacts(signed.CertificatePEM)
		}
	case "ApproveCertificateRequest":
		var ap kube.Approval
		if in.decode(result, &ap) != nil || ap.Record {
			return // certflow's own approver: part of every issuance
		}
		switch {
		case ap.Denied:
			in.add(ev, Fact{Time: at, Kind: KindDenied, Revision: in.revision, Reason: ap.Reason, Message: ap.Message})
		case ap.Approved:
			in.add(ev, Fact{Time: at, Kind: KindApproved, Revision: in.revision, Reason: ap.Reason, Message: ap.Message})
		}
	case "WriteCertificateSecret":
		var facts policy.IssuedFacts
		_ = in.decode(result, &facts)
		in.issued(ev, at, facts)
	case "UpdateCertificateStatus":
		in.status(ev, at)
	}
}

// beginIssuance reads the request step: its summary names the request (and so the
// revision) and, from this version on, the trigger.
func (in *interpreter) beginIssuance(ev *historypb.HistoryEvent, at time.Time, summaryShape *regexp.Regexp) {
	in.issuing = true
	in.serial, in.notAfter = "", nil
	in.startedAt = in.evaluatedAt
	if in.startedAt.IsZero() || in.startedAt.After(at) {
		in.startedAt = at
	}
	in.reason, in.message = "", ""
	m := summaryShape.FindStringSubmatch(in.summary(ev))
	if m != nil {
		if rev, err := strconv.Atoi(m[2]); err == nil {
			in.revision = rev
		} else {
			in.revision++
		}
		in.reason, in.message = m[3], m[4]
	} else {
		in.revision++
	}
	if in.reason == "" && in.pendingWhy != nil {
		// Recorded before the request's summary named its trigger.
		in.reason = in.pendingWhy.Reason
	}
}

func (in *interpreter) issued(ev *historypb.HistoryEvent, at time.Time, facts policy.IssuedFacts) {
	f := Fact{Time: at, Kind: KindIssued, Revision: in.revision, Reason: in.reason, Message: in.message, Serial: in.serial}
	if !in.startedAt.IsZero() {
		ms := at.Sub(in.startedAt).Milliseconds()
		f.DurationMillis = &ms
	}
	if !facts.NotAfter.IsZero() {
		na := facts.NotAfter.UTC()
		f.NotAfter = &na
	} else {
		f.NotAfter = in.notAfter
	}
	if in.pendingWhy != nil && in.reason == in.pendingWhy.Reason {
		f.By, f.Via = in.pendingWhy.By, in.pendingWhy.Via
	}
	in.add(ev, f)
	in.issuing, in.pendingWhy, in.failures, in.evaluatedAt = false, nil, 0, time.Time{}
	in.lastStatusReason = ""
	clear(in.lastUntil) // the waits after an issuance are new ones
}

// status reads a status write: its summary names the Ready condition's reason.
func (in *interpreter) status(ev *historypb.HistoryEvent, at time.Time) {
	reason, ok := strings.CutPrefix(in.summary(ev), "update Certificate status: ")
	if !ok {
		return
	}
	if reason != "Ready" && reason != in.lastStatusReason {
		in.add(ev, Fact{Time: at, Kind: KindNotReady, Reason: reason})
	}
	in.lastStatusReason = reason
}

func (in *interpreter) stepFailed(ev *historypb.HistoryEvent, step string, failure *failurepb.Failure) {
	in.stepFailedAt(ev, ev.GetEventTime().AsTime().UTC(), step, failure)
}

// stepFailedAt is a step that gave up: during an issuance, the attempt failed.
func (in *interpreter) stepFailedAt(ev *historypb.HistoryEvent, at time.Time, step string, failure *failurepb.Failure) {
	f := Fact{Time: at, Kind: KindFailed, Step: step, Message: in.failureMessage(failure)}
	if in.issuing {
		f.Revision, f.Reason = in.revision, in.reason
		in.failures++
		f.Attempts = in.failures
		in.issuing = false
		in.revision-- // the revision was not issued; the next attempt tries it again
		in.evaluatedAt = time.Time{}
		clear(in.lastUntil)
	}
	in.add(ev, f)
}

// timer reads a durable timer: its summary says what it waits for.
func (in *interpreter) timer(ev *historypb.HistoryEvent) {
	a := ev.GetTimerStartedEventAttributes()
	until := ev.GetEventTime().AsTime().Add(a.GetStartToFireTimeout().AsDuration()).UTC().Truncate(time.Second)
	summary := in.summary(ev)
	f := Fact{Kind: KindWaiting, Message: summary, Until: &until}
	switch {
	case strings.HasPrefix(summary, "renewal at "):
		f.Kind, f.Message = KindRenewalScheduled, ""
		if t, err := time.Parse(time.RFC3339, strings.TrimPrefix(summary, "renewal at ")); err == nil {
			until = t.UTC() // the exact time; the timer's start is a task's
		}
	case strings.HasPrefix(summary, "backoff after "):
		f.Kind, f.Message = KindBackoff, ""
		f.Attempts = in.failures
		var n int
		var at string
		if _, err := fmt.Sscanf(summary, "backoff after %d failed attempt(s) until %s", &n, &at); err == nil {
			f.Attempts = n
			if t, err := time.Parse(time.RFC3339, at); err == nil {
				until = t.UTC()
			}
		}
	}
	// A wait resumed after a wake-up that changed nothing is no new fact.
	if prev, ok := in.lastUntil[f.Kind+f.Message]; ok && prev.Equal(until) {
		return
	}
	in.lastUntil[f.Kind+f.Message] = until
	in.add(ev, f)
}

// summary is an event's user metadata summary (a step's or a timer's), or "".
func (in *interpreter) summary(ev *historypb.HistoryEvent) string {
	p := ev.GetUserMetadata().GetSummary()
	if p == nil {
		return ""
	}
	var s string
	if in.cv.Data.FromPayload(p, &s) != nil {
		in.undecodable++
		return ""
	}
	return s
}

func (in *interpreter) decode(p *commonpb.Payloads, v any) error {
	if p == nil || len(p.GetPayloads()) == 0 {
		return errors.New("no payload")
	}
	err := in.cv.Data.FromPayload(p.GetPayloads()[0], v)
	if err != nil {
		in.undecodable++
	}
	return err
}

// failureMessage is a failure's own words: an application error's message, without
// the activity wrapping around it.
func (in *interpreter) failureMessage(f *failurepb.Failure) string {
	if f == nil {
		return ""
	}
	err := in.cv.Failure.FailureToError(f)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	if err != nil {
		return err.Error()
	}
	return f.GetMessage()
}

// leafFacts are the serial number (hex) and notAfter of the first certificate of a
// PEM chain.
func leafFacts(chain []byte) (string, *time.Time) {
	blk, _ := pem.Decode(chain)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", nil
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", nil
	}
	na := cert.NotAfter.UTC()
	return fmt.Sprintf("%x", cert.SerialNumber), &na
}

// Describe is a fact's details as one line of text.
func Describe(f Fact) string {
	var parts []string
	add := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	why := func() {
		switch {
		case f.Reason != "" && f.Message != "":
			add("(%s: %s)", f.Reason, f.Message)
		case f.Reason != "":
			add("(%s)", f.Reason)
		}
	}
	who := func() {
		if f.By != "" {
			add("by %s", f.By)
		}
		if f.Via != "" {
			add("via %s", f.Via)
		}
	}
	until := func() {
		if f.Until != nil {
			add("until %s", f.Until.UTC().Format(time.RFC3339))
		}
	}
	switch f.Kind {
	case KindStarted:
		add("workflow started")
		if f.Revision > 0 {
			add("at revision %d", f.Revision)
		}
		if f.Generation > 0 {
			add("generation %d", f.Generation)
		}
		who()
		if f.Message != "" {
			add("(%s)", f.Message)
		}
	case KindIssued:
		add("revision %d", f.Revision)
		why()
		if f.DurationMillis != nil {
			add("in %s", (time.Duration(*f.DurationMillis) * time.Millisecond).String())
		}
		if f.Serial != "" {
			add("serial %s", f.Serial)
		}
		if f.NotAfter != nil {
			add("notAfter %s", f.NotAfter.UTC().Format(time.RFC3339))
		}
		who()
	case KindFailed:
		if f.Revision > 0 {
			add("revision %d", f.Revision)
			if f.Reason != "" {
				add("(%s)", f.Reason)
			}
			add("attempt %d failed:", f.Attempts)
		}
		if f.Step != "" {
			add("%s:", f.Step)
		}
		add("%s", f.Message)
	case KindBackoff:
		if f.Attempts > 0 {
			add("after %d failed attempt(s)", f.Attempts)
		}
		until()
		add("(a renew ends it)")
	case KindRenewalScheduled:
		add("renewal")
		until()
	case KindWaiting:
		add("%s", f.Message)
		until()
	case KindSpecChanged, KindObjectReplaced:
		add("generation %d", f.Generation)
		who()
	case KindRenewRequested:
		add("%s", f.Reason)
		if f.Message != "" {
			add("(%s)", f.Message)
		}
		who()
	case KindNotReady:
		add("Ready=False (%s)", f.Reason)
	case KindApprovalSignal:
		add("CertificateRequest %s", f.Request)
		who()
	case KindApproved, KindDenied:
		add("revision %d", f.Revision)
		why()
	default:
		if f.Reason != "" {
			add("%s", f.Reason)
		}
		if f.Message != "" {
			add("%s", f.Message)
		}
		who()
	}
	return strings.Join(parts, " ")
}
