package policy

import (
	"testing"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// solver builders for the table: h = HTTP-01, d = DNS-01.
func h(sel *acmev1.CertificateDNSNameSelector) acmev1.ACMEChallengeSolver {
	return acmev1.ACMEChallengeSolver{Selector: sel, HTTP01: &acmev1.ACMEChallengeSolverHTTP01{Ingress: &acmev1.ACMEChallengeSolverHTTP01Ingress{}}}
}

func d(sel *acmev1.CertificateDNSNameSelector) acmev1.ACMEChallengeSolver {
	return acmev1.ACMEChallengeSolver{Selector: sel, DNS01: &acmev1.ACMEChallengeSolverDNS01{}}
}

func names(n ...string) *acmev1.CertificateDNSNameSelector {
	return &acmev1.CertificateDNSNameSelector{DNSNames: n}
}

func zones(z ...string) *acmev1.CertificateDNSNameSelector {
	return &acmev1.CertificateDNSNameSelector{DNSZones: z}
}

func labels(kv ...string) *acmev1.CertificateDNSNameSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &acmev1.CertificateDNSNameSelector{MatchLabels: m}
}

func sel(l map[string]string, n []string, z []string) *acmev1.CertificateDNSNameSelector {
	return &acmev1.CertificateDNSNameSelector{MatchLabels: l, DNSNames: n, DNSZones: z}
}

