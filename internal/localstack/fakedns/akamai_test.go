package fakedns

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/akamai/AkamaiOPEN-edgegrid-golang/v13/pkg/edgegrid"
)

func TestAkamaiEdgeGridAuthAndRecordSets(t *testing.T) {
	creds := AkamaiCredentials{ClientToken: "ct", ClientSecret: "cs", AccessToken: "at"}
	sink := &sinkLog{sets: map[string][]string{}}
	store := NewStore([]string{"example.co"}, sink)
	fake := &Akamai{Store: store, Clients: []AkamaiCredentials{creds}}
	hs := httptest.NewTLSServer(fake.Handler())
	defer hs.Close()
	host := strings.TrimPrefix(hs.URL, "https://")
	signer := edgegrid.Config{Host: host, ClientToken: creds.ClientToken, ClientSecret: creds.ClientSecret, AccessToken: creds.AccessToken, MaxBody: edgegrid.MaxBodySize}
	const set = "/config-dns/v2/zones/example.co/names/_acme-challenge.example.co/types/TXT"
	call := func(s edgegrid.Config, method, path, body string, tamper func(*http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		s.SignRequest(req)
		if tamper != nil {
			tamper(req)
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	body := `{"name":"_acme-challenge.example.co","type":"TXT","ttl":60,"rdata":["\"one\""]}`
	wrong := signer
	wrong.ClientSecret = "other"
	for _, tc := range []struct {
		name   string
		s      edgegrid.Config
		tamper func(*http.Request)
		detail string
	}{
		{"wrong secret", wrong, nil, "The signature does not match"},
		{"body changed after signing", signer, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "one", "two", 1)))
			r.ContentLength = int64(len(body))
		}, "The signature does not match"},
		{"stale timestamp", signer, func(r *http.Request) {
			old := edgegrid.Timestamp(time.Now().Add(-time.Hour))
			h := r.Header.Get("Authorization")
			i := strings.Index(h, "timestamp=")
			r.Header.Set("Authorization", h[:i+len("timestamp=")]+old+h[i+len("timestamp=")+len(old):])
		}, "Invalid timestamp"},
		{"no header", signer, func(r *http.Request) { r.Header.Del("Authorization") }, "Invalid authorization header"},
	} {
		status, answer := call(tc.s, http.MethodPost, set, body, tc.tamper)
		if status != http.StatusUnauthorized || !strings.Contains(answer, tc.detail) || !strings.Contains(answer, `"title":"Not authorized"`) {
			t.Errorf("%s: %d %s, want 401 %q", tc.name, status, answer, tc.detail)
		}
	}
	if len(store.Records("example.co")) != 0 {
		t.Fatal("a refused request wrote")
	}
	steps := []struct {
		method, path, body string
		status             int
		values             []string
	}{
		{http.MethodGet, "/config-dns/v2/zones/example.co", "", 200, nil},
		{http.MethodGet, "/config-dns/v2/zones/example.com", "", 404, nil},
		{http.MethodGet, set, "", 404, nil},
		{http.MethodPost, set, body, 201, []string{"one"}},
		{http.MethodPost, set, body, 409, []string{"one"}},
		{http.MethodPut, set, `{"name":"_acme-challenge.example.co","type":"TXT","ttl":60,"rdata":["\"one\"","\"two\""]}`, 200, []string{"one", "two"}},
		{http.MethodGet, set, "", 200, []string{"one", "two"}},
		{http.MethodPut, set, `{"name":"_acme-challenge.example.co","type":"TXT","ttl":60,"rdata":["\"two\""]}`, 200, []string{"two"}},
		{http.MethodDelete, set, "", 204, nil},
		{http.MethodDelete, set, "", 404, nil},
		{http.MethodPut, set, body, 404, nil},
	}
	for _, st := range steps {
		status, answer := call(signer, st.method, st.path, st.body, nil)
		if status != st.status {
			t.Fatalf("%s %s: %d %s, want %d", st.method, st.path, status, answer, st.status)
		}
		if got := store.TXT("_acme-challenge.example.co"); !slices.Equal(got, st.values) {
			t.Fatalf("%s %s: TXT %q, want %q", st.method, st.path, got, st.values)
		}
		sink.mu.Lock()
		served := sink.sets["_acme-challenge.example.co."]
		sink.mu.Unlock()
		if st.status < 300 && st.method != http.MethodGet && !slices.Equal(served, st.values) {
			t.Fatalf("%s: sink serves %q, want %q", st.method, served, st.values)
		}
	}
}
