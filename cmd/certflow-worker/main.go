// Command certflow-worker runs certflow's workflows and activities.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"

	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/worker"
	"github.com/certflow/certflow/workflows"
)

func main() {
	var (
		kubeconfig   = flag.String("kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then in-cluster)")
		address      = flag.String("temporal-address", "", "Temporal frontend host:port (default $TEMPORAL_ADDRESS, then "+clients.DefaultTemporalAddress+")")
		namespace    = flag.String("temporal-namespace", "", "Temporal namespace (default $TEMPORAL_NAMESPACE, then default)")
		taskQueue    = flag.String("task-queue", workflows.TaskQueue, "Temporal task queue")
		clusterResNS = flag.String("cluster-resource-namespace", worker.DefaultClusterResourceNamespace, "namespace of the Secrets that ClusterIssuers refer to")
		noApprover   = flag.Bool("disable-approver", false, "do not approve CertificateRequests automatically: wait for starter approve/deny or the Approved/Denied condition")
		cacheSize    = flag.Int("workflow-cache-size", worker.DefaultWorkflowCacheSize, "workflows kept in memory between tasks; idle Certificates sleep for weeks, so a small cache keeps memory flat")
	)
	flag.Parse()
	tworker.SetStickyWorkflowCacheSize(*cacheSize)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *kubeconfig, *address, *namespace, *taskQueue, *clusterResNS, *noApprover); err != nil {
		log.Error("certflow-worker failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, kubeconfig, address, namespace, taskQueue, clusterResNS string, noApprover bool) error {
	cfg, err := clients.RESTConfig(kubeconfig, clients.DefaultQPS, clients.DefaultBurst)
	if err != nil {
		return err
	}
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return err
	}
	tc, err := client.DialContext(ctx, clients.TemporalOptions(address, namespace, log))
	if err != nil {
		return err
	}
	defer tc.Close()
	w := worker.New(worker.Config{Temporal: tc, Kube: kc, CertFlow: cf, TaskQueue: taskQueue, ClusterResourceNamespace: clusterResNS, DisableApprover: noApprover})
	if err := w.Start(); err != nil {
		return err
	}
	log.Info("certflow-worker polling", "taskQueue", taskQueue)
	<-ctx.Done()
	w.Stop()
	return nil
}
