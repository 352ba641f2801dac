// Command certflow-dnswebhook is a DNS-01 webhook solver for the local stack, built on
// cert-manager's own webhook library (github.com/cert-manager/cert-manager/pkg/acme/webhook),
// as the DNSPod and AliDNS webhooks are. It serves the ChallengePayload API under the
// group of $GROUP_NAME, solver "challtestsrv", behind kube-apiserver's aggregation layer;
// it presents and removes TXT records through pebble-challtestsrv's management API
// ($CHALLTESTSRV_URL), the DNS server Pebble resolves with.
//
// A solver config {"failWith": "message"} makes Present fail with that message, as a
// webhook whose DNS provider refuses would (CleanUp, with nothing to remove, succeeds). Every request the solver
// handles is appended, as one JSON line, to $REQUEST_LOG when set.
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
		api:     api,
		hc:      &http.Client{Timeout: 10 * time.Second},
		log:     os.Getenv("REQUEST_LOG"),
		records: map[string][]string{},
	})
}

// solver keeps the values it presented per name, so that removing one value (a
// wildcard and its apex share one name) keeps the others: challtestsrv's clear-txt
// removes every value of a name.
type solver struct {
	api string
	hc  *http.Client
	log string

	mu      sync.Mutex
	records map[string][]string
}

type config struct {
	// FailWith makes Present fail with this message.
	FailWith string `json:"failWith"`
}

func (s *solver) Name() string { return SolverName }

func (s *solver) Initialize(*rest.Config, <-chan struct{}) error { return nil }

func (s *solver) Present(ch *v1alpha1.ChallengeRequest) error {
	return s.handle(ch, true, func(values []string) ([]string, bool) {
		if slices.Contains(values, ch.Key) {
			return values, false
		}
		return append(values, ch.Key), true
	})
}

func (s *solver) CleanUp(ch *v1alpha1.ChallengeRequest) error {
	return s.handle(ch, false, func(values []string) ([]string, bool) {
		i := slices.Index(values, ch.Key)
		if i < 0 {
			return values, false
		}
		return slices.Delete(values, i, i+1), true
	})
}

// handle logs the request, honours failWith (present), and applies change to the
// values of the request's resolved FQDN, writing them to challtestsrv when they changed.
func (s *solver) handle(ch *v1alpha1.ChallengeRequest, present bool, change func([]string) ([]string, bool)) error {
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
	values, changed := change(slices.Clone(s.records[host]))
	if !changed {
		return nil
	}
	if err := s.post("/clear-txt", map[string]string{"host": host}); err != nil {
		return err
	}
	for _, v := range values {
		if err := s.post("/set-txt", map[string]string{"host": host, "value": v}); err != nil {
			return err
		}
	}
	if len(values) == 0 {
		delete(s.records, host)
	} else {
		s.records[host] = values
	}
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
