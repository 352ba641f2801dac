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
		{"names of a known request are the request's to judge", withDesired(func(d *Desired) {
			d.CommonName = "new.example.com"
			d.IssuedRequest, d.Request = &RequestSpec{}, RequestSpec{CommonName: "new.example.com"}
		}), good, false, ReasonRequestChanged, "spec.commonName"},
		{"exact names: secret mismatch before request", withDesired(func(d *Desired) {
			d.CommonName, d.ExactNames = "new.example.com", true
			d.IssuedRequest, d.Request = &RequestSpec{}, RequestSpec{CommonName: "new.example.com"}
		}), good, false, ReasonIncorrectCertificate, "commonName"},
		{"key of a known request still checked", withDesired(func(d *Desired) {
			d.KeyAlgorithm, d.KeySize = "ECDSA", 256
			d.IssuedRequest = &RequestSpec{}
		}), good, false, ReasonIncorrectCertificate, "algorithm"},
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

// What real CAs do to the names of a request is no reason to issue again: Let's
// Encrypt's classic profile promotes the first name to the common name (or keeps the
// request's), tlsserver and shortlived leave the common name out, names come back
// lower-cased. When the request of the certificate is known it decides alone (upstream's
// CurrentCertificateRequestMismatchesSpec); when it is not, the names are compared as
// upstream's FuzzyX509AltNamesMatchSpec does, case-insensitively.
func TestEvaluateRealCACertificates(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	base := Desired{
		DNSNames: []string{"example.com", "www.example.com"}, KeyAlgorithm: "ECDSA", KeySize: 256,
		IssuerName: "letsencrypt", IssuerKind: "ClusterIssuer", IssuerGroup: "cert-manager.io",
		RenewalTime: now.Add(time.Hour),
	}
	secret := func(cn string, names ...string) SecretState {
		return SecretState{
			Exists: true, HasCertificate: true, HasPrivateKey: true, KeyMatchesCertificate: true,
			IssuerName: "letsencrypt", IssuerKind: "ClusterIssuer", IssuerGroup: "cert-manager.io",
			Certificate: IssuedFacts{
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
				CommonName: cn, DNSNames: names, KeyAlgorithm: "ECDSA", KeySize: 256,
			},
		}
	}
	known := func(d *Desired) {
		r := RequestSpec{CommonName: d.CommonName, DNSNames: d.DNSNames}
		d.Request, d.IssuedRequest = r, &r
	}
	tests := []struct {
		name    string
		desired func(*Desired)
		secret  SecretState
		reason  string // "" = no issuance
		msg     string
	}{
		// The request of the certificate unknown (a Secret the workflow did not issue).
		{"classic: first name promoted", func(*Desired) {}, secret("example.com", "example.com", "www.example.com"), "", ""},
		{"classic: the request's common name kept", func(d *Desired) { d.CommonName = "www.example.com" }, secret("www.example.com", "example.com", "www.example.com"), "", ""},
		{"classic: first name promoted over the request's", func(d *Desired) { d.CommonName = "www.example.com" }, secret("example.com", "example.com", "www.example.com"), "", ""},
		{"tlsserver: no common name", func(d *Desired) { d.CommonName = "example.com" }, secret("", "example.com", "www.example.com"), "", ""},
		{"shortlived: no common name, no spec one", func(*Desired) {}, secret("", "www.example.com", "example.com"), "", ""},
		{"names lower-cased", func(d *Desired) {
			d.DNSNames = []string{"Example.COM", "WWW.example.com"}
			d.CommonName = "WWW.Example.com"
		},
			secret("www.example.com", "example.com", "www.example.com"), "", ""},
		{"duplicate names in the spec", func(d *Desired) { d.DNSNames = []string{"example.com", "EXAMPLE.com", "www.example.com"} },
			secret("", "example.com", "www.example.com"), "", ""},
		{"common name left out that is no name of the spec", func(d *Desired) { d.CommonName = "My App" },
			secret("", "example.com", "www.example.com"), ReasonIncorrectCertificate, `commonName "", want "My App"`},
		{"foreign common name", func(*Desired) {}, secret("other.example.com", "example.com", "www.example.com"), ReasonIncorrectCertificate, "commonName"},
		{"changed common name", func(d *Desired) { d.CommonName = "api.example.com" }, secret("example.com", "example.com", "www.example.com"), ReasonIncorrectCertificate, "commonName"},
		{"name missing", func(*Desired) {}, secret("example.com", "example.com"), ReasonIncorrectCertificate, "dnsNames"},
		{"name added", func(*Desired) {}, secret("", "example.com", "www.example.com", "api.example.com"), ReasonIncorrectCertificate, "dnsNames"},
		{"a name is no common name twice over", func(d *Desired) { d.DNSNames = []string{"example.com"} }, secret("example.com", "example.com", "www.example.com"), ReasonIncorrectCertificate, "dnsNames"},
		{"literalSubject common name unreadable", func(d *Desired) { d.AnyCommonName = true }, secret("\x00", "example.com", "www.example.com"), "", ""},
		{"common name promoted from an IP address", func(d *Desired) { d.DNSNames, d.IPAddresses = nil, []string{"::1"} },
			func() SecretState { s := secret("0:0::1"); s.Certificate.IPAddresses = []string{"::1"}; return s }(), "", ""},
		{"common name an IP address the certificate does not have", func(d *Desired) { d.DNSNames, d.IPAddresses = nil, []string{"::1"} },
			func() SecretState { s := secret("127.0.0.1"); s.Certificate.IPAddresses = []string{"::1"}; return s }(), ReasonIncorrectCertificate, "commonName"},
		{"isCA still checked", func(d *Desired) { d.IsCA = true }, secret("", "example.com", "www.example.com"), ReasonIncorrectCertificate, "isCA"},
		{"key still checked", func(d *Desired) { d.KeySize = 384 }, secret("", "example.com", "www.example.com"), ReasonIncorrectCertificate, "size"},

		// The request of the certificate known: it decides about names and subject.
		{"known request: common name left out", func(d *Desired) { d.CommonName = "My App"; known(d) }, secret("", "example.com", "www.example.com"), "", ""},
		{"known request: first name promoted", func(d *Desired) { known(d) }, secret("example.com", "example.com", "www.example.com"), "", ""},
		{"known request: names lower-cased", func(d *Desired) { d.DNSNames = []string{"Upper.Example.COM"}; known(d) }, secret("upper.example.com", "upper.example.com"), "", ""},
		{"known request: a name the CA added", func(d *Desired) { known(d) }, secret("", "example.com", "www.example.com", "mail.example.com"), "", ""},
		{"known request: spec names changed", func(d *Desired) { known(d); d.Request.DNSNames = []string{"example.com"} },
			secret("", "example.com", "www.example.com"), ReasonRequestChanged, "spec.dnsNames"},
		{"known request: another certificate written over the Secret", func(d *Desired) { known(d) },
			secret("other.example.com", "other.example.com"), ReasonIncorrectCertificate, "lacks [example.com www.example.com]"},
		{"known request: a name missing", func(d *Desired) { known(d) }, secret("", "example.com"), ReasonIncorrectCertificate, "lacks [www.example.com]"},
		{"known request: key still checked", func(d *Desired) { known(d); d.KeyAlgorithm, d.KeySize = "RSA", 2048 },
			secret("", "example.com", "www.example.com"), ReasonIncorrectCertificate, "algorithm"},

		// Runs an older certflow recorded compare byte for byte.
		{"exact names: first name promoted", func(d *Desired) { d.ExactNames = true }, secret("example.com", "example.com", "www.example.com"), ReasonIncorrectCertificate, "commonName"},
		{"exact names: known request, common name left out", func(d *Desired) { d.CommonName, d.ExactNames = "example.com", true; known(d) },
			secret("", "example.com", "www.example.com"), ReasonIncorrectCertificate, "commonName"},
		{"exact names: lower-cased", func(d *Desired) { d.DNSNames, d.ExactNames = []string{"Example.com", "www.example.com"}, true },
			secret("", "example.com", "www.example.com"), ReasonIncorrectCertificate, "dnsNames"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			d.DNSNames = slices.Clone(base.DNSNames)
			tc.desired(&d)
			got := Evaluate(now, d, tc.secret, false)
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
