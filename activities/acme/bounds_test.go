package acme

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/go-acme/lego/v4/acme/api"

	"github.com/certflow/certflow/internal/bounded"
	"github.com/certflow/certflow/pki/pkitest"
)

// TestHostileACMEResponsesAreBounded: the ACME server is whatever an issuer names. A
// directory of megabytes is cut at the body limit (lego reads bodies whole), and
// neither it nor a problem document with a huge detail and thousands of sub-problems
// reaches the error, which becomes a status message, beyond a short printable excerpt.
func TestHostileACMEResponsesAreBounded(t *testing.T) {
	huge := strings.Repeat("\x1b[2Jjunk ", 8<<20/9)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge":
			_, _ = fmt.Fprint(w, huge)
		case "/problem":
			subs := make([]map[string]any, 2000)
			for i := range subs {
				subs[i] = map[string]any{"type": "urn:ietf:params:acme:error:malformed", "detail": "sub\x07problem", "identifier": map[string]string{"type": "dns", "value": fmt.Sprintf("n%d.example", i)}}
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:ietf:params:acme:error:unauthorized", "detail": huge[:200000], "status": 403, "subproblems": subs})
		}
	}))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/huge", "/problem"} {
		t.Run(path, func(t *testing.T) {
			hc, err := httpClient(AccountRef{CABundle: pkitest.PEM(srv.Certificate())})
			if err != nil {
				t.Fatal(err)
			}
			_, err = api.New(hc, "certflow-test", srv.URL+path, "", pkitest.Key(t))
			if err == nil {
				t.Fatal("a hostile directory was accepted")
			}
			if path == "/huge" && !errors.Is(err, bounded.ErrTooLarge) {
				t.Errorf("reading an 8 MiB directory: %v, want the body limit", bounded.Excerpt(err.Error(), 0))
			}
			msg := classify("read the ACME directory "+srv.URL+path, err).Error()
			t.Logf("message (%d bytes): %s", len(msg), msg)
			if path == "/problem" && !strings.Contains(msg, "urn:ietf:params:acme:error:unauthorized") {
				t.Errorf("message %q does not name the problem", msg)
			}
			if len(msg) > 4096 {
				t.Errorf("message is %d bytes, want an excerpt", len(msg))
			}
			if i := strings.IndexFunc(msg, unicode.IsControl); i >= 0 {
				t.Errorf("message carries control character %q", msg[i])
			}
		})
	}
}
