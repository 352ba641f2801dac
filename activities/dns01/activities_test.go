package dns01

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack/bind"
	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
	"github.com/certflow/certflow/internal/testkit/integration"
)

const (
	actToken     = "activities-test-token"
	actEmail     = "dns@example.test"
	actKey       = "activities-test-global-key"
	actIssuerNS  = "team-a"
	actClusterNS = "certflow-system"
	actKeyAuth   = "token-abc.thumbprint-xyz"
)

// actSecret is a Secret with one key.
func actSecret(ns, name, key, value string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string][]byte{key: []byte(value)},
	}
}

func actSel(name, key string) cmmeta.SecretKeySelector {
	return cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: name}, Key: key}
}

func actSelPtr(name, key string) *cmmeta.SecretKeySelector {
	s := actSel(name, key)
	return &s
}

// actDNS is an in-process nameserver on 127.0.0.1 (UDP) that answers TXT queries
// from the fake Cloudflare's records and CNAME queries from a fixed map, like a
// recursive resolver in front of Cloudflare would.
type actDNS struct {
	addr   string
	fake   *fakecloudflare.Server
	cnames map[string]string
}

func actStartDNS(t *testing.T, fake *fakecloudflare.Server, cnames map[string]string) *actDNS {
	t.Helper()
	d := &actDNS{fake: fake, cnames: cnames}
	d.addr = serveDNS(t, func(m, q *dns.Msg) {
		qn := q.Question[0].Name
		name := strings.ToLower(qn)
		if target, ok := d.cnames[name]; ok {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: qn, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: target})
			return
		}
		values := d.fake.TXT(name)
		switch {
		case len(values) == 0:
			m.Rcode = dns.RcodeNameError
		case q.Question[0].Qtype == dns.TypeTXT:
			for _, v := range values {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: qn, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: dqSplitTXT(v)})
			}
		}
	})
	return d
}

type actFixture struct {
	fake *fakecloudflare.Server
	kube *kubefake.Clientset
	act  *Activities
	dns  *actDNS

	mu       sync.Mutex
	requests []string // "Authorization" and "X-Auth-Key" headers seen by the API
}

// newActFixture starts a fake Cloudflare API (zones example.test and example.org)
// on an httptest server, a DNS server in front of it, and Activities using both.
func newActFixture(t *testing.T, cnames map[string]string, objs ...runtime.Object) *actFixture {
	t.Helper()
	f := &actFixture{fake: fakecloudflare.New(fakecloudflare.Options{
		Zones:  []string{"example.test", "example.org"},
		Tokens: []string{actToken},
		Keys:   map[string]string{actEmail: actKey},
	})}
	h := f.fake.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Header.Get("Authorization")+"|"+r.Header.Get("X-Auth-Key"))
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	f.dns = actStartDNS(t, f.fake, cnames)
	f.kube = kubefake.NewClientset(objs...)
	f.act = &Activities{
		Kube:                     f.kube,
		ClusterResourceNamespace: actClusterNS,
		CloudflareAPIURL:         hs.URL + fakecloudflare.APIPath,
		RecursiveNameservers:     []string{f.dns.addr},
	}
	return f
}

func (f *actFixture) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func actCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// actAppError returns err's ApplicationError type and whether it is non-retryable
// ("" and false for a plain error).
func actAppError(err error) (string, bool) {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type(), ae.NonRetryable()
	}
	return "", false
}

func actWantNonRetryable(t *testing.T, err error, errType string, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a non-retryable %s error, got nil", errType)
	}
	typ, nonRetryable := actAppError(err)
	if typ != errType || !nonRetryable {
		t.Fatalf("error %q: type %q non-retryable %v, want %q non-retryable", err, typ, nonRetryable, errType)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not mention %q", err, c)
		}
	}
}

func actWantRetryable(t *testing.T, err error, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("want a retryable error, got nil")
	}
	if _, nonRetryable := actAppError(err); nonRetryable {
		t.Fatalf("error %q is non-retryable, want retryable", err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not mention %q", err, c)
		}
	}
}