func TestSelectSolver(t *testing.T) {
	certLabels := map[string]string{"team": "a", "env": "prod", "empty": ""}
	tests := []struct {
		name    string
		solvers []acmev1.ACMEChallengeSolver
		labels  map[string]string // nil: certLabels
		dnsName string
		want    int // -1: none
	}{
		{name: "no solvers", dnsName: "example.com", want: -1},
		{name: "single solver without selector matches everything", solvers: []acmev1.ACMEChallengeSolver{h(nil)}, dnsName: "example.com", want: 0},
		{name: "solver without http01 or dns01 is never chosen", solvers: []acmev1.ACMEChallengeSolver{{}}, dnsName: "example.com", want: -1},
		{name: "invalid solver skipped in favour of a valid one", solvers: []acmev1.ACMEChallengeSolver{{Selector: names("example.com")}, h(nil)}, dnsName: "example.com", want: 1},
		{name: "first of two selector-less solvers wins", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(nil)}, dnsName: "example.com", want: 0},
		{name: "empty selector ranks like no selector (empty first)", solvers: []acmev1.ACMEChallengeSolver{d(&acmev1.CertificateDNSNameSelector{}), h(nil)}, dnsName: "example.com", want: 0},
		{name: "empty selector ranks like no selector (nil first)", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(&acmev1.CertificateDNSNameSelector{})}, dnsName: "example.com", want: 0},

		// dnsNames
		{name: "dnsNames match beats earlier catch-all", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(names("example.com"))}, dnsName: "example.com", want: 1},
		{name: "dnsNames not matching excludes the solver", solvers: []acmev1.ACMEChallengeSolver{d(names("other.com")), h(nil)}, dnsName: "example.com", want: 1},
		{name: "dnsNames not matching and no fallback", solvers: []acmev1.ACMEChallengeSolver{d(names("other.com"))}, dnsName: "example.com", want: -1},
		{name: "dnsNames any entry matches", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(names("a.com", "example.com", "b.com"))}, dnsName: "example.com", want: 1},
		{name: "dnsNames is exact: no subdomain match", solvers: []acmev1.ACMEChallengeSolver{d(names("example.com"))}, dnsName: "www.example.com", want: -1},
		{name: "dnsNames is case-sensitive as upstream", solvers: []acmev1.ACMEChallengeSolver{d(names("Example.com"))}, dnsName: "example.com", want: -1},
		{name: "dnsNames match beats longer dnsZones match listed first", solvers: []acmev1.ACMEChallengeSolver{d(zones("www.example.com")), h(names("www.example.com"))}, dnsName: "www.example.com", want: 1},
		{name: "dnsNames match beats more labels listed first", solvers: []acmev1.ACMEChallengeSolver{d(sel(map[string]string{"team": "a", "env": "prod"}, nil, []string{"example.com"})), h(names("www.example.com"))}, dnsName: "www.example.com", want: 1},
		{name: "two dnsNames matches: first wins", solvers: []acmev1.ACMEChallengeSolver{d(names("example.com")), h(names("example.com"))}, dnsName: "example.com", want: 0},
		{name: "two dnsNames matches: several listed names do not add weight", solvers: []acmev1.ACMEChallengeSolver{d(names("example.com")), h(names("example.com", "example.com"))}, dnsName: "example.com", want: 0},
		{name: "two dnsNames matches: the one with a dnsZones match wins", solvers: []acmev1.ACMEChallengeSolver{d(names("www.example.com")), h(sel(nil, []string{"www.example.com"}, []string{"example.com"}))}, dnsName: "www.example.com", want: 1},
		{name: "two dnsNames matches: longer zone wins", solvers: []acmev1.ACMEChallengeSolver{d(sel(nil, []string{"a.b.example.com"}, []string{"example.com"})), h(sel(nil, []string{"a.b.example.com"}, []string{"b.example.com"}))}, dnsName: "a.b.example.com", want: 1},
		{name: "two dnsNames matches, equal zones: more labels wins", solvers: []acmev1.ACMEChallengeSolver{d(sel(map[string]string{"team": "a"}, []string{"example.com"}, nil)), h(sel(map[string]string{"team": "a", "env": "prod"}, []string{"example.com"}, nil))}, dnsName: "example.com", want: 1},
		{name: "two dnsNames matches, equal zones and labels: first wins", solvers: []acmev1.ACMEChallengeSolver{d(sel(map[string]string{"team": "a"}, []string{"example.com"}, nil)), h(sel(map[string]string{"env": "prod"}, []string{"example.com"}, nil))}, dnsName: "example.com", want: 0},
		{name: "dnsNames match but dnsZones set and not matching excludes", solvers: []acmev1.ACMEChallengeSolver{d(sel(nil, []string{"example.com"}, []string{"other.com"})), h(nil)}, dnsName: "example.com", want: 1},
		{name: "dnsNames match but labels not matching excludes", solvers: []acmev1.ACMEChallengeSolver{d(sel(map[string]string{"team": "b"}, []string{"example.com"}, nil)), h(nil)}, dnsName: "example.com", want: 1},

		// dnsZones
		{name: "dnsZones match beats catch-all", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(zones("example.com"))}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones matches the zone apex itself", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(zones("example.com"))}, dnsName: "example.com", want: 1},
		{name: "dnsZones matches deep subdomains", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(zones("example.com"))}, dnsName: "a.b.c.example.com", want: 1},
		{name: "dnsZones needs a label boundary", solvers: []acmev1.ACMEChallengeSolver{d(zones("ample.com")), h(nil)}, dnsName: "example.com", want: 1},
		{name: "dnsZones longer than the name does not match", solvers: []acmev1.ACMEChallengeSolver{d(zones("www.example.com")), h(nil)}, dnsName: "example.com", want: 1},
		{name: "dnsZones compare case-insensitively", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(zones("EXAMPLE.Com"))}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones fully-qualified zone does not match a relative name (upstream quirk)", solvers: []acmev1.ACMEChallengeSolver{d(zones("example.com.")), h(nil)}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones root zone matches nothing", solvers: []acmev1.ACMEChallengeSolver{d(zones(".")), h(nil)}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones empty zone matches nothing", solvers: []acmev1.ACMEChallengeSolver{d(zones("")), h(nil)}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones TLD zone matches", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(zones("com"))}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones longer zone wins (longer listed second)", solvers: []acmev1.ACMEChallengeSolver{d(zones("example.com")), h(zones("sub.example.com"))}, dnsName: "a.sub.example.com", want: 1},
		{name: "dnsZones longer zone wins (longer listed first)", solvers: []acmev1.ACMEChallengeSolver{h(zones("sub.example.com")), d(zones("example.com"))}, dnsName: "a.sub.example.com", want: 0},
		{name: "dnsZones the longest entry of one solver counts", solvers: []acmev1.ACMEChallengeSolver{d(zones("b.example.com")), h(zones("example.com", "a.b.example.com", "other.org"))}, dnsName: "x.a.b.example.com", want: 1},
		{name: "dnsZones equal zones: more labels wins", solvers: []acmev1.ACMEChallengeSolver{d(zones("example.com")), h(sel(map[string]string{"team": "a"}, nil, []string{"example.com"}))}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones equal zones and labels: first wins", solvers: []acmev1.ACMEChallengeSolver{d(zones("example.com")), h(zones("example.com"))}, dnsName: "www.example.com", want: 0},
		{name: "dnsZones longer zone beats more labels", solvers: []acmev1.ACMEChallengeSolver{d(sel(map[string]string{"team": "a", "env": "prod"}, nil, []string{"example.com"})), h(zones("www.example.com"))}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones match beats labels-only selector", solvers: []acmev1.ACMEChallengeSolver{d(labels("team", "a", "env", "prod")), h(zones("example.com"))}, dnsName: "www.example.com", want: 1},
		{name: "dnsZones match but labels not matching excludes", solvers: []acmev1.ACMEChallengeSolver{d(sel(map[string]string{"team": "b"}, nil, []string{"example.com"})), h(nil)}, dnsName: "www.example.com", want: 1},

		// matchLabels
		{name: "matchLabels beats catch-all", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(labels("team", "a"))}, dnsName: "example.com", want: 1},
		{name: "matchLabels all must match", solvers: []acmev1.ACMEChallengeSolver{d(labels("team", "a", "env", "dev")), h(nil)}, dnsName: "example.com", want: 1},
		{name: "matchLabels missing label excludes", solvers: []acmev1.ACMEChallengeSolver{d(labels("tier", "x")), h(nil)}, dnsName: "example.com", want: 1},
		{name: "matchLabels empty value must be present", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(labels("empty", ""))}, dnsName: "example.com", want: 1},
		{name: "matchLabels empty value absent excludes", solvers: []acmev1.ACMEChallengeSolver{d(labels("absent", "")), h(nil)}, dnsName: "example.com", want: 1},
		{name: "matchLabels with no certificate labels excludes", solvers: []acmev1.ACMEChallengeSolver{d(labels("team", "a"))}, labels: map[string]string{}, dnsName: "example.com", want: -1},
		{name: "more matching labels wins", solvers: []acmev1.ACMEChallengeSolver{d(labels("team", "a")), h(labels("team", "a", "env", "prod"))}, dnsName: "example.com", want: 1},
		{name: "more matching labels wins (listed first)", solvers: []acmev1.ACMEChallengeSolver{h(labels("team", "a", "env", "prod")), d(labels("team", "a"))}, dnsName: "example.com", want: 0},
		{name: "equal label count: first wins", solvers: []acmev1.ACMEChallengeSolver{d(labels("team", "a")), h(labels("env", "prod"))}, dnsName: "example.com", want: 0},

		// wildcards
		{name: "wildcard: dnsNames needs the wildcard listed", solvers: []acmev1.ACMEChallengeSolver{d(names("example.com")), h(nil)}, dnsName: "*.example.com", want: 1},
		{name: "wildcard: dnsNames with the wildcard matches", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(names("*.example.com"))}, dnsName: "*.example.com", want: 1},
		{name: "wildcard: dnsNames wildcard does not match a plain subdomain", solvers: []acmev1.ACMEChallengeSolver{d(names("*.example.com")), h(nil)}, dnsName: "www.example.com", want: 1},
		{name: "wildcard: dnsZones of the base domain matches", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(zones("example.com"))}, dnsName: "*.example.com", want: 1},
		{name: "wildcard: dnsZones counts the zone's labels, not the name's", solvers: []acmev1.ACMEChallengeSolver{d(zones("example.com")), h(zones("com"))}, dnsName: "*.example.com", want: 0},
		{name: "wildcard: a zone written with the wildcard matches only the wildcard", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(zones("*.example.com"))}, dnsName: "*.example.com", want: 1},
		{name: "wildcard: a zone written with the wildcard does not match a subdomain", solvers: []acmev1.ACMEChallengeSolver{d(zones("*.example.com")), h(nil)}, dnsName: "www.example.com", want: 1},
		{name: "wildcard: dnsNames beats dnsZones", solvers: []acmev1.ACMEChallengeSolver{h(zones("example.com")), d(names("*.example.com"))}, dnsName: "*.example.com", want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.labels
			if l == nil {
				l = certLabels
			}
			got, ok := SelectSolver(tc.solvers, l, tc.dnsName)
			if tc.want < 0 {
				if ok || got != -1 {
					t.Fatalf("SelectSolver = (%d, %v), want no solver", got, ok)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("SelectSolver = (%d, %v), want (%d, true)", got, ok, tc.want)
			}
		})
	}
}

