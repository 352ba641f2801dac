package localstack

import (
	"context"
	"fmt"
	"slices"
)

// componentRun is how a server was started: enough to start it again the same way.
type componentRun struct {
	c component
	o *Options
}

func (s *Stack) remember(c component, o *Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runs == nil {
		s.runs = map[string]*componentRun{}
	}
	s.runs[c.name] = &componentRun{c: c, o: o}
}

// Restart stops one server of the stack (SIGTERM, SIGKILL after two seconds) and
// starts it again on the same ports with the same arguments and state directory,
// appending to its log. What it keeps is what the server keeps on disk:
//
//   - "temporal": the dev server's database file, so every workflow, timer and task
//     queue is still there;
//   - "kube-apiserver": everything, since etcd (not restarted) holds the cluster;
//   - "pebble": nothing: Pebble keeps accounts, orders and authorizations in memory
//     and issues from a new root, as after stopping `make run` and starting it again
//     with etcd's ACME issuers and their account key Secrets kept.
//
// Clients reconnect on their own; the other servers keep running.
func (s *Stack) Restart(ctx context.Context, name string) error {
	s.mu.Lock()
	run := s.runs[name]
	var old *proc
	if i := slices.IndexFunc(s.procs, func(p *proc) bool { return p.Name == name }); i >= 0 {
		old = s.procs[i]
	}
	stopped := s.stopped
	s.mu.Unlock()
	if run == nil || old == nil || stopped {
		return fmt.Errorf("localstack: %s is not running", name)
	}
	s.untrack(old)
	c := run.c
	// The ports stay: clients and ACME issuers name them. A retry on other ports would
	// strand them, so there is none.
	c.reset, c.pick = nil, nil
	c.appendLog = true
	return s.runComponent(ctx, run.o, c)
}
