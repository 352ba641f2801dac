package policy

import (
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	desired := Desired{
		CommonName: "example.com", DNSNames: []string{"example.com", "www.example.com"},
		IPAddresses: []string{"::1"}, KeyAlgorithm: "RSA", KeySize: 2048,
		IssuerName: "ca", IssuerKind: "Issuer", IssuerGroup: "cert-manager.io",
		RenewalTime: now.Add(time.Hour),
	}
	good := SecretState{
		Exists: true, HasCertificate: true, HasPrivateKey: true, KeyMatchesCertificate: true,
		IssuerName: "ca", IssuerKind: "Issuer", IssuerGroup: "cert-manager.io",
		Certificate: IssuedFacts{
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			CommonName: "example.com", DNSNames: []string{"www.example.com", "example.com"},
			IPAddresses: []string{"0:0::1"}, KeyAlgorithm: "RSA", KeySize: 2048,
		},
	}
	with := func(f func(*SecretState)) SecretState { s := good; f(&s); return s }
	withDesired := func(f func(*Desired)) Desired { d := desired; f(&d); return d }

	tests := []struct {
		name    string
		desired Desired
		secret  SecretState
		manual  bool
		reason  string // "" = no issuance
		msg     string // substring of the message
	}{
		{"up to date", desired, good, false, "", ""},
		{"missing secret", desired, SecretState{}, false, ReasonDoesNotExist, "does not exist"},
		{"manual beats nothing else", desired, SecretState{}, true, ReasonDoesNotExist, ""},
		{"no certificate", desired, with(func(s *SecretState) { s.HasCertificate = false }), false, ReasonMissingData, "certificate"},
		{"no key", desired, with(func(s *SecretState) { s.HasPrivateKey = false }), false, ReasonMissingData, "private key"},
		{"garbage certificate", desired, with(func(s *SecretState) { s.CertificateError = "x509: malformed" }), false, ReasonInvalidKeyPair, "malformed"},
		{"key mismatch", desired, with(func(s *SecretState) { s.KeyMatchesCertificate = false }), false, ReasonInvalidKeyPair, "does not match"},
		{"other issuer", desired, with(func(s *SecretState) { s.IssuerName = "old" }), false, ReasonIncorrectIssuer, "Issuer.cert-manager.io/old"},
		{"issuer kind defaults", withDesired(func(d *Desired) { d.IssuerKind, d.IssuerGroup = "", "" }), good, false, "", ""},
		{"other issuer kind", withDesired(func(d *Desired) { d.IssuerKind = "ClusterIssuer" }), good, false, ReasonIncorrectIssuer, ""},
		{"unannotated secret judged by content", desired, with(func(s *SecretState) { s.IssuerName, s.IssuerKind, s.IssuerGroup = "", "", "" }), false, "", ""},
		{"common name changed", withDesired(func(d *Desired) { d.CommonName = "new.example.com" }), good, false, ReasonIncorrectCertificate, "commonName"},
		{"dns name added", withDesired(func(d *Desired) { d.DNSNames = append(d.DNSNames, "api.example.com") }), good, false, ReasonIncorrectCertificate, "dnsNames"},
		{"ip changed", withDesired(func(d *Desired) { d.IPAddresses = []string{"127.0.0.1"} }), good, false, ReasonIncorrectCertificate, "ipAddresses"},
		{"isCA changed", withDesired(func(d *Desired) { d.IsCA = true }), good, false, ReasonIncorrectCertificate, "isCA"},
		{"key algorithm changed", withDesired(func(d *Desired) { d.KeyAlgorithm, d.KeySize = "ECDSA", 256 }), good, false, ReasonIncorrectCertificate, "algorithm"},
		{"key size changed", withDesired(func(d *Desired) { d.KeySize = 4096 }), good, false, ReasonIncorrectCertificate, "size"},
		{"manual renew", desired, good, true, ReasonManuallyTriggered, "manually"},
		{"expired", withDesired(func(d *Desired) { d.RenewalTime = time.Time{} }), with(func(s *SecretState) { s.Certificate.NotAfter = now }), false, ReasonExpired, "expired"},
		{"renewal due", withDesired(func(d *Desired) { d.RenewalTime = now }), good, false, ReasonRenewing, "2026-06-01T12:00:00Z"},
		{"renewal not yet due", withDesired(func(d *Desired) { d.RenewalTime = now.Add(time.Second) }), good, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(now, tc.desired, tc.secret, tc.manual)
			if got.Reason != tc.reason || got.Issue != (tc.reason != "") {
				t.Fatalf("Evaluate() = %+v, want reason %q", got, tc.reason)
			}
			if !strings.Contains(got.Message, tc.msg) {
				t.Fatalf("message %q does not contain %q", got.Message, tc.msg)
			}
		})
	}
}
