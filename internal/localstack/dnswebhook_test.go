package localstack

import (
	"testing"

	"github.com/miekg/dns"
)

// TestZoneAnswer: the zone DNS answers SOA questions for its zones as an authoritative
// server (the SOA in the answer at the apex, in the authority section below it) and
// leaves every other question to challtestsrv.
func TestZoneAnswer(t *testing.T) {
	zones := []string{"example.edu"}
	q := func(name string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		return m
	}
	for name, c := range map[string]struct {
		q          *dns.Msg
		forwarded  bool
		answer, ns int
	}{
		"apex SOA":            {q: q("example.edu.", dns.TypeSOA), answer: 1},
		"apex SOA, any case":  {q: q("Example.EDU.", dns.TypeSOA), answer: 1},
		"SOA below the apex":  {q: q("_acme-challenge.a.example.edu.", dns.TypeSOA), ns: 1},
		"SOA of another zone": {q: q("example.com.", dns.TypeSOA), forwarded: true},
		"SOA of a lookalike":  {q: q("notexample.edu.", dns.TypeSOA), forwarded: true},
		"TXT in the zone":     {q: q("_acme-challenge.example.edu.", dns.TypeTXT), forwarded: true},
	} {
		t.Run(name, func(t *testing.T) {
			m := zoneAnswer(zones, c.q)
			if c.forwarded {
				if m != nil {
					t.Fatalf("answered %v, want it forwarded", m)
				}
				return
			}
			if m == nil || m.Rcode != dns.RcodeSuccess || !m.Authoritative || len(m.Answer) != c.answer || len(m.Ns) != c.ns {
				t.Fatalf("answer %v", m)
			}
			rr := append(m.Answer, m.Ns...)[0]
			if soa, ok := rr.(*dns.SOA); !ok || soa.Hdr.Name != "example.edu." {
				t.Fatalf("record %v, want the SOA of example.edu.", rr)
			}
		})
	}
}
