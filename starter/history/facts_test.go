package history

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/policy"
	"github.com/certflow/certflow/workflows"
)

// builder makes the events of one run, one second apart unless told otherwise.
type builder struct {
	t      *testing.T
	cv     Converters
	now    time.Time
	id     int64
	events []*historypb.HistoryEvent
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newBuilder(t *testing.T, at time.Time) *builder {
	return &builder{t: t, cv: DefaultConverters(), now: at}
}

func (b *builder) payloads(v any) *commonpb.Payloads {
	p, err := b.cv.Data.ToPayloads(v)
	if err != nil {
		b.t.Fatal(err)
	}
	return p
}

func (b *builder) meta(summary string) *sdkpb.UserMetadata {
	if summary == "" {
		return nil
	}
	p, err := b.cv.Data.ToPayload(summary)
	if err != nil {
		b.t.Fatal(err)
	}
	return &sdkpb.UserMetadata{Summary: p}
}

func (b *builder) add(ev *historypb.HistoryEvent) *builder {
	b.id++
	if ev.GetEventType() != enumspb.EVENT_TYPE_MARKER_RECORDED {
		b.now = b.now.Add(time.Second)
	}
	ev.EventId, ev.EventTime = b.id, timestamppb.New(b.now)
	b.events = append(b.events, ev)
	return b
}

func (b *builder) started(in workflows.CertificateInput, identity, continued string) *builder {
	return b.add(&historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{
			Input: b.payloads(in), Identity: identity, ContinuedExecutionRunId: continued,
		}},
	})
}

func (b *builder) signal(name string, v any, identity string) *builder {
	return b.add(&historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{
			SignalName: name, Input: b.payloads(v), Identity: identity,
		}},
	})
}

// step is a local activity's marker: done after d of the workflow's time, with result
// or failing with err.
func (b *builder) step(activity, summary string, d time.Duration, result any, err error) *builder {
	data := struct {
		ActivityID, ActivityType string
		ReplayTime               time.Time
		Attempt                  int32
	}{ActivityID: "1", ActivityType: activity, ReplayTime: b.now.Add(d), Attempt: 1}
	details := map[string]*commonpb.Payloads{"data": b.payloads(data)}
	if result != nil {
		details["result"] = b.payloads(result)
	}
	attrs := &historypb.MarkerRecordedEventAttributes{MarkerName: "LocalActivity", Details: details}
	if err != nil {
		attrs.Failure = b.cv.Failure.ErrorToFailure(err)
	}
	b.add(&historypb.HistoryEvent{
		EventType:    enumspb.EVENT_TYPE_MARKER_RECORDED,
		UserMetadata: b.meta(summary),
		Attributes:   &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: attrs},
	})
	b.now = b.now.Add(d)
	return b
}

func (b *builder) timer(summary string, d time.Duration) *builder {
	return b.add(&historypb.HistoryEvent{
		EventType:    enumspb.EVENT_TYPE_TIMER_STARTED,
		UserMetadata: b.meta(summary),
		Attributes: &historypb.HistoryEvent_TimerStartedEventAttributes{TimerStartedEventAttributes: &historypb.TimerStartedEventAttributes{
			StartToFireTimeout: durationpb.New(d),
		}},
	})
}

func (b *builder) terminated(reason, identity string) *builder {
	return b.add(&historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionTerminatedEventAttributes{WorkflowExecutionTerminatedEventAttributes: &historypb.WorkflowExecutionTerminatedEventAttributes{
			Reason: reason, Identity: identity,
		}},
	})
}

func (b *builder) run(id string) Run { return Run{RunID: id, Events: b.events} }

// issuance is the steps of one CA issuance of revision rev for why (no reason: a
// summary as recorded before it named the trigger).
func (b *builder) issuance(rev string, why policy.Trigger, signed pki.SignedCertificate, notAfter time.Time) *builder {
	b.step("InspectSecret", "inspect Secret web-tls", 5*time.Millisecond, nil, nil).
		step("ResolveIssuer", "resolve Issuer ca", 5*time.Millisecond, nil, nil).
		step("GeneratePrivateKey", "generate ECDSA 256 private key into Secret web-next-key", 10*time.Millisecond, nil, nil)
	summary := workflows.RequestStepSummary("web-"+rev, why.Reason, why.Message)
	return b.step("CreateCertificateRequest", summary, 20*time.Millisecond, kube.CreatedRequest{RequestRef: kube.RequestRef{Name: "web-" + rev}}, nil).
		step("ApproveCertificateRequest", "approve web-"+rev, time.Millisecond, kube.Approval{Approved: true, Record: true}, nil).
		step("SignWithCA", "sign with CA ns/ca", 4*time.Millisecond, signed, nil).
		step("WriteCertificateSecret", "write Secret web-tls", 10*time.Millisecond, policy.IssuedFacts{NotAfter: notAfter}, nil).
		step("UpdateCertificateStatus", "update Certificate status: Ready", 10*time.Millisecond, kube.CertificateStatusResult{}, nil)
}

