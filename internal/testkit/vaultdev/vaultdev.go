// Package vaultdev runs HashiCorp Vault's dev server (bin/vault, built by
// hack/build-tools.sh as a test fixture only: Vault's licence is the BSL, so it is
// never shipped or bundled in certflow's image or chart) for the Vault issuer's
// integration tests, and configures it through Vault's HTTP API.
package vaultdev

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/certflow/certflow/internal/localstack/childproc"
	"github.com/certflow/certflow/internal/localstack/freeport"
)

// Server is a running Vault dev server on 127.0.0.1, with TLS (-dev-tls).
type Server struct {
	URL       string // https://127.0.0.1:<port>
	RootToken string
	CAPEM     []byte // the CA of the server's TLS certificate
	LogPath   string

	proc *childproc.Proc
	hc   *http.Client
}

// Start runs binDir/vault in dev mode, its files under stateDir, and waits until it
// answers.
func Start(ctx context.Context, binDir, stateDir string) (*Server, error) {
	bin := filepath.Join(binDir, "vault")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("vault dev server: %w (build it with hack/build-tools.sh vault)", err)
	}
	port, err := freeport.Get(false)
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	dir := filepath.Join(stateDir, "vault")
	certDir := filepath.Join(dir, "tls")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{URL: "https://127.0.0.1:" + strconv.Itoa(port), RootToken: "root-" + hex.EncodeToString(tok), LogPath: filepath.Join(dir, "vault.log")}
	args := []string{"server", "-dev", "-dev-tls", "-dev-tls-cert-dir=" + certDir, "-dev-no-store-token",
		"-dev-root-token-id=" + s.RootToken, "-dev-listen-address=127.0.0.1:" + strconv.Itoa(port)}
	// HOME: Vault's CLI helpers must not touch the user's files.
	if s.proc, err = childproc.Start("vault", bin, args, s.LogPath, childproc.Options{Dir: dir, Env: []string{"HOME=" + dir, "VAULT_ADDR=" + s.URL}}); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err = s.ready(ctx, certDir)
		if err == nil {
			return s, nil
		}
		if s.proc.Exited() || time.Now().After(deadline) || ctx.Err() != nil {
			s.Stop()
			return nil, fmt.Errorf("vault dev server did not become ready: %v\n%s", err, s.proc.Tail(20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) ready(ctx context.Context, certDir string) error {
	if s.hc == nil {
		ca, err := os.ReadFile(filepath.Join(certDir, "vault-ca.pem"))
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return fmt.Errorf("no CA in %s", certDir)
		}
		s.CAPEM = ca
		s.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	var health struct {
		Initialized bool `json:"initialized"`
		Sealed      bool `json:"sealed"`
	}
	if err := s.API(ctx, "GET", "sys/health", nil, &health); err != nil {
		return err
	}
	if !health.Initialized || health.Sealed {
		return fmt.Errorf("not ready: %+v", health)
	}
	return nil
}

// API calls Vault's HTTP API (path under /v1/) with the root token; out, when not
// nil, receives the JSON answer.
func (s *Server) API(ctx context.Context, method, path string, body, out any) error {
	return s.APIWithToken(ctx, s.RootToken, method, path, body, out)
}

// APIWithToken is API with another token ("" for none).
func (s *Server) APIWithToken(ctx context.Context, token, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/v1/"+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("vault %s %s: %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Stop ends the server.
func (s *Server) Stop() {
	if s != nil && s.proc != nil {
		_ = s.proc.Stop(5 * time.Second)
	}
}
