package http01

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/certflow/certflow/internal/bounded"
)

// DefaultSelfCheckTimeout bounds one self-check request (dial, redirects and
// body) when SelfCheckOptions.Timeout is zero.
const DefaultSelfCheckTimeout = 10 * time.Second

// maxBodyExcerpt is how much of an unexpected response body a self-check
// Detail quotes.
const maxBodyExcerpt = 100

// maxBodyRead bounds how much of a response body a self-check reads. Key
// authorizations are well under 1 KiB.
const maxBodyRead = 64 << 10

// maxHeaderRead bounds the status line and headers of a self-check response (Go's
// default is 1 MiB). The server is whatever the challenge's name points at.
const maxHeaderRead = 16 << 10

// maxDetail bounds a Detail as a whole: each part the server controls (status, redirect
// target, body) is an excerpt already.
const maxDetail = 1 << 10

// SelfCheckResult is the outcome of one self-check request.
type SelfCheckResult struct {
	// OK is true when the URL answered 200 with the expected key
	// authorization (trailing whitespace ignored, as ACME servers do).
	OK bool `json:"ok"`
	// Detail says in words what happened: the URL, and the status code and
	// the start of the body, or the connection/DNS error. Meant for the
	// Challenge's status.reason and events.
	Detail string `json:"detail"`
}

// SelfCheckOptions tune the HTTP client of NewSelfCheckClient.
type SelfCheckOptions struct {
	// Resolver is a DNS server (host:port) used to resolve names instead of
	// the system resolver, e.g. pebble-challtestsrv's DNS in the local stack.
	// Empty uses the system resolver.
	Resolver string
	// Port is the TCP port dialled instead of 80 (for URLs without an
	// explicit port, or with port 80). 0 means 80. Explicit other ports and
	// HTTPS redirects are not changed.
	Port int
	// Timeout bounds one request, redirects included; 0 means
	// DefaultSelfCheckTimeout.
	Timeout time.Duration
}

// NewSelfCheckClient returns an HTTP client for SelfCheck. Like an ACME
// server it follows redirects (up to 10), does not verify certificates of
// HTTPS redirect targets (the certificate being requested may be the one
// that is missing), uses no proxy and no keep-alives.
func NewSelfCheckClient(o SelfCheckOptions) *http.Client {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultSelfCheckTimeout
	}
	dialer := &net.Dialer{Timeout: timeout}
	if o.Resolver != "" {
		server := o.Resolver
		dialer.Resolver = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, server)
			},
		}
	}
	port := o.Port
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if port != 0 && port != 80 {
				if host, p, err := net.SplitHostPort(addr); err == nil && p == "80" {
					addr = net.JoinHostPort(host, strconv.Itoa(port))
				}
			}
			conn, err := dialer.DialContext(ctx, network, addr)
			var dnsErr *net.DNSError
			if err != nil && o.Resolver != "" && errors.As(err, &dnsErr) {
				// Go names the system resolver's server; say which one
				// was really asked.
				dnsErr.Server = o.Resolver
			}
			return conn, err
		},
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // redirect targets may lack a valid certificate yet, as ACME servers allow
		DisableKeepAlives:      true,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxHeaderRead,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// SelfCheckURL is the URL an ACME server fetches for an HTTP-01 challenge of
// dnsName (a DNS name or an IP address) and token.
func SelfCheckURL(dnsName, token string) string {
	host := dnsName
	if ip := net.ParseIP(strings.Trim(dnsName, "[]")); ip != nil {
		host = ip.String()
		if ip.To4() == nil {
			host = "[" + host + "]"
		}
	}
	u := url.URL{Scheme: "http", Host: host, Path: ChallengePath + token}
	return u.String()
}

// SelfCheck makes one GET of url and reports whether it answered 200 with
// expectedKeyAuth. It never sleeps or retries: callers retry on their own
// (durable) timers. A nil client uses NewSelfCheckClient(SelfCheckOptions{}).
func SelfCheck(ctx context.Context, client *http.Client, url, expectedKeyAuth string) SelfCheckResult {
	res := selfCheck(ctx, client, url, expectedKeyAuth)
	if len(res.Detail) > maxDetail {
		res.Detail = bounded.Excerpt(res.Detail, maxDetail)
	}
	return res
}

func selfCheck(ctx context.Context, client *http.Client, url, expectedKeyAuth string) SelfCheckResult {
	if client == nil {
		client = NewSelfCheckClient(SelfCheckOptions{})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return SelfCheckResult{Detail: fmt.Sprintf("self check of %s: invalid request: %v", url, err)}
	}
	req.Header.Set("User-Agent", "certflow-http01-self-check")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return SelfCheckResult{Detail: fmt.Sprintf("self check GET %s failed after %s: %s", url, time.Since(start).Round(time.Millisecond), describeRequestError(err))}
	}
	defer resp.Body.Close()
	where := "GET " + url
	if final := resp.Request.URL.String(); final != url {
		where += " (redirected to " + bounded.Excerpt(final, bounded.ExcerptLen) + ")"
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBodyRead))
	if resp.StatusCode != http.StatusOK {
		d := fmt.Sprintf("self check %s: got HTTP %s, want 200 with the key authorization", where, bounded.Excerpt(resp.Status, 64))
		if len(body) > 0 {
			d += "; body: " + excerpt(body)
		}
		return SelfCheckResult{Detail: d}
	}
	if readErr != nil {
		return SelfCheckResult{Detail: fmt.Sprintf("self check %s: HTTP 200 but reading the body failed after %d bytes: %s", where, len(body), describeRequestError(readErr))}
	}
	got := strings.TrimRight(string(body), " \t\r\n")
	if got != expectedKeyAuth {
		if len(body) == 0 {
			return SelfCheckResult{Detail: fmt.Sprintf("self check %s: HTTP 200 but the body is empty, want the key authorization %q", where, expectedKeyAuth)}
		}
		size := fmt.Sprintf("%d bytes", len(body))
		if len(body) == maxBodyRead {
			size = fmt.Sprintf("at least %d bytes", len(body))
		}
		return SelfCheckResult{Detail: fmt.Sprintf("self check %s: HTTP 200 but the body is not the key authorization: got %s (%s), want %q", where, excerpt(body), size, expectedKeyAuth)}
	}
	return SelfCheckResult{OK: true, Detail: fmt.Sprintf("self check %s: HTTP 200 with the expected key authorization", where)}
}

// excerpt quotes the first maxBodyExcerpt bytes of b.
func excerpt(b []byte) string {
	if len(b) <= maxBodyExcerpt {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:maxBodyExcerpt])) + "..."
}

// describeRequestError names the kind of failure (DNS, refused, timeout, ...)
// ahead of Go's error text, which already carries the address.
func describeRequestError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		what := "DNS lookup failed"
		switch {
		case dnsErr.IsNotFound:
			what = "DNS lookup failed: no such host"
		case dnsErr.IsTimeout:
			what = "DNS lookup timed out"
		}
		return what + ": " + err.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: " + err.Error()
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset: " + err.Error()
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return "timed out: " + err.Error()
	case errors.Is(err, context.Canceled):
		return "cancelled: " + err.Error()
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}
