package localstack

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certflow/certflow/policy"
)

// fakeACME is an upstream that answers the directory, newNonce and newOrder, and
// writes its URLs with the request's host, as Pebble does.
func fakeACME(t *testing.T) (*httptest.Server, *int) {
	orders := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := "https://" + r.Host
		switch r.URL.Path {
		case "/dir":
			_ = json.NewEncoder(w).Encode(map[string]string{"newOrder": base + "/new-order", "newNonce": base + "/nonce"})
		case "/nonce":
			w.Header().Set("Replay-Nonce", "n-"+time.Now().String())
		case "/new-order":
			orders++
			w.Header().Set("Location", base+"/order/1")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "pending", "finalize": base + "/finalize/1"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &orders
}

func jwsNewOrder(kid string, names ...string) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	var ids []map[string]string
	for _, n := range names {
		ids = append(ids, map[string]string{"type": "dns", "value": n})
	}
	b, _ := json.Marshal(map[string]string{
		"protected": enc(map[string]string{"alg": "ES256", "kid": kid, "nonce": "x", "url": "u"}),
		"payload":   enc(map[string]any{"identifiers": ids}), "signature": "c2ln",
	})
	return string(b)
}

func TestRateLimitProxy(t *testing.T) {
	up, upstreamOrders := fakeACME(t)
	p, err := StartRateLimitProxy(up.URL+"/dir", up.Client(), RateLimitProxyOptions{
		CertificatesPerDomain: policy.RateWindow{Count: 2, Window: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := p.srv.Client()
	resp, err := c.Get(p.DirectoryURL)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	proxyBase := strings.TrimSuffix(p.DirectoryURL, "/dir")
	if !strings.Contains(string(dir), proxyBase+"/new-order") || strings.Contains(string(dir), up.URL) {
		t.Fatalf("directory through the proxy: %s", dir)
	}
	post := func(kid string, names ...string) *http.Response {
		resp, err := c.Post(proxyBase+"/new-order", "application/jose+json", strings.NewReader(jwsNewOrder(kid, names...)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i, want := range []int{201, 201, 429} {
		resp := post("https://acme/acct/1", "a.example.com", "www.a.example.com")
		if resp.StatusCode != want {
			t.Fatalf("order %d: %d, want %d", i, resp.StatusCode, want)
		}
		if want == 201 && !strings.HasPrefix(resp.Header.Get("Location"), proxyBase) {
			t.Errorf("Location %q not rewritten", resp.Header.Get("Location"))
		}
		if want == 429 {
			if ra, _ := time.ParseDuration(resp.Header.Get("Retry-After") + "s"); ra < 59*time.Minute || resp.Header.Get("Replay-Nonce") == "" {
				t.Errorf("refusal headers %v", resp.Header)
			}
		}
	}
	if resp := post("https://acme/acct/1", "b.other.org"); resp.StatusCode != 201 {
		t.Errorf("another domain: %d", resp.StatusCode)
	}
	p.RefuseNext(1, 10*time.Second)
	if resp := post("https://acme/acct/1", "c.other.org"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("told to refuse: %d %v", resp.StatusCode, resp.Header)
	}
	cnt := p.Counters()
	if cnt.Orders != 3 || cnt.Refused != 2 || cnt.MaxOrdersInDomainWindow != 2 || *upstreamOrders != 3 {
		t.Errorf("counters %+v, upstream saw %d", cnt, *upstreamOrders)
	}
}

// A burst of requests through the proxy reuses its connections to the upstream (a
// new TLS connection per request would cost the upstream a handshake each), and the
// proxy's counters say how many were forwarded at once.
func TestRateLimitProxyReusesUpstreamConnections(t *testing.T) {
	const burst, rounds = 20, 3
	var (
		mu      sync.Mutex
		conns   int
		arrived int
		all     = make(chan struct{})
	)
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dir":
			base := "https://" + r.Host
			_ = json.NewEncoder(w).Encode(map[string]string{"newOrder": base + "/new-order", "newNonce": base + "/nonce"})
		case "/nonce":
			// Every request of a round waits for the round's last: they are
			// forwarded at once.
			mu.Lock()
			arrived++
			if arrived%burst == 0 {
				close(all)
				all = make(chan struct{})
			}
			wait := all
			if arrived%burst == 0 {
				wait = nil
			}
			mu.Unlock()
			if wait != nil {
				<-wait
			}
			w.Header().Set("Replay-Nonce", "n")
		}
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	up.StartTLS()
	t.Cleanup(up.Close)
	p, err := StartRateLimitProxy(up.URL+"/dir", up.Client(), RateLimitProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := p.srv.Client()
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = burst
	base := strings.TrimSuffix(p.DirectoryURL, "/dir")
	for range rounds {
		var wg sync.WaitGroup
		for range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Head(base + "/nonce")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	// One connection read the directory at the start; then a round's worth.
	if conns > burst+1 {
		t.Errorf("%d connections to the upstream for %d rounds of %d requests at once, want at most %d", conns, rounds, burst, burst+1)
	}
	if u := p.Counters().Upstream; u.MaxInFlight != burst || u.Slowest <= 0 || u.Errors != 0 {
		t.Errorf("upstream stats %+v, want %d at once, a slowest request and no errors", u, burst)
	}
}
