package localstack

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

// AkamaiCredentials are the one EdgeGrid API client the stack's fake Akamai Edge DNS
// API accepts (its requests' signatures are checked with the client secret): what an
// Issuer's akamai client token, client secret and access token Secrets hold on the
// local stack.
var AkamaiCredentials = fakedns.AkamaiCredentials{
	ClientToken:  "akab-certflow-local-client-token",
	ClientSecret: "certflow-local-akamai-client-secret",
	AccessToken:  "akab-certflow-local-access-token",
}

// AkamaiZones are the zones of the fake Akamai account.
var AkamaiZones = []string{"example.co"}

// startAkamai runs the fake Akamai Edge DNS API in this process on 127.0.0.1
// (Ports.Akamai, a free port when zero), over TLS with a certificate of the stack's
// ACME CA (dir's acme-ca, which the worker trusts through --dns01-provider-ca-file),
// since EdgeGrid clients speak https only. Its TXT records are served by
// pebble-challtestsrv, a name keeping its removed values until it has none left
// (fakedns.KeepUntilEmpty), as for the fake DigitalOcean.
func (s *Stack) startAkamai(o *Options, dir string, ca *keyPair) error {
	t := time.Now()
	serving, err := loadOrCreate(dir, "fake-akamai", certSpec{
		cn: "localhost", dns: []string{"localhost"}, ips: loopbackIPs,
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	if err != nil {
		return fmt.Errorf("fake akamai certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(serving.certPEM, serving.keyPEM)
	if err != nil {
		return fmt.Errorf("fake akamai certificate: %w", err)
	}
	store := fakedns.NewStore(AkamaiZones, fakedns.KeepUntilEmpty(&fakecloudflare.ChallTestSrvSink{
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvAPI),
		Client:  &http.Client{Timeout: 10 * time.Second},
	}))
	h := (&fakedns.Akamai{Store: store, Clients: []fakedns.AkamaiCredentials{AkamaiCredentials}}).Handler()
	p := &s.Ports
	var ln net.Listener
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			p.Akamai = o.Ports.Akamai
		}
		if err := fillPorts(nil, &p.Akamai); err != nil {
			return fmt.Errorf("akamai: pick port: %w", err)
		}
		s.log.printf("starting fake akamai on 127.0.0.1:%d", p.Akamai)
		ln, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.Akamai))
		if err == nil {
			break
		}
		if attempt == 1 && o.Ports.Akamai == 0 && errors.Is(err, syscall.EADDRINUSE) {
			s.log.printf("fake akamai: address already in use, retrying once")
			continue
		}
		return fmt.Errorf("fake akamai: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	if err := s.addCloser("fake akamai", srv.Close); err != nil {
		return err
	}
	s.mu.Lock()
	s.akamai, s.akamaiHost = store, ln.Addr().String()
	s.mu.Unlock()
	s.recordTime("fake akamai", time.Since(t))
	return nil
}

// AkamaiHost is the fake Akamai API's host:port (127.0.0.1:<port>, what an Issuer's
// akamai.serviceConsumerDomain names); empty unless ACME was started.
func (s *Stack) AkamaiHost() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.akamaiHost
}

// Akamai returns the fake Akamai account's records (nil unless ACME was started).
func (s *Stack) Akamai() *fakedns.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.akamai
}
