package dns01

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
)

const (
	cfToken = "test-token"
	cfEmail = "admin@example.com"
	cfKey   = "test-global-key"
)

type cfFixture struct {
	fake     *fakecloudflare.Server
	url      string
	requests atomic.Int64
}

// newCFFixture starts a fake Cloudflare API holding zones on an httptest server
// (127.0.0.1) and counts the requests it gets.
func newCFFixture(t *testing.T, zones ...string) *cfFixture {
	t.Helper()
	f := &cfFixture{fake: fakecloudflare.New(fakecloudflare.Options{
		Zones:  zones,
		Tokens: []string{cfToken},
		Keys:   map[string]string{cfEmail: cfKey},
	})}
	h := f.fake.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	f.url = hs.URL + fakecloudflare.APIPath
	return f
}

func (f *cfFixture) provider(t *testing.T, cfg CloudflareConfig) Provider {
	t.Helper()
	cfg.BaseURL = f.url
	p, err := NewCloudflare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// txt returns the TXT contents at name in zone.
func (f *cfFixture) txt(zone, name string) []string {
	var out []string
	for _, r := range f.fake.Records(zone) {
		if r.Type == "TXT" && r.Name == name {
			out = append(out, r.Content)
		}
	}
	return out
}

func TestNewCloudflareConfig(t *testing.T) {
	cases := []struct {
		name    string
		cfg     CloudflareConfig
		wantErr string
	}{
		{"token", CloudflareConfig{APIToken: "t"}, ""},
		{"email and key", CloudflareConfig{Email: "a@b.c", APIKey: "k"}, ""},
		{"real API", CloudflareConfig{APIToken: "t", BaseURL: ""}, ""},
		{"nothing", CloudflareConfig{}, "no credentials"},
		{"whitespace only", CloudflareConfig{APIToken: " \n"}, "no credentials"},
		{"key without email", CloudflareConfig{APIKey: "k"}, "email"},
		{"email without key", CloudflareConfig{Email: "a@b.c"}, "API key"},
		{"both", CloudflareConfig{APIToken: "t", Email: "a@b.c", APIKey: "k"}, "not both"},
		{"bad URL", CloudflareConfig{APIToken: "t", BaseURL: "127.0.0.1:80"}, "invalid BaseURL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewCloudflare(c.cfg)
			if c.wantErr == "" {
				if err != nil || p == nil {
					t.Fatalf("NewCloudflare: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
			}
		})
	}
}

func TestCloudflareParentNames(t *testing.T) {
	got := cfParentNames("_acme-challenge.a.b.example.com")
	want := []string{"a.b.example.com", "b.example.com", "example.com", "com"}
	if !slices.Equal(got, want) {
		t.Errorf("parentNames = %q, want %q", got, want)
	}
}

func TestCloudflarePresentCleanUp(t *testing.T) {
	ctx := context.Background()
	auths := map[string]CloudflareConfig{
		"token":         {APIToken: cfToken},
		"email and key": {Email: cfEmail, APIKey: cfKey},
	}
	for authName, cfg := range auths {
		t.Run(authName, func(t *testing.T) {
			f := newCFFixture(t, "example.com")
			p := f.provider(t, cfg)
			const fqdn = "_acme-challenge.www.example.com."
			const name = "_acme-challenge.www.example.com"

			if err := p.Present(ctx, fqdn, "v1"); err != nil {
				t.Fatal(err)
			}
			if err := p.Present(ctx, fqdn, "v1"); err != nil {
				t.Fatal(err)
			}
			if got := f.txt("example.com", name); !slices.Equal(got, []string{"v1"}) {
				t.Fatalf("after presenting twice: %q, want one record", got)
			}
			recs := f.fake.Records("example.com")
			if recs[0].TTL != 120 || recs[0].Proxied {
				t.Errorf("record %+v: want TTL 120, not proxied", recs[0])
			}
			if err := p.CleanUp(ctx, fqdn, "v1"); err != nil {
				t.Fatal(err)
			}
			if got := f.txt("example.com", name); len(got) != 0 {
				t.Fatalf("after CleanUp: %q", got)
			}
			// Cleaning up a record that is gone is fine.
			if err := p.CleanUp(ctx, fqdn, "v1"); err != nil {
				t.Fatalf("second CleanUp: %v", err)
			}
		})
	}
}

func TestCloudflareWildcardAndApex(t *testing.T) {
	ctx := context.Background()
	f := newCFFixture(t, "example.com")
	p := f.provider(t, CloudflareConfig{APIToken: cfToken})
	const fqdn = "_acme-challenge.example.com."
	const name = "_acme-challenge.example.com"
	// The apex and *.example.com share one challenge name.
	if err := p.Present(ctx, fqdn, "apex-value"); err != nil {
		t.Fatal(err)
	}
	if err := p.Present(ctx, fqdn, "wildcard-value"); err != nil {
		t.Fatal(err)
	}
	if got := f.txt("example.com", name); !slices.Equal(got, []string{"apex-value", "wildcard-value"}) {
		t.Fatalf("TXT %q", got)
	}
	if err := p.CleanUp(ctx, fqdn, "apex-value"); err != nil {
		t.Fatal(err)
	}
	if got := f.txt("example.com", name); !slices.Equal(got, []string{"wildcard-value"}) {
		t.Fatalf("after cleaning up one value: %q", got)
	}
	// A record that never existed.
	if err := p.CleanUp(ctx, fqdn, "never-presented"); err != nil {
		t.Fatal(err)
	}
	if got := f.txt("example.com", name); !slices.Equal(got, []string{"wildcard-value"}) {
		t.Fatalf("after cleaning up a missing value: %q", got)
	}
}

func TestCloudflareMostSpecificZone(t *testing.T) {
	ctx := context.Background()
	f := newCFFixture(t, "example.com", "b.example.com", "other.test")
	p := f.provider(t, CloudflareConfig{APIToken: cfToken})
	if err := p.Present(ctx, "_acme-challenge.a.b.example.com.", "v"); err != nil {
		t.Fatal(err)
	}
	if got := f.txt("b.example.com", "_acme-challenge.a.b.example.com"); !slices.Equal(got, []string{"v"}) {
		t.Errorf("b.example.com holds %q", got)
	}
	if got := f.fake.Records("example.com"); len(got) != 0 {
		t.Errorf("example.com holds %+v", got)
	}
	// A name directly under the less specific zone lands there; case and a missing
	// trailing dot do not matter.
	if err := p.Present(ctx, "_ACME-challenge.C.Example.com", "w"); err != nil {
		t.Fatal(err)
	}
	if got := f.txt("example.com", "_acme-challenge.c.example.com"); !slices.Equal(got, []string{"w"}) {
		t.Errorf("example.com holds %q", got)
	}
}

func TestCloudflareNoZone(t *testing.T) {
	f := newCFFixture(t, "example.com")
	p := f.provider(t, CloudflareConfig{APIToken: cfToken})
	const fqdn = "_acme-challenge.www.example.org."
	for op, fn := range map[string]func(context.Context, string, string) error{"Present": p.Present, "CleanUp": p.CleanUp} {
		err := fn(context.Background(), fqdn, "v")
		if err == nil || !strings.Contains(err.Error(), fqdn) || !strings.Contains(err.Error(), "no zone") {
			t.Errorf("%s: error %v, want one naming %s", op, err, fqdn)
		}
	}
}

func TestCloudflareWrongCredentials(t *testing.T) {
	f := newCFFixture(t, "example.com")
	cases := map[string]struct {
		cfg  CloudflareConfig
		code int
		msg  string
	}{
		"token":         {CloudflareConfig{APIToken: "wrong"}, 10000, "Authentication error"},
		"email and key": {CloudflareConfig{Email: cfEmail, APIKey: "wrong"}, 9103, "Unknown X-Auth-Key or X-Auth-Email"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := f.provider(t, c.cfg)
			err := p.Present(context.Background(), "_acme-challenge.example.com.", "v")
			if err == nil {
				t.Fatal("Present succeeded")
			}
			for _, want := range []string{c.msg, "HTTP 403", "cloudflare"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			var apiErr *CloudflareAPIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || len(apiErr.Errors) != 1 || apiErr.Errors[0].Code != c.code {
				t.Errorf("error %#v: want a CloudflareAPIError with code %d", err, c.code)
			}
			var authErr *cloudflare.AuthenticationError
			if !errors.As(err, &authErr) {
				t.Errorf("error %v does not unwrap to *cloudflare.AuthenticationError", err)
			}
		})
	}
}

// TestCloudflareSeparateInstances: a provider that did not present a record (another
// process, or a restarted worker) cleans it up.
func TestCloudflareSeparateInstances(t *testing.T) {
	ctx := context.Background()
	f := newCFFixture(t, "example.com")
	const fqdn = "_acme-challenge.example.com."
	if err := f.provider(t, CloudflareConfig{APIToken: cfToken}).Present(ctx, fqdn, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := f.provider(t, CloudflareConfig{APIToken: cfToken}).Present(ctx, fqdn, "v2"); err != nil {
		t.Fatal(err)
	}
	// A third instance, with the other kind of credentials.
	if err := f.provider(t, CloudflareConfig{Email: cfEmail, APIKey: cfKey}).CleanUp(ctx, fqdn, "v1"); err != nil {
		t.Fatal(err)
	}
	if got := f.txt("example.com", "_acme-challenge.example.com"); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("TXT %q", got)
	}
}

// TestCloudflareConcurrentPresent: instances presenting the same record at once leave
// one record and all succeed (a create that loses the race gets "identical record
// already exists", which is success).
func TestCloudflareConcurrentPresent(t *testing.T) {
	ctx := context.Background()
	f := newCFFixture(t, "example.com")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		p := f.provider(t, CloudflareConfig{APIToken: cfToken})
		wg.Go(func() { errs[i] = p.Present(ctx, "_acme-challenge.example.com.", "v") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Present %d: %v", i, err)
		}
	}
	if got := f.txt("example.com", "_acme-challenge.example.com"); !slices.Equal(got, []string{"v"}) {
		t.Fatalf("TXT %q", got)
	}
}

// TestCloudflareLoopbackNotRateLimited: against a local API the client's 4 requests
// per second limit is lifted (a Present takes several requests).
func TestCloudflareLoopbackNotRateLimited(t *testing.T) {
	ctx := context.Background()
	f := newCFFixture(t, "example.com")
	p := f.provider(t, CloudflareConfig{APIToken: cfToken})
	start := time.Now()
	for range 10 {
		if err := p.Present(ctx, "_acme-challenge.a.b.c.example.com.", "v"); err != nil {
			t.Fatal(err)
		}
	}
	// At 4 requests per second these would take over 12s.
	if n, d := f.requests.Load(), time.Since(start); n < 50 || d > 5*time.Second {
		t.Fatalf("%d requests took %s", n, d)
	}
}

// TestCloudflareCleanUpRace: a record another process deletes between our list and
// our delete (Cloudflare answers 404 / 81044) is not an error.
func TestCloudflareCleanUpRace(t *testing.T) {
	ctx := context.Background()
	fake := fakecloudflare.New(fakecloudflare.Options{Zones: []string{"example.com"}, Tokens: []string{cfToken}})
	h := fake.Handler()
	var raced atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			// The other process gets there first.
			h.ServeHTTP(httptest.NewRecorder(), r.Clone(ctx))
			raced.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer hs.Close()
	p, err := NewCloudflare(CloudflareConfig{APIToken: cfToken, BaseURL: hs.URL + fakecloudflare.APIPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present(ctx, "_acme-challenge.example.com.", "v"); err != nil {
		t.Fatal(err)
	}
	if err := p.CleanUp(ctx, "_acme-challenge.example.com.", "v"); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}
	if raced.Load() != 1 || len(fake.Records("example.com")) != 0 {
		t.Fatalf("raced %d, records %+v", raced.Load(), fake.Records("example.com"))
	}
}
