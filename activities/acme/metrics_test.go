package acme

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	legoacme "github.com/go-acme/lego/v4/acme"
)

func TestACMEAction(t *testing.T) {
	le := &legoacme.Directory{
		NewNonceURL: "https://acme.example/acme/new-nonce", NewAccountURL: "https://acme.example/acme/new-acct",
		NewOrderURL: "https://acme.example/acme/new-order", RevokeCertURL: "https://acme.example/acme/revoke-cert",
		KeyChangeURL: "https://acme.example/acme/key-change", RenewalInfo: "https://acme.example/acme/renewal-info",
	}
	post := func(body string) func(*http.Request) {
		return func(r *http.Request) {
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewBufferString(body)), nil }
		}
	}
	for _, c := range []struct {
		dir    *legoacme.Directory
		method string
		url    string
		body   func(*http.Request)
		want   string
	}{
		{nil, "GET", "https://acme.example/directory", nil, "discover"},
		{le, "HEAD", le.NewNonceURL, nil, "new_nonce"},
		{le, "POST", le.NewAccountURL, nil, "register_account"},
		{le, "POST", le.NewOrderURL, nil, "authorize_order"},
		{le, "GET", le.RenewalInfo + "/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", nil, "get_renewal_info"},
		{le, "POST", le.RevokeCertURL, nil, "revoke_cert"},
		{le, "POST", le.KeyChangeURL, nil, "update_registration"},
		// Boulder's paths.
		{le, "POST", "https://acme.example/acme/authz/1/2", nil, "get_authorization"},
		{le, "POST", "https://acme.example/acme/chall/1/2/Ab", post(`{"protected":"x","payload":"","signature":"y"}`), "get_challenge"},
		{le, "POST", "https://acme.example/acme/chall/1/2/Ab", post(`{"protected":"x","payload":"e30","signature":"y"}`), "accept_challenge"},
		{le, "POST", "https://acme.example/acme/finalize/1/2", nil, "create_order_cert"},
		{le, "POST", "https://acme.example/acme/cert/fa12", nil, "fetch_cert"},
		{le, "POST", "https://acme.example/acme/order/1/2", nil, "get_order"},
		{le, "POST", "https://acme.example/acme/acct/1", nil, "get_registration"},
		// Pebble's.
		{nil, "POST", "https://127.0.0.1:14000/authZ/x", nil, "get_authorization"},
		{nil, "POST", "https://127.0.0.1:14000/chalZ/x", post(`{"payload":"e30"}`), "accept_challenge"},
		{nil, "POST", "https://127.0.0.1:14000/finalize-order/x", nil, "create_order_cert"},
		{nil, "POST", "https://127.0.0.1:14000/certZ/x", nil, "fetch_cert"},
		{nil, "POST", "https://127.0.0.1:14000/my-order/x", nil, "get_order"},
		{nil, "POST", "https://127.0.0.1:14000/my-account/x", nil, "get_registration"},
		{nil, "GET", "https://127.0.0.1:14000/somewhere", nil, "unnamed_action"},
	} {
		req, err := http.NewRequest(c.method, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.body != nil {
			c.body(req)
		}
		if got := acmeAction("https://acme.example/directory", c.dir, req); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.method, c.url, got, c.want)
		}
	}
}
