// Package acmelimits issues certificates through a rate-limiting proxy in front of
// Pebble (internal/localstack's RateLimitProxy, which answers rateLimited with
// Retry-After as Let's Encrypt does): the ACME account's scheduler
// (workflows.AccountSchedulerWorkflow) must keep every new order within the issuer's
// limits, so that the server refuses none, and pause the whole account when the server
// does answer rateLimited.
package acmelimits

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/scheduler"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/policy"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/workflows"
)

const (
	nsLimits = "limits"
	nsPause  = "pause"
	// The "week" of Let's Encrypt's certificates-per-registered-domain limit,
	// compressed, and its count: the proxy enforces it, the issuer configures it.
	domainWindow = 20 * time.Second
	domainCount  = 50
)

var env *testkit.System

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{ACME: true, Namespaces: []string{nsLimits, nsPause},
		RateLimitProxy: &localstack.RateLimitProxyOptions{CertificatesPerDomain: policy.RateWindow{Count: domainCount, Window: domainWindow}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "acmelimits setup:", err)
		os.Exit(1)
	}
	env = sys
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

// issuer is an Issuer of ns through the proxy with DNS-01 through the fake
// Cloudflare, with rateLimits (YAML lines indented by six spaces) when given.
func issuer(t *testing.T, ns, name, rateLimits string) {
	t.Helper()
	acmetest.Kubectl(t, env, acmetest.CloudflareTokenSecret("cloudflare-token"), "apply", "-n", ns, "-f", "-")
	m := string(acmetest.Issuer(env, "Issuer", name, acmetest.CloudflareSolver("cloudflare-token")))
	if rateLimits != "" {
		m = strings.Replace(m, "    solvers:\n", "    rateLimits:\n"+rateLimits+"    solvers:\n", 1)
	}
	acmetest.Kubectl(t, env, []byte(m), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, name)
}

