package fakecloudflare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go"
)

const (
	testToken = "tok-123"
	testEmail = "admin@example.com"
	testKey   = "global-key-abc"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// wire is a decoded response: the raw envelope plus the HTTP status.
type wire struct {
	Status     int
	Success    bool              `json:"success"`
	Errors     []json.RawMessage `json:"errors"`
	Messages   []json.RawMessage `json:"messages"`
	Result     json.RawMessage   `json:"result"`
	ResultInfo *struct {
		Page       *int `json:"page"`
		PerPage    *int `json:"per_page"`
		Count      *int `json:"count"`
		TotalCount *int `json:"total_count"`
		TotalPages *int `json:"total_pages"`
	} `json:"result_info"`
	raw map[string]json.RawMessage
}

type wireErr struct {
	Code       int       `json:"code"`
	Message    string    `json:"message"`
	ErrorChain []wireErr `json:"error_chain"`
}

func (w wire) errs(t *testing.T) []wireErr {
	t.Helper()
	var out []wireErr
	for _, e := range w.Errors {
		var we wireErr
		if err := json.Unmarshal(e, &we); err != nil {
			t.Fatalf("decode error %s: %v", e, err)
		}
		out = append(out, we)
	}
	return out
}

type fixture struct {
	t   *testing.T
	srv *Server
	url string // base URL without APIPath
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	if o.Tokens == nil {
		o.Tokens = []string{testToken}
	}
	if o.Keys == nil {
		o.Keys = map[string]string{testEmail: testKey}
	}
	s := New(o)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &fixture{t: t, srv: s, url: hs.URL}
}

var bearer = map[string]string{"Authorization": "Bearer " + testToken}

// do sends a request and decodes the envelope, checking the invariants every
// Cloudflare response has.
func (f *fixture) do(method, path string, hdr map[string]string, body string) wire {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	w := wire{Status: resp.StatusCode}
	if err := json.Unmarshal(b, &w); err != nil {
		f.t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, b)
	}
	if err := json.Unmarshal(b, &w.raw); err != nil {
		f.t.Fatal(err)
	}
	for _, k := range []string{"success", "errors", "messages", "result"} {
		if _, ok := w.raw[k]; !ok {
			f.t.Errorf("%s %s: envelope lacks %q: %s", method, path, k, b)
		}
	}
	if string(w.raw["errors"]) == "null" || string(w.raw["messages"]) == "null" {
		f.t.Errorf("%s %s: errors/messages must be arrays: %s", method, path, b)
	}
	if w.Success != (resp.StatusCode == http.StatusOK) {
		f.t.Errorf("%s %s: success=%v with HTTP %d", method, path, w.Success, resp.StatusCode)
	}
	if !w.Success && (len(w.Errors) == 0 || string(w.Result) != "null") {
		f.t.Errorf("%s %s: failure needs errors and a null result: %s", method, path, b)
	}
	return w
}

func (f *fixture) zoneID(name string) string {
	f.t.Helper()
	for _, z := range f.srv.Zones() {
		if z.Name == name {
			return z.ID
		}
	}
	f.t.Fatalf("no zone %s", name)
	return ""
}

func TestAuth(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"example.com"}})
	cases := []struct {
		name   string
		hdr    map[string]string
		status int
		code   int
		msg    string
	}{
		{"token", bearer, 200, 0, ""},
		{"email and key", map[string]string{"X-Auth-Email": testEmail, "X-Auth-Key": testKey}, 200, 0, ""},
		{"email case-insensitive", map[string]string{"X-Auth-Email": "Admin@Example.com", "X-Auth-Key": testKey}, 200, 0, ""},
		{"no credentials", nil, 403, 10000, "Authentication error"},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, 403, 10000, "Authentication error"},
		{"not bearer", map[string]string{"Authorization": "Basic " + testToken}, 403, 10000, "Authentication error"},
		{"wrong key", map[string]string{"X-Auth-Email": testEmail, "X-Auth-Key": "nope"}, 403, 9103, "Unknown X-Auth-Key or X-Auth-Email"},
		{"unknown email", map[string]string{"X-Auth-Email": "x@example.com", "X-Auth-Key": testKey}, 403, 9103, "Unknown X-Auth-Key or X-Auth-Email"},
		{"key without email", map[string]string{"X-Auth-Key": testKey}, 403, 9103, "Unknown X-Auth-Key or X-Auth-Email"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/client/v4/zones", "/client/v4/zones/" + f.zoneID("example.com") + "/dns_records"} {
				w := f.do("GET", path, c.hdr, "")
				if w.Status != c.status {
					t.Fatalf("GET %s: HTTP %d, want %d", path, w.Status, c.status)
				}
				if c.code != 0 {
					errs := w.errs(t)
					if len(errs) != 1 || errs[0].Code != c.code || errs[0].Message != c.msg {
						t.Errorf("errors %+v, want code %d %q", errs, c.code, c.msg)
					}
				}
			}
		})
	}
}

