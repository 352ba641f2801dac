package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

// AcmeDNSZone is the zone the stack's fake acme-dns server serves: each account's
// fulldomain is <subdomain>.<AcmeDNSZone>, its TXT values served by challtestsrv.
const AcmeDNSZone = "auth.acme-dns.test"

// startAcmeDNS runs the fake acme-dns server in this process on 127.0.0.1
// (Ports.AcmeDNS, a free port when zero). It publishes the two newest values of each
// account into pebble-challtestsrv, as acme-dns serves them.
func (s *Stack) startAcmeDNS(o *Options) error {
	t := time.Now()
	store := fakedns.NewStore([]string{AcmeDNSZone}, &fakecloudflare.ChallTestSrvSink{
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvAPI),
		Client:  &http.Client{Timeout: 10 * time.Second},
	})
	fake := &fakedns.AcmeDNS{Store: store, Domain: AcmeDNSZone}
	srv := &fakedns.Server{}
	p := &s.Ports
	var apiURL string
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			p.AcmeDNS = o.Ports.AcmeDNS
		}
		if err := fillPorts(nil, &p.AcmeDNS); err != nil {
			return fmt.Errorf("acme-dns: pick port: %w", err)
		}
		s.log.printf("starting fake acme-dns on 127.0.0.1:%d", p.AcmeDNS)
		u, err := srv.Start("127.0.0.1:"+strconv.Itoa(p.AcmeDNS), fake.Handler())
		if err == nil {
			apiURL = u
			break
		}
		if attempt == 1 && o.Ports.AcmeDNS == 0 && errors.Is(err, syscall.EADDRINUSE) {
			s.log.printf("fake acme-dns: address already in use, retrying once")
			continue
		}
		return fmt.Errorf("fake acme-dns: %w", err)
	}
	if err := s.addCloser("fake acme-dns", srv.Close); err != nil {
		return err
	}
	s.mu.Lock()
	s.acmeDNS, s.acmeDNSURL = fake, apiURL
	s.mu.Unlock()
	s.recordTime("fake acme-dns", time.Since(t))
	return nil
}

// AcmeDNSURL is the fake acme-dns server's URL (http://127.0.0.1:<port>, what an
// Issuer's acmeDNS.host names); empty unless ACME was started.
func (s *Stack) AcmeDNSURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acmeDNSURL
}

// AcmeDNS returns the fake acme-dns server (its accounts and records; nil unless ACME
// was started).
func (s *Stack) AcmeDNS() *fakedns.AcmeDNS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acmeDNS
}

// SetCNAME makes pebble-challtestsrv answer host (e.g. "_acme-challenge.example.app")
// with a CNAME to target, as a user delegates a challenge name to acme-dns.
func (s *Stack) SetCNAME(ctx context.Context, host, target string) error {
	b, err := json.Marshal(map[string]string{"host": host, "target": target})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ChallTestSrvURL+"/set-cname", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("challtestsrv /set-cname: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv /set-cname: %s: %s", resp.Status, raw)
	}
	return nil
}
