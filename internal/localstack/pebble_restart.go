package localstack

import (
	"context"
	"errors"
)

// pebbleRun is how Pebble was started: enough to start it again the same way.
type pebbleRun struct {
	c component
	o *Options
}

func (s *Stack) rememberPebble(c component, o *Options) {
	s.mu.Lock()
	s.pebble = &pebbleRun{c: c, o: o}
	s.mu.Unlock()
}

// RestartPebble stops Pebble and starts it again on the same ports with the same
// configuration: a Pebble that knows no account, order or authorization (it keeps them
// in memory only) and issues from a new root, as after stopping `make run` and starting
// it again with its state (etcd's ACME issuers and their account key Secrets) kept.
// pebble-challtestsrv and the fake Cloudflare API keep running.
func (s *Stack) RestartPebble(ctx context.Context) error {
	s.mu.Lock()
	run := s.pebble
	var old *proc
	for _, p := range s.procs {
		if p.Name == run.name() {
			old = p
		}
	}
	stopped := s.stopped
	s.mu.Unlock()
	if run == nil || old == nil || stopped {
		return errors.New("localstack: Pebble is not running")
	}
	s.untrack(old)
	c := run.c
	// The ports stay: ACME issuers name the directory URL. A retry on other ports
	// would strand them, so there is none.
	c.reset = nil
	return s.runComponent(ctx, run.o, c)
}

func (r *pebbleRun) name() string {
	if r == nil {
		return ""
	}
	return r.c.name
}
