// Package acmecrash SIGKILLs the worker in the middle of a DNS-01 challenge and checks
// that a new worker finishes the same ACME order: the Certificate gets Ready through
// the one Order object (the same order URL at Pebble), the challenge is presented and
// accepted once, and nothing is left behind.
//
// The worker is the real certflow-worker, built from this tree and run as a child
// process with the system's ACME settings as worker.Flags; the rest of the system
// (kube-apiserver, Temporal, Pebble, challtestsrv, the fake Cloudflare API, k8swatch)
// runs as testkit.Start starts it with NoWorker.
package acmecrash

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/worker"
	"github.com/certflow/certflow/workflows"
)

const ns = "acmecrash"

// selfCheckTimeout is long enough that the held-back TXT record never makes the
// challenge give up on its self check (and ask Pebble) before the restart.
const selfCheckTimeout = 2 * time.Minute

// env is the suite's system, its worker run by the tests.
var env *testkit.ChildSuite

func TestMain(m *testing.M) {
	os.Exit(testkit.RunChildSuite(m, "acmecrash", testkit.Options{
		ACME: true, NoWorker: true, SelfCheckTimeout: selfCheckTimeout, Namespaces: []string{ns},
	}, []string{"certflow-worker"}, func(s *testkit.ChildSuite) { env = s }))
}

func TestWorkerKilledDuringDNS01SelfCheck(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	sys := env.System
	const dnsName = "crash.example.com"
	fqdn := "_acme-challenge." + dnsName + "."
	w1 := startWorker(t, "worker-1")

	acmetest.Kubectl(t, sys, acmetest.CloudflareTokenSecret("cloudflare-token"), "apply", "-n", ns, "-f", "-")
	acmetest.Kubectl(t, sys, acmetest.Issuer(sys, "Issuer", "cloudflare", acmetest.CloudflareSolver("cloudflare-token")), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, sys, ns, "cloudflare")

	// The fake Cloudflare API takes the record, but the DNS server the self check (and
	// Pebble) asks does not get it yet: the challenge waits in its self check.
	if err := sys.Stack.InterceptCloudflareTXT(func(name string, values []string) []string {
		if name == fqdn {
			return nil
		}
		return values
	}); err != nil {
		t.Fatal(err)
	}
	held := true
	t.Cleanup(func() {
		if held {
			if err := sys.Stack.InterceptCloudflareTXT(nil); err != nil {
				t.Errorf("release the TXT record: %v", err)
			}
		}
	})
	applied := time.Now()
	acmetest.Kubectl(t, sys, acmetest.Certificate("crash", "Issuer", "cloudflare", dnsName), "apply", "-n", ns, "-f", "-")

	// Wait until the challenge sleeps on its self-check timer: its reason says what it
	// waits for, and its workflow has no activity or workflow task in flight.
	var ch acmev1.Challenge
	var order acmev1.Order
	var waiting string
	testkit.Eventually(t, time.Minute, "the challenge waiting in its self check", func() (bool, string) {
		cs, err := sys.CertFlow.AcmeV1().Challenges(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		if len(cs.Items) != 1 {
			return false, fmt.Sprintf("%d Challenges: %s", len(cs.Items), acmetest.DescribeACME(sys, ns))
		}
		ch = cs.Items[0]
		if !strings.HasPrefix(ch.Status.Reason, "Waiting for DNS-01 challenge propagation") {
			return false, "Challenge reason: " + ch.Status.Reason
		}
		if ok, why := sleeping(workflows.ChallengeWorkflowID(ns, ch.Name)); !ok {
			return false, why
		}
		os := acmetest.Orders(t, sys, ns)
		if len(os) != 1 || os[0].Status.URL == "" {
			return false, acmetest.DescribeACME(sys, ns)
		}
		order, waiting = os[0], ch.Status.Reason
		return true, ""
	})
	if vals := sys.Stack.Cloudflare().TXT(fqdn); len(vals) != 1 || vals[0] != acmetest.TXTValue(ch.Spec.Key) {
		t.Fatalf("the fake Cloudflare holds %q at %s, want the challenge's value: the record was not presented before the kill", vals, fqdn)
	}

	w1.Kill(t)
	t.Logf("worker-1 SIGKILLed %.1fs after the Certificate was applied, while Challenge %s said: %s", time.Since(applied).Seconds(), ch.Name, waiting)

	// DNS catches up while no worker runs.
	if err := sys.Stack.InterceptCloudflareTXT(nil); err != nil {
		t.Fatal(err)
	}
	held = false
	if vals, err := acmetest.TXT(sys.Stack.ChallTestSrvDNS, fqdn); err != nil || len(vals) != 1 || vals[0] != acmetest.TXTValue(ch.Spec.Key) {
		t.Fatalf("challtestsrv serves %q (%v) at %s after the release, want the challenge's value", vals, err, fqdn)
	}
	startWorker(t, "worker-2")
	restarted := time.Now()

	cert := acmetest.WaitCertificateReady(t, sys, ns, "crash", 90*time.Second)
	t.Logf("Certificate Ready %.1fs after worker-2 started (%.1fs after apply)", time.Since(restarted).Seconds(), time.Since(applied).Seconds())
	acmetest.VerifyChain(t, sys, ns, cert.Spec.SecretName, dnsName)
	if cert.Status.Revision == nil || *cert.Status.Revision != 1 || cert.Status.FailedIssuanceAttempts != nil {
		t.Errorf("Certificate: revision %v, failedIssuanceAttempts %v; want issued at the first attempt", deref(cert.Status.Revision), deref(cert.Status.FailedIssuanceAttempts))
	}

	// The same order: one Order object, the URL recorded before the kill.
	after := acmetest.AssertOrdersValid(t, sys, ns, 1)
	if after[0].Name != order.Name || after[0].UID != order.UID || after[0].Status.URL != order.Status.URL {
		t.Errorf("Order after the restart is %s (uid %s) at %s; before the kill it was %s (uid %s) at %s",
			after[0].Name, after[0].UID, after[0].Status.URL, order.Name, order.UID, order.Status.URL)
	}
	acmetest.AssertNothingLeft(t, sys, ns)
	acmetest.AssertNoCloudflareTXT(t, sys, "example.com")
	acmetest.AssertNoTXT(t, sys.Stack.ChallTestSrvDNS, fqdn)

	// Temporal: the order was created once, the challenge presented and accepted once,
	// by worker-1 and worker-2 respectively.
	orderRuns := history(t, workflows.OrderWorkflowID(ns, order.Name))
	chRuns := history(t, workflows.ChallengeWorkflowID(ns, ch.Name))
	for _, c := range []struct {
		h    []*historypb.HistoryEvent
		name string
	}{{orderRuns, "EnsureOrder"}, {orderRuns, "CreateChallenge"}, {chRuns, "PresentDNS01"}, {chRuns, "AcceptChallenge"}, {chRuns, "CleanUpDNS01"}} {
		if n := len(activityStarts(c.h, c.name)); n != 1 {
			t.Errorf("%s started %d times, want once", c.name, n)
		}
	}
	if p, a := activityStarts(chRuns, "PresentDNS01"), activityStarts(chRuns, "AcceptChallenge"); len(p) == 1 && len(a) == 1 && p[0] == a[0] {
		t.Errorf("PresentDNS01 and AcceptChallenge both ran on %s: the kill did not fall between them", p[0])
	}
}

// sleeping reports whether a workflow is running with nothing in flight: no pending
// activity and no workflow task (it waits on a timer or a child).
func sleeping(id string) (bool, string) {
	d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		return false, err.Error()
	}
	if s := d.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return false, id + " is " + s.String()
	}
	if a := d.GetPendingActivities(); len(a) > 0 {
		return false, fmt.Sprintf("%s runs activity %s", id, a[0].GetActivityType().GetName())
	}
	if d.GetPendingWorkflowTask() != nil {
		return false, id + " has a workflow task pending"
	}
	return true, ""
}

