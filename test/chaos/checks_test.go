package chaos

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/workflows"
)

// check is one line of the report.
type check struct {
	name, value string
	ok          bool
	detail      string // what is wrong, when it is
}

// listWorkflows returns every execution the visibility query matches.
func listWorkflows(query string) ([]*workflowpb.WorkflowExecutionInfo, error) {
	var out []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for {
		resp, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetExecutions()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// waitWorkflowsAsleep waits until every running workflow waits on a timer or a signal
// (no pending activity, no workflow task) and returns them by workflow type. One that
// never gets there is stuck, and fails the test.
func waitWorkflowsAsleep(t *testing.T, timeout time.Duration) map[string]int {
	t.Helper()
	var byType map[string]int
	testkit.Eventually(t, timeout, "every running workflow asleep", func() (bool, string) {
		running, err := listWorkflows("ExecutionStatus = 'Running'")
		if err != nil {
			return false, err.Error()
		}
		byType = map[string]int{}
		var busy []string
		for _, w := range running {
			if strings.HasPrefix(w.GetExecution().GetWorkflowId(), workflows.CertificateWorkflowID(ns, "")) {
				byType["CertificateWorkflow of "+ns]++
			}
			byType[w.GetType().GetName()]++
			if why := busyWith(w.GetExecution().GetWorkflowId()); why != "" && len(busy) < 10 {
				busy = append(busy, why)
			}
		}
		return len(busy) == 0, strings.Join(busy, "; ")
	})
	return byType
}

// busyWith says what a running workflow is doing, "" when it sleeps.
func busyWith(id string) string {
	d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		return id + ": " + err.Error()
	}
	if s := d.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "" // it ended since the list: the next round lists it no more
	}
	if a := d.GetPendingActivities(); len(a) > 0 {
		return fmt.Sprintf("%s runs activity %s (attempt %d, last failure: %s)", id, a[0].GetActivityType().GetName(),
			a[0].GetAttempt(), a[0].GetLastFailure().GetMessage())
	}
	if d.GetPendingWorkflowTask() != nil {
		return id + " has a workflow task pending"
	}
	return ""
}

