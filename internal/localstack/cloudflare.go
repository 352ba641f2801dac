package localstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
)

// CloudflareToken is the one API token the stack's fake Cloudflare API accepts
// ("Authorization: Bearer <token>"): what an Issuer's cloudflare.apiTokenSecretRef
// Secret holds on the local stack.
const CloudflareToken = "certflow-local-cloudflare-token"

// DefaultCloudflareZones are the zones of the fake Cloudflare account when
// Options.CloudflareZones is nil: the domains of examples/.
var DefaultCloudflareZones = []string{"example.com", "example.org", "markabledu.com"}

// startCloudflare runs the fake Cloudflare API in this process on 127.0.0.1 (Ports.Cloudflare,
// a free port when zero). Every TXT record change is written into pebble-challtestsrv,
// the DNS server Pebble resolves with, so DNS-01 challenges solved through the fake are
// validated by Pebble. It needs challtestsrv's management API to be up.
func (s *Stack) startCloudflare(o *Options) error {
	t := time.Now()
	zones := o.CloudflareZones
	if zones == nil {
		zones = DefaultCloudflareZones
	}
	sink := &txtInterceptor{next: &fakecloudflare.ChallTestSrvSink{
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvAPI),
		Client:  &http.Client{Timeout: 10 * time.Second},
	}}
	fake := fakecloudflare.New(fakecloudflare.Options{
		Zones:  slices.Clone(zones),
		Tokens: []string{CloudflareToken},
		Sink:   sink,
	})
	p := &s.Ports
	var apiURL string
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			p.Cloudflare = o.Ports.Cloudflare
		}
		if err := fillPorts(nil, &p.Cloudflare); err != nil {
			return fmt.Errorf("cloudflare: pick port: %w", err)
		}
		s.log.printf("starting fake cloudflare on 127.0.0.1:%d", p.Cloudflare)
		u, err := fake.Start("127.0.0.1:" + strconv.Itoa(p.Cloudflare))
		if err == nil {
			apiURL = u
			break
		}
		// A picked port may have been taken since; a fixed one is the caller's.
		if attempt == 1 && o.Ports.Cloudflare == 0 && errors.Is(err, syscall.EADDRINUSE) {
			s.log.printf("fake cloudflare: address already in use, retrying once")
			continue
		}
		return fmt.Errorf("fake cloudflare: %w", err)
	}
	if err := s.addCloser("fake cloudflare", fake.Close); err != nil {
		return err
	}
	s.mu.Lock()
	s.cloudflare, s.cloudflareURL, s.cloudflareTXT = fake, apiURL, sink
	s.mu.Unlock()
	s.recordTime("fake cloudflare", time.Since(t))
	return nil
}

// CloudflareAPIURL is the base URL of the fake Cloudflare API
// (http://127.0.0.1:<port>/client/v4, what dns01's Cloudflare BaseURL and the worker's
// --cloudflare-api-url take); empty unless ACME was started.
func (s *Stack) CloudflareAPIURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cloudflareURL
}

// Cloudflare returns the fake Cloudflare API server (nil unless ACME was started).
// Tests read its records (Records, TXT) and add zones at runtime (AddZone).
func (s *Stack) Cloudflare() *fakecloudflare.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cloudflare
}

// InterceptCloudflareTXT makes the fake Cloudflare API publish f(fqdn, values) into
// challtestsrv (the DNS server Pebble and the DNS-01 self check ask) instead of the
// TXT values it holds, so a test can make DNS disagree with what the API was told:
// hold a record back (return nil), or serve a wrong value. f gets the full set of
// values at fqdn (lower case, trailing dot), empty when the last one was deleted; it
// is called with the fake's changes serialized and must not call back into the fake.
// The API itself (Records, TXT, the solver's view) is unchanged.
//
// Setting f, or clearing it with nil, republishes every TXT record the fake holds
// through it at once, so the DNS matches the new rule before this returns; the error
// is the first publication that failed. It fails unless the stack runs ACME.
func (s *Stack) InterceptCloudflareTXT(f func(fqdn string, values []string) []string) error {
	s.mu.Lock()
	fake, sink := s.cloudflare, s.cloudflareTXT
	s.mu.Unlock()
	if fake == nil || sink == nil {
		return errors.New("localstack: InterceptCloudflareTXT: the stack runs no fake Cloudflare (start it with ACME)")
	}
	return sink.set(f, fake)
}

// txtInterceptor is the fake Cloudflare's TXTSink: challtestsrv, through the
// interception function of InterceptCloudflareTXT when one is set.
type txtInterceptor struct {
	next fakecloudflare.TXTSink

	// mu is held across each publication, so a republication and the fake's own
	// changes reach challtestsrv one at a time.
	mu sync.Mutex
	f  func(fqdn string, values []string) []string
}

// SetTXT implements fakecloudflare.TXTSink.
func (t *txtInterceptor) SetTXT(ctx context.Context, fqdn string, values []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.publish(ctx, fqdn, values)
}

func (t *txtInterceptor) publish(ctx context.Context, fqdn string, values []string) error {
	if t.f != nil {
		values = t.f(fqdn, slices.Clone(values))
	}
	return t.next.SetTXT(ctx, fqdn, values)
}

// set installs f and republishes every TXT name of fake through it. A change the fake
// makes meanwhile waits for mu; it then publishes its (newer or equal) values again.
func (t *txtInterceptor) set(f func(fqdn string, values []string) []string, fake *fakecloudflare.Server) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.f = f
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]bool{}
	var errs []error
	for _, z := range fake.Zones() {
		for _, r := range fake.Records(z.Name) {
			if r.Type != "TXT" || seen[r.Name] {
				continue
			}
			seen[r.Name] = true
			fqdn := strings.TrimSuffix(r.Name, ".") + "."
			if err := t.publish(ctx, fqdn, fake.TXT(fqdn)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// CloudflareZoneNames returns the zones of the fake Cloudflare account, sorted.
func (s *Stack) CloudflareZoneNames() []string {
	cf := s.Cloudflare()
	if cf == nil {
		return nil
	}
	var names []string
	for _, z := range cf.Zones() {
		names = append(names, strings.TrimSuffix(z.Name, "."))
	}
	return names
}

// closer is an in-process server of the stack, closed by Stop.
type closer struct {
	name  string
	close func() error
}

// addCloser registers an in-process server so that Stop will close it. If the stack is
// already being torn down it closes the server at once.
func (s *Stack) addCloser(name string, f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		_ = f()
		return errors.New("stack stopped while starting " + name)
	}
	s.closers = append(s.closers, closer{name, f})
	return nil
}
