package dns01

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// RFC2136Config configures the RFC2136 provider. Field meanings follow upstream
// cert-manager's ACMEIssuerDNS01ProviderRFC2136.
type RFC2136Config struct {
	// Nameserver is the authoritative server accepting dynamic updates: "host" or
	// "host:port" ("[v6]:port" for IPv6 with a port); the port defaults to 53.
	Nameserver string
	// TSIGKeyName is the TSIG key's name; empty means updates are sent unsigned.
	TSIGKeyName string
	// TSIGAlgorithm in upstream's names, case-insensitive: HMACMD5 (the default, as
	// upstream), HMACSHA1, HMACSHA256 or HMACSHA512.
	TSIGAlgorithm string
	// TSIGSecret is the key's secret, base64; required with TSIGKeyName.
	TSIGSecret string
	// Timeout bounds each DNS exchange (default 10s); the ctx passed to Present and
	// CleanUp bounds them too.
	Timeout time.Duration
}

// DefaultRFC2136Timeout is RFC2136Config.Timeout's default.
const DefaultRFC2136Timeout = 10 * time.Second

// rfc2136TTL is the TTL of the TXT records Present writes.
const rfc2136TTL = 60

// rfc2136Algorithms maps upstream cert-manager's TSIG algorithm names to the TSIG
// algorithm names on the wire.
var rfc2136Algorithms = map[string]string{
	"HMACMD5":    dns.HmacMD5,
	"HMACSHA1":   dns.HmacSHA1,
	"HMACSHA256": dns.HmacSHA256,
	"HMACSHA512": dns.HmacSHA512,
}

// RFC2136TSIGAlgorithm returns the TSIG algorithm's name on the wire (as
// github.com/miekg/dns spells it, e.g. "hmac-sha256.") for one of upstream
// cert-manager's names; empty means HMACMD5.
func RFC2136TSIGAlgorithm(upstream string) (string, error) {
	if upstream == "" {
		upstream = "HMACMD5"
	}
	if a, ok := rfc2136Algorithms[strings.ToUpper(strings.TrimSpace(upstream))]; ok {
		return a, nil
	}
	return "", fmt.Errorf("rfc2136: unsupported TSIG algorithm %q: use HMACMD5, HMACSHA1, HMACSHA256 or HMACSHA512", upstream)
}

type rfc2136Provider struct {
	nameserver string // host:port
	keyName    string // canonical FQDN; empty: unsigned
	algorithm  string // wire name
	secret     []byte
	timeout    time.Duration
}

// NewRFC2136 returns a Provider that changes TXT records with RFC 2136 dynamic
// updates sent to cfg.Nameserver, signed with TSIG when a key is configured. It
// finds the zone by asking the nameserver for SOA records, walking up from the
// record's name, so it keeps no state between calls.
func NewRFC2136(cfg RFC2136Config) (Provider, error) {
	ns, err := dqHostPort(cfg.Nameserver, 53)
	if err != nil {
		return nil, fmt.Errorf("rfc2136: nameserver: %w", err)
	}
	alg, err := RFC2136TSIGAlgorithm(cfg.TSIGAlgorithm)
	if err != nil {
		return nil, err
	}
	p := &rfc2136Provider{nameserver: ns, algorithm: alg, timeout: cfg.Timeout}
	if p.timeout <= 0 {
		p.timeout = DefaultRFC2136Timeout
	}
	keyName := strings.TrimSpace(cfg.TSIGKeyName)
	secret := strings.TrimSpace(cfg.TSIGSecret)
	switch {
	case keyName == "" && secret == "":
		// Unsigned updates.
	case keyName == "":
		return nil, errors.New("rfc2136: a TSIG secret is set but no TSIG key name: set both or neither")
	case secret == "":
		return nil, fmt.Errorf("rfc2136: TSIG key name %q is set but its secret is empty: set both or neither", keyName)
	default:
		p.keyName = dns.CanonicalName(keyName)
		if _, ok := dns.IsDomainName(p.keyName); !ok {
			return nil, fmt.Errorf("rfc2136: TSIG key name %q is not a valid domain name", keyName)
		}
		if p.secret, err = base64.StdEncoding.DecodeString(secret); err != nil {
			return nil, fmt.Errorf("rfc2136: TSIG secret for key %q is not valid base64: %v", keyName, err)
		}
		if len(p.secret) == 0 {
			return nil, fmt.Errorf("rfc2136: TSIG secret for key %q is empty", keyName)
		}
	}
	return p, nil
}

