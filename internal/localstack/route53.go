package localstack

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

// The credentials the stack's fake Route 53 accepts: what an Issuer's route53
// accessKeyID and secretAccessKeySecretRef Secret hold on the local stack. The key may
// also assume Route53Role through the same server's STS.
const (
	Route53AccessKeyID     = "AKIACERTFLOWLOCAL000"
	Route53SecretAccessKey = "certflow-local-route53-secret-access-key"
	Route53Role            = "arn:aws:iam::000000000000:role/certflow-dns01"
)

// Route53Zones are the hosted zones of the fake Route 53 account. They are no other
// fake's: each fake publishes its names into challtestsrv alone.
var Route53Zones = []string{"example.biz"}

// startRoute53 runs the fake Route 53 and STS APIs in this process on 127.0.0.1
// (Ports.Route53, a free port when zero); its TXT records are served by
// pebble-challtestsrv, a name keeping its removed values until it has none left
// (fakedns.KeepUntilEmpty), as the fake DigitalOcean's.
func (s *Stack) startRoute53(o *Options) error {
	t := time.Now()
	store := fakedns.NewStore(Route53Zones, fakedns.KeepUntilEmpty(&fakecloudflare.ChallTestSrvSink{
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvAPI),
		Client:  &http.Client{Timeout: 10 * time.Second},
	}))
	h := (&fakedns.Route53{Store: store, Keys: map[string]string{Route53AccessKeyID: Route53SecretAccessKey},
		Roles: map[string][]string{Route53Role: {Route53AccessKeyID}}}).Handler()
	srv := &fakedns.Server{}
	p := &s.Ports
	var apiURL string
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			p.Route53 = o.Ports.Route53
		}
		if err := fillPorts(nil, &p.Route53); err != nil {
			return fmt.Errorf("route53: pick port: %w", err)
		}
		s.log.printf("starting fake route53 on 127.0.0.1:%d", p.Route53)
		u, err := srv.Start("127.0.0.1:"+strconv.Itoa(p.Route53), h)
		if err == nil {
			apiURL = u
			break
		}
		if attempt == 1 && o.Ports.Route53 == 0 && errors.Is(err, syscall.EADDRINUSE) {
			s.log.printf("fake route53: address already in use, retrying once")
			continue
		}
		return fmt.Errorf("fake route53: %w", err)
	}
	if err := s.addCloser("fake route53", srv.Close); err != nil {
		return err
	}
	s.mu.Lock()
	s.route53, s.route53URL = store, apiURL
	s.mu.Unlock()
	s.recordTime("fake route53", time.Since(t))
	return nil
}

// Route53APIURL is the base URL of the fake Route 53 and STS APIs
// (http://127.0.0.1:<port>, what the worker's --route53-api-url and --sts-api-url
// take); empty unless ACME was started.
func (s *Stack) Route53APIURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.route53URL
}

// Route53 returns the fake Route 53 account's records (nil unless ACME was started).
func (s *Stack) Route53() *fakedns.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.route53
}