// schedulerStatus queries the scheduler of Issuer ns/name's account.
func schedulerStatus(ns, name string) (scheduler.Status, error) {
	id := workflows.AccountSchedulerID(acme.AccountRef{Server: env.Stack.ACMEDirectoryURL, KeyNamespace: ns, KeySecretName: name + "-account"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := env.Temporal.QueryWorkflow(ctx, id, "", scheduler.QueryStatus)
	if err != nil {
		return scheduler.Status{}, fmt.Errorf("query %s: %w", id, err)
	}
	var st scheduler.Status
	return st, v.Get(&st)
}

func applyCertificates(t *testing.T, ns, issuerName string, names map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, c := range slices.Sorted(func(yield func(string) bool) {
		for k := range names {
			if !yield(k) {
				return
			}
		}
	}) {
		b.WriteString("---\n")
		b.Write(acmetest.Certificate(c, "Issuer", issuerName, names[c]))
	}
	acmetest.Kubectl(t, env, []byte(b.String()), "apply", "-n", ns, "-f", "-")
}

// ready counts the Ready Certificates of ns.
func ready(ns string) (int, int, error) {
	l, err := env.CertFlow.CertmanagerV1().Certificates(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for i := range l.Items {
		if r := testkit.CertificateCondition(&l.Items[i], cmapi.CertificateConditionReady); r != nil && r.Status == cmmeta.ConditionTrue {
			n++
		}
	}
	return n, len(l.Items), nil
}

// TestCertificatesPerDomainLimit: 300 Certificates under one registered domain with
// the issuer's limit of 50 per (compressed) week, which the server enforces too:
// never more than 50 orders reach it in any window, it refuses none, the scheduler's
// query shows the queue held by that limit, and all 300 are issued as windows open.
func TestCertificatesPerDomainLimit(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const total = 300
	issuer(t, nsLimits, "limits", fmt.Sprintf("      certificatesPerDomain: {count: %d, window: %s}\n", domainCount, domainWindow))
	before := env.Stack.RateLimitProxy.Counters()

	names := map[string]string{}
	for i := range total {
		names[fmt.Sprintf("c%03d", i)] = fmt.Sprintf("n%03d.limits.example.com", i)
	}
	start := time.Now()
	applyCertificates(t, nsLimits, "limits", names)
	t.Logf("%d Certificates applied in %.1fs", total, time.Since(start).Seconds())

	var (
		maxWaiting   int
		heldByDomain scheduler.Waiting
		sample       scheduler.Status
		queryErrs    int
		lastErr      error
	)
	testkit.Eventually(t, 15*time.Minute, fmt.Sprintf("%d Certificates Ready", total), func() (bool, string) {
		if st, err := schedulerStatus(nsLimits, "limits"); err != nil {
			queryErrs++
			lastErr = err
		} else if len(st.Waiting) > maxWaiting {
			maxWaiting, sample = len(st.Waiting), st
			for _, w := range st.Waiting {
				if w.Limit == policy.LimitDomain {
					heldByDomain = w
					break
				}
			}
		}
		n, all, err := ready(nsLimits)
		if err != nil {
			return false, err.Error()
		}
		c := env.Stack.RateLimitProxy.Counters()
		return n == total, fmt.Sprintf("%d of %d Ready, %d orders at the server, %d refused, scheduler: %d waiting at most (query errors %d, last %v); %v",
			n, all, c.Orders-before.Orders, c.Refused-before.Refused, maxWaiting, queryErrs, lastErr, c.Upstream)
	})
	elapsed := time.Since(start)

	c := env.Stack.RateLimitProxy.Counters()
	orders := c.OrderTimes[before.Orders:]
	t.Logf("%d Certificates Ready %.1fs after apply; %d orders at the server over %.1fs, at most %d in any %s; %d refused; the scheduler's queue held %d at most; the proxy's %v",
		total, elapsed.Seconds(), len(orders), orders[len(orders)-1].Sub(orders[0]).Seconds(), c.MaxOrdersInDomainWindow, domainWindow, c.Refused-before.Refused, maxWaiting, c.Upstream)
	if c.Refused != before.Refused {
		t.Errorf("the server refused %d orders (rateLimited): the scheduler let orders exceed its limit", c.Refused-before.Refused)
	}
	if c.MaxOrdersInDomainWindow > domainCount {
		t.Errorf("%d orders for limits.example.com reached the server within %s, limit %d", c.MaxOrdersInDomainWindow, domainWindow, domainCount)
	}
	if len(orders) != total {
		t.Errorf("%d orders reached the server, want exactly %d (one per Certificate)", len(orders), total)
	}
	// 300 orders at 50 per window take at least five whole windows after the first.
	if span := orders[len(orders)-1].Sub(orders[0]); span < (total/domainCount-1)*domainWindow {
		t.Errorf("the orders spanned %s, less than the %s the limit allows", span, (total/domainCount-1)*domainWindow)
	}
	if maxWaiting == 0 {
		t.Errorf("the scheduler's query never showed a waiting order (query errors %d, last %v)", queryErrs, lastErr)
	}
	if heldByDomain.OrderID == "" {
		t.Errorf("no waiting order was held by %q; largest queue seen: %+v", policy.LimitDomain, sample.Waiting[:min(3, len(sample.Waiting))])
	} else {
		t.Logf("a waiting order in the scheduler's query: %+v", heldByDomain)
		if heldByDomain.Until == nil || !strings.Contains(heldByDomain.Detail, "example.com") || heldByDomain.Position < 1 {
			t.Errorf("waiting order %+v: want the registered domain, an until time and a position", heldByDomain)
		}
	}
	if sample.Limits.CertificatesPerDomain != (policy.RateWindow{Count: domainCount, Window: domainWindow}) {
		t.Errorf("scheduler's limits %+v, want the issuer's certificatesPerDomain %d per %s", sample.Limits, domainCount, domainWindow)
	}
	for _, i := range []int{0, total / 2, total - 1} {
		name := fmt.Sprintf("c%03d", i)
		acmetest.VerifyChain(t, env, nsLimits, name+"-tls", names[name])
	}
	acmetest.AssertOrdersValid(t, env, nsLimits, total)
}

// TestRateLimitedPausesAccount: the server answers one new order rateLimited with
// Retry-After 10s; the account pauses: no other order of it reaches the server before
// the Retry-After has passed, and every Certificate is issued after.
func TestRateLimitedPausesAccount(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const retryAfter = 10 * time.Second
	issuer(t, nsPause, "pause", "")
	proxy := env.Stack.RateLimitProxy
	before := proxy.Counters()
	proxy.RefuseNext(1, retryAfter)

	first := map[string]string{"p0": "p0.pause.example.org"}
	applyCertificates(t, nsPause, "pause", first)
	var refusedAt time.Time
	testkit.Eventually(t, 2*time.Minute, "the server refusing the first order", func() (bool, string) {
		c := proxy.Counters()
		if c.Refused > before.Refused {
			refusedAt = c.RefusedTimes[before.Refused]
			return true, ""
		}
		return false, fmt.Sprintf("%d orders, %d refused", c.Orders-before.Orders, c.Refused-before.Refused)
	})
	// The others are ordered while the account is paused.
	rest := map[string]string{}
	for i := 1; i < 5; i++ {
		rest[fmt.Sprintf("p%d", i)] = fmt.Sprintf("p%d.pause.example.org", i)
	}
	applyCertificates(t, nsPause, "pause", rest)
	applied := time.Since(refusedAt)
	t.Logf("4 more Certificates applied %.1fs after the refusal", applied.Seconds())
	if applied >= retryAfter {
		t.Fatalf("the other Certificates were applied %s after the refusal, after its Retry-After %s: nothing tested", applied, retryAfter)
	}

	var paused *scheduler.Status
	testkit.Eventually(t, 5*time.Minute, "5 Certificates Ready", func() (bool, string) {
		if st, err := schedulerStatus(nsPause, "pause"); err == nil && st.PausedUntil != nil && (paused == nil || len(st.Waiting) > len(paused.Waiting)) {
			paused = &st
		}
		n, all, err := ready(nsPause)
		if err != nil {
			return false, err.Error()
		}
		return n == 5, fmt.Sprintf("%d of %d Ready; %s", n, all, acmetest.DescribeACME(env, nsPause))
	})

	c := proxy.Counters()
	orders := c.OrderTimes[before.Orders:]
	if c.Refused-before.Refused != 1 {
		t.Errorf("%d orders refused, want exactly the one", c.Refused-before.Refused)
	}
	if len(orders) != 5 {
		t.Errorf("%d orders reached the server after the refusal, want 5", len(orders))
	}
	for _, o := range orders {
		if o.Before(refusedAt.Add(retryAfter)) {
			t.Errorf("an order reached the server %s after the refusal, within its Retry-After %s", o.Sub(refusedAt), retryAfter)
		}
	}
	if len(orders) > 0 {
		t.Logf("first order after the refusal at +%.1fs, last at +%.1fs", orders[0].Sub(refusedAt).Seconds(), orders[len(orders)-1].Sub(refusedAt).Seconds())
	}
	if paused == nil {
		t.Errorf("the scheduler's query never showed the account paused with orders waiting")
	} else {
		t.Logf("paused until %s with %d waiting: %+v", paused.PausedUntil.Format(time.RFC3339Nano), len(paused.Waiting), paused.Waiting[0])
		for _, w := range paused.Waiting {
			if w.Limit != policy.LimitPaused {
				t.Errorf("waiting order %+v while paused: want limit %q", w, policy.LimitPaused)
			}
		}
		if paused.PausedUntil.Before(refusedAt.Add(retryAfter)) {
			t.Errorf("paused until %s, before the refusal (%s) + Retry-After %s", paused.PausedUntil, refusedAt, retryAfter)
		}
	}
	acmetest.AssertOrdersValid(t, env, nsPause, 5)
}
