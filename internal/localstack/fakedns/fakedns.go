// Package fakedns is the shared skeleton of the local stack's fakes of DNS provider
// APIs: a Store of zones and records that mirrors every TXT change to a TXTSink
// (pebble-challtestsrv, so Pebble validates DNS-01 challenges solved through a fake),
// and a Server that serves one provider's wire format on a loopback address. Each
// provider's fake is one file here with its handler (DigitalOcean: digitalocean.go).
package fakedns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
)

// TXTSink receives the full set of TXT values at a name after each change; it is the
// fake Cloudflare's interface, so fakecloudflare.ChallTestSrvSink serves both.
type TXTSink = fakecloudflare.TXTSink

// Record is a DNS record held by a Store. Name is the full name, lower case, without
// a trailing dot.
type Record struct {
	ID   int
	Zone string
	Type string
	Name string
	Data string
	TTL  int
}

// Store holds the zones and records of one fake account. It is safe for concurrent
// use; changes are serialized so that the sink sees them in order.
type Store struct {
	mu      sync.Mutex
	zones   map[string]bool
	records []Record
	nextID  int
	sink    TXTSink
}

// NewStore returns a Store holding zones (a trailing dot is ignored) that tells sink
// (may be nil) about every TXT change.
func NewStore(zones []string, sink TXTSink) *Store {
	s := &Store{zones: map[string]bool{}, nextID: 1000, sink: sink}
	for _, z := range zones {
		s.zones[Norm(z)] = true
	}
	return s
}

// Norm lower-cases name and drops a trailing dot.
func Norm(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}

// HasZone reports whether the account holds zone.
func (s *Store) HasZone(zone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zones[Norm(zone)]
}

// Zones returns the zones, sorted.
func (s *Store) Zones() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for z := range s.zones {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// Records returns the records of zone, in creation order.
func (s *Store) Records(zone string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Record
	for _, r := range s.records {
		if r.Zone == Norm(zone) {
			out = append(out, r)
		}
	}
	return out
}

// TXT returns the TXT values at name.
func (s *Store) TXT(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.txtLocked(Norm(name))
}

func (s *Store) txtLocked(name string) []string {
	var out []string
	for _, r := range s.records {
		if r.Type == "TXT" && r.Name == name {
			out = append(out, r.Data)
		}
	}
	return out
}

// ErrNoZone: the account holds no such zone.
var ErrNoZone = errors.New("no such zone")

// ErrNotFound: no record with that id in the zone.
var ErrNotFound = errors.New("no such record")

// Add stores r (its Zone and Name normalized) under a new id and returns it. A TXT
// change the sink refuses is rolled back and returned as an error.
func (s *Store) Add(ctx context.Context, r Record) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Zone, r.Name = Norm(r.Zone), Norm(r.Name)
	if !s.zones[r.Zone] {
		return Record{}, ErrNoZone
	}
	if r.Name != r.Zone && !strings.HasSuffix(r.Name, "."+r.Zone) {
		return Record{}, fmt.Errorf("name %s is not in zone %s", r.Name, r.Zone)
	}
	r.ID = s.nextID
	s.nextID++
	s.records = append(s.records, r)
	if err := s.publish(ctx, r); err != nil {
		s.records = s.records[:len(s.records)-1]
		return Record{}, err
	}
	return r, nil
}

// Delete removes the record id of zone.
func (s *Store) Delete(ctx context.Context, zone string, id int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	zone = Norm(zone)
	if !s.zones[zone] {
		return ErrNoZone
	}
	i := slices.IndexFunc(s.records, func(r Record) bool { return r.Zone == zone && r.ID == id })
	if i < 0 {
		return ErrNotFound
	}
	r := s.records[i]
	s.records = slices.Delete(s.records, i, i+1)
	if err := s.publish(ctx, r); err != nil {
		s.records = slices.Insert(s.records, i, r)
		return err
	}
	return nil
}

func (s *Store) publish(ctx context.Context, r Record) error {
	if r.Type != "TXT" || s.sink == nil {
		return nil
	}
	if err := s.sink.SetTXT(ctx, r.Name+".", s.txtLocked(r.Name)); err != nil {
		return fmt.Errorf("publish TXT %s: %w", r.Name, err)
	}
	return nil
}

// Server serves a handler on a loopback address until Close.
type Server struct {
	mu  sync.Mutex
	srv *http.Server
}

// Start serves h on addr (e.g. "127.0.0.1:0") and returns "http://<host:port>".
func (s *Server) Start(addr string, h http.Handler) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("fakedns: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("fakedns: listen %s: %w", addr, err)
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(s.srv)
	return "http://" + ln.Addr().String(), nil
}

// Close stops the server; it is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	s.srv = nil
	return err
}

// KeepUntilEmpty wraps sink so that a name's published values only grow until the
// name has none left: a removal while other values remain publishes nothing (the
// removed value stays served, as a cached answer would), and the last removal clears
// the name. challtestsrv can only clear a name and add values again, which leaves a
// moment without records; when a wildcard and its apex share a name, the first
// challenge's clean-up would otherwise make the CA find no record for the second.
func KeepUntilEmpty(sink TXTSink) TXTSink {
	return &keepUntilEmpty{next: sink, served: map[string][]string{}}
}

type keepUntilEmpty struct {
	next   TXTSink
	mu     sync.Mutex
	served map[string][]string
}

func (k *keepUntilEmpty) SetTXT(ctx context.Context, fqdn string, values []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(values) == 0 {
		delete(k.served, fqdn)
		return k.next.SetTXT(ctx, fqdn, nil)
	}
	union := slices.Clone(k.served[fqdn])
	grew := false
	for _, v := range values {
		if !slices.Contains(union, v) {
			union = append(union, v)
			grew = true
		}
	}
	if !grew {
		return nil
	}
	if err := k.next.SetTXT(ctx, fqdn, union); err != nil {
		return err
	}
	k.served[fqdn] = union
	return nil
}
