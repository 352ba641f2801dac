package policy

import (
	"encoding/hex"
	"math/big"
	"testing"
	"time"
)

func TestARICertID(t *testing.T) {
	aki, _ := hex.DecodeString("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
	for _, tc := range []struct {
		name   string
		aki    []byte
		serial string // hex
		want   string
		err    bool
	}{
		// RFC 9773 §4.1's example: serial 0x0087654321, whose DER bytes start with 0x00.
		{"rfc example, leading zero byte", aki, "87654321", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", false},
		{"high bit clear, no zero byte", aki, "7f0102", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.fwEC", false},
		{"serial zero is one zero byte", aki, "00", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AA", false},
		{"no authority key identifier", nil, "01", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serial, _ := new(big.Int).SetString(tc.serial, 16)
			got, err := ARICertID(tc.aki, serial)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ARICertID = %q, %v; want %q, error %v", got, err, tc.want, tc.err)
			}
		})
	}
	if _, err := ARICertID(aki, big.NewInt(-1)); err == nil {
		t.Error("a negative serial must be refused")
	}
}

func TestARIRenewalTime(t *testing.T) {
	nb := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90 * 24 * time.Hour)
	day := 24 * time.Hour
	w := ARIWindow{Start: nb.Add(59 * day), End: nb.Add(61 * day)}
	got, ok := ARIRenewalTime("a.b", w, nb, na)
	if !ok || got.Before(w.Start) || !got.Before(w.End) {
		t.Fatalf("point %v (ok %v) outside window %v", got, ok, w)
	}
	again, _ := ARIRenewalTime("a.b", w, nb, na)
	if !again.Equal(got) {
		t.Errorf("not deterministic: %v then %v", got, again)
	}
	// The points of many certificates spread over the window.
	var lo, hi int
	for i := range 1000 {
		p, _ := ARIRenewalTime("cert-"+big.NewInt(int64(i)).String(), w, nb, na)
		if p.Before(w.Start.Add(day)) {
			lo++
		} else {
			hi++
		}
	}
	if lo < 400 || hi < 400 {
		t.Errorf("points not spread over the window: %d in the first half, %d in the second", lo, hi)
	}

	for _, tc := range []struct {
		name      string
		w         ARIWindow
		wantOK    bool
		notAfter  time.Time // want <= this
		notBefore time.Time // want >= this
	}{
		{"invalid: end before start", ARIWindow{Start: w.End, End: w.Start}, false, time.Time{}, time.Time{}},
		{"invalid: empty", ARIWindow{Start: w.Start, End: w.Start}, false, time.Time{}, time.Time{}},
		{"window past expiry is clamped before it", ARIWindow{Start: na.Add(-time.Hour), End: na.Add(day)}, true, na.Add(-9 * day), nb},
		{"window over the whole life (very short validity)", ARIWindow{Start: nb.Add(-day), End: na}, true, na.Add(-9 * day), nb},
		{"window ended before issuance (revoked): a minute after issuance", ARIWindow{Start: nb.Add(-2 * time.Hour), End: nb.Add(-time.Hour)}, true, nb.Add(ARIEarliestRenewal), nb.Add(ARIEarliestRenewal)},
		{"window ended after issuance (revoked): renew now", ARIWindow{Start: nb.Add(day), End: nb.Add(day + time.Second)}, true, nb.Add(day + time.Second), nb.Add(day)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ARIRenewalTime("x.y", tc.w, nb, na)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if ok && (got.After(tc.notAfter) || got.Before(tc.notBefore)) {
				t.Errorf("point %v not within [%v, %v]", got, tc.notBefore, tc.notAfter)
			}
		})
	}
}

func TestARINextCheck(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	far := now.Add(60 * 24 * time.Hour)
	for _, tc := range []struct {
		name       string
		retryAfter time.Duration
		renewal    time.Time
		want       time.Duration
	}{
		{"server's retry-after", 6 * time.Hour, far, 6 * time.Hour},
		{"none given: default", 0, far, ARIDefaultRetryAfter},
		{"too short: floor", time.Second, far, ARIMinRecheck},
		{"too long: ceiling", 30 * 24 * time.Hour, far, ARIMaxRecheck},
		{"just before a renewal nearer than the retry-after", 6 * time.Hour, now.Add(2 * time.Hour), 2*time.Hour - ARIMinRecheck},
		{"renewal imminent: no read before it", 6 * time.Hour, now.Add(50 * time.Second), 6 * time.Hour},
		{"no renewal known", 6 * time.Hour, time.Time{}, 6 * time.Hour},
	} {
		if got := ARINextCheck(now, tc.retryAfter, tc.renewal).Sub(now); got != tc.want {
			t.Errorf("%s: next check in %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestARIErrorRecheckAfter(t *testing.T) {
	for failures, want := range map[int]time.Duration{
		0: time.Hour, 1: time.Hour, 2: 2 * time.Hour, 3: 4 * time.Hour, 5: 16 * time.Hour,
		6: ARIMaxRecheck, 7: ARIMaxRecheck, 1000: ARIMaxRecheck,
	} {
		if got := ARIErrorRecheckAfter(failures); got != want {
			t.Errorf("ARIErrorRecheckAfter(%d) = %s, want %s", failures, got, want)
		}
	}
}
