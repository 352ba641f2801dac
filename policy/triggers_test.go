package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
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
		{"request unchanged", withDesired(func(d *Desired) {
			d.IssuedRequest = &RequestSpec{Duration: time.Hour}
			d.Request = RequestSpec{Duration: time.Hour}
		}), good, false, "", ""},
		{"request changed", withDesired(func(d *Desired) {
			d.IssuedRequest = &RequestSpec{Duration: time.Hour}
			d.Request = RequestSpec{Duration: 2 * time.Hour}
		}), good, false, ReasonRequestChanged, "not up to date: [spec.duration]"},
		{"request of the certificate unknown", withDesired(func(d *Desired) { d.Request = RequestSpec{Duration: 2 * time.Hour} }), good, false, "", ""},
		{"secret mismatch before request", withDesired(func(d *Desired) {
			d.CommonName = "new.example.com"
			d.IssuedRequest, d.Request = &RequestSpec{}, RequestSpec{CommonName: "new.example.com"}
		}), good, false, ReasonIncorrectCertificate, "commonName"},
		{"request changed before manual", withDesired(func(d *Desired) { d.IssuedRequest, d.Request = &RequestSpec{}, RequestSpec{IsCA: true} }), good, true, ReasonRequestChanged, "spec.isCA"},
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

// Every field a request carries counts, with upstream's field names; lists compare as
// sets, defaults and empty values as what they mean.
func TestRequestSpecChangedFields(t *testing.T) {
	yes := true
	base := RequestSpec{
		IssuerRef:  cmmeta.IssuerReference{Name: "ca"},
		CommonName: "web", DNSNames: []string{"a.example", "b.example"}, IPAddresses: []string{"::1"},
		Subject:  &cmapi.X509Subject{Organizations: []string{"Example"}},
		Duration: time.Hour, Usages: []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment},
		KeyAlgorithm: "RSA", KeySize: 2048, KeyEncoding: "PKCS1",
	}
	for _, tc := range []struct {
		name   string
		change func(*RequestSpec)
		want   []string
	}{
		{"same", func(*RequestSpec) {}, nil},
		{"issuer kind defaulted", func(r *RequestSpec) { r.IssuerRef.Kind, r.IssuerRef.Group = "Issuer", "cert-manager.io" }, nil},
		{"names reordered", func(r *RequestSpec) {
			r.DNSNames = []string{"b.example", "a.example"}
			r.IPAddresses = []string{"0:0::1"}
		}, nil},
		{"usages reordered", func(r *RequestSpec) {
			r.Usages = []cmapi.KeyUsage{cmapi.UsageKeyEncipherment, cmapi.UsageDigitalSignature}
		}, nil},
		{"issuer", func(r *RequestSpec) { r.IssuerRef.Kind = "ClusterIssuer" }, []string{"spec.issuerRef"}},
		{"subject organization", func(r *RequestSpec) { r.Subject = &cmapi.X509Subject{Organizations: []string{"Other"}} }, []string{"spec.subject"}},
		{"subject removed", func(r *RequestSpec) { r.Subject = &cmapi.X509Subject{} }, []string{"spec.subject"}},
		{"literal subject", func(r *RequestSpec) { r.LiteralSubject = "CN=web,O=Example" }, []string{"spec.literalSubject"}},
		{"other names", func(r *RequestSpec) {
			r.OtherNames = []cmapi.OtherName{{OID: "1.3.6.1.4.1.311.20.2.3", UTF8Value: "u@example"}}
		}, []string{"spec.otherNames"}},
		{"duration", func(r *RequestSpec) { r.Duration = 2 * time.Hour }, []string{"spec.duration"}},
		{"usages", func(r *RequestSpec) { r.Usages = append(r.Usages, cmapi.UsageServerAuth) }, []string{"spec.usages"}},
		{"encode usages", func(r *RequestSpec) { r.EncodeUsagesInRequest = true }, []string{"spec.encodeUsagesInRequest"}},
		{"signature algorithm", func(r *RequestSpec) { r.SignatureAlgorithm = cmapi.SHA384WithRSA }, []string{"spec.signatureAlgorithm"}},
		{"name constraints", func(r *RequestSpec) { r.NameConstraints = &cmapi.NameConstraints{Critical: yes} }, []string{"spec.nameConstraints"}},
		{"key encoding", func(r *RequestSpec) { r.KeyEncoding = "PKCS8" }, []string{"spec.privateKey"}},
		{"several", func(r *RequestSpec) { r.IsCA = true; r.CommonName = "ca" }, []string{"spec.commonName", "spec.isCA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := base
			want.DNSNames = slices.Clone(base.DNSNames)
			want.Usages = slices.Clone(base.Usages)
			tc.change(&want)
			got := base.ChangedFields(want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ChangedFields = %v, want %v", got, tc.want)
			}
		})
	}
	if (RequestSpec{}).ChangedFields(RequestSpec{Subject: &cmapi.X509Subject{}}) != nil {
		t.Error("an empty subject differs from none")
	}
}
