// Package dnsquery asks a test's DNS server (pebble-challtestsrv, named) what it
// serves.
package dnsquery

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TXT returns the TXT values the DNS server at addr (host:port) serves for name,
// sorted; a failed query fails the test.
func TXT(t testing.TB, addr, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	in, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("DNS TXT %s at %s: %v", name, addr, err)
	}
	var out []string
	for _, rr := range in.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	slices.Sort(out)
	return out
}
