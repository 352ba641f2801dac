package policy

import (
	"slices"
	"testing"
	"time"
)

func TestRegisteredDomain(t *testing.T) {
	for name, want := range map[string]string{
		"www.example.com":        "example.com",
		"*.a.Example.COM":        "example.com",
		"new.blog.example.co.uk": "example.co.uk",
		"example.com.":           "example.com",
		"10.0.0.1":               "10.0.0.1",
		"co.uk":                  "co.uk",
		"host1.certflow.test":    "certflow.test",
		"a.b.foo.github.io":      "foo.github.io",
		"2001:db8::1":            "2001:db8::1",
		"single-label-name":      "single-label-name",
	} {
		if got := RegisteredDomain(name); got != want {
			t.Errorf("RegisteredDomain(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestDefaultRateLimits(t *testing.T) {
	for server, want := range map[string]RateLimits{
		"https://acme-v02.api.letsencrypt.org/directory":         LetsEncryptLimits,
		"https://acme-staging-v02.api.letsencrypt.org/directory": LetsEncryptLimits,
		"https://127.0.0.1:14000/dir":                            GenericLimits,
		"https://acme.zerossl.com/v2/DV90":                       GenericLimits,
		"https://evilletsencrypt.org/dir":                        GenericLimits,
		"::not a url":                                            GenericLimits,
	} {
		if got := DefaultRateLimits(server); got != want {
			t.Errorf("DefaultRateLimits(%q) = %+v, want %+v", server, got, want)
		}
	}
	o := GenericLimits.Override(RateLimits{CertificatesPerDomain: RateWindow{Count: 50, Window: 20 * time.Second}, Concurrent: 7})
	if o.CertificatesPerDomain.Count != 50 || o.Concurrent != 7 || o.Lease != DefaultSlotLease || o.OrdersPerAccount.on() {
		t.Errorf("Override: %+v", o)
	}
	if LetsEncryptLimits.Longest() != 7*24*time.Hour {
		t.Errorf("Longest = %s", LetsEncryptLimits.Longest())
	}
}

func TestDecideSlots(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	req := func(id string, names ...string) SlotRequest {
		return SlotRequest{OrderID: id, Identifiers: names, Since: t0}
	}
	grant := func(id string, s int, names ...string) SlotGrant {
		return SlotGrant{OrderID: id, Identifiers: names, At: at(s), Ordered: at(s), Released: at(s + 1)}
	}
	week := RateWindow{Count: 2, Window: 20 * time.Second}
	for _, tc := range []struct {
		name      string
		limits    RateLimits
		queue     []SlotRequest
		hist      SlotHistory
		now       time.Time
		grant     []string
		waitLimit []string
		until     []time.Time
		next      time.Time
	}{
		{name: "no limits: all granted", limits: RateLimits{},
			queue: []SlotRequest{req("a", "a.example.com"), req("b", "b.example.com")}, now: at(0), grant: []string{"a", "b"}},
		{name: "per domain: two fit, the third waits for the first to leave the window",
			limits: RateLimits{CertificatesPerDomain: week},
			queue:  []SlotRequest{req("a", "a.example.com"), req("b", "b.example.com"), req("c", "c.example.com"), req("d", "d.other.org")},
			hist:   SlotHistory{Grants: []SlotGrant{grant("old", -30, "x.example.com")}}, // out of the window
			now:    at(0), grant: []string{"a", "b", "d"}, waitLimit: []string{LimitDomain}, until: []time.Time{at(20)}, next: at(20)},
		{name: "per domain: sliding, not fixed windows",
			limits: RateLimits{CertificatesPerDomain: week},
			queue:  []SlotRequest{req("c", "c.example.com")},
			hist:   SlotHistory{Grants: []SlotGrant{grant("a", 0, "a.example.com"), grant("b", 15, "b.example.com")}},
			now:    at(19), waitLimit: []string{LimitDomain}, until: []time.Time{at(20)}, next: at(20)},
		{name: "per domain: the window has moved on",
			limits: RateLimits{CertificatesPerDomain: week},
			queue:  []SlotRequest{req("c", "c.example.com"), req("d", "d.example.com")},
			hist:   SlotHistory{Grants: []SlotGrant{grant("a", 0, "a.example.com"), grant("b", 15, "b.example.com")}},
			now:    at(20), grant: []string{"c"}, waitLimit: []string{LimitDomain}, until: []time.Time{at(35)}, next: at(35)},
		{name: "orders per account hold back everyone",
			limits: RateLimits{OrdersPerAccount: RateWindow{Count: 1, Window: time.Minute}},
			queue:  []SlotRequest{req("b", "b.example.com"), req("c", "c.other.org")},
			hist:   SlotHistory{Grants: []SlotGrant{grant("a", 0, "a.example.com")}},
			now:    at(10), waitLimit: []string{LimitOrders, LimitOrders}, until: []time.Time{at(60), at(60)}, next: at(60)},
		{name: "duplicate certificate: same set of names in any order and case",
			limits: RateLimits{DuplicateCertificates: RateWindow{Count: 1, Window: time.Hour}},
			queue:  []SlotRequest{req("b", "B.example.com", "a.example.com"), req("c", "a.example.com")},
			hist:   SlotHistory{Grants: []SlotGrant{grant("a", 0, "a.example.com", "b.example.com")}},
			now:    at(10), grant: []string{"c"}, waitLimit: []string{LimitDuplicate}, until: []time.Time{at(3600)}, next: at(3600)},
		{name: "orders that ended without a certificate count for the account, not for the domain or as duplicates",
			limits: RateLimits{CertificatesPerDomain: RateWindow{Count: 1, Window: time.Hour}, DuplicateCertificates: RateWindow{Count: 1, Window: time.Hour},
				OrdersPerAccount: RateWindow{Count: 3, Window: time.Hour}},
			queue: []SlotRequest{req("b", "a.example.com"), req("c", "c.other.org")},
			hist: SlotHistory{Grants: []SlotGrant{
				{OrderID: "a1", Identifiers: []string{"a.example.com"}, At: at(0), Ordered: at(0), Released: at(1), NotIssued: true},
				{OrderID: "a2", Identifiers: []string{"a.example.com"}, At: at(2), Ordered: at(2), Released: at(3), NotIssued: true}}},
			now: at(10), grant: []string{"b"}, waitLimit: []string{LimitOrders}, until: []time.Time{at(3600)}, next: at(3600)},
		{name: "failed validations per name",
			limits: RateLimits{FailedValidations: RateWindow{Count: 2, Window: time.Hour}},
			queue:  []SlotRequest{req("b", "bad.example.com", "ok.example.com"), req("c", "ok.example.com")},
			hist: SlotHistory{Failures: []ValidationFailure{
				{Identifier: "bad.example.com", At: at(0)}, {Identifier: "BAD.example.com", At: at(100)}, {Identifier: "ok.example.com", At: at(5)}}},
			now: at(200), grant: []string{"c"}, waitLimit: []string{LimitFailed}, until: []time.Time{at(3600)}, next: at(3600)},
		{name: "paused by the server: nothing but exempt orders until then",
			limits: RateLimits{},
			queue:  []SlotRequest{req("a", "a.example.com"), {OrderID: "ari", Identifiers: []string{"r.example.com"}, Exempt: true}},
			hist:   SlotHistory{PausedUntil: at(10)},
			now:    at(0), grant: []string{"ari"}, waitLimit: []string{LimitPaused}, until: []time.Time{at(10)}, next: at(10)},
		{name: "pause over",
			limits: RateLimits{}, queue: []SlotRequest{req("a", "a.example.com")},
			hist: SlotHistory{PausedUntil: at(10)}, now: at(10), grant: []string{"a"}},
		{name: "exempt orders skip the windows but count for concurrency",
			limits: RateLimits{CertificatesPerDomain: RateWindow{Count: 1, Window: time.Hour}, Concurrent: 2, Lease: time.Hour},
			queue: []SlotRequest{{OrderID: "ari", Identifiers: []string{"r.example.com"}, Exempt: true}, req("b", "b.example.com"),
				{OrderID: "ari2", Identifiers: []string{"s.example.com"}, Exempt: true}},
			hist: SlotHistory{Grants: []SlotGrant{{OrderID: "a", Identifiers: []string{"a.example.com"}, At: at(0)}}},
			now:  at(10), grant: []string{"ari"}, waitLimit: []string{LimitConcurrency, LimitConcurrency},
			until: []time.Time{at(3600), at(3600)}, next: at(3600)},
		{name: "per domain: an order counts from when it reached the server, not from its grant",
			limits: RateLimits{CertificatesPerDomain: week},
			queue:  []SlotRequest{req("c", "c.example.com")},
			hist: SlotHistory{Grants: []SlotGrant{
				{OrderID: "a", Identifiers: []string{"a.example.com"}, At: at(0), Ordered: at(8)},
				{OrderID: "b", Identifiers: []string{"b.example.com"}, At: at(1), Ordered: at(2), Released: at(5)}}},
			now: at(21), waitLimit: []string{LimitDomain}, until: []time.Time{at(22)}, next: at(22)},
		{name: "per domain: a running order that has not reported stays in the window",
			limits: RateLimits{CertificatesPerDomain: week},
			queue:  []SlotRequest{req("c", "c.example.com")},
			hist: SlotHistory{Grants: []SlotGrant{
				{OrderID: "a", Identifiers: []string{"a.example.com"}, At: at(0)},
				{OrderID: "b", Identifiers: []string{"b.example.com"}, At: at(1), Ordered: at(90)}}},
			now: at(100), waitLimit: []string{LimitDomain}, until: []time.Time{at(110)}, next: at(110)},
		{name: "per domain: a released order that never reported counts from its release",
			limits: RateLimits{CertificatesPerDomain: week},
			queue:  []SlotRequest{req("c", "c.example.com")},
			hist: SlotHistory{Grants: []SlotGrant{
				{OrderID: "a", Identifiers: []string{"a.example.com"}, At: at(0), Released: at(15)},
				{OrderID: "b", Identifiers: []string{"b.example.com"}, At: at(1), Ordered: at(20)}}},
			now: at(30), waitLimit: []string{LimitDomain}, until: []time.Time{at(35)}, next: at(35)},
		{name: "a slot never released is reclaimed after its lease",
			limits: RateLimits{Concurrent: 1, Lease: time.Minute},
			queue:  []SlotRequest{req("b", "b.example.com")},
			hist:   SlotHistory{Grants: []SlotGrant{{OrderID: "a", Identifiers: []string{"a.example.com"}, At: at(0)}}},
			now:    at(60), grant: []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DecideSlots(tc.limits, tc.queue, tc.hist, tc.now)
			if !slices.Equal(d.Grant, tc.grant) {
				t.Errorf("granted %v, want %v", d.Grant, tc.grant)
			}
			var limits []string
			var until []time.Time
			for _, w := range d.Waiting {
				limits, until = append(limits, w.Limit), append(until, w.Until)
			}
			if !slices.Equal(limits, tc.waitLimit) || !slices.EqualFunc(until, tc.until, time.Time.Equal) {
				t.Errorf("waiting %v until %v, want %v until %v (%+v)", limits, until, tc.waitLimit, tc.until, d.Waiting)
			}
			if !d.Next.Equal(tc.next) {
				t.Errorf("next decision at %v, want %v", d.Next, tc.next)
			}
		})
	}
}

// However requests arrive, the grants DecideSlots makes never exceed a window.
func TestDecideSlotsNeverExceedsAWindow(t *testing.T) {
	l := RateLimits{CertificatesPerDomain: RateWindow{Count: 50, Window: 20 * time.Second}, OrdersPerAccount: RateWindow{Count: 70, Window: 30 * time.Second}}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var queue []SlotRequest
	for i := range 300 {
		queue = append(queue, SlotRequest{OrderID: string(rune('A'+i%26)) + time.Duration(i).String(), Identifiers: []string{time.Duration(i).String() + ".host.example.com"}})
	}
	var h SlotHistory
	var all []time.Time
	now := t0
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("no progress")
		}
		d := DecideSlots(l, queue, h, now)
		for _, id := range d.Grant {
			i := slices.IndexFunc(queue, func(r SlotRequest) bool { return r.OrderID == id })
			h.Grants = append(h.Grants, SlotGrant{OrderID: id, Identifiers: queue[i].Identifiers, At: now, Released: now})
			all = append(all, now)
			queue = slices.Delete(queue, i, i+1)
		}
		h = PruneSlotHistory(l, h, now)
		if len(queue) > 0 {
			if d.Next.IsZero() || !d.Next.After(now) {
				t.Fatalf("waiting without a next decision: %+v", d)
			}
			now = d.Next
		}
	}
	if len(all) != 300 {
		t.Fatalf("%d grants", len(all))
	}
	for _, g := range all {
		n := 0
		for _, o := range all {
			if !o.Before(g) && o.Before(g.Add(20*time.Second)) {
				n++
			}
		}
		if n > 50 {
			t.Fatalf("%d grants in the window from %s", n, g)
		}
	}
	if elapsed := now.Sub(t0); elapsed < 5*20*time.Second || elapsed > 6*20*time.Second {
		t.Errorf("300 orders at 50 per 20 s took %s of simulated time, want 100-120 s", elapsed)
	}
}
