package fakedns

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

type sinkLog struct {
	mu   sync.Mutex
	sets map[string][]string
	fail bool
}

func (s *sinkLog) SetTXT(_ context.Context, fqdn string, values []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("sink down")
	}
	s.sets[fqdn] = slices.Clone(values)
	return nil
}

func startDO(t *testing.T) (string, *Store, *sinkLog) {
	t.Helper()
	sink := &sinkLog{sets: map[string][]string{}}
	store := NewStore([]string{"Example.net."}, sink)
	srv := &Server{}
	u, err := srv.Start("127.0.0.1:0", (&DigitalOcean{Store: store, Tokens: []string{"tok"}}).Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return u, store, sink
}

func call(t *testing.T, token, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %d %q is not JSON", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

func TestDigitalOceanWireFormat(t *testing.T) {
	u, store, sink := startDO(t)
	recs := u + "/v2/domains/example.net/records"

	for _, tok := range []string{"", "wrong"} {
		code, body := call(t, tok, http.MethodGet, recs, "")
		if code != http.StatusUnauthorized || body["id"] != "unauthorized" || body["message"] != "Unable to authenticate you" {
			t.Fatalf("token %q: %d %v, want DigitalOcean's 401", tok, code, body)
		}
	}
	if code, body := call(t, "tok", http.MethodGet, u+"/v2/domains/example.com", ""); code != http.StatusNotFound || body["id"] != "not_found" {
		t.Fatalf("unknown domain: %d %v", code, body)
	}
	if code, body := call(t, "tok", http.MethodGet, u+"/v2/domains/example.net", ""); code != http.StatusOK || body["domain"].(map[string]any)["name"] != "example.net" {
		t.Fatalf("domain: %d %v", code, body)
	}

	// lego sends the absolute name with a trailing dot; godo users often send a relative one.
	code, body := call(t, "tok", http.MethodPost, recs, `{"type":"TXT","name":"_acme-challenge.example.net.","data":"v1","ttl":30}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, body)
	}
	rec := body["domain_record"].(map[string]any)
	if rec["name"] != "_acme-challenge" || rec["data"] != "v1" || rec["ttl"] != float64(30) {
		t.Fatalf("created %v", rec)
	}
	if code, _ := call(t, "tok", http.MethodPost, recs, `{"type":"TXT","name":"_acme-challenge","data":"v2"}`); code != http.StatusCreated {
		t.Fatalf("create relative: %d", code)
	}
	if code, _ := call(t, "tok", http.MethodPost, recs, `{"type":"A","name":"www","data":"127.0.0.1"}`); code != http.StatusCreated {
		t.Fatalf("create A: %d", code)
	}
	if got := sink.get("_acme-challenge.example.net."); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Fatalf("sink holds %q", got)
	}

	code, body = call(t, "tok", http.MethodGet, recs+"?type=TXT&name=_acme-challenge.example.net", "")
	if code != http.StatusOK || len(body["domain_records"].([]any)) != 2 || body["meta"].(map[string]any)["total"] != float64(2) {
		t.Fatalf("list: %d %v", code, body)
	}
	if _, body := call(t, "tok", http.MethodGet, recs+"?type=TXT&name=other.example.net", ""); len(body["domain_records"].([]any)) != 0 {
		t.Fatalf("list other: %v", body)
	}

	id := store.Records("example.net")[0].ID
	del := recs + "/" + itoa(id)
	if code, _ := call(t, "tok", http.MethodDelete, del, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, body := call(t, "tok", http.MethodDelete, del, ""); code != http.StatusNotFound || body["id"] != "not_found" {
		t.Fatalf("delete again: %d %v", code, body)
	}
	if got := sink.get("_acme-challenge.example.net."); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("sink after delete holds %q", got)
	}

	// A sink failure is an API error and the change is rolled back.
	sink.mu.Lock()
	sink.fail = true
	sink.mu.Unlock()
	if code, _ := call(t, "tok", http.MethodPost, recs, `{"type":"TXT","name":"_acme-challenge","data":"v3"}`); code < 400 {
		t.Fatalf("create with the sink down: %d", code)
	}
	if got := store.TXT("_acme-challenge.example.net."); !slices.Equal(got, []string{"v2"}) {
		t.Fatalf("store after a failed create holds %q", got)
	}
	if code, _ := call(t, "tok", http.MethodPost, recs, `{"type":"TXT","name":"x.example.org.","data":"v"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("a name outside the zone: %d", code)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func (s *sinkLog) get(fqdn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets[fqdn]
}

func TestKeepUntilEmpty(t *testing.T) {
	ctx := context.Background()
	log := &sinkLog{sets: map[string][]string{}}
	k := KeepUntilEmpty(log)
	var calls [][]string
	step := func(values []string) {
		t.Helper()
		before := log.get("n.")
		if err := k.SetTXT(ctx, "n.", values); err != nil {
			t.Fatal(err)
		}
		if after := log.get("n."); !slices.Equal(before, after) || after == nil {
			calls = append(calls, after)
		}
	}
	step([]string{"a"})
	step([]string{"a", "b"})
	step([]string{"b"}) // a removal with b left: nothing published, a stays served
	step([]string{"b", "c"})
	step(nil)
	step([]string{"d"})
	want := [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}, nil, {"d"}}
	if len(calls) != len(want) {
		t.Fatalf("published %q, want %q", calls, want)
	}
	for i := range want {
		if !slices.Equal(calls[i], want[i]) {
			t.Fatalf("published %q, want %q", calls, want)
		}
	}
	log.mu.Lock()
	log.fail = true
	log.mu.Unlock()
	if err := k.SetTXT(ctx, "n.", []string{"d", "e"}); err == nil {
		t.Fatal("a failing sink's error was not returned")
	}
}
