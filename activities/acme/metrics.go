package acme

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"

	"github.com/certflow/certflow/internal/metrics"
)

// instrumented counts and times every request to an ACME server under upstream's
// metric names (certmanager_http_acme_client_request_count and _duration_seconds),
// nonce fetches and lego's retries included. lego's calls take no context to carry
// the operation's name, so the action label is read from the request: the directory's
// URLs first, then the path segments that Boulder and Pebble give each kind of object.
type instrumented struct {
	next         http.RoundTripper
	directoryURL string
	directory    atomic.Pointer[legoacme.Directory]
}

func (t *instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	action := acmeAction(t.directoryURL, t.directory.Load(), req)
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	metrics.ObserveACMERequest(req, action, status, time.Since(start))
	return resp, err
}

// setDirectory names the directory's endpoints once lego has read it.
func (t *instrumented) setDirectory(d legoacme.Directory) { t.directory.Store(&d) }

// acmeAction names the ACME operation of req with upstream's action names where the
// request tells which it is.
func acmeAction(directoryURL string, dir *legoacme.Directory, req *http.Request) string {
	u := req.URL.String()
	if u == directoryURL {
		return "discover"
	}
	if dir != nil {
		switch {
		case u == dir.NewNonceURL:
			return "new_nonce"
		case u == dir.NewAccountURL:
			return "register_account"
		case u == dir.NewOrderURL:
			return "authorize_order"
		case u == dir.RevokeCertURL:
			return "revoke_cert"
		case u == dir.KeyChangeURL:
			return "update_registration"
		case dir.RenewalInfo != "" && strings.HasPrefix(u, dir.RenewalInfo):
			return "get_renewal_info"
		}
	}
	path := strings.ToLower(req.URL.Path)
	switch {
	case strings.Contains(path, "authz"):
		return "get_authorization"
	case strings.Contains(path, "chal"):
		if postAsGet(req) {
			return "get_challenge"
		}
		return "accept_challenge"
	case strings.Contains(path, "finalize"):
		return "create_order_cert"
	case strings.Contains(path, "cert"):
		return "fetch_cert"
	case strings.Contains(path, "order"):
		return "get_order"
	case strings.Contains(path, "acct"), strings.Contains(path, "account"):
		return "get_registration"
	}
	return "unnamed_action"
}

// postAsGet says whether a JWS request has an empty payload (RFC 8555 POST-as-GET, a
// read) rather than one (a challenge's {} that asks the server to validate).
func postAsGet(req *http.Request) bool {
	if req.Method != http.MethodPost || req.GetBody == nil {
		return false
	}
	body, err := req.GetBody()
	if err != nil {
		return false
	}
	defer body.Close()
	var jws struct {
		Payload *string `json:"payload"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&jws); err != nil {
		return false
	}
	return jws.Payload != nil && *jws.Payload == ""
}
