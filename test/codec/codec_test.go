// Package codec tests the payload codec on the real stack: with it on, the Temporal
// history of a Certificate holds no spec field and no certificate in any payload (the
// IDs and search attributes keep the names), and the key reads and replays it.
package codec

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/reflect/protoreflect"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/starter"
	"github.com/certflow/certflow/workflows"
)

var (
	sys      *testkit.System
	theKey   []byte
	theCodec *codec.Codec
)

const ns = "codec"

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	var err error
	theKey, err = codec.NewKey()
	if err == nil {
		theCodec, err = codec.New(map[string][]byte{codec.ActiveKey: theKey})
	}
	if err == nil {
		sys, err = testkit.Start(context.Background(), testkit.Options{Namespaces: []string{ns}, Codec: theCodec})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "codec setup:", err)
		os.Exit(1)
	}
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

// What the spec and the issued certificate put into payloads, none of which may show
// in the history without the key.
var secrets = []string{"codec-secret.example.com", "Codec Secret Org", "codec-ca-issuer", "BEGIN CERTIFICATE", "MII"}

func TestHistoryPayloadsEncrypted(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	if out, err := sys.Kubectl(testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "root", CommonName: "codec root", IsCA: true, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String(),
		testkit.CAIssuer("codec-ca-issuer", "root-tls"),
		testkit.Cert{Name: "web", DNSNames: []string{"codec-secret.example.com"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "codec-ca-issuer",
			Extra: "  subject: {organizations: [Codec Secret Org]}"}.String()), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "web", 90*time.Second)
	// A manual renewal adds a signal (with its payload) and a second issuance.
	if out, err := sys.Kubectl(nil, "patch", "certificate", "web", "-n", ns, "--subresource=status", "--type=merge", "-p",
		fmt.Sprintf(`{"status":{"conditions":[{"type":"Issuing","status":"True","reason":"ManuallyTriggered","message":"codec test","lastTransitionTime":%q}]}}`, time.Now().UTC().Format(time.RFC3339))); err != nil {
		t.Fatalf("kubectl patch: %v\n%s", err, out)
	}
	testkit.Eventually(t, 60*time.Second, "web re-issued", func() (bool, string) {
		c, err := sys.CertFlow.CertmanagerV1().Certificates(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return c.Status.Revision != nil && *c.Status.Revision == 2, fmt.Sprintf("revision %v", c.Status.Revision)
	})

	// Read as someone with Temporal access but not the key.
	raw, err := client.DialContext(ctx, clients.TemporalOptions(sys.Stack.TemporalAddress, sys.Stack.TemporalNamespace, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// The Certificate's workflow continues as new after each issuance: both runs are
	// read, the one that took the signal and re-issued, and the new one once its first
	// workflow task is done (a run read just after it started holds only its input,
	// and a replay of it runs no workflow code).
	certID := workflows.CertificateWorkflowID(ns, "web")
	current := settledHistory(t, raw, certID)
	runs := []namedHistory{{certID + " (current run)", current}}
	if prev := current.Events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId(); prev != "" {
		runs = append(runs, namedHistory{certID + " (run before)", history(t, raw, certID, prev)})
	}
	issuerID := workflows.IssuerWorkflowID(ns, "codec-ca-issuer")
	runs = append(runs, namedHistory{issuerID, settledHistory(t, raw, issuerID)})
	for _, run := range runs {
		id, hist := run.name, run.hist
		var payloads, found int
		walkPayloads(hist, func(path string, p *commonpb.Payload) {
			payloads++
			if enc := string(p.GetMetadata()["encoding"]); enc != codec.Encoding {
				t.Errorf("%s: payload at %s is %q, not encrypted: %q", id, path, enc, p.GetData())
			}
			for _, s := range secrets {
				if bytes.Contains(p.GetData(), []byte(s)) {
					t.Errorf("%s: payload at %s shows %q", id, path, s)
				}
			}
			// With the key, the same payload is the plain one.
			dec, err := theCodec.Decode([]*commonpb.Payload{p})
			if err != nil {
				t.Errorf("%s: decode payload at %s: %v", id, path, err)
				return
			}
			for _, s := range secrets[:2] {
				if bytes.Contains(dec[0].GetData(), []byte(s)) {
					found++
				}
			}
		})
		walkFailures(hist, func(path, message string) {
			for _, s := range secrets {
				if strings.Contains(message, s) {
					t.Errorf("%s: failure message at %s shows %q", id, path, s)
				}
			}
		})
		t.Logf("%s: %d events, %d payloads, all encrypted", id, len(hist.Events), payloads)
		if payloads == 0 {
			t.Errorf("%s: no payload in the history", id)
		}
		if strings.HasPrefix(id, certID) && found == 0 {
			t.Errorf("%s: decoded with the key, no payload holds the spec: the check above could not fail", id)
		}

		// The replayer reads the history with the key, and fails without it.
		if err := replayer(theCodec).ReplayWorkflowHistory(nil, hist); err != nil {
			t.Errorf("%s: replay with the key: %v", id, err)
		}
		if err := replayer(nil).ReplayWorkflowHistory(nil, hist); err == nil {
			t.Errorf("%s: replayed without the key", id)
		}
	}

	// The client without the key cannot read the workflow's state; with it, it can.
	if v, err := raw.QueryWorkflow(ctx, workflows.CertificateWorkflowID(ns, "web"), "", workflows.QueryStatus); err == nil {
		var st workflows.Status
		if err := v.Get(&st); err == nil {
			t.Errorf("a client without the key read the status query's answer: %+v", st)
		}
	}
	v, err := sys.Temporal.QueryWorkflow(ctx, workflows.CertificateWorkflowID(ns, "web"), "", workflows.QueryStatus)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil || st.Phase == "" {
		t.Errorf("status query with the key: %+v %v", st, err)
	}

	// The CLI says what it needs without the key, and shows the workflow with it.
	status := func(args ...string) string {
		var out bytes.Buffer
		cmd := starter.NewRootCommand("kubectl cert-manager")
		cmd.SetArgs(append([]string{"status", "certificate", "web", "-n", ns, "--kubeconfig", sys.Stack.Kubeconfig,
			"--temporal-address", sys.Stack.TemporalAddress}, args...))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Errorf("starter status %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if out := status(); !strings.Contains(out, "encrypted by the payload codec: pass --payload-codec-secret") {
		t.Errorf("starter status without the key:\n%s", out)
	}
	if _, err := sys.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "codec-key", Namespace: ns},
		Data: map[string][]byte{codec.ActiveKey: theKey}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := status("--payload-codec-secret", ns+"/codec-key"); !strings.Contains(out, "Phase:") || strings.Contains(out, "encrypted") {
		t.Errorf("starter status with the key:\n%s", out)
	}
}

type namedHistory struct {
	name string
	hist *historypb.History
}

// history reads one run's history; runID "" is the latest run.
func history(t *testing.T, c client.Client, id, runID string) *historypb.History {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), id, runID, false, 0)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	return h
}

// settledHistory waits until the latest run of id has no workflow task pending and
// has completed one, and returns its history.
func settledHistory(t *testing.T, c client.Client, id string) *historypb.History {
	t.Helper()
	var h *historypb.History
	testkit.Eventually(t, 30*time.Second, id+" settled", func() (bool, string) {
		h = history(t, c, id, "")
		last := h.Events[len(h.Events)-1].GetEventType()
		switch last {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			return false, "last event " + last.String()
		}
		for _, e := range h.Events {
			if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				return true, ""
			}
		}
		return false, "no workflow task completed"
	})
	return h
}

