package testkit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// TestACMEWiring starts the system with ACME and checks what the worker is given: the
// Gateway API CRDs are installed, and Pebble validates an HTTP-01 challenge against the
// worker's own solver (through challtestsrv's DNS and the stack's HTTP-01 port), which
// the worker's self-check settings reach too.
func TestACMEWiring(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{ACME: true, SelfCheckTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Stop(t.Failed()) }()

	c, err := s.WorkerConfig(false)
	if err != nil {
		t.Fatal(err)
	}
	a := c.ACME
	if c.HTTP01Registry == nil || c.HTTP01Registry != s.HTTP01Registry || c.Gateway == nil {
		t.Fatalf("worker config: registry %p (system %p), gateway %v", c.HTTP01Registry, s.HTTP01Registry, c.Gateway)
	}
	if a.SelfCheckTimeout != 5*time.Second || a.CloudflareAPIURL != s.Stack.CloudflareAPIURL() ||
		len(a.DNS01RecursiveNameservers) != 1 || a.DNS01RecursiveNameservers[0] != s.Stack.ChallTestSrvDNS ||
		a.HTTP01SelfCheck.Resolver != s.Stack.ChallTestSrvDNS || a.HTTP01SelfCheck.Port != s.Stack.HTTP01Port ||
		!strings.HasPrefix(a.HTTP01SolverListen, "127.0.0.1:") {
		t.Errorf("ACME config %+v", a)
	}

	if out, err := s.Kubectl(nil, "get", "httproutes,gateways,gatewayclasses,referencegrants", "-A"); err != nil {
		t.Errorf("Gateway API resources: %v\n%s", err, out)
	}

	// Pebble validates an HTTP-01 challenge served from the worker's registry.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ac := &acme.Client{Key: key, DirectoryURL: s.Stack.ACMEDirectoryURL, HTTPClient: s.Stack.ACMEHTTPClient()}
	if _, err := ac.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}
	const name = "wiring.example.com"
	o, err := ac.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatal(err)
	}
	z, err := ac.GetAuthorization(ctx, o.AuthzURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	var ch *acme.Challenge
	for _, c := range z.Challenges {
		if c.Type == "http-01" {
			ch = c
		}
	}
	if ch == nil {
		t.Fatalf("no http-01 challenge: %+v", z.Challenges)
	}
	keyAuth, err := ac.HTTP01ChallengeResponse(ch.Token)
	if err != nil {
		t.Fatal(err)
	}
	s.HTTP01Registry.Add(name, ch.Token, keyAuth)
	defer s.HTTP01Registry.Remove(name, ch.Token)

	res := http01.SelfCheck(ctx, http01.NewSelfCheckClient(a.HTTP01SelfCheck), http01.SelfCheckURL(name, ch.Token), keyAuth)
	if !res.OK {
		t.Fatalf("self check with the worker's settings: %s", res.Detail)
	}
	if _, err := ac.Accept(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.WaitAuthorization(ctx, o.AuthzURLs[0]); err != nil {
		t.Fatalf("Pebble did not validate the worker's HTTP-01 answer: %v", err)
	}
}
