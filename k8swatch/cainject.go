package k8swatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/certflow/certflow/k8swatch/cainjector"
)

// startCAInjector runs the CA injector (k8swatch/cainjector) for one leadership term,
// until ctx is done; the returned function waits for it to stop. Nothing runs when
// clients is nil (--enable-cainjector=false).
func startCAInjector(ctx context.Context, clients *cainjector.Clients, log *slog.Logger) (wait func()) {
	if clients == nil {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in, err := cainjector.New(cainjector.Options{Clients: clients, Resync: 10 * time.Minute, Log: log})
		if err == nil {
			err = in.Run(ctx)
		}
		if err != nil && ctx.Err() == nil {
			log.Error("cainjector stopped", "err", err)
		}
	}()
	return wg.Wait
}
