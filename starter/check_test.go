package starter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/certflow/certflow/internal/clients"
)

func TestCRDCheck(t *testing.T) {
	all := map[string]bool{}
	for _, r := range []string{"certificates.cert-manager.io", "certificaterequests.cert-manager.io", "issuers.cert-manager.io", "clusterissuers.cert-manager.io", "orders.acme.cert-manager.io", "challenges.acme.cert-manager.io"} {
		all[r] = true
	}
	noACME := map[string]bool{}
	for k, v := range all {
		if !strings.HasSuffix(k, ".acme.cert-manager.io") {
			noACME[k] = v
		}
	}
	for _, tc := range []struct {
		name   string
		served map[string]bool
		err    error
		ok     bool
		want   []string
	}{
		{"all", all, nil, true, []string{"all 6 served"}},
		{"no acme", noACME, nil, false, []string{"2 of 6 not served: orders.acme.cert-manager.io (acme.cert-manager.io/v1), challenges.acme.cert-manager.io (acme.cert-manager.io/v1)", "fix: install the CRDs"}},
		{"none", nil, nil, false, []string{"6 of 6 not served"}},
		{"discovery failed", all, errors.New("boom"), false, []string{"discovery of the cert-manager API groups failed: boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := crdCheck(tc.served, tc.err)
			if l.OK != tc.ok {
				t.Errorf("OK = %v, want %v", l.OK, tc.ok)
			}
			out := formatChecks([]checkLine{l})
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%q lacks %q", out, w)
				}
			}
		})
	}
}

func TestDryRunLine(t *testing.T) {
	gr := schema.GroupResource{Group: "cert-manager.io", Resource: "certificates"}
	for _, tc := range []struct {
		name string
		err  error
		ok   bool
		want string
	}{
		{"accepted", nil, true, "a Certificate is accepted (dry-run create in namespace ns)"},
		{"no CRD", apierrors.NewNotFound(gr, ""), false, "the cert-manager CRDs are not yet installed"},
		{"no namespace", apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "ns"), false, "namespace ns does not exist"},
		{"forbidden", apierrors.NewForbidden(gr, "", errors.New("no")), false, "creating a Certificate is forbidden"},
		{"invalid", apierrors.NewBadRequest("bad"), false, "a dry-run create of a Certificate failed: bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := dryRunLine("ns", tc.err)
			if l.OK != tc.ok || !strings.Contains(l.Detail, tc.want) {
				t.Errorf("dryRunLine = %+v, want OK %v and %q", l, tc.ok, tc.want)
			}
			if !l.OK && l.Fix == "" {
				t.Errorf("failed line without a fix: %+v", l)
			}
		})
	}
}

func TestTemporalCheck(t *testing.T) {
	l := temporalCheck("127.0.0.1:7233", "default", nil)
	if !l.OK || l.Detail != "127.0.0.1:7233 reachable, namespace default" {
		t.Errorf("reachable: %+v", l)
	}
	l = temporalCheck("127.0.0.1:1", "default", errors.New("Temporal at 127.0.0.1:1 is unreachable: connection refused"))
	if l.OK || !strings.Contains(l.Detail, "127.0.0.1:1 (namespace default) is not reachable") || !strings.Contains(l.Fix, "TEMPORAL_ADDRESS") {
		t.Errorf("unreachable: %+v", l)
	}
	l = temporalCheck("127.0.0.1:7233", "prod", serviceerror.NewNamespaceNotFound("prod"))
	if l.OK || !strings.Contains(l.Detail, "has no namespace prod") || !strings.Contains(l.Fix, "temporal operator namespace create --namespace prod") {
		t.Errorf("no namespace: %+v", l)
	}
}

