package dns01

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/certflow/certflow/internal/bounded"
)

// CheckOptions configures one pass of CheckTXT.
type CheckOptions struct {
	// Nameservers are the (recursive) nameservers to ask, "host" or "host:port" (port
	// 53 by default), as upstream's --dns01-recursive-nameservers. When empty, the
	// check finds the authoritative nameservers of the record's zone (SOA, then NS
	// records, then their addresses, all through Resolver) and asks each of them.
	Nameservers []string
	// Resolver is the recursive resolver ("host" or "host:port") used for the lookups
	// made before asking: the zone, its NS records and their addresses, and the
	// CNAME chain when FollowCNAME is set. Empty means the first of Nameservers when
	// those are set, else the nameservers of /etc/resolv.conf.
	Resolver string
	// Port is the port the authoritative nameservers found through NS records are
	// asked on (default 53). Only used when Nameservers is empty: it lets the check
	// reach test servers on a high port (internal/bind) whose NS records can only
	// carry addresses. Nameservers carry their own ports.
	Port int
	// FollowCNAME: when fqdn is a CNAME (a delegated _acme-challenge), follow the chain
	// (through Resolver) and check the TXT record at its end.
	FollowCNAME bool
	// Timeout bounds each DNS exchange (default 5s); ctx bounds the whole pass.
	Timeout time.Duration
}

// DefaultCheckTimeout is CheckOptions.Timeout's default.
const DefaultCheckTimeout = 5 * time.Second

// CheckResult is the outcome of one pass of CheckTXT.
type CheckResult struct {
	// Ready is true only when every nameserver asked returned value at the name.
	Ready bool
	// Detail says, for people, what the nameservers answered, e.g.
	// "127.0.0.1:8053 has no TXT at _acme-challenge.example.com.".
	Detail string
	// Checked names the nameservers asked: "host:port" for Nameservers, and
	// "ns1.example.com. (127.0.0.1:53)" for authoritative servers.
	Checked []string
}

