package localstack_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	. "github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/internal/testkit/jsonapi"
)

// TestACMEIssuance proves the ACME wiring of the stack with real issuances: Pebble
// resolves names through challtestsrv (A -> 127.0.0.1), validates HTTP-01 on
// 127.0.0.1:HTTP01Port (served here, in process, as certflow's solver will) and DNS-01
// from TXT records set through the challtestsrv API and through the fake Cloudflare API.
func TestACMEIssuance(t *testing.T) {
	s := integration.StartStack(t, Options{ACME: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &acme.Client{Key: key, DirectoryURL: s.ACMEDirectoryURL, HTTPClient: s.ACMEHTTPClient()}
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}
	root, err := s.PebbleRootPEM(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(root)

	// HTTP-01 responder on the port Pebble's VA dials.
	var tokens sync.Map // token -> key authorization
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(s.HTTP01Port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.URL.Path, "/.well-known/acme-challenge/")
		if v, ok := tokens.Load(tok); ok {
			_, _ = w.Write([]byte(v.(string)))
			return
		}
		http.NotFound(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	issue := func(t *testing.T, name, chalType string, solve func(ch *acme.Challenge, authz *acme.Authorization) error) {
		o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(name))
		if err != nil {
			t.Fatalf("order: %v", err)
		}
		for _, u := range o.AuthzURLs {
			z, err := c.GetAuthorization(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			var ch *acme.Challenge
			for _, cc := range z.Challenges {
				if cc.Type == chalType {
					ch = cc
				}
			}
			if ch == nil {
				t.Fatalf("no %s challenge in %+v", chalType, z)
			}
			if err := solve(ch, z); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Accept(ctx, ch); err != nil {
				t.Fatalf("accept: %v", err)
			}
			if _, err := c.WaitAuthorization(ctx, u); err != nil {
				t.Fatalf("authorization of %s: %v", name, err)
			}
		}
		if _, err := c.WaitOrder(ctx, o.URI); err != nil {
			t.Fatalf("order: %v", err)
		}
		certKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, certKey)
		if err != nil {
			t.Fatal(err)
		}
		ders, _, err := c.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
		if err != nil {
			// Pebble finalizes asynchronously and sends no Location header with the
			// finalize response, which x/crypto/acme then polls: poll the order instead.
			done, werr := c.WaitOrder(ctx, o.URI)
			if werr != nil {
				t.Fatalf("finalize: %v; order: %v", err, werr)
			}
			if ders, err = c.FetchCert(ctx, done.CertURL, true); err != nil {
				t.Fatalf("fetch certificate: %v", err)
			}
		}
		leaf, err := x509.ParseCertificate(ders[0])
		if err != nil {
			t.Fatal(err)
		}
		inter := x509.NewCertPool()
		for _, d := range ders[1:] {
			if ic, err := x509.ParseCertificate(d); err == nil {
				inter.AddCert(ic)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: strings.Replace(name, "*", "x", 1), Roots: roots, Intermediates: inter}); err != nil {
			t.Fatalf("issued certificate does not verify: %v", err)
		}
	}

	t.Run("http-01", func(t *testing.T) {
		issue(t, "web.localstack.test", "http-01", func(ch *acme.Challenge, _ *acme.Authorization) error {
			v, err := c.HTTP01ChallengeResponse(ch.Token)
			tokens.Store(ch.Token, v)
			return err
		})
	})
	t.Run("dns-01", func(t *testing.T) {
		issue(t, "*.wild.localstack.test", "dns-01", func(ch *acme.Challenge, z *acme.Authorization) error {
			v, err := c.DNS01ChallengeRecord(ch.Token)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]string{"host": "_acme-challenge." + z.Identifier.Value + ".", "value": v})
			resp, err := http.Post(s.ChallTestSrvURL+"/set-txt", "application/json", strings.NewReader(string(body)))
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New("set-txt: " + resp.Status)
			}
			return nil
		})
	})
	t.Run("dns-01-cloudflare", func(t *testing.T) {
		// A zone added at runtime; the record goes through the fake Cloudflare API, which
		// publishes it in challtestsrv for Pebble.
		zid := s.Cloudflare().AddZone("cf.localstack.test")
		issue(t, "*.cf.localstack.test", "dns-01", func(ch *acme.Challenge, z *acme.Authorization) error {
			v, err := c.DNS01ChallengeRecord(ch.Token)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]any{"type": "TXT", "name": "_acme-challenge." + z.Identifier.Value, "content": v, "ttl": 120})
			jsonapi.Call(ctx, t, CloudflareToken, http.MethodPost, s.CloudflareAPIURL()+"/zones/"+zid+"/dns_records", string(body), nil)
			return nil
		})
	})
}
