package dns01

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/certflow/certflow/internal/localstack/bind"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// propTestServer is an in-process recursive-looking nameserver: TXT answers from txt,
// rcode overrides from rcodes, NXDOMAIN otherwise.
type propTestServer struct {
	addr   string
	txt    map[string][]string
	rcodes map[string]int
}

func propStartServer(t *testing.T, txt map[string][]string, rcodes map[string]int) *propTestServer {
	t.Helper()
	s := &propTestServer{txt: txt, rcodes: rcodes}
	s.addr = serveDNS(t, func(m, q *dns.Msg) {
		name := strings.ToLower(q.Question[0].Name)
		switch {
		case s.rcodes[name] != 0:
			m.Rcode = s.rcodes[name]
		case q.Question[0].Qtype == dns.TypeTXT && s.txt[name] != nil:
			for _, v := range s.txt[name] {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: dqSplitTXT(v)})
			}
		case s.txt[name] == nil:
			m.Rcode = dns.RcodeNameError
		}
	})
	return s
}

// serveDNS runs an in-process nameserver on 127.0.0.1 (UDP) until the test ends and
// returns its address. answer fills in m, the reply to q (recursion available).
func serveDNS(t *testing.T, answer func(m, q *dns.Msg)) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.RecursionAvailable = true
		answer(m, q)
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestCheckTXTRecursiveNameservers(t *testing.T) {
	const name = "_acme-challenge.example.com."
	long := strings.Repeat("v", 300) // split over two character-strings
	full := propStartServer(t, map[string][]string{name: {"other", "want", long}}, nil)
	two := propStartServer(t, map[string][]string{name: {"a", "b"}}, nil)
	none := propStartServer(t, map[string][]string{"example.com.": {"x"}}, nil)
	nx := propStartServer(t, nil, nil)
	fail := propStartServer(t, nil, map[string]int{name: dns.RcodeServerFailure})
	// A socket that never answers.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx := context.Background()
	o := func(ns ...string) CheckOptions { return CheckOptions{Nameservers: ns, Timeout: 300 * time.Millisecond} }

	res, err := CheckTXT(ctx, "_acme-challenge.EXAMPLE.com", "want", o(full.addr))
	if err != nil || !res.Ready || !slices.Equal(res.Checked, []string{full.addr}) || !strings.Contains(res.Detail, full.addr) {
		t.Fatalf("one good server: %+v, %v", res, err)
	}
	if res, err := CheckTXT(ctx, name, long, o(full.addr)); err != nil || !res.Ready {
		t.Fatalf("long value: %+v, %v", res, err)
	}

	for _, c := range []struct {
		ns   *propTestServer
		want string
	}{
		{two, "returned 2 TXT value(s) at " + name + ", not the expected one"},
		{none, "has no TXT at " + name},
		{nx, "has no TXT at " + name + " (NXDOMAIN)"},
		{fail, "answered SERVFAIL for TXT at " + name},
	} {
		res, err := CheckTXT(ctx, name, "want", o(full.addr, c.ns.addr))
		if err != nil || res.Ready {
			t.Fatalf("%s: %+v, %v", c.want, res, err)
		}
		if want := c.ns.addr + " " + c.want; !strings.Contains(res.Detail, want) || strings.Contains(res.Detail, full.addr) {
			t.Errorf("Detail = %q, want it to say %q and not mention the good server", res.Detail, want)
		}
		if len(res.Checked) != 2 {
			t.Errorf("Checked = %v", res.Checked)
		}
	}

	res, err = CheckTXT(ctx, name, "want", o(silent.LocalAddr().String()))
	if err != nil || res.Ready || !strings.Contains(res.Detail, silent.LocalAddr().String()+" did not answer") {
		t.Errorf("silent server: %+v, %v", res, err)
	}

	// Bad input is an error, not a not-ready result.
	for _, c := range []struct {
		fqdn, value string
		o           CheckOptions
	}{
		{"", "v", o(full.addr)},
		{"a..b.", "v", o(full.addr)},
		{name, "", o(full.addr)},
		{name, "v", o("127.0.0.1:notaport")},
		{name, "v", CheckOptions{Resolver: "[::1", Port: 53}},
		{name, "v", CheckOptions{Nameservers: []string{full.addr}, Port: 70000}},
	} {
		if _, err := CheckTXT(ctx, c.fqdn, c.value, c.o); err == nil {
			t.Errorf("CheckTXT(%q, %q, %+v): no error", c.fqdn, c.value, c.o)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CheckTXT(cctx, name, "want", o(full.addr)); err == nil {
		t.Errorf("canceled ctx: no error")
	}
}

func TestCheckTXTIntegration(t *testing.T) {
	s := integration.StartBIND(t, bind.Options{
		Zones: []string{"example.com", "example.org"},
		Records: []string{
			"_acme-challenge.alias.example.com. 60 IN CNAME _acme-challenge.target.example.org.",
			"_acme-challenge.dangling.example.com. 60 IN CNAME _acme-challenge.nowhere.example.com.",
		},
		TSIGAlgorithm: "HMACSHA256",
	})
	p := rfc2136TestProvider(t, s, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const name = "_acme-challenge.example.com."
	recursive := CheckOptions{Nameservers: []string{s.Addr()}, Timeout: 2 * time.Second}
	authoritative := CheckOptions{Resolver: s.Addr(), Port: s.Port(), Timeout: 2 * time.Second}
	nsLabel := "ns1.example.com. (" + s.Addr() + ")"

	check := func(what, fqdn, value string, o CheckOptions, ready bool, detail ...string) CheckResult {
		t.Helper()
		res, err := CheckTXT(ctx, fqdn, value, o)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res.Ready != ready {
			t.Fatalf("%s: Ready = %v, want %v (%s)", what, res.Ready, ready, res.Detail)
		}
		for _, d := range detail {
			if !strings.Contains(res.Detail, d) {
				t.Errorf("%s: Detail %q does not contain %q", what, res.Detail, d)
			}
		}
		return res
	}

	check("before present", name, "token", recursive, false, s.Addr()+" has no TXT at "+name)
	res := check("before present, authoritative", name, "token", authoritative, false, nsLabel+" has no TXT at "+name)
	if !slices.Equal(res.Checked, []string{nsLabel}) {
		t.Errorf("authoritative Checked = %v, want [%s]", res.Checked, nsLabel)
	}

	if err := p.Present(ctx, name, "token"); err != nil {
		t.Fatal(err)
	}
	check("after present", name, "token", recursive, true, s.Addr())
	res = check("after present, authoritative", name, "token", authoritative, true, nsLabel)
	if !slices.Equal(res.Checked, []string{nsLabel}) {
		t.Errorf("authoritative Checked = %v, want [%s]", res.Checked, nsLabel)
	}
	check("wrong value", name, "other", recursive, false, s.Addr()+" returned 1 TXT value(s) at "+name+", not the expected one")
	check("wrong value, authoritative", name, "other", authoritative, false, nsLabel+" returned 1 TXT value(s)")

	// Without the Port override the authoritative server is asked on port 53, where
	// nothing of ours listens: not ready, naming that address.
	noPort := authoritative
	noPort.Port = 0
	noPort.Timeout = 300 * time.Millisecond
	check("authoritative without port", name, "token", noPort, false, "ns1.example.com. (127.0.0.1:53)")

	// A record in the second zone, reached through a CNAME in the first.
	const alias, target = "_acme-challenge.alias.example.com.", "_acme-challenge.target.example.org."
	if err := p.Present(ctx, target, "delegated"); err != nil {
		t.Fatal(err)
	}
	follow := recursive
	follow.FollowCNAME = true
	check("cname followed", alias, "delegated", follow, true, target)
	check("cname not followed", alias, "delegated", recursive, false, "CNAME to "+target)
	check("cname not followed, target missing", "_acme-challenge.dangling.example.com.", "x", recursive, false, "CNAME to _acme-challenge.nowhere.example.com.")
	followAuth := authoritative
	followAuth.FollowCNAME = true
	res = check("cname followed, authoritative", alias, "delegated", followAuth, true, target)
	if want := "ns1.example.org. (" + s.Addr() + ")"; !slices.Equal(res.Checked, []string{want}) {
		t.Errorf("Checked = %v, want [%s]", res.Checked, want)
	}

	if err := p.CleanUp(ctx, name, "token"); err != nil {
		t.Fatal(err)
	}
	check("after clean up", name, "token", recursive, false, s.Addr()+" has no TXT at "+name)

	// A name in no zone of the resolver: not ready, saying so.
	check("no zone", "_acme-challenge.example.net.", "token", authoritative, false, "finding the zone of _acme-challenge.example.net.")
}
