package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/client/informers/externalversions"
)

// tracker watches the Certificates of one namespace through an informer and records,
// for each name, when the bench's create call returned and when Ready=True was first
// observed.
type tracker struct {
	mu      sync.Mutex
	created map[string]time.Time
	ready   map[string]time.Time
	// expected is the set the current wait is for; readyExpected counts its Ready ones.
	expected      map[string]bool
	readyExpected int
	notify        chan struct{}
}

func newTracker() *tracker {
	return &tracker{
		created:  map[string]time.Time{},
		ready:    map[string]time.Time{},
		expected: map[string]bool{},
		notify:   make(chan struct{}, 1),
	}
}

// start runs a Certificate informer on namespace and waits for its cache to sync.
func (t *tracker) start(ctx context.Context, cf versioned.Interface, namespace string) error {
	f := externalversions.NewSharedInformerFactoryWithOptions(cf, 0,
		externalversions.WithNamespace(namespace),
		// The bench only needs conditions: drop managedFields to keep its own memory
		// (and GC CPU, which competes with what is measured) small at 10,000 objects.
		externalversions.WithTransform(func(o any) (any, error) {
			if c, ok := o.(*cmapi.Certificate); ok {
				c.ManagedFields = nil
			}
			return o, nil
		}))
	inf := f.Certmanager().V1().Certificates().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, o any) { t.observe(o) },
	})
	if err != nil {
		return err
	}
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer %v did not sync", typ)
		}
	}
	return nil
}

func (t *tracker) observe(o any) {
	c, ok := o.(*cmapi.Certificate)
	if !ok || !isReady(c) {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, seen := t.ready[c.Name]; seen {
		return
	}
	t.ready[c.Name] = now
	if t.expected[c.Name] {
		t.readyExpected++
		select {
		case t.notify <- struct{}{}:
		default:
		}
	}
}

func isReady(c *cmapi.Certificate) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == cmapi.CertificateConditionReady {
			return cond.Status == cmmeta.ConditionTrue
		}
	}
	return false
}

// expect makes names the set that waitReady waits for.
func (t *tracker) expect(names []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expected = make(map[string]bool, len(names))
	t.readyExpected = 0
	for _, n := range names {
		t.expected[n] = true
		if _, ok := t.ready[n]; ok {
			t.readyExpected++
		}
	}
}

// markCreated records that the create call of name returned at ts.
func (t *tracker) markCreated(name string, ts time.Time) {
	t.mu.Lock()
	t.created[name] = ts
	t.mu.Unlock()
}

// createdAt returns when the create call of name returned.
func (t *tracker) createdAt(name string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.created[name]
	return c, ok
}

// readyCount is how many of the expected set are Ready.
func (t *tracker) readyCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readyExpected
}

// waitReady waits until every expected name is Ready; progress (if not nil) is called
// about every interval with the count so far.
func (t *tracker) waitReady(ctx context.Context, progress func(ready int), interval time.Duration) error {
	t.mu.Lock()
	want := len(t.expected)
	t.mu.Unlock()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		n := t.readyCount()
		if n >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d Certificates Ready: %w", n, want, context.Cause(ctx))
		case <-t.notify:
		case <-tick.C:
			if progress != nil {
				progress(n)
			}
		}
	}
}

// slowest returns up to k of names with the longest create → Ready latency, slowest first.
func (t *tracker) slowest(names []string, k int) []namedLatency {
	t.mu.Lock()
	var all []namedLatency
	for _, n := range names {
		c, ok1 := t.created[n]
		r, ok2 := t.ready[n]
		if ok1 && ok2 {
			all = append(all, namedLatency{Name: n, Seconds: round(max(r.Sub(c), 0).Seconds(), 3)})
		}
	}
	t.mu.Unlock()
	slices.SortFunc(all, func(a, b namedLatency) int { return cmp.Compare(b.Seconds, a.Seconds) })
	return all[:min(k, len(all))]
}

type namedLatency struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"s"`
}

// latencies returns, for names, Ready observed minus create returned, and the time the
// last of them became Ready. Names without both times are skipped.
func (t *tracker) latencies(names []string) (lat []time.Duration, lastReady time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range names {
		c, ok1 := t.created[n]
		r, ok2 := t.ready[n]
		if !ok1 || !ok2 {
			continue
		}
		// The watch may deliver Ready before the create response is read (it never
		// does in practice: issuance takes several round trips); count that as zero.
		lat = append(lat, max(r.Sub(c), 0))
		if r.After(lastReady) {
			lastReady = r
		}
	}
	return lat, lastReady
}