// Present adds fqdn TXT value (TTL 60). Adding an RR that exists is a no-op for the
// server, so presenting twice leaves one record.
func (p *rfc2136Provider) Present(ctx context.Context, fqdn, value string) error {
	return p.update(ctx, "present", fqdn, value, func(m *dns.Msg, rr dns.RR) { m.Insert([]dns.RR{rr}) })
}

// CleanUp deletes exactly the RR fqdn TXT value; other values at fqdn stay. Deleting
// an RR that is not there succeeds.
func (p *rfc2136Provider) CleanUp(ctx context.Context, fqdn, value string) error {
	return p.update(ctx, "clean up", fqdn, value, func(m *dns.Msg, rr dns.RR) { m.Remove([]dns.RR{rr}) })
}

func (p *rfc2136Provider) update(ctx context.Context, op, fqdn, value string, change func(*dns.Msg, dns.RR)) error {
	name, err := dqName(fqdn)
	if err != nil {
		return fmt.Errorf("rfc2136: %s: %w", op, err)
	}
	if value == "" {
		return fmt.Errorf("rfc2136: %s %s: empty TXT value", op, name)
	}
	zone, err := dqFindZone(ctx, []string{p.nameserver}, name, false, p.timeout)
	if err != nil {
		return fmt.Errorf("rfc2136: %s TXT %s: find zone at %s: %w", op, name, p.nameserver, err)
	}
	build := func() *dns.Msg {
		rr := &dns.TXT{
			Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: rfc2136TTL},
			Txt: dqSplitTXT(value),
		}
		m := new(dns.Msg)
		m.SetUpdate(zone)
		change(m, rr)
		if p.keyName != "" {
			m.SetTsig(p.keyName, p.algorithm, 300, time.Now().Unix())
		}
		return m
	}
	var tsig dns.TsigProvider
	if p.keyName != "" {
		tsig = rfc2136TSIG(p.secret)
	}
	r, err := dqExchange(ctx, p.nameserver, build, tsig, p.timeout)
	if r != nil {
		if e := rfc2136Result(op, name, zone, p.nameserver, p.keyName, r); e != nil {
			return e
		}
	}
	if err != nil {
		if errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrTime) {
			return &RFC2136Error{Op: op, Name: name, Zone: zone, Nameserver: p.nameserver, KeyName: p.keyName,
				Reason: fmt.Sprintf("the server's answer failed TSIG verification (%v): check the TSIG secret and algorithm", err)}
		}
		return fmt.Errorf("rfc2136: %s TXT %s in zone %s at %s: %w", op, name, zone, p.nameserver, err)
	}
	return nil
}

// RFC2136Error is an update the nameserver rejected.
type RFC2136Error struct {
	Op         string // "present" or "clean up"
	Name       string // the TXT record's name
	Zone       string
	Nameserver string
	KeyName    string // TSIG key used, empty if unsigned
	Rcode      int    // DNS response code (dns.RcodeNotAuth, ...); 0 if the failure is not one
	TSIGError  int    // TSIG error (dns.RcodeBadSig, dns.RcodeBadKey, dns.RcodeBadTime) or 0
	Reason     string // human readable
}

func (e *RFC2136Error) Error() string {
	return fmt.Sprintf("rfc2136: %s TXT %s: nameserver %s rejected the update of zone %s: %s", e.Op, e.Name, e.Nameserver, e.Zone, e.Reason)
}

