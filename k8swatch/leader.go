package k8swatch

import (
	"context"
	"log/slog"
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
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Name:            o.Name,
			WatchDog:        o.WatchDog,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: fn,
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
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}
