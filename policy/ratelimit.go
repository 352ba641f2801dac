package policy

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"
)

// RateWindow is a sliding-window limit: at most Count events in any Window.
// A zero Count (or Window) is no limit.
type RateWindow struct {
	Count  int
	Window time.Duration
}

func (w RateWindow) on() bool { return w.Count > 0 && w.Window > 0 }

// RateLimits are the limits an ACME account scheduler keeps new orders within.
type RateLimits struct {
	// OrdersPerAccount: new orders per account.
	OrdersPerAccount RateWindow `json:",omitempty"`
	// CertificatesPerDomain: new orders (counted as certificates) per registered
	// domain (the public suffix list's eTLD+1; an IP address is its own domain).
	CertificatesPerDomain RateWindow `json:",omitempty"`
	// DuplicateCertificates: orders for exactly the same set of names.
	DuplicateCertificates RateWindow `json:",omitempty"`
	// FailedValidations: failed validations per identifier (name) per account.
	FailedValidations RateWindow `json:",omitempty"`
	// Concurrent is the cap on orders granted and not yet released (their pending
	// authorizations and challenges); 0 is no cap.
	Concurrent int `json:",omitempty"`
	// Lease is how long a granted slot that is never released holds its place in
	// Concurrent before it is reclaimed.
	Lease time.Duration `json:",omitempty"`
}

// Let's Encrypt's published figures (letsencrypt.org/docs/rate-limits).
var LetsEncryptLimits = RateLimits{
	OrdersPerAccount:      RateWindow{Count: 300, Window: 3 * time.Hour},
	CertificatesPerDomain: RateWindow{Count: 50, Window: 7 * 24 * time.Hour},
	DuplicateCertificates: RateWindow{Count: 5, Window: 7 * 24 * time.Hour},
	FailedValidations:     RateWindow{Count: 5, Window: time.Hour},
	Concurrent:            300, // pending authorizations per account
	Lease:                 DefaultSlotLease,
}

// DefaultSlotLease is how long an unreleased granted slot counts as running.
const DefaultSlotLease = time.Hour

// GenericLimits are the defaults for a server that is not Let's Encrypt's: its limits
// are unknown, so only the concurrency cap applies; its rateLimited answers still
// pause the account, and an issuer's rateLimits set any other limit.
var GenericLimits = RateLimits{Concurrent: 300, Lease: DefaultSlotLease}

// DefaultRateLimits are the limits for an ACME directory URL: Let's Encrypt's for its
// servers (production and staging), GenericLimits for any other.
func DefaultRateLimits(server string) RateLimits {
	u, err := url.Parse(server)
	if err == nil {
		h := strings.ToLower(u.Hostname())
		if h == "letsencrypt.org" || strings.HasSuffix(h, ".letsencrypt.org") || strings.HasSuffix(h, ".api.letsencrypt.org") {
			return LetsEncryptLimits
		}
	}
	return GenericLimits
}

// Override returns l with every limit that o sets (a non-zero Count, Concurrent or
// Lease) taken from o.
func (l RateLimits) Override(o RateLimits) RateLimits {
	pick := func(a *RateWindow, b RateWindow) {
		if b.Count > 0 && b.Window > 0 {
			*a = b
		}
	}
	pick(&l.OrdersPerAccount, o.OrdersPerAccount)
	pick(&l.CertificatesPerDomain, o.CertificatesPerDomain)
	pick(&l.DuplicateCertificates, o.DuplicateCertificates)
	pick(&l.FailedValidations, o.FailedValidations)
	if o.Concurrent > 0 {
		l.Concurrent = o.Concurrent
	}
	if o.Lease > 0 {
		l.Lease = o.Lease
	}
	return l
}

// Longest is the longest window among the limits: how far back the grant history
// must reach.
func (l RateLimits) Longest() time.Duration {
	return max(l.OrdersPerAccount.Window, l.CertificatesPerDomain.Window, l.DuplicateCertificates.Window, l.FailedValidations.Window)
}

// RegisteredDomain is the name's registered domain by the public suffix list
// (www.example.co.uk: example.co.uk); an IP address, or a name the list cannot split
// (a public suffix itself), is its own.
func RegisteredDomain(name string) string {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(name, "*.")), ".")
	if net.ParseIP(n) != nil {
		return n
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(n)
	if err != nil {
		return n
	}
	return d
}

// NameSet is the duplicate-certificate key of identifiers: lower-cased, sorted,
// each once.
func NameSet(identifiers []string) string {
	ns := make([]string, 0, len(identifiers))
	for _, n := range identifiers {
		ns = append(ns, strings.ToLower(n))
	}
	slices.Sort(ns)
	return strings.Join(slices.Compact(ns), ",")
}

