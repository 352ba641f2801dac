package history

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// The history of a real CertificateWorkflow (test/cli's TestHistoryCertificate on the
// local stack, five runs): a CA Certificate issued, renewed twice with `kubectl
// cert-manager renew`, its CA Secret deleted as its spec changed (a failure, then
// the backoff), the CA restored, and renewed twice more.
func TestInterpretRecorded(t *testing.T) {
	raw, err := os.ReadFile("testdata/ca-renewals-and-failure.json")
	if err != nil {
		t.Fatal(err)
	}
	var runsJSON []json.RawMessage
	if err := json.Unmarshal(raw, &runsJSON); err != nil {
		t.Fatal(err)
	}
	var runs []Run
	for i, rj := range runsJSON {
		h := &historypb.History{}
		if err := protojson.Unmarshal(rj, h); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, Run{RunID: fmt.Sprintf("run-%d", i+1), Events: h.Events})
	}
	var got []string
	for _, f := range Interpret(runs, DefaultConverters()) {
		got = append(got, f.Time.Format(time.RFC3339)+" "+f.RunID+" "+f.Kind+" "+Describe(f))
	}
	want := []string{
		"2026-12-06T01:57:23Z run-1 Started workflow started generation 1 by 11127@vm@",
		"2026-12-06T01:57:23Z run-1 NotReady Ready=False (IssuerNotReady)",
		"2026-12-06T01:57:23Z run-1 Waiting issuer ca to become ready (signal issuer-changed) or a re-check until 2026-12-06T02:07:23Z",
		"2026-12-06T01:57:23Z run-1 IssuerChanged issuer is ready by 11127@vm@",
		"2026-12-06T01:57:24Z run-1 Issued revision 1 (DoesNotExist: Issuing certificate as Secret does not exist) in 76ms serial 74968b13b472d894f19fbb4bbbd3b034 notAfter 2026-12-07T01:57:22Z",
		"2026-12-06T01:57:24Z run-1 RenewalScheduled renewal until 2026-12-06T17:57:22Z",
		"2026-12-06T01:57:24Z run-1 RenewRequested ManuallyTriggered by starter via 11127@vm@",
		"2026-12-06T01:57:24Z run-2 Issued revision 2 (ManuallyTriggered: Certificate re-issuance manually triggered) in 39ms serial b527535169b8fd69f54aa0cd6c932ecf notAfter 2026-12-07T01:57:22Z by starter via 11127@vm@",
		"2026-12-06T01:57:24Z run-2 RenewalScheduled renewal until 2026-12-06T17:57:22Z",
		"2026-12-06T01:57:25Z run-2 RenewRequested ManuallyTriggered by starter via 11127@vm@",
		"2026-12-06T01:57:26Z run-3 Issued revision 3 (ManuallyTriggered: Certificate re-issuance manually triggered) in 80ms serial fd10f0031526c669077e104116b785f0 notAfter 2026-12-07T01:57:22Z by starter via 11127@vm@",
		"2026-12-06T01:57:26Z run-3 RenewalScheduled renewal until 2026-12-06T17:57:23Z",
		"2026-12-06T01:57:30Z run-3 SpecChanged generation 2 by 11127@vm@",
		"2026-12-06T01:57:30Z run-4 Failed revision 4 (RequestChanged) attempt 1 failed: SignWithCA: CA Secret cli-history/hist-ca not found",
		"2026-12-06T01:57:30Z run-4 NotReady Ready=False (RequestChanged)",
		"2026-12-06T01:57:30Z run-4 Backoff after 1 failed attempt(s) until 2026-12-06T02:57:30Z (a renew ends it)",
		"2026-12-06T01:57:30Z run-4 IssuerChanged issuer is not ready by 11127@vm@",
		"2026-12-06T01:57:35Z run-4 IssuerChanged issuer is ready by 11127@vm@",
		"2026-12-06T01:57:36Z run-4 RenewRequested ManuallyTriggered by starter via 11127@vm@",
		"2026-12-06T01:57:36Z run-4 Issued revision 4 (RequestChanged: Fields on existing CertificateRequest resource not up to date: [spec.dnsNames]) in 66ms serial 9ea8d78c4d0f1f1b037ddc33ee06619b notAfter 2026-12-07T01:57:22Z",
		"2026-12-06T01:57:36Z run-4 RenewalScheduled renewal until 2026-12-06T17:57:26Z",
		"2026-12-06T01:57:37Z run-4 RenewRequested ManuallyTriggered by starter via 11127@vm@",
		"2026-12-06T01:57:37Z run-5 Issued revision 5 (ManuallyTriggered: Certificate re-issuance manually triggered) in 49ms serial d853bd3f85f84feebebdd75db384ef39 notAfter 2026-12-07T01:57:22Z by starter via 11127@vm@",
		"2026-12-06T01:57:37Z run-5 RenewalScheduled renewal until 2026-12-06T17:57:27Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("facts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