// rfc2136Result turns a response into nil (success) or an *RFC2136Error.
func rfc2136Result(op, name, zone, ns, keyName string, r *dns.Msg) error {
	e := &RFC2136Error{Op: op, Name: name, Zone: zone, Nameserver: ns, KeyName: keyName, Rcode: r.Rcode}
	if t, ok := dqLastTSIG(r); ok && t.Error != 0 {
		e.TSIGError = int(t.Error)
	}
	if r.Rcode == dns.RcodeSuccess && e.TSIGError == 0 {
		return nil
	}
	key := "unsigned update"
	if keyName != "" {
		key = fmt.Sprintf("TSIG key %q", keyName)
	}
	switch reason, known := tsigReasons[e.TSIGError]; {
	case e.TSIGError == 0:
		if e.Reason, known = rcodeReasons[r.Rcode]; !known {
			e.Reason = fmt.Sprintf("response code %s", dqRcode(r.Rcode))
		}
	case known:
		e.Reason = reason
	default:
		e.Reason = fmt.Sprintf("TSIG error %s (rcode %s)", dqRcode(e.TSIGError), dqRcode(r.Rcode))
	}
	e.Reason = strings.ReplaceAll(e.Reason, "{key}", key)
	return e
}

// tsigReasons and rcodeReasons explain why a server refused an update; {key} stands for
// the key that signed it ("TSIG key "name"" or "unsigned update").
var (
	tsigReasons = map[int]string{
		dns.RcodeBadSig:  "BADSIG: the server does not accept the signature of {key}; check the TSIG secret and algorithm",
		dns.RcodeBadKey:  "BADKEY: the server does not know {key} (or not with this algorithm)",
		dns.RcodeBadTime: "BADTIME: the signature's time is outside the server's fudge window; check the clocks",
	}
	rcodeReasons = map[int]string{
		dns.RcodeNotAuth:        "NOTAUTH: the server is not authoritative for the zone or did not authenticate the {key}",
		dns.RcodeRefused:        "REFUSED: the server's policy (allow-update/update-policy) does not let the {key} change the zone",
		dns.RcodeNotZone:        "NOTZONE: the name is not within the zone",
		dns.RcodeServerFailure:  "SERVFAIL: the server failed to process the update",
		dns.RcodeFormatError:    "FORMERR: the server could not parse the update",
		dns.RcodeNotImplemented: "NOTIMP: the server does not support dynamic updates",
	}
)

// rfc2136TSIG signs and verifies with HMAC-MD5/SHA1/SHA256/SHA512. miekg/dns's own
// provider no longer does HMAC-MD5, upstream's default algorithm.
type rfc2136TSIG []byte

func (k rfc2136TSIG) mac(t *dns.TSIG) (hash.Hash, error) {
	switch dns.CanonicalName(t.Algorithm) {
	case dns.HmacMD5:
		return hmac.New(md5.New, k), nil
	case dns.HmacSHA1:
		return hmac.New(sha1.New, k), nil
	case dns.HmacSHA256:
		return hmac.New(sha256.New, k), nil
	case dns.HmacSHA512:
		return hmac.New(sha512.New, k), nil
	}
	return nil, dns.ErrKeyAlg
}

func (k rfc2136TSIG) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	h, err := k.mac(t)
	if err != nil {
		return nil, err
	}
	h.Write(msg)
	return h.Sum(nil), nil
}

func (k rfc2136TSIG) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.Generate(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, got) {
		return dns.ErrSig
	}
	return nil
}

// dqHostPort turns "host", "host:port", "[v6]:port" or a bare IPv6 address into
// host:port with defaultPort when none is given.
func dqHostPort(s string, defaultPort int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty address: set a host or host:port")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a hostname, an IPv4 address, a bare or bracketed IPv6 address.
		host, port = s, strconv.Itoa(defaultPort)
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			host = s[1 : len(s)-1]
		}
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
			return "", fmt.Errorf("invalid address %q: use host or host:port ([v6]:port)", s)
		}
	}
	if host == "" {
		return "", fmt.Errorf("invalid address %q: no host", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("invalid port in %q", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// dqSplitTXT splits a value into TXT character-strings of at most 255 bytes.
func dqSplitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

func dqLastTSIG(r *dns.Msg) (*dns.TSIG, bool) {
	if len(r.Extra) == 0 {
		return nil, false
	}
	t, ok := r.Extra[len(r.Extra)-1].(*dns.TSIG)
	return t, ok
}

func dqRcode(c int) string {
	if s, ok := dns.RcodeToString[c]; ok {
		return s
	}
	return strconv.Itoa(c)
}