func TestTXTValue(t *testing.T) {
	for _, ka := range []string{
		"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ",
		actKeyAuth,
		"",
	} {
		sum := sha256.Sum256([]byte(ka))
		want := base64.RawURLEncoding.EncodeToString(sum[:])
		if got := TXTValue(ka); got != want {
			t.Errorf("TXTValue(%q) = %q, want %q", ka, got, want)
		}
	}
	// Computed separately (Python hashlib + urlsafe_b64encode without padding).
	const ka = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
	if got, want := TXTValue(ka), "NGwKoXBgCT8JhEa0bK7AwfSqHyu_ZWeugV07fLGIVq0"; got != want {
		t.Errorf("TXTValue(known vector) = %q, want %q", got, want)
	}
	if v := TXTValue(ka); len(v) != 43 || strings.ContainsAny(v, "+/=") {
		t.Errorf("TXTValue = %q: want 43 base64url characters without padding", v)
	}
}

func TestChallengeFQDN(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":      "_acme-challenge.example.com.",
		"example.com.":     "_acme-challenge.example.com.",
		"*.example.com":    "_acme-challenge.example.com.",
		"a.b.example.com":  "_acme-challenge.a.b.example.com.",
		" www.example.com": "_acme-challenge.www.example.com.",
	} {
		if got := ChallengeFQDN(in); got != want {
			t.Errorf("ChallengeFQDN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCloudflareRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		issuerNS string // "" = ClusterIssuer
		secret   *corev1.Secret
		cf       *acmev1.ACMEIssuerDNS01ProviderCloudflare
	}{
		{
			name:     "token/Issuer",
			issuerNS: actIssuerNS,
			secret:   actSecret(actIssuerNS, "cf-token", "api-token", actToken+"\n"),
			cf:       &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr("cf-token", "api-token")},
		},
		{
			name:   "email+key/ClusterIssuer",
			secret: actSecret(actClusterNS, "cf-key", "api-key", actKey),
			cf:     &acmev1.ACMEIssuerDNS01ProviderCloudflare{Email: actEmail, APIKey: actSelPtr("cf-key", "api-key")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newActFixture(t, nil, tc.secret)
			ctx := actCtx(t)
			in := DNS01Input{
				IssuerNamespace:  tc.issuerNS,
				Solver:           acmev1.ACMEChallengeSolverDNS01{Cloudflare: tc.cf},
				DNSName:          "www.example.test",
				KeyAuthorization: actKeyAuth,
			}
			const fqdn = "_acme-challenge.www.example.test."
			value := TXTValue(actKeyAuth)

			res, err := f.act.CheckDNS01Propagation(ctx, in)
			if err != nil || res.Ready {
				t.Fatalf("check before present: %+v, %v", res, err)
			}

			rec, err := f.act.PresentDNS01(ctx, in)
			if err != nil {
				t.Fatalf("present: %v", err)
			}
			if want := (DNS01Record{FQDN: fqdn, Value: value, Provider: ProviderCloudflare}); rec != want {
				t.Fatalf("present = %+v, want %+v", rec, want)
			}
			if got := f.fake.TXT(fqdn); !slices.Equal(got, []string{value}) {
				t.Fatalf("Cloudflare TXT %s = %q, want %q", fqdn, got, value)
			}
			if _, err := f.act.PresentDNS01(ctx, in); err != nil {
				t.Fatalf("present again: %v", err)
			}
			if got := f.fake.TXT(fqdn); len(got) != 1 {
				t.Fatalf("present again: TXT = %q, want one record", got)
			}

			res, err = f.act.CheckDNS01Propagation(ctx, in)
			if err != nil || !res.Ready || !slices.Equal(res.Checked, []string{f.dns.addr}) {
				t.Fatalf("check after present: %+v, %v", res, err)
			}

			// The wildcard's challenge for the same name has another key
			// authorization: both values coexist and are cleaned up separately.
			wild := in
			wild.KeyAuthorization = "token-wild.thumbprint-xyz"
			if _, err := f.act.PresentDNS01(ctx, wild); err != nil {
				t.Fatalf("present wildcard: %v", err)
			}
			if got := f.fake.TXT(fqdn); len(got) != 2 {
				t.Fatalf("TXT after wildcard = %q, want two values", got)
			}

			if err := f.act.CleanUpDNS01(ctx, in); err != nil {
				t.Fatalf("clean up: %v", err)
			}
			if got := f.fake.TXT(fqdn); !slices.Equal(got, []string{TXTValue(wild.KeyAuthorization)}) {
				t.Fatalf("TXT after clean up = %q, want only the wildcard's", got)
			}
			res, err = f.act.CheckDNS01Propagation(ctx, in)
			if err != nil || res.Ready {
				t.Fatalf("check after clean up: %+v, %v", res, err)
			}
			if res, err := f.act.CheckDNS01Propagation(ctx, wild); err != nil || !res.Ready {
				t.Fatalf("check wildcard: %+v, %v", res, err)
			}
			if err := f.act.CleanUpDNS01(ctx, in); err != nil {
				t.Fatalf("clean up again: %v", err)
			}
			if err := f.act.CleanUpDNS01(ctx, wild); err != nil {
				t.Fatalf("clean up wildcard: %v", err)
			}
			if got := f.fake.TXT(fqdn); len(got) != 0 {
				t.Fatalf("TXT after all clean ups = %q", got)
			}
		})
	}
}

