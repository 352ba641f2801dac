package vault

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponse bounds what is read of one Vault answer (a signed chain is a few KiB).
const maxResponse = 1 << 20

// maxErrorText bounds Vault's words carried into an error (and so a status).
const maxErrorText = 300

// client talks to one Vault server over its HTTP API. It holds a token only for the
// length of one activity call.
type client struct {
	base      *url.URL
	namespace string
	hc        *http.Client
	token     string
	// clientCert says whether the client presents a TLS certificate.
	clientCert bool
}

// tlsSettings are the TLS parameters of a Vault issuer, read from its spec and Secrets.
type tlsSettings struct {
	roots      *x509.CertPool // nil: the system's
	serverName string
	clientCert *tls.Certificate // mutual TLS (clientCertSecretRef/clientKeySecretRef, or cert auth)
}

// newClient returns a client of server (scheme, host and port; "/v1/..." is added).
func newClient(server, namespace string, t tlsSettings) (*client, error) {
	u, err := url.Parse(strings.TrimSpace(server))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, configError("vault: server %q is not an http(s) URL", server)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: t.roots, ServerName: t.serverName}
	if t.clientCert != nil {
		cert := *t.clientCert
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.DisableKeepAlives = true // one activity, a few requests: no idle connections left behind
	return &client{base: u, namespace: namespace, clientCert: t.clientCert != nil, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second,
		// Vault answers; it does not redirect a client elsewhere with its token.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// apiError is a status of 400 or more from Vault, with Vault's own words.
type apiError struct {
	op     string
	status int
	words  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: Vault answered %d: %s", e.op, e.status, e.words)
}

// refusal reports whether retrying the same request cannot help (a wrong token, no
// permission, an unknown path or role, a CSR the role does not allow).
func (e *apiError) refusal() bool {
	switch e.status {
	case 400, 401, 403, 404, 405, 412:
		return true
	}
	return false
}

// do sends one request to path (relative to the server, e.g. "/v1/sys/health") and
// decodes the JSON answer into out. A status of 400 or more is an *apiError.
func (c *client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(path, "/")
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "certflow")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("X-Vault-Token", c.token)
	}
	if c.namespace != "" {
		req.Header.Set("X-Vault-Namespace", c.namespace)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%s: reading Vault's answer: %w", op, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("%s: Vault's answer is larger than %d bytes", op, maxResponse)
	}
	if resp.StatusCode >= 400 {
		return &apiError{op: op, status: resp.StatusCode, words: errorWords(data)}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: Vault's answer is not the JSON expected: %w", op, err)
	}
	return nil
}

// errorWords is Vault's message of an error answer ({"errors": [...]}), or an excerpt
// of the body, bounded.
func errorWords(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		msg = strings.Join(e.Errors, "; ")
	} else {
		msg = strings.TrimSpace(string(body))
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if msg == "" {
		msg = "(no message)"
	}
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "..."
	}
	return msg
}