// CheckTXT makes one pass of the DNS-01 propagation check: it asks each nameserver
// for the TXT records at fqdn (or, with FollowCNAME, at the end of its CNAME chain)
// and reports Ready when all of them return value. It never sleeps or retries; the
// caller loops, with durable timers between passes.
//
// DNS trouble (timeouts, SERVFAIL, a zone or nameserver that cannot be found) is not
// an error: it is a not-ready result whose Detail says what happened, since it may
// clear by the next pass. Errors are for bad input (fqdn, value, addresses), an
// unreadable /etc/resolv.conf, and a ctx that ended.
func CheckTXT(ctx context.Context, fqdn, value string, o CheckOptions) (CheckResult, error) {
	name, err := dqName(fqdn)
	if err != nil {
		return CheckResult{}, fmt.Errorf("dns01 check: %w", err)
	}
	if value == "" {
		return CheckResult{}, errors.New("dns01 check: empty TXT value")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	port := o.Port
	if port == 0 {
		port = 53
	}
	if port < 0 || port > 65535 {
		return CheckResult{}, fmt.Errorf("dns01 check: invalid port %d", o.Port)
	}
	var nameservers []string
	for _, ns := range o.Nameservers {
		a, err := dqHostPort(ns, 53)
		if err != nil {
			return CheckResult{}, fmt.Errorf("dns01 check: nameserver: %w", err)
		}
		nameservers = append(nameservers, a)
	}
	var resolvers []string
	needResolver := o.FollowCNAME || len(nameservers) == 0
	switch {
	case !needResolver:
	case o.Resolver != "":
		a, err := dqHostPort(o.Resolver, 53)
		if err != nil {
			return CheckResult{}, fmt.Errorf("dns01 check: resolver: %w", err)
		}
		resolvers = []string{a}
	case len(nameservers) > 0:
		resolvers = nameservers[:1]
	default:
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return CheckResult{}, fmt.Errorf("dns01 check: no Resolver set and /etc/resolv.conf is unusable: %w", err)
		}
		for _, s := range cc.Servers {
			resolvers = append(resolvers, net.JoinHostPort(s, cc.Port))
		}
		if len(resolvers) == 0 {
			return CheckResult{}, errors.New("dns01 check: no Resolver set and /etc/resolv.conf lists no nameserver")
		}
	}
	notReady := func(format string, args ...any) (CheckResult, error) {
		if err := ctx.Err(); err != nil {
			return CheckResult{}, err
		}
		return CheckResult{Detail: fmt.Sprintf(format, args...)}, nil
	}

	if o.FollowCNAME {
		target, err := dqFollowCNAME(ctx, resolvers, name, timeout)
		if err != nil {
			return notReady("following the CNAME chain of %s: %v", name, err)
		}
		name = target
	}

	type server struct{ label, addr string }
	var servers []server
	recursive := len(nameservers) > 0
	if recursive {
		for _, a := range nameservers {
			servers = append(servers, server{a, a})
		}
	} else {
		zone, err := dqFindZone(ctx, resolvers, name, true, timeout)
		if err != nil {
			return notReady("finding the zone of %s through %s: %v", name, strings.Join(resolvers, ", "), err)
		}
		auth, err := dqAuthoritative(ctx, resolvers, zone, timeout)
		if err != nil {
			return notReady("finding the nameservers of zone %s through %s: %v", zone, strings.Join(resolvers, ", "), err)
		}
		var missing []string
		for _, ns := range auth {
			if len(ns.addrs) == 0 {
				missing = append(missing, ns.name)
				continue
			}
			for _, ip := range ns.addrs {
				a := net.JoinHostPort(ip, strconv.Itoa(port))
				servers = append(servers, server{ns.name + " (" + a + ")", a})
			}
		}
		if len(missing) > 0 {
			// A nameserver that cannot be asked cannot be said to have the record.
			return notReady("nameservers of zone %s without an address through %s: %s",
				zone, strings.Join(resolvers, ", "), strings.Join(missing, ", "))
		}
	}

	res := CheckResult{}
	problems := make([]string, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		res.Checked = append(res.Checked, s.label)
		wg.Add(1)
		go func() {
			defer wg.Done()
			problems[i] = dqAskTXT(ctx, s.label, s.addr, name, value, recursive, timeout)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return CheckResult{}, err
	}
	var bad []string
	for _, p := range problems {
		if p != "" {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 {
		res.Ready = true
		res.Detail = fmt.Sprintf("%s has the expected TXT value at every nameserver asked (%d): %s",
			name, len(servers), strings.Join(res.Checked, ", "))
		return res, nil
	}
	res.Detail = strings.Join(bad, "; ")
	return res, nil
}

// dqAskTXT asks one server for the TXT records at name; it returns "" when value is
// among them, else what is wrong, for people.
func dqAskTXT(ctx context.Context, label, addr, name, value string, recursive bool, timeout time.Duration) string {
	r, err := dqExchange(ctx, addr, func() *dns.Msg { return dqQuery(name, dns.TypeTXT, recursive) }, nil, timeout)
	if err != nil {
		return fmt.Sprintf("%s did not answer for TXT at %s: %v", label, name, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return fmt.Sprintf("%s answered %s for TXT at %s", label, dqRcode(r.Rcode), name)
	}
	var values []string
	var cname string
	for _, rr := range r.Answer {
		if !strings.EqualFold(rr.Header().Name, name) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.TXT:
			values = append(values, strings.Join(rr.Txt, ""))
		case *dns.CNAME:
			cname = rr.Target
		}
	}
	for _, v := range values {
		if v == value {
			return ""
		}
	}
	switch {
	case len(values) > 0:
		return fmt.Sprintf("%s returned %d TXT value(s) at %s, not the expected one: got %s, want %q", label, len(values), name, bounded.Excerpt(fmt.Sprintf("%q", values), 0), value)
	case cname != "":
		return fmt.Sprintf("%s has no TXT at %s: it is a CNAME to %s (set FollowCNAME to follow it)", label, name, cname)
	case r.Rcode == dns.RcodeNameError:
		return fmt.Sprintf("%s has no TXT at %s (NXDOMAIN)", label, name)
	case !recursive && !r.Authoritative:
		return fmt.Sprintf("%s is not authoritative for %s (no TXT)", label, name)
	}
	return fmt.Sprintf("%s has no TXT at %s", label, name)
}

type dqNameserver struct {
	name  string
	addrs []string
}

// dqAuthoritative returns the zone's NS names with their IPv4 addresses (IPv6 ones
// when a name has no IPv4 address), from the resolvers' answers (glue included).
func dqAuthoritative(ctx context.Context, resolvers []string, zone string, timeout time.Duration) ([]dqNameserver, error) {
	r, err := dqAsk(ctx, resolvers, zone, dns.TypeNS, true, timeout)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("NS query answered %s", dqRcode(r.Rcode))
	}
	var out []dqNameserver
	seen := map[string]bool{}
	for _, rr := range r.Answer {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, zone) && !seen[dns.CanonicalName(ns.Ns)] {
			seen[dns.CanonicalName(ns.Ns)] = true
			out = append(out, dqNameserver{name: dns.CanonicalName(ns.Ns)})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no NS records")
	}
	glue := func(m *dns.Msg, host string, qtype uint16) []string {
		var a []string
		for _, rr := range append(append([]dns.RR(nil), m.Answer...), m.Extra...) {
			if !strings.EqualFold(rr.Header().Name, host) {
				continue
			}
			switch rr := rr.(type) {
			case *dns.A:
				if qtype == dns.TypeA {
					a = append(a, rr.A.String())
				}
			case *dns.AAAA:
				if qtype == dns.TypeAAAA {
					a = append(a, rr.AAAA.String())
				}
			}
		}
		return a
	}
	for i := range out {
		host := out[i].name
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			addrs := glue(r, host, qtype)
			if len(addrs) == 0 {
				if m, err := dqAsk(ctx, resolvers, host, qtype, true, timeout); err == nil && m.Rcode == dns.RcodeSuccess {
					addrs = glue(m, host, qtype)
				} else if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			if len(addrs) > 0 {
				out[i].addrs = addrs
				break
			}
		}
	}
	return out, nil
}

// dqFollowCNAME follows name's CNAME chain through the resolvers and returns its end.
func dqFollowCNAME(ctx context.Context, resolvers []string, name string, timeout time.Duration) (string, error) {
	seen := map[string]bool{}
	for hops := 0; hops < 16; hops++ {
		key := dns.CanonicalName(name)
		if seen[key] {
			return "", fmt.Errorf("CNAME loop at %s", name)
		}
		seen[key] = true
		r, err := dqAsk(ctx, resolvers, name, dns.TypeCNAME, true, timeout)
		if err != nil {
			return "", err
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			return "", fmt.Errorf("CNAME query for %s answered %s", name, dqRcode(r.Rcode))
		}
		next := ""
		for _, rr := range r.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
				next = dns.Fqdn(c.Target)
				break
			}
		}
		if next == "" {
			return name, nil
		}
		name = next
	}
	return "", fmt.Errorf("CNAME chain from %s longer than 16", name)
}