func TestZones(t *testing.T) {
	names := []string{"e.test", "a.test", "c.test", "b.test", "g.test", "f.test", "d.test"}
	f := newFixture(t, Options{Zones: names})

	t.Run("name filter", func(t *testing.T) {
		w := f.do("GET", "/client/v4/zones?name=c.test", bearer, "")
		var zs []map[string]any
		if err := json.Unmarshal(w.Result, &zs); err != nil {
			t.Fatal(err)
		}
		if len(zs) != 1 {
			t.Fatalf("got %d zones", len(zs))
		}
		z := zs[0]
		if z["name"] != "c.test" || z["status"] != "active" || z["paused"] != false || z["type"] != "full" {
			t.Errorf("zone %v", z)
		}
		if id, _ := z["id"].(string); !hex32.MatchString(id) || id != f.zoneID("c.test") {
			t.Errorf("zone id %v", z["id"])
		}
		for _, k := range []string{"name_servers", "created_on", "modified_on", "owner", "account", "plan", "meta", "permissions"} {
			if _, ok := z[k]; !ok {
				t.Errorf("zone lacks %q", k)
			}
		}
		ri := w.ResultInfo
		if ri == nil || *ri.Page != 1 || *ri.PerPage != 20 || *ri.Count != 1 || *ri.TotalCount != 1 || *ri.TotalPages != 1 {
			t.Errorf("result_info %s", w.raw["result_info"])
		}
	})

	t.Run("name filter trailing dot and case", func(t *testing.T) {
		w := f.do("GET", "/client/v4/zones?name=C.Test.", bearer, "")
		if !strings.Contains(string(w.Result), `"name":"c.test"`) {
			t.Errorf("result %s", w.Result)
		}
	})

	t.Run("no match", func(t *testing.T) {
		w := f.do("GET", "/client/v4/zones?name=zzz.test", bearer, "")
		if string(w.Result) != "[]" || *w.ResultInfo.Count != 0 || *w.ResultInfo.TotalCount != 0 {
			t.Errorf("result %s info %s", w.Result, w.raw["result_info"])
		}
	})

	pages := []struct {
		query                                   string
		page, perPage, count, total, totalPages int
		first                                   string
	}{
		{"", 1, 20, 7, 7, 1, "a.test"},
		{"?per_page=5", 1, 5, 5, 7, 2, "a.test"},
		{"?per_page=5&page=2", 2, 5, 2, 7, 2, "f.test"},
		{"?per_page=5&page=3", 3, 5, 0, 7, 2, ""},
		{"?per_page=1", 1, 5, 5, 7, 2, "a.test"},         // clamped to the minimum
		{"?per_page=500", 1, 50, 7, 7, 1, "a.test"},      // clamped to the maximum
		{"?page=0&per_page=x", 1, 20, 7, 7, 1, "a.test"}, // invalid: defaults
	}
	for _, p := range pages {
		t.Run("pagination"+p.query, func(t *testing.T) {
			w := f.do("GET", "/client/v4/zones"+p.query, bearer, "")
			ri := w.ResultInfo
			if ri == nil || *ri.Page != p.page || *ri.PerPage != p.perPage || *ri.Count != p.count ||
				*ri.TotalCount != p.total || *ri.TotalPages != p.totalPages {
				t.Errorf("result_info %s", w.raw["result_info"])
			}
			var zs []struct{ Name string }
			_ = json.Unmarshal(w.Result, &zs)
			if len(zs) != p.count || (p.count > 0 && zs[0].Name != p.first) {
				t.Errorf("result %s", w.Result)
			}
		})
	}

	t.Run("details", func(t *testing.T) {
		id := f.zoneID("b.test")
		w := f.do("GET", "/client/v4/zones/"+id, bearer, "")
		var z struct{ ID, Name string }
		_ = json.Unmarshal(w.Result, &z)
		if z.ID != id || z.Name != "b.test" || w.ResultInfo != nil {
			t.Errorf("result %s info %v", w.Result, w.raw["result_info"])
		}
	})

	t.Run("unknown zone", func(t *testing.T) {
		for _, path := range []string{"/client/v4/zones/0000", "/client/v4/zones/0000/dns_records", "/client/v4/zones/0000/dns_records/1"} {
			w := f.do("GET", path, bearer, "")
			errs := w.errs(t)
			if w.Status != 404 || len(errs) != 1 || errs[0].Code != 7003 || !strings.Contains(errs[0].Message, "Could not route to") {
				t.Errorf("GET %s: HTTP %d %+v", path, w.Status, errs)
			}
		}
	})

	t.Run("stable ids", func(t *testing.T) {
		if New(Options{Zones: []string{"a.test"}}).Zones()[0].ID != f.zoneID("a.test") {
			t.Error("zone ids differ between servers")
		}
	})
}

