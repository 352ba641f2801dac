package localstack

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certflow/certflow/policy"
)

// RateLimitProxyOptions configure a RateLimitProxy: sliding-window limits on new
// orders, as Let's Encrypt keeps them (zero Count: no limit).
type RateLimitProxyOptions struct {
	OrdersPerAccount      policy.RateWindow
	CertificatesPerDomain policy.RateWindow
}

// RateLimitProxy is a TLS reverse proxy in front of an ACME server (Pebble, which has
// no rate limits) that counts new orders per account (the JWS kid) and per registered
// domain in sliding windows and answers what the limits refuse as Let's Encrypt does:
// 429 urn:ietf:params:acme:error:rateLimited with Retry-After and a fresh
// Replay-Nonce. It can also be told to refuse the next orders. It reads the JWS
// without verifying it; the upstream server verifies what it forwards.
type RateLimitProxy struct {
	// DirectoryURL is the proxy's directory, to use instead of the upstream's.
	DirectoryURL string
	// CertPEM is the proxy's TLS certificate (for an issuer's caBundle).
	CertPEM []byte

	opts     RateLimitProxyOptions
	srv      *httptest.Server
	upstream *url.URL
	client   *http.Client
	newOrder string // path
	newNonce string // URL

	mu          sync.Mutex
	orders      []proxyOrder
	refuseNext  int
	refuseDelay time.Duration
	refused     []time.Time
	// What the upstream leg cost: a test that fails on slow ACME calls says whether
	// the time went upstream.
	upstreamMax    time.Duration
	upstreamMaxFor string
	upstreamErrors int
	inFlight       int
	maxInFlight    int
}

type proxyOrder struct {
	at      time.Time
	kid     string
	domains []string
}

// RateLimitCounters are what the proxy saw.
type RateLimitCounters struct {
	// Orders are the new orders forwarded, Refused those answered rateLimited.
	Orders, Refused int
	// MaxOrdersInDomainWindow is the most orders of one registered domain in any
	// window of CertificatesPerDomain (in any minute when it has none).
	MaxOrdersInDomainWindow int
	// OrderTimes and RefusedTimes are when each was received.
	OrderTimes, RefusedTimes []time.Time
	// Upstream is what forwarding cost.
	Upstream UpstreamStats
}

// UpstreamStats are the proxy's forwarded requests as a whole.
type UpstreamStats struct {
	// Slowest is the longest a forwarded request took (the upstream's answer and
	// passing it on), and SlowestRequest its method and path.
	Slowest        time.Duration
	SlowestRequest string
	// Errors are requests that got no answer (the client gave up, or the upstream
	// could not be reached).
	Errors int
	// MaxInFlight is the most requests forwarded at once.
	MaxInFlight int
}

func (u UpstreamStats) String() string {
	return fmt.Sprintf("upstream: slowest %s (%s), %d without an answer, %d at once at most",
		u.Slowest.Round(time.Millisecond), u.SlowestRequest, u.Errors, u.MaxInFlight)
}

// StartRateLimitProxy starts a proxy for the ACME directory upstreamDir, reached
// with client (which trusts the upstream's certificate).
func StartRateLimitProxy(upstreamDir string, client *http.Client, opts RateLimitProxyOptions) (*RateLimitProxy, error) {
	return startRateLimitProxy(upstreamDir, client, opts, nil)
}

// startRateLimitProxy serves with cert when given (the stack's: signed by the CA its
// issuers trust), else with httptest's own.
func startRateLimitProxy(upstreamDir string, client *http.Client, opts RateLimitProxyOptions, cert *tls.Certificate) (*RateLimitProxy, error) {
	u, err := url.Parse(upstreamDir)
	if err != nil {
		return nil, err
	}
	resp, err := client.Get(upstreamDir)
	if err != nil {
		return nil, fmt.Errorf("rate limit proxy: read the upstream directory: %w", err)
	}
	var dir struct{ NewOrder, NewNonce string }
	err = json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if err != nil || dir.NewOrder == "" || dir.NewNonce == "" {
		return nil, fmt.Errorf("rate limit proxy: upstream directory without newOrder/newNonce (%v)", err)
	}
	no, err := url.Parse(dir.NewOrder)
	if err != nil {
		return nil, err
	}
	p := &RateLimitProxy{opts: opts, upstream: &url.URL{Scheme: u.Scheme, Host: u.Host}, client: client, newOrder: no.Path, newNonce: dir.NewNonce}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.upstream)
			r.Out.Host = r.In.Host // the upstream writes its URLs with the proxy's host
		},
		Transport:      upstreamTransport(client.Transport),
		ModifyResponse: p.rewriteURLs,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.mu.Lock()
			p.upstreamErrors++
			p.mu.Unlock()
			log.Printf("rate limit proxy: %s %s: %v", r.Method, r.URL.Path, err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == p.newOrder && p.limit(w, r) {
			return
		}
		done := p.forwarding()
		defer done(r)
		rp.ServeHTTP(w, r)
	}))
	if cert != nil {
		p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}
	p.srv.StartTLS()
	p.DirectoryURL = p.srv.URL + u.Path
	p.CertPEM = certPEMOf(p.srv.TLS)
	return p, nil
}

