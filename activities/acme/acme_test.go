package acme

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/pki/pkitest"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		wantType     string
		nonRetryable bool
		wantDelay    time.Duration
		wantIn       string
	}{
		{name: "rate limit honours Retry-After", err: &legoacme.RateLimitedError{ProblemDetails: &legoacme.ProblemDetails{Type: "urn:ietf:params:acme:error:rateLimited", Detail: "too many", HTTPStatus: 429}, RetryAfter: "120"},
			wantType: ErrTypeRateLimited, wantDelay: 2 * time.Minute, wantIn: "too many"},
		{name: "rate limit without Retry-After", err: &legoacme.RateLimitedError{ProblemDetails: &legoacme.ProblemDetails{Detail: "slow down", HTTPStatus: 429}},
			wantType: ErrTypeRateLimited, wantDelay: defaultRateLimitDelay},
		{name: "server refusal is final with the server's words", err: &legoacme.ProblemDetails{Type: "urn:ietf:params:acme:error:rejectedIdentifier", Detail: "example.invalid is forbidden", HTTPStatus: 400,
			SubProblems: []legoacme.SubProblem{{Type: "urn:ietf:params:acme:error:malformed", Detail: "bad name", Identifier: legoacme.Identifier{Value: "x.invalid"}}}},
			wantType: ErrTypeProblem, nonRetryable: true, wantIn: "example.invalid is forbidden (urn:ietf:params:acme:error:rejectedIdentifier, HTTP 400); x.invalid: bad name"},
		{name: "an account the server does not know", err: &legoacme.ProblemDetails{Type: "urn:ietf:params:acme:error:accountDoesNotExist", Detail: "Account https://127.0.0.1:14000/my-account/1 not found.", HTTPStatus: 400},
			wantType: ErrTypeAccountUnknown, nonRetryable: true, wantIn: "my-account/1 not found. (urn:ietf:params:acme:error:accountDoesNotExist, HTTP 400)"},
		{name: "a deactivated account", err: &legoacme.ProblemDetails{Type: "urn:ietf:params:acme:error:unauthorized", Detail: "Account has been deactivated", HTTPStatus: 403},
			wantType: ErrTypeAccountUnknown, nonRetryable: true, wantIn: "deactivated"},
		{name: "another refusal of the account's request is a problem", err: &legoacme.ProblemDetails{Type: "urn:ietf:params:acme:error:unauthorized", Detail: "Correct value not found for DNS challenge", HTTPStatus: 403},
			wantType: ErrTypeProblem, nonRetryable: true, wantIn: "Correct value not found"},
		{name: "5xx is retried", err: &legoacme.ProblemDetails{Detail: "oops", HTTPStatus: 503}},
		{name: "network error is retried", err: errors.New("dial tcp: connection refused")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classify("create ACME order", tc.err)
			var appErr *temporal.ApplicationError
			if tc.wantType == "" {
				if errors.As(got, &appErr) {
					t.Fatalf("want a plain (retryable) error, got application error %v", got)
				}
				return
			}
			if !errors.As(got, &appErr) {
				t.Fatalf("want an application error, got %T %v", got, got)
			}
			if appErr.Type() != tc.wantType || appErr.NonRetryable() != tc.nonRetryable || appErr.NextRetryDelay() != tc.wantDelay {
				t.Errorf("got type %q nonRetryable %v delay %v", appErr.Type(), appErr.NonRetryable(), appErr.NextRetryDelay())
			}
			if !strings.Contains(appErr.Message(), tc.wantIn) || !strings.HasPrefix(appErr.Message(), "create ACME order: ") {
				t.Errorf("message %q should start with the step and contain %q", appErr.Message(), tc.wantIn)
			}
		})
	}
}

// chainPEM returns leaf + intermediate PEM where the intermediate is issued by rootCN.
func chainPEM(t *testing.T, rootCN string) []byte {
	t.Helper()
	key := pkitest.Key(t)
	mk := func(subject, issuer string, serial int64) *x509.Certificate {
		tpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: subject}}
		return pkitest.Issue(t, tpl, &x509.Certificate{Subject: pkix.Name{CommonName: issuer}}, &key.PublicKey, key)
	}
	return pkitest.PEM(mk("leaf", "intermediate", 1), mk("intermediate", rootCN, 2))
}

func TestPreferredChain(t *testing.T) {
	all := map[string]*legoacme.RawCertificate{
		"https://ca/cert/1":   {Cert: chainPEM(t, "Root X1")},
		"https://ca/cert/1/2": {Cert: chainPEM(t, "Root X2")},
		"https://ca/cert/1/1": {Cert: chainPEM(t, "Root X3")},
	}
	for _, tc := range []struct{ name, want string }{
		{"Root X1", "https://ca/cert/1"},
		{"Root X2", "https://ca/cert/1/2"},
		{"Root X3", "https://ca/cert/1/1"},
		{"intermediate", "https://ca/cert/1"}, // the top certificate's own name matches too: default first
		{"Unknown Root", ""},
	} {
		got := preferredChain(all, "https://ca/cert/1", tc.name)
		if tc.want == "" {
			if got != nil {
				t.Errorf("%s: want no match", tc.name)
			}
			continue
		}
		if got != all[tc.want] {
			t.Errorf("%s: picked the wrong chain", tc.name)
		}
	}
}

// Identifiers go to the server as it writes them back (lower-cased DNS names, canonical
// IP addresses, each once), or the client refuses the order as modified by the server.
func TestOrderIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want []string
	}{
		{"lower case unchanged", []string{"example.com", "*.example.com"}, []string{"example.com", "*.example.com"}},
		{"mixed case lower-cased", []string{"Upper.Example.COM", "*.Example.com"}, []string{"upper.example.com", "*.example.com"}},
		{"same name twice", []string{"Example.com", "example.COM", "www.example.com"}, []string{"example.com", "www.example.com"}},
		{"IP addresses canonical", []string{"0:0::1", "::ffff:127.0.0.1", "2001:DB8::1", "127.0.0.1"}, []string{"::1", "127.0.0.1", "2001:db8::1"}},
		{"none", nil, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := orderIdentifiers(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("orderIdentifiers(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