func leafPEM(t *testing.T, serial int64, notAfter time.Time) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// line is a fact reduced to what the table compares.
func line(f Fact) string {
	return f.Kind + " " + Describe(f)
}

func TestInterpret(t *testing.T) {
	notAfter := t0.Add(90 * 24 * time.Hour)
	signed := pki.SignedCertificate{CertificatePEM: leafPEM(t, 0xabc, notAfter)}
	spec := workflows.SpecSignal{UID: "u1", Generation: 1}
	manual := spec
	manual.ManualRenewToken, manual.ManualRenewBy = "2026-03-01T10:05:00Z", "kubectl-edit"
	gen2 := manual
	gen2.Generation = 2
	doesNotExist := policy.Trigger{Issue: true, Reason: policy.ReasonDoesNotExist, Message: "Issuing certificate as Secret does not exist"}
	manually := policy.Trigger{Issue: true, Reason: policy.ReasonManuallyTriggered, Message: "Certificate re-issuance manually triggered"}
	caGone := temporal.NewNonRetryableApplicationError("CA Secret ns/ca not found", pki.ErrTypeCASecretNotFound, nil)
	renewalAt := "renewal at " + t0.Add(60*24*time.Hour).Format(time.RFC3339)
	backoffUntil := t0.Add(time.Hour + 2*time.Minute).Format(time.RFC3339)

	tests := []struct {
		name string
		runs func(t *testing.T) []Run
		want []string
	}{{
		name: "first issuance, a renewal timer, a no-op resync, then a manual renewal across continue-as-new",
		runs: func(t *testing.T) []Run {
			r1 := newBuilder(t, t0).
				started(workflows.NewCertificateInput("ns", "web", spec), "watcher@host", "").
				signal(workflows.SignalSpec, spec, "watcher@host").
				issuance("1", doesNotExist, signed, notAfter).
				timer(renewalAt, time.Hour).
				signal(workflows.SignalSpec, spec, "watcher@host"). // resync: nothing new
				timer(renewalAt, time.Hour).                        // the same wait again
				signal(workflows.SignalSpec, manual, "watcher@host")
			r2 := newBuilder(t, r1.now).
				started(workflows.CertificateInput{Namespace: "ns", Name: "web", SpecSignal: manual}, "", "run-1").
				issuance("2", manually, signed, notAfter).
				timer(renewalAt, time.Hour)
			return []Run{r1.run("run-1"), r2.run("run-2")}
		},
		want: []string{
			"Started workflow started generation 1 by watcher@host",
			"Issued revision 1 (DoesNotExist: Issuing certificate as Secret does not exist) in 45ms serial abc notAfter " + notAfter.Format(time.RFC3339),
			"RenewalScheduled renewal until " + t0.Add(60*24*time.Hour).Format(time.RFC3339),
			"RenewRequested ManuallyTriggered by kubectl-edit via watcher@host",
			"Issued revision 2 (ManuallyTriggered: Certificate re-issuance manually triggered) in 45ms serial abc notAfter " + notAfter.Format(time.RFC3339) + " by kubectl-edit via watcher@host",
			"RenewalScheduled renewal until " + t0.Add(60*24*time.Hour).Format(time.RFC3339),
		},
	}, {
		name: "a spec change fails with the signer's words, backs off, and a renew signal ends it",
		runs: func(t *testing.T) []Run {
			in := workflows.NewCertificateInput("ns", "web", manual)
			in.Revision = 3
			b := newBuilder(t, t0).
				started(in, "watcher@host", "").
				signal(workflows.SignalSpec, gen2, "watcher@host").
				step("InspectSecret", "inspect Secret web-tls", 0, nil, nil).
				step("CreateCertificateRequest", workflows.RequestStepSummary("web-4", "SecretMismatch", "names changed"), 0, nil, nil).
				step("SignWithCA", "sign with CA ns/ca", 0, nil, caGone).
				step("UpdateCertificateStatus", "update Certificate status: SecretMismatch", 0, nil, nil).
				timer("backoff after 1 failed attempt(s) until "+backoffUntil+" (signal renew to retry now)", time.Hour).
				signal(workflows.SignalIssuerChanged, workflows.IssuerChangedSignal{Ready: true}, "watcher@host").
				timer("backoff after 1 failed attempt(s) until "+backoffUntil+" (signal renew to retry now)", time.Hour).
				signal(workflows.SignalRenew, workflows.RenewSignal{Reason: "CA rotated"}, "alice@laptop").
				issuance("4", policy.Trigger{Reason: "SecretMismatch", Message: "names changed"}, signed, notAfter).
				terminated("cleanup", "admin@ui")
			return []Run{b.run("run-a")}
		},
		want: []string{
			"Started workflow started at revision 3 generation 1 by watcher@host",
			"SpecChanged generation 2 by watcher@host",
			"Failed revision 4 (SecretMismatch) attempt 1 failed: SignWithCA: CA Secret ns/ca not found",
			"NotReady Ready=False (SecretMismatch)",
			"Backoff after 1 failed attempt(s) until " + backoffUntil + " (a renew ends it)",
			"IssuerChanged issuer is ready by watcher@host",
			"RenewRequested ManuallyTriggered (CA rotated) by alice@laptop",
			"Issued revision 4 (SecretMismatch: names changed) in 45ms serial abc notAfter " + notAfter.Format(time.RFC3339),
			"WorkflowEnded Terminated cleanup by admin@ui",
		},
	}, {
		name: "a request denied by a person; summaries from before the trigger was recorded",
		runs: func(t *testing.T) []Run {
			b := newBuilder(t, t0).
				started(workflows.NewCertificateInput("ns", "web", spec), "watcher@host", "").
				signal(workflows.SignalSpec, manual, "watcher@host").
				step("InspectSecret", "inspect Secret web-tls", 0, nil, nil).
				step("CreateCertificateRequest", "create CertificateRequest web-1", 0, nil, nil).
				step("ApproveCertificateRequest", "approve web-1", 0, kube.Approval{}, nil).
				timer("approval of CertificateRequest web-1 (signal approval) or a re-check", 10*time.Minute).
				signal(workflows.SignalApproval, workflows.ApprovalSignal{Request: "web-1"}, "watcher@host").
				step("ApproveCertificateRequest", "approve web-1", 0, kube.Approval{Denied: true, Reason: "NotOurs", Message: "wrong team"}, nil).
				step("SetCertificateRequestStatus", "mark web-1 Denied", 0, nil, errors.New("would be odd, but is a failure too"))
			return []Run{b.run("run-a")}
		},
		want: []string{
			"Started workflow started generation 1 by watcher@host",
			"RenewRequested ManuallyTriggered by kubectl-edit via watcher@host",
			"Waiting approval of CertificateRequest web-1 (signal approval) or a re-check until " + t0.Add(3*time.Second+10*time.Minute).Format(time.RFC3339),
			"ApprovalSignal CertificateRequest web-1 by watcher@host",
			"Denied revision 1 (NotOurs: wrong team)",
			"Failed revision 1 (ManuallyTriggered) attempt 1 failed: SetCertificateRequestStatus: would be odd, but is a failure too",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			facts := Interpret(tt.runs(t), DefaultConverters())
			var got []string
			for _, f := range facts {
				got = append(got, line(f))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("facts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// An event the interpreter cannot decode is skipped, not a crash.
func TestInterpretUndecodable(t *testing.T) {
	b := newBuilder(t, t0)
	b.add(&historypb.HistoryEvent{
		EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
		Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{
			SignalName: workflows.SignalSpec, Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("binary/encrypted")}, Data: []byte{1, 2}}}},
		}},
	})
	b.add(&historypb.HistoryEvent{
		EventType:  enumspb.EVENT_TYPE_MARKER_RECORDED,
		Attributes: &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{MarkerName: "LocalActivity"}},
	})
	b.add(&historypb.HistoryEvent{EventType: enumspb.EVENT_TYPE_TIMER_STARTED})
	facts := Interpret([]Run{b.run("r")}, DefaultConverters())
	if len(facts) != 2 || facts[0].Kind != KindHistoryIncomplete || facts[1].Kind != KindWaiting {
		t.Fatalf("facts of undecodable events: %+v", facts)
	}
}

