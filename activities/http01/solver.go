// Package http01 solves ACME HTTP-01 challenges: it serves key authorizations
// under /.well-known/acme-challenge/, builds and manages the Kubernetes
// objects (solver Pod, Service, Ingress or Gateway API HTTPRoute) that route a
// challenge to such a server, and checks from inside the cluster that the
// challenge is reachable before the ACME server is asked to validate it.
package http01

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ChallengePath is the URL path prefix ACME servers fetch HTTP-01 key
// authorizations from (RFC 8555 section 8.3); the token follows it.
const ChallengePath = "/.well-known/acme-challenge/"

// Registry maps challenge tokens to key authorizations, optionally per host.
// It is safe for concurrent use; the zero value is an empty registry.
type Registry struct {
	mu sync.RWMutex
	// byToken[token][host] = key authorization; host "" answers any host.
	byToken map[string]map[string]string
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{} }

// Add serves keyAuth for token. With host empty the token is answered
// whatever Host header a request carries; otherwise only for requests to that
// host (compared case-insensitively, port ignored). Adding the same token and
// host again replaces the key authorization.
func (r *Registry) Add(host, token, keyAuth string) {
	host = normalizeHost(host)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byToken == nil {
		r.byToken = map[string]map[string]string{}
	}
	hosts := r.byToken[token]
	if hosts == nil {
		hosts = map[string]string{}
		r.byToken[token] = hosts
	}
	hosts[host] = keyAuth
}

// Remove stops serving token for host (as given to Add). Removing what is not
// registered does nothing.
func (r *Registry) Remove(host, token string) {
	host = normalizeHost(host)
	r.mu.Lock()
	defer r.mu.Unlock()
	hosts := r.byToken[token]
	if hosts == nil {
		return
	}
	delete(hosts, host)
	if len(hosts) == 0 {
		delete(r.byToken, token)
	}
}

// Lookup returns the key authorization a request for token with the given
// Host header is answered with. An entry registered for that host wins over
// one registered for any host.
func (r *Registry) Lookup(host, token string) (string, bool) {
	host = normalizeHost(host)
	r.mu.RLock()
	defer r.mu.RUnlock()
	hosts := r.byToken[token]
	if hosts == nil {
		return "", false
	}
	if k, ok := hosts[host]; ok && host != "" {
		return k, true
	}
	k, ok := hosts[""]
	return k, ok
}

// Len returns the number of (token, host) entries.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, hosts := range r.byToken {
		n += len(hosts)
	}
	return n
}

// normalizeHost lower-cases a host and strips a port, brackets around an IPv6
// literal and a trailing dot.
func normalizeHost(h string) string {
	h = strings.TrimSpace(h)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// Handler serves the registry: GET (or HEAD) /.well-known/acme-challenge/<token>
// answers 200 with the key authorization as text/plain when the token is
// registered for the request's Host (or for any host); every other
// challenge request gets 404. Like upstream's acmesolver it also answers 200
// on "/" and "/healthz", which load balancers (ingress-gce) use as health
// checks. Methods other than GET and HEAD get 405.
func Handler(reg *Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.EscapedPath()
		if p == "/" || p == "/healthz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		token, ok := strings.CutPrefix(p, ChallengePath)
		if !ok || token == "" || strings.Contains(token, "/") {
			http.NotFound(w, r)
			return
		}
		key, ok := reg.Lookup(r.Host, token)
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, key)
	})
}

// RunSolver is the solver Pod's process (what upstream's acmesolver does): it
// serves key for token on listenAddr (":8089") to requests for domain, until
// ctx is done. domain empty answers any Host. It returns nil after ctx ends
// and the server has shut down, or the error that stopped it from serving.
func RunSolver(ctx context.Context, listenAddr, domain, token, key string) error {
	if token == "" || key == "" {
		return errors.New("http01 solver: token and key are required")
	}
	reg := NewRegistry()
	reg.Add(domain, token, key)
	log := slog.Default().With("domain", domain)
	inner := Handler(reg)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		inner.ServeHTTP(rec, r)
		if p := r.URL.Path; p != "/" && p != "/healthz" {
			log.Info("http01 solver request", "method", r.Method, "host", r.Host, "path", p, "remote", r.RemoteAddr, "status", rec.status)
		}
	})
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return fmt.Errorf("http01 solver: listen on %s: %w", listenAddr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	log.Info("http01 solver listening", "addr", ln.Addr().String(), "token", token)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http01 solver: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http01 solver: serve: %w", err)
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