// SlotRequest is an order waiting for a slot.
type SlotRequest struct {
	OrderID     string
	Identifiers []string
	// Exempt orders (renewals whose ARI window is open) count only for Concurrent.
	Exempt bool `json:",omitempty"`
	// Since is when the scheduler first saw the request.
	Since time.Time
}

// SlotGrant is a slot given to an order, kept for the windows it counts in.
type SlotGrant struct {
	OrderID     string
	Identifiers []string
	Exempt      bool `json:",omitempty"`
	At          time.Time
	// Released is when the order gave the slot back (or its lease ran out); zero
	// while it runs.
	Released time.Time `json:",omitempty"`
	// Ordered is when the order's new-order call had returned (the order reports it):
	// no earlier than the server counted the order. Zero until the order says so.
	Ordered time.Time `json:",omitempty"`
	// NotIssued says that the order ended without a certificate (invalid, or refused
	// by the server): it counts among the account's orders, not among the
	// certificates of its domain or its duplicates, as the CA counts.
	NotIssued bool `json:",omitempty"`
	// Seq is the order's request the grant answered (the scheduler's bookkeeping;
	// the windows ignore it): an order asks again, with a higher one, only after
	// giving this slot back.
	Seq int `json:",omitempty"`
}

// CountedAt is the time the windows count the grant at. The server counts an order
// when it arrives there, some time after the grant (the order's workflow and
// activity run first, longer on a busy worker): counting from the grant would let
// the server see more orders in a window than the limit when the orders of one
// window reach it late and those of the next early. So a grant counts from when its
// order reported reaching the server, a released grant without that report from its
// release (the latest it can have reached it), and a running grant without it as at
// now: it stays in every window until its order reports.
func (g SlotGrant) CountedAt(now time.Time) time.Time {
	var t time.Time
	switch {
	case !g.Ordered.IsZero():
		t = g.Ordered
	case !g.Released.IsZero():
		t = g.Released
	default:
		t = now
	}
	if t.Before(g.At) {
		return g.At
	}
	return t
}

// ValidationFailure is one failed validation of a name.
type ValidationFailure struct {
	Identifier string
	At         time.Time
}

// SlotHistory is what the windows count.
type SlotHistory struct {
	Grants   []SlotGrant         `json:",omitempty"`
	Failures []ValidationFailure `json:",omitempty"`
	// PausedUntil: the server answered rateLimited; nothing is granted before.
	PausedUntil time.Time `json:",omitempty"`
}

// Limit names, as the status shows them.
const (
	LimitPaused      = "paused by the server (rateLimited)"
	LimitOrders      = "new orders per account"
	LimitDomain      = "certificates per registered domain"
	LimitDuplicate   = "duplicate certificates"
	LimitFailed      = "failed validations per name"
	LimitConcurrency = "concurrent orders"
)

// SlotWait says why a request waits and until when (zero Until: until a running
// order releases its slot).
type SlotWait struct {
	OrderID  string
	Limit    string
	Detail   string `json:",omitempty"`
	Until    time.Time
	Position int // 1-based place in the queue
}

// SlotDecision is what the scheduler does now.
type SlotDecision struct {
	// Grant are the order IDs that get a slot now, in queue order.
	Grant []string
	// Waiting are the others, in queue order.
	Waiting []SlotWait
	// Next is when to decide again (zero: only a signal changes anything): the
	// earliest time a waiting request may fit, or a running slot's lease ends.
	Next time.Time
}

// Active reports whether the grant still holds a running slot at now.
func (g SlotGrant) Active(now time.Time, lease time.Duration) bool {
	return g.Released.IsZero() && (lease <= 0 || now.Before(g.At.Add(lease)))
}

// DecideSlots decides which queued requests (in their order) get a slot at now, given
// the grant history, and when to decide again. A request held back by a limit of its
// own names does not hold back the requests behind it.
func DecideSlots(l RateLimits, queue []SlotRequest, h SlotHistory, now time.Time) SlotDecision {
	var d SlotDecision
	grants := slices.Clone(h.Grants)
	active := 0
	var leaseEnds []time.Time
	for _, g := range grants {
		if g.Active(now, l.Lease) {
			active++
			if l.Lease > 0 {
				leaseEnds = append(leaseEnds, g.At.Add(l.Lease))
			}
		}
	}
	next := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (d.Next.IsZero() || t.Before(d.Next)) {
			d.Next = t
		}
	}
	for i, r := range queue {
		w := SlotWait{OrderID: r.OrderID, Position: i + 1}
		switch {
		case now.Before(h.PausedUntil) && !r.Exempt:
			w.Limit, w.Until = LimitPaused, h.PausedUntil
		case l.Concurrent > 0 && active >= l.Concurrent:
			w.Limit, w.Detail = LimitConcurrency, fmt.Sprintf("%d of %d running", active, l.Concurrent)
			if len(leaseEnds) > 0 {
				w.Until = slices.MinFunc(leaseEnds, func(a, b time.Time) int { return a.Compare(b) })
			}
		case !r.Exempt:
			w.Limit, w.Detail, w.Until = blockingLimit(l, r, grants, h.Failures, now)
		}
		if w.Limit != "" {
			next(w.Until)
			d.Waiting = append(d.Waiting, w)
			continue
		}
		d.Grant = append(d.Grant, r.OrderID)
		grants = append(grants, SlotGrant{OrderID: r.OrderID, Identifiers: r.Identifiers, Exempt: r.Exempt, At: now})
		active++
	}
	return d
}