// upstreamTransport is the proxy's connection pool to the upstream: a burst of
// clients' requests reuses its connections (http.Transport keeps 2 idle ones by
// default, so a burst would pay a TLS handshake per request), and a connection that
// cannot be made fails in seconds instead of holding the client's request.
func upstreamTransport(rt http.RoundTripper) http.RoundTripper {
	t, ok := rt.(*http.Transport)
	if !ok {
		return rt
	}
	t = t.Clone()
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = time.Minute
	t.TLSHandshakeTimeout = 10 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// forwarding counts a request forwarded upstream until done.
func (p *RateLimitProxy) forwarding() (done func(*http.Request)) {
	start := time.Now()
	p.mu.Lock()
	p.inFlight++
	p.maxInFlight = max(p.maxInFlight, p.inFlight)
	p.mu.Unlock()
	return func(r *http.Request) {
		d := time.Since(start)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.inFlight--
		if d > p.upstreamMax {
			p.upstreamMax, p.upstreamMaxFor = d, r.Method+" "+r.URL.Path
		}
	}
}

// Close stops the proxy.
func (p *RateLimitProxy) Close() { p.srv.Close() }

// RefuseNext makes the proxy answer the next n new orders rateLimited with
// Retry-After retryAfter.
func (p *RateLimitProxy) RefuseNext(n int, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuseNext, p.refuseDelay = n, retryAfter
}

// Counters are what the proxy saw so far.
func (p *RateLimitProxy) Counters() RateLimitCounters {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := RateLimitCounters{Orders: len(p.orders), Refused: len(p.refused), RefusedTimes: append([]time.Time{}, p.refused...),
		Upstream: UpstreamStats{Slowest: p.upstreamMax, SlowestRequest: p.upstreamMaxFor, Errors: p.upstreamErrors, MaxInFlight: p.maxInFlight}}
	window := p.opts.CertificatesPerDomain.Window
	if window <= 0 {
		window = time.Minute
	}
	for i, o := range p.orders {
		c.OrderTimes = append(c.OrderTimes, o.at)
		for _, d := range o.domains {
			n := 0
			for _, later := range p.orders[i:] {
				if later.at.Sub(o.at) < window && containsString(later.domains, d) {
					n++
				}
			}
			c.MaxOrdersInDomainWindow = max(c.MaxOrdersInDomainWindow, n)
		}
	}
	return c
}

// limit answers a new order that a limit (or RefuseNext) refuses, and records the
// others; it reports whether it answered.
func (p *RateLimitProxy) limit(w http.ResponseWriter, r *http.Request) bool {
	body, err := readBounded(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	kid, names := decodeNewOrder(body)
	domains := []string{}
	for _, n := range names {
		if d := policy.RegisteredDomain(n); !containsString(domains, d) {
			domains = append(domains, d)
		}
	}
	now := time.Now()
	p.mu.Lock()
	var retryAfter time.Duration
	var detail string
	switch {
	case p.refuseNext > 0:
		p.refuseNext--
		retryAfter, detail = p.refuseDelay, "too many new orders recently (refused on request)"
	default:
		retryAfter, detail = p.over(kid, domains, now)
	}
	if retryAfter > 0 {
		p.refused = append(p.refused, now)
	} else {
		p.orders = append(p.orders, proxyOrder{at: now, kid: kid, domains: domains})
	}
	p.mu.Unlock()
	if retryAfter <= 0 {
		return false
	}
	if nonce := p.nonce(); nonce != "" {
		w.Header().Set("Replay-Nonce", nonce)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:ietf:params:acme:error:rateLimited", "detail": detail, "status": http.StatusTooManyRequests})
	return true
}

// over is how long until an order of kid for domains fits the windows (0: it fits).
func (p *RateLimitProxy) over(kid string, domains []string, now time.Time) (time.Duration, string) {
	wait := func(w policy.RateWindow, match func(proxyOrder) bool) time.Duration {
		if w.Count <= 0 || w.Window <= 0 {
			return 0
		}
		var in []time.Time
		for _, o := range p.orders {
			if now.Sub(o.at) < w.Window && match(o) {
				in = append(in, o.at)
			}
		}
		if len(in) < w.Count {
			return 0
		}
		return in[len(in)-w.Count].Add(w.Window).Sub(now)
	}
	if d := wait(p.opts.OrdersPerAccount, func(o proxyOrder) bool { return o.kid == kid }); d > 0 {
		return d, fmt.Sprintf("too many new orders (%d) from this account in the last %s", p.opts.OrdersPerAccount.Count, p.opts.OrdersPerAccount.Window)
	}
	for _, d := range domains {
		if w := wait(p.opts.CertificatesPerDomain, func(o proxyOrder) bool { return containsString(o.domains, d) }); w > 0 {
			return w, fmt.Sprintf("too many certificates (%d) already issued for %q in the last %s", p.opts.CertificatesPerDomain.Count, d, p.opts.CertificatesPerDomain.Window)
		}
	}
	return 0, ""
}

// nonce is a fresh nonce from the upstream's newNonce.
func (p *RateLimitProxy) nonce() string {
	resp, err := p.client.Head(p.newNonce)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get("Replay-Nonce")
}

// rewriteURLs points the upstream's URLs in bodies and headers at the proxy.
func (p *RateLimitProxy) rewriteURLs(resp *http.Response) error {
	from, to := p.upstream.String(), p.srv.URL
	for _, h := range []string{"Location", "Link"} {
		for i, v := range resp.Header.Values(h) {
			resp.Header[http.CanonicalHeaderKey(h)][i] = strings.ReplaceAll(v, from, to)
		}
	}
	body, err := readBounded(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	body = bytes.ReplaceAll(body, []byte(from), []byte(to))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// decodeNewOrder reads a newOrder JWS (flattened JSON serialization) without
// verifying it: the protected header's kid and the payload's identifier values.
func decodeNewOrder(body []byte) (kid string, names []string) {
	var jws struct{ Protected, Payload string }
	if json.Unmarshal(body, &jws) != nil {
		return "", nil
	}
	if b, err := base64.RawURLEncoding.DecodeString(jws.Protected); err == nil {
		var h struct {
			Kid string `json:"kid"`
		}
		_ = json.Unmarshal(b, &h)
		kid = h.Kid
	}
	if b, err := base64.RawURLEncoding.DecodeString(jws.Payload); err == nil {
		var pl struct {
			Identifiers []struct{ Value string } `json:"identifiers"`
		}
		_ = json.Unmarshal(b, &pl)
		for _, id := range pl.Identifiers {
			names = append(names, id.Value)
		}
	}
	return kid, names
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// certPEMOf is the PEM of a TLS config's first certificate.
func certPEMOf(c *tls.Config) []byte {
	if c == nil || len(c.Certificates) == 0 || len(c.Certificates[0].Certificate) == 0 {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificates[0].Certificate[0]})
}

// startRateLimitProxy puts a RateLimitProxy in front of Pebble (Options.RateLimitProxy):
// its certificate is signed by the stack's ACME CA, so ACMEDirectoryURL and
// ACMECABundlePEM work as before, through the proxy.
func (s *Stack) startRateLimitProxy(ca *keyPair, opts RateLimitProxyOptions) error {
	leaf, err := newKeyPair(certSpec{cn: "certflow-localstack-rate-limit-proxy", ips: []net.IP{net.IPv4(127, 0, 0, 1)},
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca)
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(leaf.certPEM, leaf.keyPEM)
	if err != nil {
		return err
	}
	p, err := startRateLimitProxy(s.ACMEDirectoryURL, s.ACMEHTTPClient(), opts, &cert)
	if err != nil {
		return err
	}
	if err := s.addCloser("rate limit proxy", func() error { p.Close(); return nil }); err != nil {
		return err
	}
	s.RateLimitProxy, s.ACMEDirectoryURL = p, p.DirectoryURL
	return nil
}

// maxProxiedBody bounds what the proxy reads of a request or a reply: ACME messages
// and certificate chains are kilobytes.
const maxProxiedBody = 1 << 20

// readBounded reads a body of at most maxProxiedBody bytes, and fails on a longer one.
func readBounded(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxProxiedBody+1))
	if err == nil && len(b) > maxProxiedBody {
		err = fmt.Errorf("body over %d bytes", maxProxiedBody)
	}
	return b, err
}