// A history the workers wrote through the payload codec reads the same with the
// codec's converters (--payload-codec-secret); without them its payloads stay opaque
// and the facts that need them are left out, without a crash.
func TestInterpretWithCodec(t *testing.T) {
	key, err := codec.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cd, err := codec.New(map[string][]byte{codec.ActiveKey: key})
	if err != nil {
		t.Fatal(err)
	}
	encrypted := CodecConverters(cd.DataConverter())
	spec := workflows.SpecSignal{UID: "u1", Generation: 1}
	b := newBuilder(t, t0)
	b.cv = encrypted
	b.started(workflows.NewCertificateInput("ns", "web", spec), "watcher@host", "").
		step("InspectSecret", "inspect Secret web-tls", 0, nil, nil).
		step("CreateCertificateRequest", workflows.RequestStepSummary("web-1", "DoesNotExist", "no Secret"), 0, nil, nil).
		step("SignWithCA", "sign with CA ns/ca", 0, nil, temporal.NewNonRetryableApplicationError("CA Secret ns/ca not found", pki.ErrTypeCASecretNotFound, nil))
	runs := []Run{b.run("r")}
	var got []string
	for _, f := range Interpret(runs, encrypted) {
		got = append(got, line(f))
	}
	want := []string{
		"Started workflow started generation 1 by watcher@host",
		"Failed revision 1 (DoesNotExist) attempt 1 failed: SignWithCA: CA Secret ns/ca not found",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("facts with the codec:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	facts := Interpret(runs, DefaultConverters())
	for _, f := range facts {
		if strings.Contains(Describe(f), "not found") || f.Kind == KindFailed {
			t.Errorf("without the codec, a fact read what is encrypted: %+v", f)
		}
	}
	if len(facts) == 0 || facts[0].Kind != KindHistoryIncomplete || !strings.Contains(facts[0].Message, "set --payload-codec-secret") {
		t.Errorf("without the codec, no word of it: %+v", facts)
	}
}