// checkOutcome checks what the run left: every Certificate Ready at revision 1 with one
// CertificateRequest (and, for ACME, one valid Order), no next private key, Challenge
// or TXT record left, no workflow failed or terminated, no panic in any log.
func checkOutcome(t *testing.T, nCA, nACME int, acmeNames []string, running map[string]int) []check {
	t.Helper()
	ctx := context.Background()
	sys := env.System
	var checks []check
	add := func(name string, got, want int, detail string) {
		checks = append(checks, check{name: name, value: fmt.Sprintf("%d/%d", got, want), ok: got == want, detail: detail})
	}
	none := func(name string, left []string) {
		c := check{name: name, value: strconv.Itoa(len(left)), ok: len(left) == 0}
		if len(left) > 0 {
			c.detail = strings.Join(first(left, 10), ", ")
		}
		checks = append(checks, c)
	}

	certs, err := sys.CertFlow.CertmanagerV1().Certificates(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crs, err := sys.CertFlow.CertmanagerV1().CertificateRequests(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	orders, err := sys.CertFlow.AcmeV1().Orders(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	total := len(certs.Items)
	var notReady, notRev1, notOneCR, notOneOrder []string
	requestsOf := map[string][]string{} // Certificate -> its CertificateRequests
	certOfRequest := map[string]string{}
	for _, cr := range crs.Items {
		c := cr.Annotations[cmapi.CertificateNameKey]
		requestsOf[c] = append(requestsOf[c], cr.Name)
		certOfRequest[cr.Name] = c
	}
	validOrdersOf := map[string]int{}
	var otherOrders []string
	for _, o := range orders.Items {
		owner := ""
		for _, ref := range o.OwnerReferences {
			if ref.Kind == "CertificateRequest" {
				owner = certOfRequest[ref.Name]
			}
		}
		if o.Status.State == acmev1.Valid && owner != "" {
			validOrdersOf[owner]++
		} else {
			otherOrders = append(otherOrders, fmt.Sprintf("%s (%s, of %q)", o.Name, o.Status.State, owner))
		}
	}
	isACME := 0
	for i := range certs.Items {
		c := &certs.Items[i]
		if !testkit.CertificateReady(c) {
			notReady = append(notReady, c.Name+": "+conditions(c))
		}
		if c.Status.Revision == nil || *c.Status.Revision != 1 {
			notRev1 = append(notRev1, fmt.Sprintf("%s at revision %v", c.Name, deref(c.Status.Revision)))
		}
		if n := len(requestsOf[c.Name]); n != 1 {
			notOneCR = append(notOneCR, fmt.Sprintf("%s has %d", c.Name, n))
		}
		if c.Spec.IssuerRef.Name == "acme" {
			isACME++
			if n := validOrdersOf[c.Name]; n != 1 {
				notOneOrder = append(notOneOrder, fmt.Sprintf("%s has %d valid", c.Name, n))
			}
		}
	}
	add("Certificates", total, nCA+nACME+1, "")
	add("Ready", total-len(notReady), total, strings.Join(first(notReady, 5), "; "))
	add("revision 1 (issued once)", total-len(notRev1), total, strings.Join(first(notRev1, 10), ", "))
	add("one CertificateRequest each", total-len(notOneCR), total, strings.Join(first(notOneCR, 10), ", "))
	add("ACME Certificates with one valid Order", isACME-len(notOneOrder), nACME, strings.Join(first(notOneOrder, 10), ", "))
	none("Orders not valid or of no Certificate", otherOrders)

	nextKeys, err := sys.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: cmapi.IsNextPrivateKeySecretLabelKey + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, s := range nextKeys.Items {
		left = append(left, s.Name)
	}
	none("next private key Secrets left", left)

	challenges, err := sys.CertFlow.AcmeV1().Challenges(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	left = nil
	for _, c := range challenges.Items {
		left = append(left, c.Name)
	}
	none("Challenges left", left)

	left = nil
	for _, r := range sys.Stack.Cloudflare().Records("example.com") {
		if r.Type == "TXT" {
			left = append(left, r.Name)
		}
	}
	none("TXT records left at (fake) Cloudflare", left)
	left = nil
	for _, n := range acmeNames {
		fqdn := "_acme-challenge." + n + "."
		vals, err := acmetest.TXT(sys.Stack.ChallTestSrvDNS, fqdn)
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) > 0 {
			left = append(left, fqdn)
		}
	}
	none("TXT records left in DNS (challtestsrv)", left)

	ended, err := listWorkflows("ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut' OR ExecutionStatus = 'Canceled'")
	if err != nil {
		t.Fatal(err)
	}
	left = nil
	for _, w := range ended {
		left = append(left, w.GetExecution().GetWorkflowId()+" "+w.GetStatus().String())
	}
	none("workflows failed, terminated, timed out", left)
	add("Certificate workflows running, asleep", running["CertificateWorkflow of "+ns], total, fmt.Sprintf("running by type: %v", running))

	panics, logs := panicsInLogs(t)
	c := check{name: fmt.Sprintf("panics in the %d logs", logs), value: strconv.Itoa(len(panics)), ok: len(panics) == 0}
	if len(panics) > 0 {
		c.detail = strings.Join(first(panics, 5), "\n      ")
	}
	checks = append(checks, c)
	return checks
}

// panicRE matches a Go panic or fatal error, a panic client-go or kube-apiserver
// recovered ("Observed a panic", "apiserver panic'd", "panicked: true"; the apiserver's
// timeout lines say "panicked: false" and are none), and one the Temporal SDK caught
// in a workflow or an activity.
var panicRE = regexp.MustCompile(`^panic: |^fatal error: |Observed a panic|panic'd|panicked: true|(?i:workflow panic|activity panic)|PanicError`)

// panicsInLogs scans the logs of every process of the run (the worker and watcher
// processes and the servers of the stack) and returns the lines that report a panic,
// and how many logs it read.
func panicsInLogs(t *testing.T) ([]string, int) {
	t.Helper()
	var files []string
	for _, dir := range []string{env.State, env.Stack.StateDir} {
		m, err := filepath.Glob(filepath.Join(dir, "*.log"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	var found []string
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "# ") { // the command line childproc writes first
				continue
			}
			if panicRE.MatchString(line) {
				found = append(found, filepath.Base(path)+": "+truncate(line, 200))
			}
		}
		if err := sc.Err(); err != nil {
			t.Errorf("read %s: %v", path, err)
		}
		f.Close()
	}
	return found, len(files)
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestPanicRE: the log scan finds the panics each process reports, not the
// apiserver's "panicked: false" lines of requests cut by its restart.
func TestPanicRE(t *testing.T) {
	for line, want := range map[string]bool{
		"panic: runtime error: invalid memory address or nil pointer dereference": true,
		"fatal error: concurrent map writes":                                      true,
		`time=2026-12-05T13:56:25.027Z level=ERROR msg="Workflow panic" Namespace=default TaskQueue=certflow WorkerID=1@vm WorkflowType=CertificateWorkflow`:                                   true,
		`time=2026-12-05T13:56:25.027Z level=ERROR msg="Activity panic." ActivityType=WriteSecret`:                                                                                             true,
		`E1205 13:56:25.027201 14159 runtime.go:79] Observed a panic: "invalid memory address or nil pointer dereference"`:                                                                     true,
		`E1205 13:56:25.027201 14159 finisher.go:175] "Unhandled Error" err="FinishRequest: post-timeout activity - time-elapsed: 54.603µs, panicked: false, err: <nil>, panic-reason: <nil>"`: false,
		`time=2026-12-05T13:56:25.027Z level=INFO msg="k8swatch caches synced" workers=8`:                                                                                                      false,
	} {
		if got := panicRE.MatchString(line); got != want {
			t.Errorf("panicRE.MatchString(%q) = %v, want %v", line, got, want)
		}
	}
}
