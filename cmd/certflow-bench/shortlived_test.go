package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestCompression(t *testing.T) {
	for _, tc := range []struct {
		factor          float64
		validity, month time.Duration
		interval        time.Duration
	}{
		// A simulated day per minute: 160 h → 400 s, 30 days → 30 min; renewed at
		// 2/3 of NotBefore..NotAfter (399 s, Pebble's NotAfter is a second short) = 266 s.
		{factor: 1440, validity: 400 * time.Second, month: 30 * time.Minute, interval: 266 * time.Second},
		// Real time: the month is 30 days and a certificate 160 h, renewed after 106.7 h.
		{factor: 1, validity: 160 * time.Hour, month: 30 * 24 * time.Hour, interval: 383999 * time.Second},
		// Truncated to whole seconds: Pebble takes seconds.
		{factor: 1000, validity: 576 * time.Second, month: 2592 * time.Second, interval: 383 * time.Second},
	} {
		c, err := newCompression(tc.factor)
		if err != nil {
			t.Fatalf("factor %v: %v", tc.factor, err)
		}
		if c.Validity != tc.validity || c.Month != tc.month || c.renewalInterval() != tc.interval {
			t.Errorf("factor %v: validity %s month %s interval %s, want %s %s %s", tc.factor, c.Validity, c.Month, c.renewalInterval(), tc.validity, tc.month, tc.interval)
		}
		if got, want := c.requiredRate(1000), 1000/tc.interval.Seconds(); math.Abs(got-want) > 1e-9 {
			t.Errorf("factor %v: required rate %v, want %v", tc.factor, got, want)
		}
	}
	c, _ := newCompression(1440)
	if got := c.simulated(20 * time.Second); got != 8*time.Hour {
		t.Errorf("20 s at 1440 = %s simulated, want 8h", got)
	}
	for _, bad := range []float64{0, -1, 0.5, math.NaN(), 20000} {
		if _, err := newCompression(bad); err == nil {
			t.Errorf("factor %v: want an error", bad)
		}
	}
}

func TestCheckRenewals(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// A 300 s certificate (NotAfter a second short, as Pebble's) issued at s, seen
	// in its Secret at seen; due (when not zero) as the Certificate's status said.
	cert := func(serial string, s, seen int, due time.Time) issuedCert {
		return issuedCert{Serial: serial, NotBefore: at(s), NotAfter: at(s + 299), Seen: at(seen), Due: due}
	}
	tol := 10 * time.Second
	lines := map[string][]issuedCert{
		// On time: the 2/3 point of 0..299 is 199 s; renewed at 200 and 400.
		"ontime": {cert("a1", 0, 1, time.Time{}), cert("a2", 200, 200, time.Time{}), cert("a3", 399, 400, time.Time{})},
		// Late by 30 s, not expired (renewed at 229 < 299).
		"late": {cert("b1", 0, 1, time.Time{}), cert("b2", 229, 229, time.Time{})},
		// Expired while serving: renewed at 310, after NotAfter 299.
		"expired": {cert("c1", 0, 1, time.Time{}), cert("c2", 310, 310, time.Time{})},
		// ARI's renewal time from the status (100 s): renewed at 105 is on time although
		// it is long before the 2/3 point; the new one is due at 150 and at the end
		// (420) it is past its NotAfter (404): overdue and expired.
		"ari": {cert("d1", 0, 1, at(100)), cert("d2", 105, 105, at(150))},
		// Early: due at 350 by status, renewed at 200.
		"early": {cert("e1", 0, 1, at(350)), cert("e2", 200, 200, at(1000))},
	}
	f := checkRenewals(lines, at(420), tol)
	if f.Certificates != 5 || f.Renewals != 6 {
		t.Errorf("certificates %d renewals %d, want 5 and 6", f.Certificates, f.Renewals)
	}
	// Late: b1 (30 s), c1 (111 s), d2 overdue at the end (270 s). a3 is due at 598 and
	// b2 at 428: not yet.
	if f.Late != 3 || f.Overdue != 1 {
		t.Errorf("late %d overdue %d, want 3 and 1", f.Late, f.Overdue)
	}
	if f.Expired != 2 || f.WorstExpiredSeconds != 16 {
		t.Errorf("expired %d (worst %v s), want 2 (c1 by 11 s, d2 by 16 s at the end)", f.Expired, f.WorstExpiredSeconds)
	}
	if f.Early != 1 || f.DueFromStatus != 2 {
		t.Errorf("early %d due from status %d, want 1 and 2", f.Early, f.DueFromStatus)
	}
	if f.LatenessMaxSeconds != 270 || !strings.Contains(f.WorstLate, "ari serial d2") || !strings.Contains(f.WorstLate, "not renewed") {
		t.Errorf("worst lateness %v s (%s), want 270 s of ari's d2", f.LatenessMaxSeconds, f.WorstLate)
	}
	if f.RenewalsPerCertMin != 1 || f.RenewalsPerCertMax != 2 {
		t.Errorf("renewals per cert %d..%d, want 1..2", f.RenewalsPerCertMin, f.RenewalsPerCertMax)
	}
	if got := renewalsIn(lines, at(200), at(400)); got != 4 {
		t.Errorf("renewals in [200, 400) = %d, want 4 (a2, b2, c2, e2; not a3, d2)", got)
	}

	// Nothing renewed yet and nothing due: no lateness.
	quiet := checkRenewals(map[string][]issuedCert{"x": {cert("x1", 0, 1, time.Time{})}}, at(100), tol)
	if quiet.Late != 0 || quiet.Expired != 0 || quiet.Renewals != 0 || quiet.LatenessMaxSeconds != 0 {
		t.Errorf("quiet: %+v", quiet)
	}
}

func TestRenewalTrackerRecord(t *testing.T) {
	rt := newRenewalTracker()
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	c := issuedCert{Serial: "1", NotBefore: t0, NotAfter: t0.Add(399 * time.Second), Seen: t0}
	rt.record("a", c)
	again := c
	again.Seen = t0.Add(time.Minute) // a later write of the same certificate (labels, status)
	rt.record("a", again)
	rt.due["a"] = map[int64]time.Time{c.NotAfter.Unix(): t0.Add(100 * time.Second)}
	s := rt.snapshot()
	if len(s["a"]) != 1 || !s["a"][0].Seen.Equal(t0) || !s["a"][0].Due.Equal(t0.Add(100*time.Second)) {
		t.Errorf("line %+v", s["a"])
	}
}
