// Command certflow-dnswebhook is a DNS-01 webhook solver for the local stack, built on
// cert-manager's own webhook library (github.com/cert-manager/cert-manager/pkg/acme/webhook),
// as the DNSPod and AliDNS webhooks are. It serves the ChallengePayload API under the
// group of $GROUP_NAME, solver "challtestsrv", behind kube-apiserver's aggregation layer;
// it presents and removes TXT records through pebble-challtestsrv's management API
// ($CHALLTESTSRV_URL), the DNS server Pebble resolves with.
//
// A solver config {"failWith": "message"} makes Present fail with that message, as a
// webhook whose DNS provider refuses would (CleanUp, with nothing to remove, succeeds).
// Every request the solver handles is appended, as one JSON line, to $REQUEST_LOG
// when set.
//
// It is a test fixture of certflow (a nested module, so that its dependencies stay out
// of certflow's go.mod), built into bin/ by hack/build-tools.sh and started by the
// local stack (internal/localstack).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cert-manager/cert-manager/pkg/acme/webhook/apis/acme/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/acme/webhook/cmd"
	"k8s.io/client-go/rest"
)

// SolverName is the solverName an Issuer's webhook solver names.
const SolverName = "challtestsrv"

func main() {
	group := os.Getenv("GROUP_NAME")
	if group == "" {
		fmt.Fprintln(os.Stderr, "certflow-dnswebhook: GROUP_NAME must be set")
		os.Exit(2)
	}
	api := strings.TrimSuffix(os.Getenv("CHALLTESTSRV_URL"), "/")
	if api == "" {
		fmt.Fprintln(os.Stderr, "certflow-dnswebhook: CHALLTESTSRV_URL must be set")
		os.Exit(2)
	}
	cmd.RunWebhookServer(group, &solver{
		api:    api,
		hc:     &http.Client{Timeout: 10 * time.Second},
		log:    os.Getenv("REQUEST_LOG"),
		wanted: map[string][]string{},
		served: map[string][]string{},
	})
}

// solver keeps the values it presented per name. challtestsrv's /set-txt appends a
// value and its /clear-txt removes every value of a name; it cannot remove one. A real
// DNS provider changes a name's records without a moment in which it has none, and an
// ACME server validating the other challenge of a name in such a moment fails it (a
// wildcard and its apex share one name). So Present only appends, and a value cleaned
// up while others stay wanted is left served until the name's last value goes: then the
// name is cleared. Only a value's absence next to others is unlike a real provider (a
// validator looks for its own value, never for another's absence).
type solver struct {
	api string
	hc  *http.Client
	log string

	mu     sync.Mutex
	wanted map[string][]string // values presented and not cleaned up, per name
	served map[string][]string // what challtestsrv serves per name (wanted and left-over)
}

type config struct {
	// FailWith makes Present fail with this message.
	FailWith string `json:"failWith"`
}

func (s *solver) Name() string { return SolverName }

func (s *solver) Initialize(*rest.Config, <-chan struct{}) error { return nil }

func (s *solver) Present(ch *v1alpha1.ChallengeRequest) error {
	return s.handle(ch, true)
}

func (s *solver) CleanUp(ch *v1alpha1.ChallengeRequest) error {
	return s.handle(ch, false)
}

// handle logs the request, honours failWith (present), and presents or removes the
// request's value at its resolved FQDN.
func (s *solver) handle(ch *v1alpha1.ChallengeRequest, present bool) error {
	if err := s.record(ch); err != nil {
		return err
	}
	var cfg config
	if ch.Config != nil && len(ch.Config.Raw) > 0 {
		if err := json.Unmarshal(ch.Config.Raw, &cfg); err != nil {
			return fmt.Errorf("challtestsrv solver: config: %w", err)
		}
	}
	if cfg.FailWith != "" && present {
		return errors.New(cfg.FailWith)
	}
	if ch.ResolvedFQDN == "" || ch.Key == "" {
		return fmt.Errorf("challtestsrv solver: the request has no resolvedFQDN or key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	host := strings.ToLower(ch.ResolvedFQDN)
	if present {
		if !slices.Contains(s.served[host], ch.Key) {
			if err := s.post("/set-txt", map[string]string{"host": host, "value": ch.Key}); err != nil {
				return err
			}
			s.served[host] = append(s.served[host], ch.Key)
		}
		if !slices.Contains(s.wanted[host], ch.Key) {
			s.wanted[host] = append(s.wanted[host], ch.Key)
		}
		return nil
	}
	if i := slices.Index(s.wanted[host], ch.Key); i >= 0 {
		s.wanted[host] = slices.Delete(s.wanted[host], i, i+1)
	}
	if len(s.wanted[host]) > 0 || len(s.served[host]) == 0 {
		return nil
	}
	if err := s.post("/clear-txt", map[string]string{"host": host}); err != nil {
		return err
	}
	delete(s.wanted, host)
	delete(s.served, host)
	return nil
}

func (s *solver) post(path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := s.hc.Post(s.api+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// record appends the request to the request log.
func (s *solver) record(ch *v1alpha1.ChallengeRequest) error {
	if s.log == "" {
		return nil
	}
	b, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("request log: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
