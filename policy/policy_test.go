package policy

import (
	"math"
	"testing"
	"time"
)

func dur(d time.Duration) *time.Duration { return &d }
func pct(p int32) *int32                 { return &p }

func TestRenewalTime(t *testing.T) {
	nb := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name        string
		notBefore   time.Time
		notAfter    time.Time
		renewBefore *time.Duration
		percentage  *int32
		want        time.Time
	}{
		{name: "default is two thirds through the lifetime", notAfter: nb.Add(90 * day), want: nb.Add(60 * day)},
		{name: "renewBefore honoured", notAfter: nb.Add(90 * day), renewBefore: dur(30 * day), want: nb.Add(60 * day)},
		{name: "renewBefore of 5m (minimum) honoured", notAfter: nb.Add(time.Hour), renewBefore: dur(5 * time.Minute), want: nb.Add(55 * time.Minute)},
		{name: "renewBefore equal to lifetime falls back to default", notAfter: nb.Add(90 * day), renewBefore: dur(90 * day), want: nb.Add(60 * day)},
		{name: "renewBefore longer than lifetime falls back to default", notAfter: nb.Add(time.Hour), renewBefore: dur(2 * time.Hour), want: nb.Add(40 * time.Minute)},
		{name: "renewBefore zero falls back to default", notAfter: nb.Add(3 * time.Hour), renewBefore: dur(0), want: nb.Add(2 * time.Hour)},
		{name: "negative renewBefore falls back to default", notAfter: nb.Add(3 * time.Hour), renewBefore: dur(-time.Hour), want: nb.Add(2 * time.Hour)},
		{name: "renewBefore too long falls back to percentage", notAfter: nb.Add(100 * time.Hour), renewBefore: dur(200 * time.Hour), percentage: pct(25), want: nb.Add(75 * time.Hour)},
		{name: "renewBefore wins over percentage", notAfter: nb.Add(100 * time.Hour), renewBefore: dur(10 * time.Hour), percentage: pct(25), want: nb.Add(90 * time.Hour)},
		{name: "percentage 25 of 60 minutes renews at 45 minutes", notAfter: nb.Add(time.Hour), percentage: pct(25), want: nb.Add(45 * time.Minute)},
		{name: "percentage 1", notAfter: nb.Add(100 * time.Hour), percentage: pct(1), want: nb.Add(99 * time.Hour)},
		{name: "percentage 99", notAfter: nb.Add(100 * time.Hour), percentage: pct(99), want: nb.Add(time.Hour)},
		{name: "percentage 0 falls back to default", notAfter: nb.Add(3 * time.Hour), percentage: pct(0), want: nb.Add(2 * time.Hour)},
		{name: "percentage 100 falls back to default", notAfter: nb.Add(3 * time.Hour), percentage: pct(100), want: nb.Add(2 * time.Hour)},
		{name: "negative percentage falls back to default", notAfter: nb.Add(3 * time.Hour), percentage: pct(-5), want: nb.Add(2 * time.Hour)},
		{name: "ten-year lifetime with percentage does not overflow", notAfter: nb.Add(3650 * day), percentage: pct(50), want: nb.Add(1825 * day)},
		{name: "hundred-year lifetime with percentage 99", notAfter: nb.Add(36500 * day), percentage: pct(99), want: nb.Add(365 * day)},
		// 10s/3 = 3.333s before notAfter; 6.666s truncated
		{name: "result truncated to the second", notAfter: nb.Add(10 * time.Second), want: nb.Add(6 * time.Second)},
		// lifetime 90m0.2s, /3 = 30m0.0666..s; renewal at 60m0.6333s
		{name: "sub-second notBefore and notAfter are truncated", notBefore: nb.Add(500 * time.Millisecond), notAfter: nb.Add(90*time.Minute + 700*time.Millisecond), want: nb.Add(60 * time.Minute)},
		{name: "zero lifetime renews at notAfter", notAfter: nb, want: nb},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notBefore := tc.notBefore
			if notBefore.IsZero() {
				notBefore = nb
			}
			got := RenewalTime(notBefore, tc.notAfter, tc.renewBefore, tc.percentage)
			if !got.Equal(tc.want) {
				t.Fatalf("RenewalTime = %v, want %v", got, tc.want)
			}
			if got.Nanosecond() != 0 {
				t.Fatalf("RenewalTime %v not truncated to the second", got)
			}
		})
	}
}

func TestRenewBeforePercentageExact(t *testing.T) {
	// For lifetimes where the naive product does not overflow, the
	// overflow-safe computation must match it exactly.
	for _, lifetime := range []time.Duration{1, 99, 101, time.Hour + 7, 2160 * time.Hour, 12345678901} {
		for p := int32(1); p < 100; p++ {
			want := lifetime * time.Duration(p) / 100
			if got := RenewBefore(lifetime, nil, pct(p)); got != want {
				t.Fatalf("lifetime %d pct %d: got %d want %d", lifetime, p, got, want)
			}
		}
	}
	// Long lifetime: must stay positive and within the lifetime.
	long := time.Duration(math.MaxInt64)
	if got := RenewBefore(long, nil, pct(99)); got <= 0 || got > long {
		t.Fatalf("overflow for max lifetime: %d", got)
	}
}

func TestFailureBackoff(t *testing.T) {
	tests := []struct {
		attempts int
		want     time.Duration
	}{
		{math.MinInt, 0},
		{-1, 0},
		{0, 0},
		{1, time.Hour},
		{2, 2 * time.Hour},
		{3, 4 * time.Hour},
		{4, 8 * time.Hour},
		{5, 16 * time.Hour},
		{6, 32 * time.Hour},
		{7, 32 * time.Hour},
		{64, 32 * time.Hour},
		{1000, 32 * time.Hour},
		{math.MaxInt, 32 * time.Hour},
	}
	for _, tc := range tests {
		if got := FailureBackoff(tc.attempts); got != tc.want {
			t.Errorf("FailureBackoff(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
}

func TestFailureBackoffUntil(t *testing.T) {
	last := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if got, want := FailureBackoffUntil(last, 3), last.Add(4*time.Hour); !got.Equal(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if got := FailureBackoffUntil(last, 0); !got.Equal(last) {
		t.Fatalf("got %v want %v", got, last)
	}
}

func TestRecheckBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for n, w := range want {
		if got := RecheckBackoff(n); got != w {
			t.Errorf("RecheckBackoff(%d) = %s, want %s", n, got, w)
		}
	}
	if got := RecheckBackoff(1000); got != 5*time.Minute {
		t.Errorf("RecheckBackoff(1000) = %s, want the 5m cap", got)
	}
	if got := RecheckBackoff(-1); got != 5*time.Second {
		t.Errorf("RecheckBackoff(-1) = %s, want 5s", got)
	}
}