func TestCloudflareFollowCNAME(t *testing.T) {
	// _acme-challenge.alias.other is delegated to a name in a Cloudflare zone.
	const target = "_acme-challenge.delegated.example.org."
	f := newActFixture(t, map[string]string{"_acme-challenge.alias.other.": target},
		actSecret(actIssuerNS, "cf", "token", actToken))
	ctx := actCtx(t)
	in := DNS01Input{
		IssuerNamespace: actIssuerNS,
		Solver: acmev1.ACMEChallengeSolverDNS01{
			CNAMEStrategy: acmev1.FollowStrategy,
			Cloudflare:    &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr("cf", "token")},
		},
		DNSName:          "alias.other",
		KeyAuthorization: actKeyAuth,
	}
	rec, err := f.act.PresentDNS01(ctx, in)
	if err != nil {
		t.Fatalf("present: %v", err)
	}
	if rec.FQDN != target || rec.Value != TXTValue(actKeyAuth) {
		t.Fatalf("present = %+v, want the record at %s", rec, target)
	}
	if got := f.fake.TXT(target); !slices.Equal(got, []string{rec.Value}) {
		t.Fatalf("TXT %s = %q", target, got)
	}
	if res, err := f.act.CheckDNS01Propagation(ctx, in); err != nil || !res.Ready {
		t.Fatalf("check (Follow): %+v, %v", res, err)
	}
	none := in
	none.Solver.CNAMEStrategy = acmev1.NoneStrategy
	if res, err := f.act.CheckDNS01Propagation(ctx, none); err != nil || res.Ready {
		t.Fatalf("check (None) must not follow the CNAME: %+v, %v", res, err)
	}
	// Without Follow the record would go at _acme-challenge.alias.other, which is
	// in no zone of the account: a provider error, retryable.
	_, err = f.act.PresentDNS01(ctx, none)
	actWantRetryable(t, err, "_acme-challenge.alias.other")

	if err := f.act.CleanUpDNS01(ctx, in); err != nil {
		t.Fatalf("clean up: %v", err)
	}
	if got := f.fake.TXT(target); len(got) != 0 {
		t.Fatalf("TXT %s after clean up = %q", target, got)
	}
	if res, err := f.act.CheckDNS01Propagation(ctx, in); err != nil || res.Ready {
		t.Fatalf("check after clean up: %+v, %v", res, err)
	}
}

func TestSecretsReadPerCall(t *testing.T) {
	f := newActFixture(t, nil, actSecret(actIssuerNS, "cf", "token", "stale-token"))
	ctx := actCtx(t)
	in := DNS01Input{
		IssuerNamespace:  actIssuerNS,
		Solver:           acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr("cf", "token")}},
		DNSName:          "example.test",
		KeyAuthorization: actKeyAuth,
	}
	// The API rejects the token: retryable, and the token is not in the error.
	_, err := f.act.PresentDNS01(ctx, in)
	actWantRetryable(t, err, "cloudflare")
	if strings.Contains(err.Error(), "stale-token") {
		t.Errorf("error %q reveals the token", err)
	}
	// Rotating the Secret takes effect at the next call.
	if _, err := f.kube.CoreV1().Secrets(actIssuerNS).Update(ctx, actSecret(actIssuerNS, "cf", "token", actToken), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec, err := f.act.PresentDNS01(ctx, in)
	if err != nil {
		t.Fatalf("present after rotation: %v", err)
	}
	if rec.FQDN != "_acme-challenge.example.test." {
		t.Fatalf("present = %+v", rec)
	}
	if err := f.act.CleanUpDNS01(ctx, in); err != nil {
		t.Fatalf("clean up: %v", err)
	}
}

