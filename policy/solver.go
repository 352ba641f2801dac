package policy

import (
	"strings"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// SelectSolver returns the index of the solver of an ACME issuer that handles
// one identifier, or ok=false when none does. dnsName is the identifier as
// the authorization names it, with "*." in front for a wildcard
// authorization ("*.example.com"); certLabels are the labels of the
// Certificate (as copied onto its Order).
//
// Every solver that carries an HTTP01 or a DNS01 configuration is a
// candidate; SelectSolverForTypes also filters by the challenge types the
// ACME server offered for the authorization, as upstream does (a wildcard
// authorization normally offers DNS-01 only).
//
// The precedence is upstream cert-manager's (pkg/util/solverpicker):
//
//   - A solver with a selector takes part only if every criterion it sets
//     matches: all matchLabels are present on the Certificate with equal
//     values, dnsNames (if set) contains dnsName exactly (a wildcard needs
//     "*.example.com" listed literally), and dnsZones (if set) contains a
//     zone that dnsName equals or lies under (label-wise, case-insensitive;
//     "*.example.com" lies under "example.com").
//   - Among those, a dnsNames match beats any solver without one; then the
//     longest matching dnsZones entry (counted in labels) wins; then the
//     solver with more matchLabels wins.
//   - A solver without a selector (or with an empty one) matches everything
//     with the lowest rank.
//   - When ranks are equal the solver listed first wins.
func SelectSolver(solvers []acmev1.ACMEChallengeSolver, certLabels map[string]string, dnsName string) (index int, ok bool) {
	return SelectSolverForTypes(solvers, certLabels, dnsName, nil)
}

// SelectSolverForTypes is SelectSolver restricted to solvers whose challenge
// type is among offered (the types in the ACME authorization's challenge
// list). A nil offered allows every type.
func SelectSolverForTypes(solvers []acmev1.ACMEChallengeSolver, certLabels map[string]string, dnsName string, offered []acmev1.ACMEChallengeType) (index int, ok bool) {
	best := -1
	var bestRank solverRank
	for i := range solvers {
		s := &solvers[i]
		if !solverTypeOffered(s, offered) {
			continue
		}
		r, matches := rankSolver(s.Selector, certLabels, dnsName)
		if !matches {
			continue
		}
		// Strictly greater only: on a tie the earlier solver stays.
		if best < 0 || r.beats(bestRank) {
			best, bestRank = i, r
		}
	}
	return best, best >= 0
}

// solverRank is how specifically a solver's selector matched. Ranks compare
// lexicographically: dnsNames match, then zone labels, then label count.
type solverRank struct {
	dnsName   bool // one of selector.dnsNames equals the name
	zoneLabel int  // labels of the longest matching selector.dnsZones entry
	labels    int  // number of selector.matchLabels (all of which matched)
}

func (r solverRank) beats(o solverRank) bool {
	if r.dnsName != o.dnsName {
		return r.dnsName
	}
	if r.zoneLabel != o.zoneLabel {
		return r.zoneLabel > o.zoneLabel
	}
	return r.labels > o.labels
}

func solverTypeOffered(s *acmev1.ACMEChallengeSolver, offered []acmev1.ACMEChallengeType) bool {
	if s.HTTP01 == nil && s.DNS01 == nil {
		return false // upstream finds no challenge for such a solver
	}
	if offered == nil {
		return true
	}
	for _, t := range offered {
		switch {
		case t == acmev1.ACMEChallengeTypeHTTP01 && s.HTTP01 != nil:
			return true
		case t == acmev1.ACMEChallengeTypeDNS01 && s.DNS01 != nil:
			return true
		}
	}
	return false
}

// rankSolver reports whether sel matches and how specifically. A nil selector
// matches with the zero rank, like an empty one.
func rankSolver(sel *acmev1.CertificateDNSNameSelector, certLabels map[string]string, dnsName string) (solverRank, bool) {
	var r solverRank
	if sel == nil {
		return r, true
	}
	// Every label must match: the result does not depend on the order of the range, so
	// workflows may call this (their call sites tell workflowcheck so).
	for k, v := range sel.MatchLabels {
		if got, ok := certLabels[k]; !ok || got != v {
			return r, false
		}
	}
	r.labels = len(sel.MatchLabels)
	if len(sel.DNSNames) > 0 {
		for _, n := range sel.DNSNames {
			if n == dnsName { // exact, case-sensitive, as upstream
				r.dnsName = true
				break
			}
		}
		if !r.dnsName {
			return r, false
		}
	}
	if len(sel.DNSZones) > 0 {
		for _, z := range sel.DNSZones {
			if n := zoneMatch(z, dnsName); n > r.zoneLabel {
				r.zoneLabel = n
			}
		}
		if r.zoneLabel == 0 {
			return r, false
		}
	}
	return r, true
}

// zoneMatch returns the number of labels of zone when name is zone itself or
// a name under it, and 0 otherwise. Labels compare ASCII case-insensitively
// from the right; a zone and a name must agree on being fully qualified
// (trailing dot), and the root zone (".") or an empty zone matches nothing.
// This is what upstream gets from miekg/dns CompareDomainName/CountLabel.
func zoneMatch(zone, name string) int {
	if zone == "" || zone == "." || name == "" || name == "." {
		return 0
	}
	zfq, nfq := strings.HasSuffix(zone, "."), strings.HasSuffix(name, ".")
	if zfq != nfq {
		return 0
	}
	zl := strings.Split(strings.TrimSuffix(zone, "."), ".")
	nl := strings.Split(strings.TrimSuffix(name, "."), ".")
	if len(zl) > len(nl) {
		return 0
	}
	for i := 1; i <= len(zl); i++ {
		if !asciiEqualFold(zl[len(zl)-i], nl[len(nl)-i]) {
			return 0
		}
	}
	return len(zl)
}

// asciiEqualFold compares a and b folding only ASCII letters, as DNS does.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