// recordingSink records every SetTXT call; fail makes it return an error.
type recordingSink struct {
	mu    sync.Mutex
	calls []string
	fail  bool
}

func (r *recordingSink) SetTXT(_ context.Context, fqdn string, values []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("sink down")
	}
	r.calls = append(r.calls, fqdn+"="+strings.Join(values, ","))
	return nil
}

func (r *recordingSink) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

type wireRecordT struct {
	ID         string    `json:"id"`
	ZoneID     string    `json:"zone_id"`
	ZoneName   string    `json:"zone_name"`
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Content    string    `json:"content"`
	TTL        *int      `json:"ttl"`
	Proxied    *bool     `json:"proxied"`
	Proxiable  *bool     `json:"proxiable"`
	CreatedOn  time.Time `json:"created_on"`
	ModifiedOn time.Time `json:"modified_on"`
}

func TestDNSRecords(t *testing.T) {
	sink := &recordingSink{}
	f := newFixture(t, Options{Zones: []string{"example.com", "other.test"}, Sink: sink})
	zid := f.zoneID("example.com")
	base := "/client/v4/zones/" + zid + "/dns_records"

	create := func(body string) (wire, wireRecordT) {
		t.Helper()
		w := f.do("POST", base, bearer, body)
		var r wireRecordT
		if w.Success {
			if err := json.Unmarshal(w.Result, &r); err != nil {
				t.Fatal(err)
			}
		}
		return w, r
	}

	before := time.Now().Add(-time.Second)
	w, r1 := create(`{"type":"TXT","name":"_acme-challenge.example.com","content":"v1","ttl":120}`)
	if w.Status != 200 || !hex32.MatchString(r1.ID) || r1.ZoneID != zid || r1.ZoneName != "example.com" ||
		r1.Name != "_acme-challenge.example.com" || r1.Type != "TXT" || r1.Content != "v1" ||
		r1.TTL == nil || *r1.TTL != 120 || r1.Proxied == nil || *r1.Proxied || r1.Proxiable == nil || *r1.Proxiable ||
		r1.CreatedOn.Before(before) || !r1.ModifiedOn.Equal(r1.CreatedOn) || w.ResultInfo != nil {
		t.Fatalf("create: HTTP %d %s", w.Status, w.Result)
	}
	if got := sink.take(); !slices.Equal(got, []string{"_acme-challenge.example.com.=v1"}) {
		t.Errorf("sink calls %q", got)
	}

	// Trailing dot, upper case, default TTL.
	w, r2 := create(`{"type":"txt","name":"_ACME-challenge.example.com.","content":"v2"}`)
	if w.Status != 200 || r2.Name != "_acme-challenge.example.com" || r2.Type != "TXT" || *r2.TTL != 1 {
		t.Fatalf("create 2: HTTP %d %s", w.Status, w.Result)
	}
	if got := sink.take(); !slices.Equal(got, []string{"_acme-challenge.example.com.=v1,v2"}) {
		t.Errorf("sink calls %q", got)
	}

	// Relative names and "@" are completed with the zone name.
	_, r3 := create(`{"type":"TXT","name":"_acme-challenge.www","content":"v3"}`)
	_, r4 := create(`{"type":"TXT","name":"@","content":"apex"}`)
	if r3.Name != "_acme-challenge.www.example.com" || r4.Name != "example.com" {
		t.Errorf("names %q %q", r3.Name, r4.Name)
	}
	_, ra := create(`{"type":"A","name":"www.example.com","content":"192.0.2.1","ttl":300}`)
	if got := sink.take(); len(got) != 2 {
		t.Errorf("sink calls %q (an A record must not reach the sink)", got)
	}

	t.Run("identical record", func(t *testing.T) {
		w, _ := create(`{"type":"TXT","name":"_acme-challenge.example.com","content":"v1","ttl":120}`)
		errs := w.errs(t)
		if w.Status != 400 || len(errs) != 1 || errs[0].Code != 81058 {
			t.Errorf("HTTP %d %+v", w.Status, errs)
		}
	})

	t.Run("validation", func(t *testing.T) {
		for _, body := range []string{
			`{"type":"TXT","name":"x","content":"v","ttl":5}`,
			`{"type":"TXT","name":"","content":"v"}`,
			`{"type":"TXT","name":"x","content":""}`,
			`{"type":"TXT","name":"x","content":"v","proxied":true}`,
		} {
			w, _ := create(body)
			errs := w.errs(t)
			if w.Status != 400 || len(errs) != 1 || errs[0].Code != 1004 || len(errs[0].ErrorChain) == 0 {
				t.Errorf("%s: HTTP %d %+v", body, w.Status, errs)
			}
		}
		w, _ := create(`{not json`)
		if errs := w.errs(t); w.Status != 400 || errs[0].Code != 9207 {
			t.Errorf("bad JSON: HTTP %d %+v", w.Status, errs)
		}
	})

	list := func(query string) (wire, []wireRecordT) {
		t.Helper()
		w := f.do("GET", base+query, bearer, "")
		var rs []wireRecordT
		if err := json.Unmarshal(w.Result, &rs); err != nil {
			t.Fatalf("list %s: %v %s", query, err, w.Result)
		}
		return w, rs
	}
	contents := func(rs []wireRecordT) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Content)
		}
		return out
	}

	t.Run("filters", func(t *testing.T) {
		cases := []struct {
			query string
			want  []string
		}{
			{"", []string{"v1", "v2", "v3", "apex", "192.0.2.1"}},
			{"?type=TXT", []string{"v1", "v2", "v3", "apex"}},
			{"?type=A", []string{"192.0.2.1"}},
			{"?name=_acme-challenge.example.com", []string{"v1", "v2"}},
			{"?name=_acme-challenge.example.com.", []string{"v1", "v2"}},
			{"?name=_acme-challenge.example.com&type=TXT&content=v2", []string{"v2"}},
			{"?name=_acme-challenge.example.com&type=TXT&content=nope", nil},
			{"?name=_acme-challenge.example.com&type=A", nil},
			{"?name.exact=example.com", []string{"apex"}},
			{"?content=v3&type=A&match=any", []string{"v3", "192.0.2.1"}},
		}
		for _, c := range cases {
			w, rs := list(c.query)
			if !slices.Equal(contents(rs), c.want) {
				t.Errorf("list%s = %q, want %q", c.query, contents(rs), c.want)
			}
			ri := w.ResultInfo
			if ri == nil || *ri.Page != 1 || *ri.PerPage != 100 || *ri.Count != len(c.want) || *ri.TotalCount != len(c.want) || *ri.TotalPages != 1 {
				t.Errorf("list%s: result_info %s", c.query, w.raw["result_info"])
			}
		}
	})

	t.Run("pagination", func(t *testing.T) {
		for i := range 8 {
			create(fmt.Sprintf(`{"type":"TXT","name":"page.example.com","content":"p%d"}`, i))
		}
		sink.take()
		w, rs := list("?name=page.example.com&per_page=5&page=2")
		ri := w.ResultInfo
		if !slices.Equal(contents(rs), []string{"p5", "p6", "p7"}) || *ri.Page != 2 || *ri.PerPage != 5 ||
			*ri.Count != 3 || *ri.TotalCount != 8 || *ri.TotalPages != 2 {
			t.Errorf("page 2: %q %s", contents(rs), w.raw["result_info"])
		}
	})

	t.Run("get", func(t *testing.T) {
		w := f.do("GET", base+"/"+r1.ID, bearer, "")
		var r wireRecordT
		_ = json.Unmarshal(w.Result, &r)
		if r.ID != r1.ID || r.Content != "v1" || w.ResultInfo != nil {
			t.Errorf("get: %s", w.Result)
		}
		w = f.do("GET", base+"/ffffffffffffffffffffffffffffffff", bearer, "")
		if errs := w.errs(t); w.Status != 404 || errs[0].Code != 81044 || errs[0].Message != "Record does not exist." {
			t.Errorf("get missing: HTTP %d %+v", w.Status, errs)
		}
	})

	t.Run("delete", func(t *testing.T) {
		w := f.do("DELETE", base+"/"+r1.ID, bearer, "")
		if w.Status != 200 || string(w.Result) != fmt.Sprintf(`{"id":%q}`, r1.ID) {
			t.Errorf("delete: HTTP %d %s", w.Status, w.Result)
		}
		if got := sink.take(); !slices.Equal(got, []string{"_acme-challenge.example.com.=v2"}) {
			t.Errorf("sink calls %q", got)
		}
		w = f.do("DELETE", base+"/"+r1.ID, bearer, "")
		if errs := w.errs(t); w.Status != 404 || errs[0].Code != 81044 {
			t.Errorf("delete again: HTTP %d %+v", w.Status, errs)
		}
		f.do("DELETE", base+"/"+r2.ID, bearer, "")
		if got := sink.take(); !slices.Equal(got, []string{"_acme-challenge.example.com.="}) {
			t.Errorf("sink calls %q (want an empty set)", got)
		}
		f.do("DELETE", base+"/"+ra.ID, bearer, "")
		if got := sink.take(); len(got) != 0 {
			t.Errorf("sink calls %q for an A record", got)
		}
		if got := f.srv.TXT("_acme-challenge.example.com."); len(got) != 0 {
			t.Errorf("TXT left: %q", got)
		}
	})

	t.Run("records accessor", func(t *testing.T) {
		rs := f.srv.Records("example.com.")
		if len(rs) != 10 || rs[0].Name != "_acme-challenge.www.example.com" || rs[0].ZoneID != zid {
			t.Errorf("Records: %+v", rs)
		}
		if f.srv.Records("nope.test") != nil || len(f.srv.Records("other.test")) != 0 {
			t.Error("Records of other zones")
		}
	})

	t.Run("sink failure rolls back", func(t *testing.T) {
		sink.mu.Lock()
		sink.fail = true
		sink.mu.Unlock()
		defer func() { sink.mu.Lock(); sink.fail = false; sink.mu.Unlock() }()
		w, _ := create(`{"type":"TXT","name":"fail.example.com","content":"x"}`)
		if errs := w.errs(t); w.Status != 500 || !strings.Contains(errs[0].Message, "sink down") {
			t.Errorf("create: HTTP %d %+v", w.Status, errs)
		}
		if got := f.srv.TXT("fail.example.com"); len(got) != 0 {
			t.Errorf("record kept after sink failure: %q", got)
		}
		w = f.do("DELETE", base+"/"+r3.ID, bearer, "")
		if w.Status != 500 {
			t.Errorf("delete: HTTP %d", w.Status)
		}
		if got := f.srv.TXT("_acme-challenge.www.example.com"); !slices.Equal(got, []string{"v3"}) {
			t.Errorf("record lost after sink failure: %q", got)
		}
	})
}