func TestSecretErrors(t *testing.T) {
	token := func(name, key string) acmev1.ACMEChallengeSolverDNS01 {
		return acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr(name, key)}}
	}
	for _, tc := range []struct {
		name     string
		issuerNS string
		solver   acmev1.ACMEChallengeSolverDNS01
		noKube   bool
		noCluNS  bool
		want     []string
	}{
		{name: "missing Secret", issuerNS: actIssuerNS, solver: token("absent", "token"),
			want: []string{"team-a/absent", `"token"`, "not found", "apiTokenSecretRef"}},
		{name: "missing key", issuerNS: actIssuerNS, solver: token("cf", "other"),
			want: []string{"team-a/cf", `no key "other"`}},
		{name: "empty value", issuerNS: actIssuerNS, solver: token("cf-empty", "token"),
			want: []string{"team-a/cf-empty", `"token"`, "empty"}},
		{name: "no key in selector", issuerNS: actIssuerNS, solver: token("cf", ""),
			want: []string{"team-a/cf", "no key"}},
		{name: "ClusterIssuer Secret in another namespace", solver: token("cf", "token"),
			want: []string{"certflow-system/cf", "not found"}},
		{name: "ClusterIssuer without cluster resource namespace", solver: token("cf", "token"), noCluNS: true,
			want: []string{`"cf"`, "cluster resource namespace"}},
		{name: "no Kubernetes client", issuerNS: actIssuerNS, solver: token("cf", "token"), noKube: true,
			want: []string{"team-a/cf", "Kubernetes"}},
		{name: "global key without email", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIKey: actSelPtr("cf", "token")}},
			want:   []string{"email"}},
		{name: "both token and key", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{
				Email: actEmail, APIKey: actSelPtr("cf", "token"), APIToken: actSelPtr("cf", "token")}},
			want: []string{"only one"}},
		{name: "no Cloudflare credentials", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{}},
			want:   []string{"apiTokenSecretRef"}},
		{name: "rfc2136 missing TSIG Secret", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{RFC2136: &acmev1.ACMEIssuerDNS01ProviderRFC2136{
				Nameserver: "127.0.0.1:53", TSIGKeyName: "key.", TSIGSecret: actSel("tsig", "secret")}},
			want: []string{"team-a/tsig", `"secret"`, "not found", "tsigSecretSecretRef"}},
		{name: "rfc2136 TSIG secret not base64", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{RFC2136: &acmev1.ACMEIssuerDNS01ProviderRFC2136{
				Nameserver: "127.0.0.1:53", TSIGKeyName: "key.", TSIGSecret: actSel("cf", "token")}},
			want: []string{"base64"}},
		{name: "rfc2136 bad algorithm", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{RFC2136: &acmev1.ACMEIssuerDNS01ProviderRFC2136{
				Nameserver: "127.0.0.1:53", TSIGAlgorithm: "HMACSHA3"}},
			want: []string{"HMACSHA3"}},
		{name: "rfc2136 no nameserver", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{RFC2136: &acmev1.ACMEIssuerDNS01ProviderRFC2136{}},
			want:   []string{"nameserver"}},
		{name: "unknown cnameStrategy", issuerNS: actIssuerNS,
			solver: acmev1.ACMEChallengeSolverDNS01{CNAMEStrategy: "Sometimes", Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr("cf", "token")}},
			want:   []string{"Sometimes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newActFixture(t, nil,
				actSecret(actIssuerNS, "cf", "token", actToken),
				actSecret(actIssuerNS, "cf-empty", "token", " \n"))
			if tc.noKube {
				f.act.Kube = nil
			}
			if tc.noCluNS {
				f.act.ClusterResourceNamespace = ""
			}
			ctx := actCtx(t)
			in := DNS01Input{IssuerNamespace: tc.issuerNS, Solver: tc.solver, DNSName: "example.test", KeyAuthorization: actKeyAuth}
			_, err := f.act.PresentDNS01(ctx, in)
			actWantNonRetryable(t, err, ErrTypeConfig, tc.want...)
			err = f.act.CleanUpDNS01(ctx, in)
			actWantNonRetryable(t, err, ErrTypeConfig, tc.want...)
			if strings.Contains(err.Error(), actToken) {
				t.Errorf("error %q reveals the token", err)
			}
			if n := f.requestCount(); n != 0 {
				t.Errorf("%d Cloudflare API requests made; want none", n)
			}
		})
	}
}

