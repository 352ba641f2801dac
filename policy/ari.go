package policy

import (
	"encoding/base64"
	"errors"
	"hash/fnv"
	"math/big"
	"time"
)

// ACME Renewal Information (ARI, RFC 9773): the server suggests when to renew each
// certificate. These are the pure decisions: the certificate's identifier, the point
// chosen in the window, and when to read the window again.

// ARIWindow is the suggestedWindow of a renewalInfo answer.
type ARIWindow struct {
	Start time.Time
	End   time.Time
}

// Valid reports whether the window is one (RFC 9773 §4.2: an end that equals or precedes
// the start is invalid).
func (w ARIWindow) Valid() bool { return !w.Start.IsZero() && w.End.After(w.Start) }

// ARICertID is a certificate's ARI identifier (RFC 9773 §4.1): the base64url (unpadded)
// keyIdentifier of its authority key identifier, a dot, and the base64url bytes of its
// serial number as DER encodes it (big-endian two's complement, with a leading zero byte
// when the high bit is set).
func ARICertID(authorityKeyID []byte, serial *big.Int) (string, error) {
	if len(authorityKeyID) == 0 {
		return "", errors.New("the certificate has no authority key identifier")
	}
	if serial == nil || serial.Sign() < 0 {
		return "", errors.New("the certificate has no positive serial number")
	}
	b := serial.Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(authorityKeyID) + "." + enc.EncodeToString(b), nil
}

// ARIRenewalTime is when to renew a certificate within its server's window. RFC 9773
// asks for a uniformly random point in the window; here the point is a hash of the
// certificate's identifier and the window, so it is spread over the window across
// certificates but the same at every evaluation and replay of one. The point is kept
// within the certificate's validity and no later than a tenth of its lifetime before
// its expiry (a window reaching past it, as a server gives for very short validities,
// still leaves time to renew), and no sooner than ARIEarliestRenewal after its
// issuance. A window whose end has passed (a revoked certificate) gives a time in the
// past, so the certificate is renewed now; the floor keeps a server that says so of
// every new certificate from making renewal a hot loop. ok is false for an invalid
// window.
func ARIRenewalTime(certID string, w ARIWindow, notBefore, notAfter time.Time) (t time.Time, ok bool) {
	if !w.Valid() {
		return time.Time{}, false
	}
	h := fnv.New64a()
	h.Write([]byte(certID + "|" + w.Start.UTC().Format(time.RFC3339Nano) + "|" + w.End.UTC().Format(time.RFC3339Nano)))
	frac := float64(h.Sum64()>>11) / float64(uint64(1)<<53) // [0, 1)
	t = w.Start.Add(time.Duration(frac * float64(w.End.Sub(w.Start))))
	if !notAfter.After(notBefore) {
		return t, true
	}
	latest := notAfter.Add(-notAfter.Sub(notBefore) / 10)
	if t.After(latest) {
		t = latest
	}
	if earliest := notBefore.Add(ARIEarliestRenewal); t.Before(earliest) && earliest.Before(latest) {
		t = earliest
	}
	return t, true
}

// ARIEarliestRenewal is how soon after its issuance a window may renew a certificate.
const ARIEarliestRenewal = time.Minute

// Bounds of the interval between two reads of a certificate's renewal information.
const (
	// ARIDefaultRetryAfter is the interval when the server gives no Retry-After.
	ARIDefaultRetryAfter = 6 * time.Hour
	// ARIMinRecheck keeps a server's short Retry-After from becoming a hot loop.
	ARIMinRecheck = 30 * time.Second
	// ARIMaxRecheck bounds a server's long Retry-After: a moved window is seen within a day.
	ARIMaxRecheck = 24 * time.Hour
	// ARIErrorRecheck is the interval after a failed read.
	ARIErrorRecheck = time.Hour
)

// ARIErrorRecheckAfter is the interval after failed reads in a row (failures ≥ 1):
// ARIErrorRecheck doubling per failure, at most ARIMaxRecheck. A server that answers
// an error for good (it does not know the certificate) is asked once a day, not once
// an hour for the rest of the certificate's life.
func ARIErrorRecheckAfter(failures int) time.Duration {
	d := ARIErrorRecheck
	for i := 1; i < failures && d < ARIMaxRecheck; i++ {
		d *= 2
	}
	return min(d, ARIMaxRecheck)
}

// ARINextCheck is when to read the renewal information again: after the server's
// Retry-After (0: ARIDefaultRetryAfter) bounded to [ARIMinRecheck, ARIMaxRecheck], but
// when that is past the renewal time, once more just before it (ARIMinRecheck ahead),
// so that a renewal is not made on a window that has moved since; a renewal closer than
// that is made without another read.
func ARINextCheck(now time.Time, retryAfter time.Duration, renewal time.Time) time.Time {
	d := retryAfter
	if d <= 0 {
		d = ARIDefaultRetryAfter
	}
	d = min(max(d, ARIMinRecheck), ARIMaxRecheck)
	if last := renewal.Add(-ARIMinRecheck); !renewal.IsZero() && now.Add(d).After(last) && last.Sub(now) >= ARIMinRecheck {
		return last
	}
	return now.Add(d)
}
