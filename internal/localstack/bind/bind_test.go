package bind_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	. "github.com/certflow/certflow/internal/localstack/bind"
	"github.com/certflow/certflow/internal/testkit/integration"
)

func TestBINDAlgorithm(t *testing.T) {
	for in, want := range map[string]string{
		"":           "hmac-md5",
		"HMACMD5":    "hmac-md5",
		"hmacsha1":   "hmac-sha1",
		"HMACSHA256": "hmac-sha256",
		"HmacSha512": "hmac-sha512",
	} {
		got, err := BINDAlgorithm(in)
		if err != nil || got != want {
			t.Errorf("BINDAlgorithm(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := BINDAlgorithm("hmac-sha256"); err == nil || !strings.Contains(err.Error(), "HMACSHA256") {
		t.Errorf("BINDAlgorithm(hmac-sha256) error = %v, want one listing the supported names", err)
	}
}

func TestStartServesZonesAndRecords(t *testing.T) {
	s := integration.StartBIND(t, Options{
		Zones:         []string{"example.com", "Example.ORG."},
		Records:       []string{"alias.example.org. 60 IN CNAME target.example.com."},
		TSIGAlgorithm: "hmacsha256",
	})
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || s.Port() == 0 {
		t.Fatalf("Addr() = %q, Port() = %d", s.Addr(), s.Port())
	}
	if got := s.Zones(); len(got) != 2 || got[0] != "example.com." || got[1] != "example.org." {
		t.Fatalf("Zones() = %v", got)
	}
	if s.TSIGAlgorithm() != "HMACSHA256" || s.TSIGKeyName() != DefaultTSIGKeyName || s.TSIGSecret() == "" {
		t.Fatalf("key = %q %q %q", s.TSIGKeyName(), s.TSIGAlgorithm(), s.TSIGSecret())
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	ask := func(name string, qt uint16) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		r, _, err := c.Exchange(m, s.Addr())
		if err != nil {
			t.Fatalf("%s %s: %v", name, dns.TypeToString[qt], err)
		}
		return r
	}
	if r := ask("example.org.", dns.TypeNS); len(r.Answer) != 1 || r.Answer[0].(*dns.NS).Ns != "ns1.example.org." {
		t.Errorf("NS example.org. = %v", r.Answer)
	}
	if r := ask("ns1.example.com.", dns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
		t.Errorf("A ns1.example.com. = %v", r.Answer)
	}
	if r := ask("alias.example.org.", dns.TypeCNAME); len(r.Answer) != 1 || r.Answer[0].(*dns.CNAME).Target != "target.example.com." {
		t.Errorf("CNAME alias.example.org. = %v", r.Answer)
	}
	// No recursion: a name outside the zones is refused.
	if r := ask("example.net.", dns.TypeSOA); r.Rcode != dns.RcodeRefused {
		t.Errorf("SOA example.net. rcode = %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestStartErrors(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Named: "/bin/true"}, "Options.Dir is required"},
		{Options{Dir: dir, Named: "/bin/true", TSIGAlgorithm: "hmac-sha256"}, "unsupported TSIG algorithm"},
		{Options{Dir: dir, Named: "/bin/true", TSIGSecret: "not base64!"}, "not valid base64"},
		{Options{Dir: dir, Named: "/bin/true", Zones: []string{"."}}, "root zone"},
		{Options{Dir: dir, Named: "/bin/true", Records: []string{"a.example.net. 60 IN A 127.0.0.1"}}, "in none of the zones"},
		{Options{Dir: dir, Named: filepath.Join(dir, "no-such-named")}, "start named"},
		{Options{Dir: dir, Named: "/bin/false"}, "named exited during start"},
	} {
		if s, err := Start(ctx, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			if s != nil {
				s.Stop()
			}
			t.Errorf("Start(%+v) error = %v, want one containing %q", c.o, err, c.want)
		}
	}
}

func TestFindNamedError(t *testing.T) {
	if _, err := FindNamed(); err != nil && !strings.Contains(err.Error(), "hack/install-bind.sh") {
		t.Errorf("FindNamed error %q does not say how to install named", err)
	}
}
