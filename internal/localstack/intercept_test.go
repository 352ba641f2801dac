package localstack_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit/dnsquery"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// TestInterceptCloudflareTXT changes what the fake Cloudflare API publishes into
// challtestsrv: the records already there follow the new rule at once, new ones too,
// the API keeps the real values, and clearing the rule restores them.
func TestInterceptCloudflareTXT(t *testing.T) {
	s := integration.StartStack(t, Options{ACME: true})
	const a, b = "_acme-challenge.a.example.com.", "_acme-challenge.b.example.com."
	cf := s.Cloudflare()
	var zoneID string
	for _, z := range cf.Zones() {
		if strings.TrimSuffix(z.Name, ".") == "example.com" {
			zoneID = z.ID
		}
	}
	if zoneID == "" {
		t.Fatalf("no zone example.com in %v", cf.Zones())
	}
	create := func(name, value string) string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"type": "TXT", "name": strings.TrimSuffix(name, "."), "content": value, "ttl": 120})
		req, _ := http.NewRequest(http.MethodPost, s.CloudflareAPIURL()+"/zones/"+zoneID+"/dns_records", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+CloudflareToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Success bool
			Result  struct{ ID string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.Success {
			t.Fatalf("create TXT %s: %s, %v", name, resp.Status, err)
		}
		return out.Result.ID
	}
	txt := func(name string) []string { t.Helper(); return dnsquery.TXT(t, s.ChallTestSrvDNS, name) }
	want := func(name string, vals ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := txt(name)
			if slices.Equal(got, vals) || (len(got) == 0 && len(vals) == 0) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("challtestsrv serves %q at %s, want %q", got, name, vals)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	create(a, "real-a")
	want(a, "real-a")
	if err := s.InterceptCloudflareTXT(func(name string, values []string) []string {
		if len(values) == 0 {
			return values
		}
		return []string{"wrong-" + strings.Split(name, ".")[1]}
	}); err != nil {
		t.Fatal(err)
	}
	want(a, "wrong-a") // republished at once
	idB := create(b, "real-b")
	want(b, "wrong-b")
	if got := cf.TXT(b); !slices.Equal(got, []string{"real-b"}) {
		t.Errorf("the API holds %q at %s, want the real value", got, b)
	}
	if err := s.InterceptCloudflareTXT(nil); err != nil {
		t.Fatal(err)
	}
	want(a, "real-a")
	want(b, "real-b")

	req, _ := http.NewRequest(http.MethodDelete, s.CloudflareAPIURL()+"/zones/"+zoneID+"/dns_records/"+idB, nil)
	req.Header.Set("Authorization", "Bearer "+CloudflareToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delete TXT %s: %s", b, resp.Status)
	}
	want(b)
}

func TestInterceptCloudflareTXTWithoutACME(t *testing.T) {
	var s Stack
	if err := s.InterceptCloudflareTXT(nil); err == nil {
		t.Error("InterceptCloudflareTXT on a stack without ACME: no error")
	}
}