// history reads the whole history of a workflow's current run.
func history(t *testing.T, id string) []*historypb.HistoryEvent {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := env.Temporal.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		events = append(events, ev)
	}
	return events
}

// activityStarts returns, for each run of activity typ in a history, the identity of
// the worker that started its last attempt: for a local activity, the worker whose
// workflow task recorded its marker (markers follow their task's completion).
func activityStarts(events []*historypb.HistoryEvent, typ string) []string {
	scheduled := map[int64]bool{}
	var out []string
	taskWorker := ""
	for _, ev := range events {
		if c := ev.GetWorkflowTaskCompletedEventAttributes(); c != nil {
			taskWorker = c.GetIdentity()
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == typ {
			scheduled[ev.GetEventId()] = true
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && scheduled[a.GetScheduledEventId()] {
			out = append(out, a.GetIdentity())
		}
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "LocalActivity" {
			var data struct{ ActivityType string }
			if p := m.GetDetails()["data"].GetPayloads(); len(p) > 0 &&
				converter.GetDefaultDataConverter().FromPayload(p[0], &data) == nil && data.ActivityType == typ {
				out = append(out, taskWorker)
			}
		}
	}
	return out
}

// startWorker runs the worker binary with the system's ACME flags and waits until it
// polls.
func startWorker(t *testing.T, name string) *testkit.WorkerProcess {
	t.Helper()
	args := worker.Flags{Kubeconfig: env.Kubeconfigs["certflow-worker"], TemporalAddress: env.Stack.TemporalAddress,
		TemporalNamespace: env.Stack.TemporalNamespace, ACME: env.ACME}.Args()
	return testkit.StartWorkerProcess(t, name, env.Bins["certflow-worker"], filepath.Join(env.State, name+".log"), args)
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