func TestRoutes(t *testing.T) {
	f := newFixture(t, Options{Zones: []string{"example.com"}})
	base := "/client/v4/zones/" + f.zoneID("example.com") + "/dns_records"
	cases := []struct {
		method, path string
		status, code int
	}{
		{"PUT", base, 405, 10405},
		{"POST", "/client/v4/zones", 405, 10405},
		{"GET", "/client/v4/accounts", 400, 7000},
		{"GET", "/client/v4/zones/" + f.zoneID("example.com") + "/settings", 400, 7000},
		{"GET", "/v4/zones", 400, 7000},
	}
	for _, c := range cases {
		w := f.do(c.method, c.path, bearer, "")
		if errs := w.errs(t); w.Status != c.status || errs[0].Code != c.code {
			t.Errorf("%s %s: HTTP %d %+v", c.method, c.path, w.Status, errs)
		}
	}
}

func TestTokenVerify(t *testing.T) {
	f := newFixture(t, Options{})
	w := f.do("GET", "/client/v4/user/tokens/verify", bearer, "")
	var res struct{ ID, Status string }
	_ = json.Unmarshal(w.Result, &res)
	if w.Status != 200 || !hex32.MatchString(res.ID) || res.Status != "active" || len(w.Messages) != 1 {
		t.Errorf("verify: HTTP %d %s %s", w.Status, w.Result, w.raw["messages"])
	}
	w = f.do("GET", "/client/v4/user/tokens/verify", map[string]string{"Authorization": "Bearer bad"}, "")
	if errs := w.errs(t); w.Status != 403 || errs[0].Code != 10000 {
		t.Errorf("bad token: HTTP %d %+v", w.Status, errs)
	}
	w = f.do("GET", "/client/v4/user/tokens/verify", map[string]string{"X-Auth-Email": testEmail, "X-Auth-Key": testKey}, "")
	if w.Status != 400 {
		t.Errorf("verify with a key: HTTP %d", w.Status)
	}
}