// blockingLimit is the limit a non-exempt request would exceed at now, and when it
// no longer would ("" when none).
func blockingLimit(l RateLimits, r SlotRequest, grants []SlotGrant, failures []ValidationFailure, now time.Time) (string, string, time.Time) {
	var limit, detail string
	var until time.Time
	consider := func(name, what string, w RateWindow, times []time.Time) {
		if !w.on() {
			return
		}
		if t, full := windowFull(w, times, now); full && t.After(until) {
			limit, detail, until = name, what, t
		}
	}
	counted := func(match func(SlotGrant) bool) []time.Time {
		var ts []time.Time
		for _, g := range grants {
			if !g.Exempt && match(g) {
				ts = append(ts, g.CountedAt(now))
			}
		}
		return ts
	}
	// issued counts what may have become a certificate: an order that ended without
	// one is no certificate of its domain, and no duplicate.
	issued := func(match func(SlotGrant) bool) []time.Time {
		var ts []time.Time
		for _, g := range grants {
			if !g.Exempt && !g.NotIssued && match(g) {
				ts = append(ts, g.CountedAt(now))
			}
		}
		return ts
	}
	consider(LimitOrders, fmt.Sprintf("%d per %s", l.OrdersPerAccount.Count, l.OrdersPerAccount.Window), l.OrdersPerAccount,
		counted(func(SlotGrant) bool { return true }))
	domains := map[string]bool{}
	var ordered []string
	for _, n := range r.Identifiers {
		if d := RegisteredDomain(n); !domains[d] {
			domains[d] = true
			ordered = append(ordered, d)
		}
	}
	for _, dom := range ordered {
		consider(LimitDomain, fmt.Sprintf("%s: %d per %s", dom, l.CertificatesPerDomain.Count, l.CertificatesPerDomain.Window), l.CertificatesPerDomain,
			issued(func(g SlotGrant) bool {
				for _, n := range g.Identifiers {
					if RegisteredDomain(n) == dom {
						return true
					}
				}
				return false
			}))
	}
	set := NameSet(r.Identifiers)
	consider(LimitDuplicate, fmt.Sprintf("%s: %d per %s", set, l.DuplicateCertificates.Count, l.DuplicateCertificates.Window), l.DuplicateCertificates,
		issued(func(g SlotGrant) bool { return NameSet(g.Identifiers) == set }))
	for _, n := range r.Identifiers {
		var ts []time.Time
		for _, f := range failures {
			if strings.EqualFold(f.Identifier, n) {
				ts = append(ts, f.At)
			}
		}
		consider(LimitFailed, fmt.Sprintf("%s: %d per %s", n, l.FailedValidations.Count, l.FailedValidations.Window), l.FailedValidations, ts)
	}
	return limit, detail, until
}

// windowFull reports whether one more event at now would exceed w given the earlier
// events, and when it would not any more (the time enough of them leave the window).
func windowFull(w RateWindow, times []time.Time, now time.Time) (time.Time, bool) {
	var in []time.Time
	for _, t := range times {
		if now.Before(t.Add(w.Window)) { // a later time (another clock's) counts too
			in = append(in, t)
		}
	}
	if len(in) < w.Count {
		return time.Time{}, false
	}
	slices.SortFunc(in, func(a, b time.Time) int { return a.Compare(b) })
	// One more fits once len(in)-w.Count+1 of them have left.
	return in[len(in)-w.Count].Add(w.Window), true
}

// PruneSlotHistory drops what no window counts any more at now: released (or
// lease-expired) grants and failures older than the longest window.
func PruneSlotHistory(l RateLimits, h SlotHistory, now time.Time) SlotHistory {
	keep := l.Longest()
	out := SlotHistory{PausedUntil: h.PausedUntil}
	if !now.Before(out.PausedUntil) {
		out.PausedUntil = time.Time{}
	}
	for _, g := range h.Grants {
		if g.Active(now, l.Lease) || now.Before(g.CountedAt(now).Add(keep)) {
			out.Grants = append(out.Grants, g)
		}
	}
	for _, f := range h.Failures {
		if now.Before(f.At.Add(keep)) {
			out.Failures = append(out.Failures, f)
		}
	}
	return out
}