func TestPollerCheck(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := pollerOf("1@a@certflow-worker/v0.1.0", now.Add(-5*time.Second), "")
	b := pollerOf("2@b@certflow-worker/v0.1.0", now.Add(-time.Second), "")
	gone := pollerOf("3@c@certflow-worker/v0.0.9", now.Add(-4*time.Minute), "")
	for _, tc := range []struct {
		name    string
		kind    enumspb.TaskQueueType
		pollers []poller
		err     error
		ok      bool
		want    string
	}{
		{"two", enumspb.TASK_QUEUE_TYPE_WORKFLOW, []poller{a, b}, nil, true, "workflow pollers: 2 on task queue q: 2@b@certflow-worker/v0.1.0 (last access 1s ago), 1@a@certflow-worker/v0.1.0 (last access 5s ago)"},
		{"activity", enumspb.TASK_QUEUE_TYPE_ACTIVITY, []poller{a}, nil, true, "activity pollers: 1 on task queue q: 1@a"},
		{"none", enumspb.TASK_QUEUE_TYPE_WORKFLOW, nil, nil, false, "no worker polls task queue q in namespace ns for workflow tasks"},
		{"stale only", enumspb.TASK_QUEUE_TYPE_ACTIVITY, []poller{gone}, nil, false, "for activity tasks (the last, 3@c@certflow-worker/v0.0.9, polled 4m0s ago)"},
		{"stale left out", enumspb.TASK_QUEUE_TYPE_WORKFLOW, []poller{gone, a}, nil, true, "1 on task queue q: 1@a"},
		{"error", enumspb.TASK_QUEUE_TYPE_WORKFLOW, nil, errors.New("denied"), false, "describing task queue q failed: denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := pollerCheck(tc.kind, "q", "ns", tc.pollers, tc.err, now)
			out := formatChecks([]checkLine{l})
			if l.OK != tc.ok || !strings.Contains(out, tc.want) {
				t.Errorf("pollerCheck:\n%s\nwant OK %v and %q", out, tc.ok, tc.want)
			}
			if !tc.ok && !strings.Contains(out, "fix: ") {
				t.Errorf("failed line without a fix:\n%s", out)
			}
		})
	}
}

func TestSearchAttributesCheck(t *testing.T) {
	l := searchAttributesCheck("ns", nil, nil)
	if !l.OK || !strings.Contains(l.Detail, "all 6 registered in namespace ns (CertNamespace, CertName, IssuerName, CertState, NotAfter, RenewalTime)") {
		t.Errorf("all: %+v", l)
	}
	missing := []clients.SearchAttribute{{Name: "CertName", Type: enumspb.INDEXED_VALUE_TYPE_KEYWORD}, {Name: "NotAfter", Type: enumspb.INDEXED_VALUE_TYPE_DATETIME}}
	l = searchAttributesCheck("ns", missing, nil)
	if l.OK || !strings.Contains(l.Detail, "2 missing in namespace ns: CertName (Keyword), NotAfter (Datetime)") ||
		!strings.Contains(l.Fix, "temporal operator search-attribute create --namespace ns --name CertName --type Keyword; temporal operator search-attribute create --namespace ns --name NotAfter --type Datetime") {
		t.Errorf("missing: %+v", l)
	}
	l = searchAttributesCheck("ns", nil, errors.New("has search attribute CertName of type Text"))
	if l.OK || !strings.Contains(l.Detail, "of type Text") {
		t.Errorf("wrong type: %+v", l)
	}
}

func TestFormatChecks(t *testing.T) {
	got := formatChecks([]checkLine{
		{Name: "a", OK: true, Detail: "fine", Fix: "never shown"},
		{Name: "b", Detail: "broken", Fix: "mend it"},
		{Name: "c", Skipped: true, Detail: "not checked"},
	})
	want := "[ok]   a: fine\n[FAIL] b: broken\n       fix: mend it\n[--]   c: not checked\n"
	if got != want {
		t.Errorf("formatChecks:\n%s\nwant:\n%s", got, want)
	}
	if n := failedChecks([]checkLine{{OK: true}, {}, {Skipped: true}}); n != 2 {
		t.Errorf("failedChecks = %d, want 2 (a skipped check is not a pass)", n)
	}
}

func TestExitCode(t *testing.T) {
	if c := exitCode(errors.New("x")); c != 1 {
		t.Errorf("exitCode(plain) = %d, want 1", c)
	}
	if c := exitCode(fmt.Errorf("wrapped: %w", &exitError{code: timeoutExitCode, err: errors.New("late")})); c != 124 {
		t.Errorf("exitCode(timeout) = %d, want 124", c)
	}
}