// walkPayloads calls f with every Payload in the history except search attributes
// (readable by design: the UI lists by them).
func walkPayloads(h *historypb.History, f func(path string, p *commonpb.Payload)) {
	for i, e := range h.Events {
		walk(e.ProtoReflect(), fmt.Sprintf("event %d (%s)", i+1, e.GetEventType()), func(path string, m protoreflect.Message) bool {
			if p, ok := m.Interface().(*commonpb.Payload); ok {
				f(path, p)
				return false
			}
			_, sa := m.Interface().(*commonpb.SearchAttributes)
			return !sa
		})
	}
}

// walkFailures calls f with the message of every Failure in the history.
func walkFailures(h *historypb.History, f func(path, message string)) {
	for i, e := range h.Events {
		walk(e.ProtoReflect(), fmt.Sprintf("event %d", i+1), func(path string, m protoreflect.Message) bool {
			if fl, ok := m.Interface().(interface{ GetMessage() string }); ok && m.Descriptor().Name() == "Failure" {
				f(path, fl.GetMessage())
			}
			return true
		})
	}
}

// walk visits m and its nested messages depth-first; visit returns whether to descend.
func walk(m protoreflect.Message, path string, visit func(string, protoreflect.Message) bool) {
	if !visit(path, m) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walk(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", p, i), visit)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(mv.Message(), fmt.Sprintf("%s[%s]", p, k.String()), visit)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walk(v.Message(), p, visit)
		}
		return true
	})
}

// replayer replays certflow's workflows with c's data converter (nil: the default).
func replayer(c *codec.Codec) sdkworker.WorkflowReplayer {
	var opts sdkworker.WorkflowReplayerOptions
	if c != nil {
		var co client.Options
		c.Apply(&co)
		opts.DataConverter, opts.FailureConverter = co.DataConverter, co.FailureConverter
	}
	r, err := sdkworker.NewWorkflowReplayerWithOptions(opts)
	if err != nil {
		panic(err)
	}
	r.RegisterWorkflowWithOptions(workflows.CertificateWorkflow, workflow.RegisterOptions{Name: "CertificateWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.IssuerWorkflow, workflow.RegisterOptions{Name: "IssuerWorkflow"})
	return r
}
