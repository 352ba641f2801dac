// Package worker hosts certflow's workflows and activities on one Temporal task queue.
// Run more replicas of it to scale out; Temporal spreads the work.
package worker

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/workflows"
)

// Config is what the activities need to reach Kubernetes.
type Config struct {
	Temporal  client.Client
	Kube      kubernetes.Interface
	CertFlow  versioned.Interface
	TaskQueue string
	// ClusterResourceNamespace holds the Secrets ClusterIssuers refer to (upstream's
	// --cluster-resource-namespace, default cert-manager).
	ClusterResourceNamespace string
	// DisableApprover turns off the internal approver of CertificateRequests.
	DisableApprover bool
	Options         worker.Options
}

// DefaultClusterResourceNamespace is upstream's default.
const DefaultClusterResourceNamespace = "cert-manager"

// DefaultWorkflowCacheSize is how many workflows a worker keeps in memory between
// workflow tasks (the SDK's default is 10,000). A Certificate's workflow sleeps for weeks
// between tasks and replays its short history in microseconds, so a small cache keeps
// memory flat as Certificates grow without costing throughput. Process-wide: set it with
// go.temporal.io/sdk/worker.SetStickyWorkflowCacheSize before creating workers.
const DefaultWorkflowCacheSize = 256

// New returns a worker with every workflow and activity registered; call Run or Start.
func New(c Config) worker.Worker {
	if c.TaskQueue == "" {
		c.TaskQueue = workflows.TaskQueue
	}
	o := c.Options
	if o.MaxConcurrentWorkflowTaskPollers == 0 {
		// Issuance runs in local activities inside workflow tasks: more workflow task
		// pollers keep a burst of new Certificates from queueing behind two pollers.
		o.MaxConcurrentWorkflowTaskPollers = 8
	}
	if o.MaxConcurrentActivityTaskPollers == 0 {
		o.MaxConcurrentActivityTaskPollers = 4
	}
	w := worker.New(c.Temporal, c.TaskQueue, o)
	Register(w, c)
	return w
}

// Register adds certflow's workflows and activities to any registry (a worker or a
// test environment).
func Register(r worker.Registry, c Config) {
	if c.ClusterResourceNamespace == "" {
		c.ClusterResourceNamespace = DefaultClusterResourceNamespace
	}
	r.RegisterWorkflowWithOptions(workflows.CertificateWorkflow, workflow.RegisterOptions{Name: "CertificateWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.IssuerWorkflow, workflow.RegisterOptions{Name: "IssuerWorkflow"})
	r.RegisterActivity(&kube.Activities{Kube: c.Kube, CertFlow: c.CertFlow, ClusterResourceNamespace: c.ClusterResourceNamespace, DisableApprover: c.DisableApprover})
	r.RegisterActivity(&keys.Activities{Kube: c.Kube})
	r.RegisterActivity(&pki.Activities{Kube: c.Kube})
}