func TestSelectSolverForTypes(t *testing.T) {
	dnsOnly := []acmev1.ACMEChallengeType{acmev1.ACMEChallengeTypeDNS01}
	httpOnly := []acmev1.ACMEChallengeType{acmev1.ACMEChallengeTypeHTTP01}
	both := []acmev1.ACMEChallengeType{acmev1.ACMEChallengeTypeHTTP01, acmev1.ACMEChallengeTypeDNS01}
	tests := []struct {
		name    string
		solvers []acmev1.ACMEChallengeSolver
		dnsName string
		offered []acmev1.ACMEChallengeType
		want    int
	}{
		{name: "wildcard offering only DNS-01 skips a more specific HTTP-01 solver", solvers: []acmev1.ACMEChallengeSolver{d(nil), h(names("*.example.com"))}, dnsName: "*.example.com", offered: dnsOnly, want: 0},
		{name: "no solver of an offered type", solvers: []acmev1.ACMEChallengeSolver{h(nil)}, dnsName: "*.example.com", offered: dnsOnly, want: -1},
		{name: "HTTP-01 only", solvers: []acmev1.ACMEChallengeSolver{d(names("example.com")), h(nil)}, dnsName: "example.com", offered: httpOnly, want: 1},
		{name: "both offered: precedence as usual", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(names("example.com"))}, dnsName: "example.com", offered: both, want: 1},
		{name: "empty (non-nil) offer allows nothing", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(nil)}, dnsName: "example.com", offered: []acmev1.ACMEChallengeType{}, want: -1},
		{name: "nil offer allows everything", solvers: []acmev1.ACMEChallengeSolver{h(nil), d(nil)}, dnsName: "example.com", offered: nil, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := SelectSolverForTypes(tc.solvers, nil, tc.dnsName, tc.offered)
			if tc.want < 0 {
				if ok || got != -1 {
					t.Fatalf("got (%d, %v), want no solver", got, ok)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("got (%d, %v), want (%d, true)", got, ok, tc.want)
			}
		})
	}
}

func TestZoneMatch(t *testing.T) {
	tests := []struct {
		zone, name string
		want       int
	}{
		{"example.com", "www.example.com", 2},
		{"example.com", "example.com", 2},
		{"example.com.", "www.example.com.", 2},
		{"example.com.", "www.example.com", 0},
		{"example.com", "www.example.com.", 0},
		{"EXAMPLE.com", "www.example.COM", 2},
		{"*.example.com", "*.example.com", 3},
		{"*.example.com", "www.example.com", 0},
		{"ample.com", "example.com", 0},
		{"a.b.example.com", "b.example.com", 0},
		{"com", "example.com", 1},
		{".", "example.com", 0},
		{"", "example.com", 0},
		{"example.com", "", 0},
	}
	for _, tc := range tests {
		if got := zoneMatch(tc.zone, tc.name); got != tc.want {
			t.Errorf("zoneMatch(%q, %q) = %d, want %d", tc.zone, tc.name, got, tc.want)
		}
	}
}