func TestKubeErrorsAreRetryable(t *testing.T) {
	f := newActFixture(t, nil)
	f.kube.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("apiserver unavailable")
	})
	in := DNS01Input{
		IssuerNamespace:  actIssuerNS,
		Solver:           acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr("cf", "token")}},
		DNSName:          "example.test",
		KeyAuthorization: actKeyAuth,
	}
	_, err := f.act.PresentDNS01(actCtx(t), in)
	actWantRetryable(t, err, "apiserver unavailable", "team-a/cf")
}

func TestUnsupportedProviders(t *testing.T) {
	for name, s := range map[string]acmev1.ACMEChallengeSolverDNS01{
		"no provider": {},
	} {
		t.Run(name, func(t *testing.T) {
			a := &Activities{Kube: kubefake.NewClientset(), ClusterResourceNamespace: actClusterNS}
			in := DNS01Input{IssuerNamespace: actIssuerNS, Solver: s, DNSName: "example.test", KeyAuthorization: actKeyAuth}
			want := name
			if name == "no provider" {
				want = "no DNS provider"
			}
			_, err := a.PresentDNS01(actCtx(t), in)
			actWantNonRetryable(t, err, ErrTypeUnsupported, want)
			actWantNonRetryable(t, a.CleanUpDNS01(actCtx(t), in), ErrTypeUnsupported, want)
		})
	}
}

func TestInvalidInput(t *testing.T) {
	a := &Activities{Kube: kubefake.NewClientset(), RecursiveNameservers: []string{"127.0.0.1:1"}}
	solver := acmev1.ACMEChallengeSolverDNS01{RFC2136: &acmev1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: "127.0.0.1:1"}}
	for name, in := range map[string]DNS01Input{
		"no DNS name":          {Solver: solver, KeyAuthorization: actKeyAuth},
		"no key authorization": {Solver: solver, DNSName: "example.test"},
		"bad DNS name":         {Solver: solver, DNSName: "exa mple..test", KeyAuthorization: actKeyAuth},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := actCtx(t)
			_, err := a.PresentDNS01(ctx, in)
			actWantNonRetryable(t, err, ErrTypeConfig)
			actWantNonRetryable(t, a.CleanUpDNS01(ctx, in), ErrTypeConfig)
			_, err = a.CheckDNS01Propagation(ctx, in)
			actWantNonRetryable(t, err, ErrTypeConfig)
		})
	}
	bad := &Activities{RecursiveNameservers: []string{"[::1"}}
	_, err := bad.CheckDNS01Propagation(actCtx(t), DNS01Input{Solver: solver, DNSName: "example.test", KeyAuthorization: actKeyAuth})
	actWantNonRetryable(t, err, ErrTypeConfig, "[::1")
}

