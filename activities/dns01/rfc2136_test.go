package dns01

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/certflow/certflow/internal/localstack/bind"
	"github.com/certflow/certflow/internal/testkit/integration"
)

func TestRFC2136TSIGAlgorithm(t *testing.T) {
	for in, want := range map[string]string{
		"":           dns.HmacMD5,
		"HMACMD5":    dns.HmacMD5,
		"hmacmd5":    dns.HmacMD5,
		"HMACSHA1":   dns.HmacSHA1,
		"HMACSHA256": dns.HmacSHA256,
		"HmacSha512": dns.HmacSHA512,
	} {
		got, err := RFC2136TSIGAlgorithm(in)
		if err != nil || got != want {
			t.Errorf("RFC2136TSIGAlgorithm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"hmac-sha256", "HMACSHA384", "MD5"} {
		if _, err := RFC2136TSIGAlgorithm(bad); err == nil || !strings.Contains(err.Error(), "HMACSHA256") {
			t.Errorf("RFC2136TSIGAlgorithm(%q) error = %v, want one listing the supported names", bad, err)
		}
	}
}

func TestNewRFC2136Validation(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
	bad := []struct {
		name string
		cfg  RFC2136Config
		want string
	}{
		{"empty nameserver", RFC2136Config{}, "nameserver"},
		{"blank nameserver", RFC2136Config{Nameserver: "  "}, "nameserver"},
		{"bad port", RFC2136Config{Nameserver: "127.0.0.1:dns"}, "port"},
		{"port out of range", RFC2136Config{Nameserver: "127.0.0.1:70000"}, "port"},
		{"no host", RFC2136Config{Nameserver: ":53"}, "no host"},
		{"bad algorithm", RFC2136Config{Nameserver: "ns", TSIGKeyName: "k", TSIGSecret: secret, TSIGAlgorithm: "SHA3"}, "unsupported TSIG algorithm"},
		{"key without secret", RFC2136Config{Nameserver: "ns", TSIGKeyName: "k"}, "secret is empty"},
		{"secret without key", RFC2136Config{Nameserver: "ns", TSIGSecret: secret}, "no TSIG key name"},
		{"secret not base64", RFC2136Config{Nameserver: "ns", TSIGKeyName: "k", TSIGSecret: "not base64!"}, "not valid base64"},
		{"bad key name", RFC2136Config{Nameserver: "ns", TSIGKeyName: "a..b", TSIGSecret: secret}, "not a valid domain name"},
	}
	for _, c := range bad {
		if _, err := NewRFC2136(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewRFC2136(%+v) error = %v, want one containing %q", c.name, c.cfg, err, c.want)
		}
	}

	good := []struct {
		cfg            RFC2136Config
		ns, key, alg   string
		timeout        time.Duration
		wantSecretSize int
	}{
		{RFC2136Config{Nameserver: "ns.example.com"}, "ns.example.com:53", "", dns.HmacMD5, DefaultRFC2136Timeout, 0},
		{RFC2136Config{Nameserver: "127.0.0.1:5353", TSIGKeyName: "Key.Example", TSIGSecret: secret, Timeout: time.Second},
			"127.0.0.1:5353", "key.example.", dns.HmacMD5, time.Second, 20},
		{RFC2136Config{Nameserver: "2001:db8::1", TSIGKeyName: "k.", TSIGSecret: secret, TSIGAlgorithm: "hmacsha512"},
			"[2001:db8::1]:53", "k.", dns.HmacSHA512, DefaultRFC2136Timeout, 20},
		{RFC2136Config{Nameserver: "[2001:db8::1]:8053"}, "[2001:db8::1]:8053", "", dns.HmacMD5, DefaultRFC2136Timeout, 0},
		{RFC2136Config{Nameserver: "[2001:db8::1]"}, "[2001:db8::1]:53", "", dns.HmacMD5, DefaultRFC2136Timeout, 0},
	}
	for _, c := range good {
		p, err := NewRFC2136(c.cfg)
		if err != nil {
			t.Errorf("NewRFC2136(%+v): %v", c.cfg, err)
			continue
		}
		rp := p.(*rfc2136Provider)
		if rp.nameserver != c.ns || rp.keyName != c.key || rp.algorithm != c.alg || rp.timeout != c.timeout || len(rp.secret) != c.wantSecretSize {
			t.Errorf("NewRFC2136(%+v) = %+v; want ns %q key %q alg %q timeout %v", c.cfg, rp, c.ns, c.key, c.alg, c.timeout)
		}
	}
}

// The TSIG provider signs with every supported algorithm, HMAC-MD5 included, in a way
// that verifies, and rejects a wrong key.
func TestRFC2136TSIGSignVerify(t *testing.T) {
	for _, up := range []string{"HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"} {
		alg, _ := RFC2136TSIGAlgorithm(up)
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		m.SetTsig("k.", alg, 300, time.Now().Unix())
		buf, _, err := dns.TsigGenerateWithProvider(m, rfc2136TSIG("secret-key"), "", false)
		if err != nil {
			t.Fatalf("%s: sign: %v", up, err)
		}
		// Verifying rewrites the buffer in place: give each its own copy.
		if err := dns.TsigVerifyWithProvider(slices.Clone(buf), rfc2136TSIG("secret-key"), "", false); err != nil {
			t.Errorf("%s: verify: %v", up, err)
		}
		if err := dns.TsigVerifyWithProvider(slices.Clone(buf), rfc2136TSIG("other-key"), "", false); !errors.Is(err, dns.ErrSig) {
			t.Errorf("%s: verify with another key = %v, want ErrSig", up, err)
		}
	}
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeSOA)
	m.SetTsig("k.", "hmac-sha3.", 300, time.Now().Unix())
	if _, _, err := dns.TsigGenerateWithProvider(m, rfc2136TSIG("k"), "", false); !errors.Is(err, dns.ErrKeyAlg) {
		t.Errorf("unknown algorithm: %v, want ErrKeyAlg", err)
	}
}

func TestRFC2136ResultMessages(t *testing.T) {
	resp := func(rcode int, tsigErr uint16) *dns.Msg {
		m := new(dns.Msg)
		m.Rcode = rcode
		if tsigErr != 0 {
			m.Extra = append(m.Extra, &dns.TSIG{Hdr: dns.RR_Header{Name: "k.", Rrtype: dns.TypeTSIG, Class: dns.ClassANY}, Algorithm: dns.HmacSHA256, Error: tsigErr})
		}
		return m
	}
	if err := rfc2136Result("present", "a.example.com.", "example.com.", "ns:53", "k.", resp(dns.RcodeSuccess, 0)); err != nil {
		t.Fatalf("success: %v", err)
	}
	for _, c := range []struct {
		r    *dns.Msg
		want string
	}{
		{resp(dns.RcodeNotAuth, dns.RcodeBadSig), "BADSIG"},
		{resp(dns.RcodeNotAuth, dns.RcodeBadKey), "BADKEY"},
		{resp(dns.RcodeNotAuth, dns.RcodeBadTime), "BADTIME"},
		{resp(dns.RcodeNotAuth, 0), "NOTAUTH"},
		{resp(dns.RcodeRefused, 0), "REFUSED"},
		{resp(dns.RcodeNotZone, 0), "NOTZONE"},
		{resp(dns.RcodeServerFailure, 0), "SERVFAIL"},
		{resp(dns.RcodeNotImplemented, 0), "NOTIMP"},
		{resp(dns.RcodeYXDomain, 0), "YXDOMAIN"},
	} {
		err := rfc2136Result("present", "a.example.com.", "example.com.", "ns:53", "k.", c.r)
		var re *RFC2136Error
		if !errors.As(err, &re) {
			t.Fatalf("rcode %d: %v is not an *RFC2136Error", c.r.Rcode, err)
		}
		for _, w := range []string{c.want, "ns:53", "example.com.", "a.example.com.", "present"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}
}

func TestDQSplitTXT(t *testing.T) {
	if got := dqSplitTXT("abc"); !slices.Equal(got, []string{"abc"}) {
		t.Errorf("short: %q", got)
	}
	long := strings.Repeat("x", 300)
	got := dqSplitTXT(long)
	if len(got) != 2 || len(got[0]) != 255 || strings.Join(got, "") != long {
		t.Errorf("long: %d parts", len(got))
	}
}

// rfc2136TestTXT returns the TXT values at name on the server (UDP, no recursion).
func rfc2136TestTXT(t *testing.T, addr, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	m.RecursionDesired = false
	r, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("TXT %s at %s: %v", name, addr, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok && strings.EqualFold(txt.Hdr.Name, name) {
			if txt.Hdr.Ttl != rfc2136TTL {
				t.Errorf("TXT %s TTL = %d, want %d", name, txt.Hdr.Ttl, rfc2136TTL)
			}
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	slices.Sort(out)
	return out
}

func rfc2136TestProvider(t *testing.T, s *bind.Server, mutate func(*RFC2136Config)) Provider {
	t.Helper()
	cfg := RFC2136Config{
		Nameserver:    s.Addr(),
		TSIGKeyName:   s.TSIGKeyName(),
		TSIGAlgorithm: s.TSIGAlgorithm(),
		TSIGSecret:    s.TSIGSecret(),
		Timeout:       3 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := NewRFC2136(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRFC2136Integration(t *testing.T) {
	for _, alg := range []string{"HMACMD5", "HMACSHA1", "HMACSHA256", "HMACSHA512"} {
		t.Run(alg, func(t *testing.T) {
			s := integration.StartBIND(t, bind.Options{Zones: []string{"example.com", "example.org"}, TSIGAlgorithm: alg})
			p := rfc2136TestProvider(t, s, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const name = "_acme-challenge.example.com."
			must := func(what string, err error) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			want := func(name string, values ...string) {
				t.Helper()
				slices.Sort(values)
				if got := rfc2136TestTXT(t, s.Addr(), name); !slices.Equal(got, values) {
					t.Fatalf("TXT %s = %q, want %q", name, got, values)
				}
			}

			must("present", p.Present(ctx, name, "value-one"))
			want(name, "value-one")
			must("present again", p.Present(ctx, name, "value-one"))
			want(name, "value-one")
			// A wildcard and its apex share one name: both values coexist.
			must("present second value", p.Present(ctx, name, "value-two"))
			want(name, "value-one", "value-two")
			must("clean up one", p.CleanUp(ctx, name, "value-one"))
			want(name, "value-two")
			must("clean up one again", p.CleanUp(ctx, name, "value-one"))
			want(name, "value-two")
			must("clean up two", p.CleanUp(ctx, name, "value-two"))
			want(name)
			must("clean up missing record", p.CleanUp(ctx, "_acme-challenge.never.example.com.", "x"))

			// The zone is found from deeper names, in the second zone too, and a name
			// without trailing dot is accepted.
			deep := "_acme-challenge.a.b.example.org."
			must("present deep", p.Present(ctx, strings.TrimSuffix(deep, "."), "deep"))
			want(deep, "deep")
			want("_acme-challenge.a.b.example.com.")
			must("clean up deep", p.CleanUp(ctx, deep, "deep"))
			want(deep)
		})
	}
}

func TestRFC2136IntegrationErrors(t *testing.T) {
	s := integration.StartBIND(t, bind.Options{TSIGAlgorithm: "HMACSHA256"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const name = "_acme-challenge.example.com."

	check := func(what string, err error, wants ...string) *RFC2136Error {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		for _, w := range append(wants, s.Addr(), "example.com.") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", what, err, w)
			}
		}
		var re *RFC2136Error
		if !errors.As(err, &re) {
			t.Fatalf("%s: %T is not an *RFC2136Error: %v", what, err, err)
		}
		return re
	}

	wrongSecret := rfc2136TestProvider(t, s, func(c *RFC2136Config) { c.TSIGSecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==" })
	re := check("wrong secret", wrongSecret.Present(ctx, name, "v"), "BADSIG", "secret")
	if re.TSIGError != dns.RcodeBadSig || re.Rcode != dns.RcodeNotAuth {
		t.Errorf("wrong secret: rcode %d tsig error %d, want NOTAUTH/BADSIG", re.Rcode, re.TSIGError)
	}
	check("wrong secret, clean up", wrongSecret.CleanUp(ctx, name, "v"), "BADSIG")

	wrongAlg := rfc2136TestProvider(t, s, func(c *RFC2136Config) { c.TSIGAlgorithm = "HMACSHA512" })
	check("wrong algorithm", wrongAlg.Present(ctx, name, "v"), "BADKEY")

	unknownKey := rfc2136TestProvider(t, s, func(c *RFC2136Config) { c.TSIGKeyName = "nobody." })
	check("unknown key", unknownKey.Present(ctx, name, "v"), "BADKEY")

	unsigned := rfc2136TestProvider(t, s, func(c *RFC2136Config) { c.TSIGKeyName, c.TSIGSecret = "", "" })
	check("unsigned", unsigned.Present(ctx, name, "v"), "REFUSED")

	if got := rfc2136TestTXT(t, s.Addr(), name); len(got) != 0 {
		t.Fatalf("rejected updates left TXT %q", got)
	}

	good := rfc2136TestProvider(t, s, nil)
	err := good.Present(ctx, "_acme-challenge.example.net.", "v")
	if err == nil || !strings.Contains(err.Error(), "no zone found") || !strings.Contains(err.Error(), s.Addr()) {
		t.Errorf("name outside the server's zones: %v", err)
	}
}
