package fakedns

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// acmeDNSCall sends one request with acme-dns's auth headers (when user is set) and
// returns the status and the body.
func acmeDNSCall(t *testing.T, url, user, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Api-User", user)
		req.Header.Set("X-Api-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(raw))
}

func TestAcmeDNSWireFormat(t *testing.T) {
	sink := &sinkLog{sets: map[string][]string{}}
	store := NewStore([]string{"auth.acme-dns.test"}, sink)
	srv := &Server{}
	u, err := srv.Start("127.0.0.1:0", (&AcmeDNS{Store: store, Domain: "auth.acme-dns.test"}).Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	status, body := acmeDNSCall(t, u+"/register", "", "", `{"allowfrom": []}`)
	var acct AcmeDNSAccount
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &acct) != nil {
		t.Fatalf("register: %d %s", status, body)
	}
	if len(acct.Password) != 40 || acct.FullDomain != acct.SubDomain+".auth.acme-dns.test" || len(acct.Username) != 36 {
		t.Fatalf("account %+v", acct)
	}
	if status, body := acmeDNSCall(t, u+"/register", "", "", `{"allowfrom": `); status != 400 || body != `{"error": "malformed_json_payload"}` {
		t.Errorf("bad register body: %d %s", status, body)
	}

	v := func(c byte) string { return strings.Repeat(string(c), 43) }
	upd := func(sub, txt string) string { return `{"subdomain": "` + sub + `", "txt": "` + txt + `"}` }
	for _, tc := range []struct {
		name, user, key, body string
		status                int
		answer                string
	}{
		{"wrong key", acct.Username, strings.Repeat("x", 40), upd(acct.SubDomain, v('a')), 401, `{"error": "forbidden"}`},
		{"no auth", "", "", upd(acct.SubDomain, v('a')), 401, `{"error": "forbidden"}`},
		{"unknown user", "0d6ba5f4-8b9c-4a1e-9a7e-5c6e6b4c1f00", acct.Password, upd(acct.SubDomain, v('a')), 401, `{"error": "forbidden"}`},
		{"another subdomain", acct.Username, acct.Password, upd("other", v('a')), 401, `{"error": "forbidden"}`},
		{"bad txt", acct.Username, acct.Password, upd(acct.SubDomain, "short"), 400, `{"error": "bad_txt"}`},
		{"first", acct.Username, acct.Password, upd(acct.SubDomain, v('a')), 200, `{"txt": "` + v('a') + `"}`},
		{"second", acct.Username, acct.Password, upd(acct.SubDomain, v('b')), 200, `{"txt": "` + v('b') + `"}`},
		{"third", acct.Username, acct.Password, upd(acct.SubDomain, v('c')), 200, `{"txt": "` + v('c') + `"}`},
	} {
		status, body := acmeDNSCall(t, u+"/update", tc.user, tc.key, tc.body)
		if status != tc.status || body != tc.answer {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.answer)
		}
	}
	// The two newest values stay, in the store and in what the sink serves.
	want := []string{v('b'), v('c')}
	if got := store.TXT(acct.FullDomain); !slices.Equal(got, want) {
		t.Errorf("TXT = %q, want %q", got, want)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if got := sink.sets[acct.FullDomain+"."]; !slices.Equal(got, want) {
		t.Errorf("sink = %q, want %q", got, want)
	}
}