// TestRFC2136WithoutTSIG: with no TSIG key name no Secret is read (as upstream),
// so no Kubernetes client is needed; a nameserver that does not answer is a
// retryable error.
func TestRFC2136WithoutTSIG(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	a := &Activities{}
	in := DNS01Input{
		Solver:           acmev1.ACMEChallengeSolverDNS01{RFC2136: &acmev1.ACMEIssuerDNS01ProviderRFC2136{Nameserver: silent.LocalAddr().String()}},
		DNSName:          "example.test",
		KeyAuthorization: actKeyAuth,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = a.PresentDNS01(ctx, in)
	actWantRetryable(t, err, "rfc2136")
}

func TestActivitiesRFC2136Integration(t *testing.T) {
	s := integration.StartBIND(t, bind.Options{
		Zones:         []string{"example.com"},
		TSIGAlgorithm: "HMACSHA256",
		Records: []string{
			"_acme-challenge.alias.example.com. 300 IN CNAME _acme-challenge.target.example.com.",
		},
	})
	kube := kubefake.NewClientset(
		actSecret(actIssuerNS, "tsig", "secret", s.TSIGSecret()),
		actSecret(actClusterNS, "tsig-cluster", "tsig-secret.key", s.TSIGSecret()),
	)
	a := &Activities{Kube: kube, ClusterResourceNamespace: actClusterNS, RecursiveNameservers: []string{s.Addr()}}
	rfc := func(secret cmmeta.SecretKeySelector) *acmev1.ACMEIssuerDNS01ProviderRFC2136 {
		return &acmev1.ACMEIssuerDNS01ProviderRFC2136{
			Nameserver:    s.Addr(),
			TSIGKeyName:   s.TSIGKeyName(),
			TSIGAlgorithm: strings.ToLower(s.TSIGAlgorithm()),
			TSIGSecret:    secret,
		}
	}
	for _, tc := range []struct {
		name     string
		in       DNS01Input
		wantFQDN string
	}{
		{
			name: "Issuer",
			in: DNS01Input{
				IssuerNamespace:  actIssuerNS,
				Solver:           acmev1.ACMEChallengeSolverDNS01{RFC2136: rfc(actSel("tsig", "secret"))},
				DNSName:          "www.example.com",
				KeyAuthorization: actKeyAuth,
			},
			wantFQDN: "_acme-challenge.www.example.com.",
		},
		{
			name: "ClusterIssuer with CNAME Follow",
			in: DNS01Input{
				Solver: acmev1.ACMEChallengeSolverDNS01{
					CNAMEStrategy: acmev1.FollowStrategy,
					RFC2136:       rfc(actSel("tsig-cluster", "tsig-secret.key")),
				},
				DNSName:          "alias.example.com",
				KeyAuthorization: actKeyAuth,
			},
			wantFQDN: "_acme-challenge.target.example.com.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := actCtx(t)
			value := TXTValue(actKeyAuth)
			rec, err := a.PresentDNS01(ctx, tc.in)
			if err != nil {
				t.Fatalf("present: %v", err)
			}
			if want := (DNS01Record{FQDN: tc.wantFQDN, Value: value, Provider: ProviderRFC2136}); rec != want {
				t.Fatalf("present = %+v, want %+v", rec, want)
			}
			if got := rfc2136TestTXT(t, s.Addr(), tc.wantFQDN); !slices.Equal(got, []string{value}) {
				t.Fatalf("TXT %s = %q, want %q", tc.wantFQDN, got, value)
			}
			res, err := a.CheckDNS01Propagation(ctx, tc.in)
			if err != nil || !res.Ready || !slices.Equal(res.Checked, []string{s.Addr()}) {
				t.Fatalf("check after present: %+v, %v", res, err)
			}
			if err := a.CleanUpDNS01(ctx, tc.in); err != nil {
				t.Fatalf("clean up: %v", err)
			}
			if got := rfc2136TestTXT(t, s.Addr(), tc.wantFQDN); len(got) != 0 {
				t.Fatalf("TXT %s after clean up = %q", tc.wantFQDN, got)
			}
			res, err = a.CheckDNS01Propagation(ctx, tc.in)
			if err != nil || res.Ready {
				t.Fatalf("check after clean up: %+v, %v", res, err)
			}
			if err := a.CleanUpDNS01(ctx, tc.in); err != nil {
				t.Fatalf("clean up again: %v", err)
			}
		})
	}

	// A wrong TSIG secret is rejected by the server: a provider error, retryable.
	if _, err := kube.CoreV1().Secrets(actIssuerNS).Update(context.Background(),
		actSecret(actIssuerNS, "tsig", "secret", base64.StdEncoding.EncodeToString([]byte("not-the-right-secret-0123456789ab"))),
		metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := a.PresentDNS01(actCtx(t), DNS01Input{
		IssuerNamespace:  actIssuerNS,
		Solver:           acmev1.ACMEChallengeSolverDNS01{RFC2136: rfc(actSel("tsig", "secret"))},
		DNSName:          "www.example.com",
		KeyAuthorization: actKeyAuth,
	})
	actWantRetryable(t, err, "rfc2136")
}

// With LoadChallenge (as the worker runs), the Challenge object decides the solver, the
// namespace of its credentials, the name and the key: input naming another issuer's
// Secret and another name presents the Challenge's record with the Challenge's
// credentials; input naming no Challenge, or one that is gone, presents nothing; the
// cleanup of a Challenge deleted meanwhile still removes its record.
func TestChallengeDecidesWhatIsPresented(t *testing.T) {
	f := newActFixture(t, nil, actSecret(actIssuerNS, "cf-token", "api-token", actToken))
	ctx := actCtx(t)
	ch := &acmev1.Challenge{
		ObjectMeta: metav1.ObjectMeta{Namespace: actIssuerNS, Name: "www-1", UID: "uid-1"},
		Spec: acmev1.ChallengeSpec{DNSName: "www.example.test", Key: actKeyAuth,
			IssuerRef: cmmeta.ObjectReference{Name: "acme", Kind: "Issuer"},
			Solver: acmev1.ACMEChallengeSolver{DNS01: &acmev1.ACMEChallengeSolverDNS01{
				Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr("cf-token", "api-token")}}}},
	}
	gone := false
	f.act.LoadChallenge = func(_ context.Context, ns, name, uid string) (*acmev1.Challenge, error) {
		if gone || ns != ch.Namespace || name != ch.Name || uid != string(ch.UID) {
			return nil, temporal.NewNonRetryableApplicationError("Challenge "+ns+"/"+name+" does not exist", "ObjectGone", nil)
		}
		return ch, nil
	}
	forged := DNS01Input{
		Challenge:        ChallengeRef{Namespace: actIssuerNS, Name: "www-1", UID: "uid-1"},
		IssuerNamespace:  actClusterNS, // another namespace's Secret, which the Challenge does not name
		Solver:           acmev1.ACMEChallengeSolverDNS01{Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{APIToken: actSelPtr("other", "api-token")}},
		DNSName:          "victim.example.test",
		KeyAuthorization: "forged",
	}
	rec, err := f.act.PresentDNS01(ctx, forged)
	if err != nil {
		t.Fatalf("present for a Challenge that exists: %v", err)
	}
	if want := (DNS01Record{FQDN: "_acme-challenge.www.example.test.", Value: TXTValue(actKeyAuth), Provider: ProviderCloudflare}); rec != want {
		t.Errorf("presented %+v, want the Challenge's record %+v", rec, want)
	}
	if v := f.fake.TXT("_acme-challenge.victim.example.test."); len(v) > 0 {
		t.Errorf("the input's name got a record: %q", v)
	}

	requests := f.requestCount()
	for _, in := range []DNS01Input{
		{IssuerNamespace: actIssuerNS, Solver: *ch.Spec.Solver.DNS01, DNSName: "victim.example.test", KeyAuthorization: "forged"},
		{Challenge: ChallengeRef{Namespace: actIssuerNS, Name: "www-1", UID: "other-uid"}, IssuerNamespace: actIssuerNS,
			Solver: *ch.Spec.Solver.DNS01, DNSName: "victim.example.test", KeyAuthorization: "forged"},
	} {
		_, err := f.act.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, "ObjectGone")
	}
	if n := f.requestCount(); n != requests {
		t.Errorf("%d Cloudflare API requests for inputs naming no Challenge that exists", n-requests)
	}

	// The Challenge is deleted before its workflow cleans up: the input's record goes.
	gone = true
	in := DNS01Input{Challenge: forged.Challenge, IssuerNamespace: actIssuerNS, Solver: *ch.Spec.Solver.DNS01,
		DNSName: ch.Spec.DNSName, KeyAuthorization: actKeyAuth}
	if err := f.act.CleanUpDNS01(ctx, in); err != nil {
		t.Fatalf("clean up after the Challenge was deleted: %v", err)
	}
	if v := f.fake.TXT("_acme-challenge.www.example.test."); len(v) > 0 {
		t.Errorf("record left after the cleanup: %q", v)
	}
}
