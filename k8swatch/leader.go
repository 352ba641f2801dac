package k8swatch

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaderOptions configure the Lease that lets several watcher replicas run safely.
type LeaderOptions struct {
	Kube      kubernetes.Interface
	Namespace string
	Name      string
	Identity  string
	Log       *slog.Logger
	// WatchDog, when set, follows each election (the process's liveness probe).
	WatchDog *leaderelection.HealthzAdaptor
}

// RunAsLeader runs fn while this process holds the Lease. Losing the Lease (for example
// during an API-server blip) cancels fn and campaigns again; it never exits the process
// (upstream pain point #10). It returns when ctx is done.
func RunAsLeader(ctx context.Context, o LeaderOptions, fn func(context.Context)) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name},
		Client:     o.Kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: o.Identity},
	}
	for ctx.Err() == nil {
		// client-go starts fn in a goroutine once it acquired the Lease and does not wait
		// for it when the term ends: the next campaign waits for it, so that a term's
		// cleanup (its caches, readiness and metrics) never runs after the next began.
		// The Lease was acquired when this elector wrote it.
		termDone := make(chan struct{})
		rec := &writeRecorder{Interface: lock}
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            rec,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Name:            o.Name,
			WatchDog:        o.WatchDog,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					defer close(termDone)
					fn(ctx)
				},
				OnStoppedLeading: func() { o.Log.Info("k8swatch lost the lease; campaigning again", "lease", o.Namespace+"/"+o.Name) },
				OnNewLeader: func(id string) {
					if id != o.Identity {
						o.Log.Info("k8swatch standing by", "leader", id)
					}
				},
			},
		})
		if err != nil {
			return err
		}
		if o.WatchDog != nil {
			o.WatchDog.SetLeaderElection(le)
		}
		le.Run(ctx)
		if rec.wrote.Load() {
			<-termDone
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// writeRecorder notes that the elector wrote the Lease (created or updated it): it held
// the Lease then, and client-go started the term's function.
type writeRecorder struct {
	resourcelock.Interface
	wrote atomic.Bool
}

func (r *writeRecorder) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := r.Interface.Create(ctx, ler)
	if err == nil {
		r.wrote.Store(true)
	}
	return err
}

func (r *writeRecorder) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	err := r.Interface.Update(ctx, ler)
	if err == nil {
		r.wrote.Store(true)
	}
	return err
}
