package k8swatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A term that is still cleaning up when its Lease is lost delays the next campaign: two
// terms never overlap, so an old term's cleanup (readiness, metrics caches) cannot undo
// the new term's setup. (client-go does not wait for the term's function by itself.)
func TestTermsDoNotOverlap(t *testing.T) {
	kube := fake.NewClientset()
	var failRenew atomic.Bool
	kube.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failRenew.Load() {
			return true, nil, errors.New("API server unreachable")
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var starts, ends []time.Time
	second := make(chan struct{})
	go func() {
		_ = RunAsLeader(ctx, LeaderOptions{Kube: kube, Namespace: "kube-system", Name: "lease", Identity: "me",
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(term context.Context) {
			mu.Lock()
			starts = append(starts, time.Now())
			n := len(starts)
			mu.Unlock()
			if n == 1 {
				failRenew.Store(true) // the first term loses its Lease
			} else {
				close(second)
			}
			<-term.Done()
			failRenew.Store(false)
			time.Sleep(2 * time.Second) // cleanup outlasting the pause between campaigns
			mu.Lock()
			ends = append(ends, time.Now())
			mu.Unlock()
		})
	}()
	select {
	case <-second:
	case <-ctx.Done():
		t.Fatal("no second term within 60 s")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ends) == 0 || starts[1].Before(ends[0]) {
		t.Errorf("the second term started at %v, before the first ended (%v)", starts[1], ends)
	}
}
