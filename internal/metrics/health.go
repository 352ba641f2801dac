package metrics

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Check is one named health check; nil means healthy.
type Check struct {
	Name string
	Fn   func(*http.Request) error
}

// Health serves /livez and /readyz as Kubernetes components do: 200 "ok" when every
// check passes, 500 naming the failed checks otherwise; ?verbose lists each check.
// Liveness says the process is not wedged (restarting it would help); readiness says it
// does its work now (connected, caches synced).
type Health struct {
	mu          sync.Mutex
	live, ready []Check
}

// AddLiveness adds a check to /livez (and so to /readyz: what is not live is not ready).
func (h *Health) AddLiveness(c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.live = append(h.live, c)
}

// AddReadiness adds a check to /readyz.
func (h *Health) AddReadiness(c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ready = append(h.ready, c)
}

// Mux serves /livez, /readyz and /healthz (the same as /livez, for older probes).
func (h *Health) Mux() *http.ServeMux {
	mux := http.NewServeMux()
	live := func(r *http.Request) []Check {
		h.mu.Lock()
		defer h.mu.Unlock()
		return append([]Check(nil), h.live...)
	}
	ready := func(r *http.Request) []Check {
		h.mu.Lock()
		defer h.mu.Unlock()
		return append(append([]Check(nil), h.live...), h.ready...)
	}
	mux.Handle("/livez", serveChecks(live))
	mux.Handle("/healthz", serveChecks(live))
	mux.Handle("/readyz", serveChecks(ready))
	return mux
}

func serveChecks(checks func(*http.Request) []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var report strings.Builder
		failed := 0
		for _, c := range checks(r) {
			if err := c.Fn(r); err != nil {
				failed++
				fmt.Fprintf(&report, "[-]%s failed: %v\n", c.Name, err)
			} else {
				fmt.Fprintf(&report, "[+]%s ok\n", c.Name)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if failed > 0 {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "%s%s check failed\n", report.String(), r.URL.Path[1:])
			return
		}
		if _, verbose := r.URL.Query()["verbose"]; verbose {
			fmt.Fprintf(w, "%s%s check passed\n", report.String(), r.URL.Path[1:])
			return
		}
		fmt.Fprint(w, "ok")
	})
}

// Flag is a readiness check that fails with its message until Set(true).
type Flag struct {
	mu      sync.Mutex
	ok      bool
	message string
}

// NewFlag is a Flag that is not yet set, failing with message.
func NewFlag(message string) *Flag { return &Flag{message: message} }

// Set marks the flag (un)set.
func (f *Flag) Set(ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ok = ok
}

// Check is the flag as a check function.
func (f *Flag) Check(*http.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ok {
		return fmt.Errorf("%s", f.message)
	}
	return nil
}
