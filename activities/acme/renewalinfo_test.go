package acme

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/acme/api"

	"github.com/certflow/certflow/pki/pkitest"
	"github.com/certflow/certflow/policy"
)

// The renewalInfo answers a server may give, read into what the workflow decides on:
// a window with its explanation and Retry-After, no renewalInfo in the directory
// (supported false, no error), and broken answers (an error, never a window).
func TestFetchRenewalInfo(t *testing.T) {
	var answer func(w http.ResponseWriter)
	withARI := true
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/dir":
			ari := ""
			if withARI {
				ari = fmt.Sprintf(`, "renewalInfo": %q`, srv.URL+"/ari")
			}
			_, _ = fmt.Fprintf(w, `{"newNonce": %q, "newAccount": %q, "newOrder": %q%s}`, srv.URL+"/nonce", srv.URL+"/acct", srv.URL+"/order", ari)
		case strings.HasPrefix(r.URL.Path, "/ari/"):
			if r.URL.Path != "/ari/aki.serial" {
				http.NotFound(w, r)
				return
			}
			answer(w)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	hc, err := httpClient(AccountRef{CABundle: pkitest.PEM(srv.Certificate())})
	if err != nil {
		t.Fatal(err)
	}
	window := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "21600")
		_, _ = fmt.Fprint(w, `{"suggestedWindow": {"start": "2026-12-06T00:00:00Z", "end": "2026-12-07T00:00:00Z"}, "explanationURL": "https://ca.example/why"}`)
	}
	for _, tc := range []struct {
		name      string
		ari       bool
		answer    func(http.ResponseWriter)
		supported bool
		err       string
	}{
		{"window", true, window, true, ""},
		{"no renewalInfo in the directory", false, window, false, ""},
		{"server error", true, func(w http.ResponseWriter) { http.Error(w, "boom", http.StatusInternalServerError) }, true, "HTTP 500"},
		{"not JSON", true, func(w http.ResponseWriter) { _, _ = fmt.Fprint(w, "<html>") }, true, "does not parse"},
		{"end before start", true, func(w http.ResponseWriter) {
			_, _ = fmt.Fprint(w, `{"suggestedWindow": {"start": "2026-12-07T00:00:00Z", "end": "2026-12-06T00:00:00Z"}}`)
		}, true, "invalid window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withARI, answer = tc.ari, tc.answer
			core, err := api.New(hc, "certflow-test", srv.URL+"/dir", "", pkitest.Key(t))
			if err != nil {
				t.Fatal(err)
			}
			res := RenewalInfo{CertID: "aki.serial"}
			err = fetchRenewalInfo(core, &res)
			if res.Supported != tc.supported {
				t.Errorf("supported = %v, want %v", res.Supported, tc.supported)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || res.Window.Valid() {
					t.Fatalf("error %v, window %v; want an error with %q and no window", err, res.Window, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.supported {
				return
			}
			want := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
			if !res.Window.Start.Equal(want) || !res.Window.End.Equal(want.Add(24*time.Hour)) || res.ExplanationURL != "https://ca.example/why" || res.RetryAfter != 6*time.Hour {
				t.Errorf("read %+v", res)
			}
		})
	}
}

func TestCapRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name            string
		retryAfter, max time.Duration
		want            time.Duration
	}{
		{"no maximum keeps the server's", 6 * time.Hour, 0, 6 * time.Hour},
		{"no maximum keeps none given", 0, 0, 0},
		{"a shorter Retry-After stays", 10 * time.Second, time.Minute, 10 * time.Second},
		{"a longer Retry-After is capped", 6 * time.Hour, 15 * time.Second, 15 * time.Second},
		{"none given is the default, capped", 0, 15 * time.Second, 15 * time.Second},
		{"none given under a long maximum is the default", 0, 24 * time.Hour, policy.ARIDefaultRetryAfter},
	} {
		if got := capRetryAfter(tc.retryAfter, tc.max); got != tc.want {
			t.Errorf("%s: capRetryAfter(%v, %v) = %v, want %v", tc.name, tc.retryAfter, tc.max, got, tc.want)
		}
	}
}

// A chain handed in is read as it is: no Secret is read (the activities have no
// Kubernetes client here), and one without a certificate is said in Error.
func TestRenewalInfoOfAChainReadsNoSecret(t *testing.T) {
	a := &Activities{}
	res, err := a.GetRenewalInfo(t.Context(), RenewalInfoInput{CertificatePEM: []byte("not PEM")})
	if err != nil || !strings.Contains(res.Error, "the order's chain holds no certificate") {
		t.Fatalf("result %+v, error %v; want the chain's fault in Error", res, err)
	}
}