// TestCloudflareGoClient checks that cloudflare-go decodes the fake's responses.
func TestCloudflareGoClient(t *testing.T) {
	s := New(Options{Zones: []string{"example.com"}, Tokens: []string{testToken}})
	url, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, APIPath) {
		t.Fatalf("url %q", url)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	api, err := cloudflare.NewWithAPIToken(testToken, cloudflare.BaseURL(url), cloudflare.UsingRateLimit(1000))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := api.VerifyAPIToken(ctx)
	if err != nil || v.Status != "active" {
		t.Fatalf("VerifyAPIToken: %+v %v", v, err)
	}
	id, err := api.ZoneIDByName("example.com")
	if err != nil || id != s.Zones()[0].ID {
		t.Fatalf("ZoneIDByName: %q %v", id, err)
	}
	z, err := api.ZoneDetails(ctx, id)
	if err != nil || z.Name != "example.com" || z.Status != "active" || z.CreatedOn.IsZero() {
		t.Fatalf("ZoneDetails: %+v %v", z, err)
	}
	rc := cloudflare.ZoneIdentifier(id)
	rec, err := api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "TXT", Name: "a.example.com", Content: "x", TTL: 120})
	if err != nil || rec.ID == "" || rec.Proxied == nil || rec.CreatedOn.IsZero() {
		t.Fatalf("CreateDNSRecord: %+v %v", rec, err)
	}
	for i := range 7 {
		if _, err := api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "TXT", Name: "many.example.com", Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Auto-pagination walks the pages by result_info.
	all, info, err := api.ListDNSRecords(ctx, rc, cloudflare.ListDNSRecordsParams{Name: "many.example.com"})
	if err != nil || len(all) != 7 || info.Total != 7 {
		t.Fatalf("ListDNSRecords: %d %+v %v", len(all), info, err)
	}
	page, info, err := api.ListDNSRecords(ctx, rc, cloudflare.ListDNSRecordsParams{Name: "many.example.com", ResultInfo: cloudflare.ResultInfo{PerPage: 5, Page: 2}})
	if err != nil || len(page) != 2 || info.TotalPages != 2 {
		t.Fatalf("ListDNSRecords page 2: %d %+v %v", len(page), info, err)
	}
	got, err := api.GetDNSRecord(ctx, rc, rec.ID)
	if err != nil || got.Content != "x" {
		t.Fatalf("GetDNSRecord: %+v %v", got, err)
	}
	if err := api.DeleteDNSRecord(ctx, rc, rec.ID); err != nil {
		t.Fatal(err)
	}
	err = api.DeleteDNSRecord(ctx, rc, rec.ID)
	var nf *cloudflare.NotFoundError
	if !errors.As(err, &nf) || !nf.InternalErrorCodeIs(81044) {
		t.Fatalf("second delete: %v", err)
	}
	bad, _ := cloudflare.NewWithAPIToken("bad", cloudflare.BaseURL(url), cloudflare.UsingRateLimit(1000))
	_, err = bad.ListZones(ctx)
	var ae *cloudflare.AuthenticationError
	if !errors.As(err, &ae) || !ae.InternalErrorCodeIs(10000) {
		t.Fatalf("bad token: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
