package http01

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSelfCheckURL(t *testing.T) {
	tests := []struct{ name, want string }{
		{"example.com", "http://example.com/.well-known/acme-challenge/tok"},
		{"192.0.2.1", "http://192.0.2.1/.well-known/acme-challenge/tok"},
		{"2001:db8::1", "http://[2001:db8::1]/.well-known/acme-challenge/tok"},
	}
	for _, tc := range tests {
		if got := SelfCheckURL(tc.name, "tok"); got != tc.want {
			t.Errorf("SelfCheckURL(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// serverPort starts an httptest server on 127.0.0.1 and returns its port.
func serverPort(t *testing.T, h http.Handler) int {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	p, _ := strconv.Atoi(u.Port())
	return p
}

func mustContain(t *testing.T, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("Detail %q does not contain %q", s, p)
		}
	}
}

func TestSelfCheck(t *testing.T) {
	reg := NewRegistry()
	reg.Add("", "good", "good.thumb")
	solver := Handler(reg)
	port := serverPort(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case ChallengePath + "newline":
			_, _ = w.Write([]byte("nl.thumb\r\n"))
		case ChallengePath + "wrong":
			_, _ = w.Write([]byte("<html>default backend</html>"))
		case ChallengePath + "long":
			_, _ = w.Write([]byte(strings.Repeat("x", 150) + "TAIL"))
		case ChallengePath + "empty":
		case ChallengePath + "boom":
			http.Error(w, "upstream exploded", http.StatusInternalServerError)
		case ChallengePath + "redirect":
			http.Redirect(w, r, ChallengePath+"good", http.StatusFound)
		default:
			solver.ServeHTTP(w, r)
		}
	}))
	client := NewSelfCheckClient(SelfCheckOptions{Port: port, Timeout: 5 * time.Second})
	u := func(tok string) string { return SelfCheckURL("127.0.0.1", tok) }
	tests := []struct {
		name   string
		token  string
		key    string
		ok     bool
		detail []string
		not    []string
	}{
		{name: "good", token: "good", key: "good.thumb", ok: true, detail: []string{u("good"), "HTTP 200", "expected key authorization"}},
		{name: "trailing whitespace ignored", token: "newline", key: "nl.thumb", ok: true},
		{name: "redirect followed", token: "redirect", key: "good.thumb", ok: true, detail: []string{"redirected to", ChallengePath + "good"}},
		{name: "wrong body", token: "wrong", key: "wrong.thumb", detail: []string{u("wrong"), "HTTP 200", `"<html>default backend</html>"`, "28 bytes", `want "wrong.thumb"`}},
		{name: "long body is cut", token: "long", key: "long.thumb", detail: []string{strconv.Quote(strings.Repeat("x", 100)) + "...", "154 bytes"}, not: []string{"TAIL"}},
		{name: "empty body", token: "empty", key: "e.thumb", detail: []string{"body is empty"}},
		{name: "404", token: "missing", key: "m.thumb", detail: []string{u("missing"), "HTTP 404 Not Found", `body: "404 page not found\n"`}},
		{name: "500 with body", token: "boom", key: "b.thumb", detail: []string{"HTTP 500 Internal Server Error", "upstream exploded"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := SelfCheck(context.Background(), client, u(tc.token), tc.key)
			if res.OK != tc.ok {
				t.Fatalf("OK = %v, want %v (Detail %q)", res.OK, tc.ok, res.Detail)
			}
			mustContain(t, res.Detail, tc.detail...)
			for _, n := range tc.not {
				if strings.Contains(res.Detail, n) {
					t.Errorf("Detail %q contains %q", res.Detail, n)
				}
			}
			t.Logf("Detail: %s", res.Detail)
		})
	}
}

func TestSelfCheckConnectionRefused(t *testing.T) {
	addr := freeAddr(t) // nothing listens there any more
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	client := NewSelfCheckClient(SelfCheckOptions{Port: port, Timeout: 5 * time.Second})
	target := SelfCheckURL("127.0.0.1", "tok")
	res := SelfCheck(context.Background(), client, target, "tok.thumb")
	if res.OK {
		t.Fatal("OK against a closed port")
	}
	mustContain(t, res.Detail, target, "connection refused", "127.0.0.1:"+p)
	t.Logf("Detail: %s", res.Detail)
}

func TestSelfCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	port := serverPort(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	client := NewSelfCheckClient(SelfCheckOptions{Port: port, Timeout: 200 * time.Millisecond})
	res := SelfCheck(context.Background(), client, SelfCheckURL("127.0.0.1", "slow"), "k")
	if res.OK {
		t.Fatal("OK from a server that never answers")
	}
	mustContain(t, res.Detail, "timed out", "/.well-known/acme-challenge/slow")
	t.Logf("Detail: %s", res.Detail)
}

func TestSelfCheckCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := SelfCheck(ctx, nil, SelfCheckURL("127.0.0.1", "tok"), "k")
	if res.OK {
		t.Fatal("OK with a cancelled context")
	}
	mustContain(t, res.Detail, "cancelled")
}

func TestSelfCheckInvalidURL(t *testing.T) {
	res := SelfCheck(context.Background(), nil, "http://[::1", "k")
	if res.OK || !strings.Contains(res.Detail, "invalid request") {
		t.Fatalf("got %+v", res)
	}
}

// TestSelfCheckResolver resolves names through a DNS server of the test
// (as the local stack does with pebble-challtestsrv): solver.test is
// 127.0.0.1, every other name does not exist.
func TestSelfCheckResolver(t *testing.T) {
	reg := NewRegistry()
	reg.Add("solver.test", "tok", "tok.thumb")
	port := serverPort(t, Handler(reg))
	dnsAddr := startTestDNS(t, "solver.test.", net.IPv4(127, 0, 0, 1))
	client := NewSelfCheckClient(SelfCheckOptions{Resolver: dnsAddr, Port: port, Timeout: 5 * time.Second})

	res := SelfCheck(context.Background(), client, SelfCheckURL("solver.test", "tok"), "tok.thumb")
	if !res.OK {
		t.Fatalf("self check through the test DNS failed: %s", res.Detail)
	}
	res = SelfCheck(context.Background(), client, SelfCheckURL("missing.test", "tok"), "tok.thumb")
	if res.OK {
		t.Fatal("OK for a name that does not resolve")
	}
	mustContain(t, res.Detail, "http://missing.test/.well-known/acme-challenge/tok", "no such host", "lookup missing.test on "+dnsAddr)
	t.Logf("Detail: %s", res.Detail)
}

// startTestDNS serves A records over UDP on 127.0.0.1: name -> ip, NODATA for
// other types of name, NXDOMAIN for everything else.
func startTestDNS(t *testing.T, name string, ip net.IP) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := answerDNS(buf[:n], name, ip); err == nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func answerDNS(q []byte, name string, ip net.IP) ([]byte, error) {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil, errors.New("want one question")
	}
	// Read the question name.
	var labels []string
	i := 12
	for {
		if i >= len(q) {
			return nil, errors.New("short question")
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if i+l > len(q) {
			return nil, errors.New("short label")
		}
		labels = append(labels, string(q[i:i+l]))
		i += l
	}
	if i+4 > len(q) {
		return nil, errors.New("short question")
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	question := q[12 : i+4]
	qname := strings.ToLower(strings.Join(labels, ".") + ".")

	flags := uint16(0x8000|0x0400|0x0080) | binary.BigEndian.Uint16(q[2:4])&0x0100 // QR, AA, RA, copy RD
	var answers []byte
	ancount := uint16(0)
	switch {
	case qname != name:
		flags |= 3 // NXDOMAIN
	case qtype == 1: // A
		ancount = 1
		answers = append(answers, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		answers = append(answers, ip.To4()...)
	}
	resp := make([]byte, 12, 12+len(question)+len(answers))
	copy(resp[0:2], q[0:2])
	binary.BigEndian.PutUint16(resp[2:4], flags)
	binary.BigEndian.PutUint16(resp[4:6], 1)
	binary.BigEndian.PutUint16(resp[6:8], ancount)
	resp = append(resp, question...)
	resp = append(resp, answers...)
	return resp, nil
}