// dqFindZone finds the zone that contains name by asking the servers (the first
// that answers) for SOA records, walking up from name: an SOA answer for the name
// itself, or an SOA in the authority section of a negative answer, names the zone.
// rd sets Recursion Desired (for recursive resolvers).
func dqFindZone(ctx context.Context, servers []string, name string, rd bool, timeout time.Duration) (string, error) {
	last := ""
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		cand := name[off:]
		r, err := dqAsk(ctx, servers, cand, dns.TypeSOA, rd, timeout)
		if err != nil {
			return "", err
		}
		switch r.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
		case dns.RcodeRefused:
			// Not a zone of this server: try the parent.
			last = fmt.Sprintf("SOA %s answered REFUSED: the server serves no zone containing it", cand)
			continue
		default:
			last = fmt.Sprintf("SOA %s answered %s", cand, dqRcode(r.Rcode))
			continue
		}
		isCNAME := false
		for _, rr := range r.Answer {
			if !strings.EqualFold(rr.Header().Name, cand) {
				continue
			}
			switch rr.(type) {
			case *dns.SOA:
				return dns.Fqdn(cand), nil
			case *dns.CNAME:
				isCNAME = true
			}
		}
		if isCNAME {
			// The authority section would describe the target's zone, not cand's.
			last = fmt.Sprintf("%s is a CNAME", cand)
			continue
		}
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(soa.Hdr.Name, cand) {
				if soa.Hdr.Name == "." {
					return "", fmt.Errorf("%s is in no zone below the root (answered %s)", name, dqRcode(r.Rcode))
				}
				return dns.Fqdn(soa.Hdr.Name), nil
			}
		}
		last = fmt.Sprintf("no SOA for %s", cand)
	}
	if last == "" {
		last = "no SOA"
	}
	return "", fmt.Errorf("no zone found for %s (%s)", name, last)
}

// dqAsk sends one query (Recursion Desired when rd) to the servers in turn
// and returns the first answer.
func dqAsk(ctx context.Context, servers []string, name string, qtype uint16, rd bool, timeout time.Duration) (*dns.Msg, error) {
	var errs []string
	for _, s := range servers {
		r, err := dqExchange(ctx, s, func() *dns.Msg { return dqQuery(name, qtype, rd) }, nil, timeout)
		if err == nil {
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Sprintf("%s: %v", s, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("no nameserver to ask")
	}
	return nil, fmt.Errorf("%s %s: %s", dns.TypeToString[qtype], name, strings.Join(errs, "; "))
}

func dqQuery(name string, qtype uint16, rd bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = rd
	m.SetEdns0(4096, false)
	return m
}

// dqExchange sends the message build makes over UDP, and again over TCP when the
// answer is truncated (build is called again: TSIG signing consumes the message).
// tsig signs and verifies when the message carries a TSIG record. The answer is
// returned with a TSIG verification error too, so the caller can read its rcode.
func dqExchange(ctx context.Context, addr string, build func() *dns.Msg, tsig dns.TsigProvider, timeout time.Duration) (*dns.Msg, error) {
	var r *dns.Msg
	var err error
	for _, netw := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: netw, Timeout: timeout, TsigProvider: tsig}
		r, _, err = c.ExchangeContext(ctx, build(), addr)
		if err != nil || r == nil || !r.Truncated {
			break
		}
	}
	return r, err
}

// dqName checks fqdn and returns it as a fully qualified name.
func dqName(fqdn string) (string, error) {
	name := dns.Fqdn(strings.TrimSpace(fqdn))
	if name == "." {
		return "", errors.New("empty record name")
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", fmt.Errorf("invalid record name %q", fqdn)
	}
	return name, nil
}
