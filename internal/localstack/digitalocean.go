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

// DigitalOceanToken is the one API token the stack's fake DigitalOcean API accepts
// ("Authorization: Bearer <token>"): what an Issuer's digitalocean.tokenSecretRef
// Secret holds on the local stack.
const DigitalOceanToken = "certflow-local-digitalocean-token"

// DigitalOceanZones are the zones of the fake DigitalOcean account. They are not the
// fake Cloudflare's: each fake publishes its names into challtestsrv alone.
var DigitalOceanZones = []string{"example.net"}

// startDigitalOcean runs the fake DigitalOcean API in this process on 127.0.0.1
// (Ports.DigitalOcean, a free port when zero); its TXT records are served by
// pebble-challtestsrv, as the fake Cloudflare's are, except that a name keeps its
// removed values until it has none left (fakedns.KeepUntilEmpty).
func (s *Stack) startDigitalOcean(o *Options) error {
	t := time.Now()
	store := fakedns.NewStore(DigitalOceanZones, fakedns.KeepUntilEmpty(&fakecloudflare.ChallTestSrvSink{
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvAPI),
		Client:  &http.Client{Timeout: 10 * time.Second},
	}))
	h := (&fakedns.DigitalOcean{Store: store, Tokens: []string{DigitalOceanToken}}).Handler()
	srv := &fakedns.Server{}
	p := &s.Ports
	var apiURL string
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			p.DigitalOcean = o.Ports.DigitalOcean
		}
		if err := fillPorts(nil, &p.DigitalOcean); err != nil {
			return fmt.Errorf("digitalocean: pick port: %w", err)
		}
		s.log.printf("starting fake digitalocean on 127.0.0.1:%d", p.DigitalOcean)
		u, err := srv.Start("127.0.0.1:"+strconv.Itoa(p.DigitalOcean), h)
		if err == nil {
			apiURL = u
			break
		}
		if attempt == 1 && o.Ports.DigitalOcean == 0 && errors.Is(err, syscall.EADDRINUSE) {
			s.log.printf("fake digitalocean: address already in use, retrying once")
			continue
		}
		return fmt.Errorf("fake digitalocean: %w", err)
	}
	if err := s.addCloser("fake digitalocean", srv.Close); err != nil {
		return err
	}
	s.mu.Lock()
	s.digitalOcean, s.doURL = store, apiURL
	s.mu.Unlock()
	s.recordTime("fake digitalocean", time.Since(t))
	return nil
}

// DigitalOceanAPIURL is the base URL of the fake DigitalOcean API
// (http://127.0.0.1:<port>, what the worker's --digitalocean-api-url takes); empty
// unless ACME was started.
func (s *Stack) DigitalOceanAPIURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doURL
}

// DigitalOcean returns the fake DigitalOcean account's records (nil unless ACME was
// started).
func (s *Stack) DigitalOcean() *fakedns.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.digitalOcean
}
