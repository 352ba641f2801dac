// Package worker hosts certflow's workflows and activities on one Temporal task queue.
// Run more replicas of it to scale out; Temporal spreads the work.
package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"k8s.io/client-go/kubernetes"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/certflow/certflow/activities/acme"
	"github.com/certflow/certflow/activities/dns01"
	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/activities/scheduler"
	"github.com/certflow/certflow/activities/vault"
	"github.com/certflow/certflow/activities/venafi"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/version"
	"github.com/certflow/certflow/policy"
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
	// Gateway is the Gateway API client, for the HTTPRoutes of gatewayHTTPRoute HTTP-01
	// solvers; nil when the cluster has no Gateway API.
	Gateway gatewayclient.Interface
	// ACME configures ACME issuance (DNS-01 and HTTP-01 solvers, self checks).
	ACME ACMEConfig
	// HTTP01Registry holds the HTTP-01 challenges this worker serves itself when
	// ACME.HTTP01SolverListen is set: the HTTP-01 activities register tokens in it
	// instead of creating solver Pods. New creates it when it is nil and
	// HTTP01SolverListen is set, and the worker it returns serves it on that address
	// between Start (or Run) and Stop. Register passes it on as it is (nil: solver Pods).
	HTTP01Registry *http01.Registry
	Options        worker.Options
	// TestOnlyVenafiFakeConnectorURL, for tests only, gives Venafi issuers whose URL is
	// exactly this value vcert's fake connector (venafi.Activities); never set in a
	// cluster, and no flag sets it.
	TestOnlyVenafiFakeConnectorURL string
}

// ACMEConfig is the worker's share of ACME issuance. The zero value suits a cluster:
// authoritative nameservers for DNS-01 checks, api.cloudflare.com, solver Pods running
// DefaultHTTP01SolverImage, and self checks through the cluster's resolver on port 80.
type ACMEConfig struct {
	// DNS01RecursiveNameservers (host:port) are asked by the DNS-01 propagation check
	// instead of the zone's authoritative nameservers (upstream's
	// --dns01-recursive-nameservers).
	DNS01RecursiveNameservers []string
	// CloudflareAPIURL is the base URL of the Cloudflare v4 API, including /client/v4;
	// "" means api.cloudflare.com.
	CloudflareAPIURL string
	// DigitalOceanAPIURL is the base URL of DigitalOcean's API, without /v2; "" means
	// api.digitalocean.com.
	DigitalOceanAPIURL string
	// Route53APIURL and STSAPIURL are the base URLs of Amazon Route 53 and STS; ""
	// means AWS's endpoints.
	Route53APIURL, STSAPIURL string
	// IssuerAmbientCredentials and ClusterIssuerAmbientCredentials let a route53
	// solver without static keys use the worker's own AWS credentials, for Issuers and
	// for ClusterIssuers.
	IssuerAmbientCredentials, ClusterIssuerAmbientCredentials bool
	// CloudDNSAPIURL is the base URL of Google Cloud DNS's API, without /dns/v1; ""
	// means dns.googleapis.com.
	CloudDNSAPIURL string
	// AzureDNS overrides Azure's endpoints (Entra ID, Resource Manager) and the CAs
	// trusted for them; empty means each solver's environment's.
	AzureDNS dns01.AzureEndpoints
	// DNS01ProviderCAFile is a PEM file of CA certificates the DNS provider API clients
	// trust besides the system's roots (Akamai's and acme-dns's; the local stack's
	// fake Akamai); "" means the system's roots only.
	DNS01ProviderCAFile string
	// HTTP01SolverListen, when set (the local stack), makes the worker serve HTTP-01
	// tokens itself on this address (host:port) from HTTP01Registry instead of creating
	// solver Pods.
	HTTP01SolverListen string
	// HTTP01SelfCheck sets the resolver and port the HTTP-01 self check uses.
	HTTP01SelfCheck http01.SelfCheckOptions
	// HTTP01SolverImage is the image of solver Pods, which run
	// "certflow-worker http01-solver" (default DefaultHTTP01SolverImage).
	HTTP01SolverImage string
	// SelfCheckTimeout is how long a challenge's self check may fail before the ACME
	// server is asked to validate anyway (default DefaultACMESelfCheckTimeout).
	SelfCheckTimeout time.Duration
	// AccountRecheckInterval is how often a Ready ACME issuer verifies that the server
	// still knows its account (default DefaultACMEAccountRecheckInterval).
	AccountRecheckInterval time.Duration
	// RenewalInfoMaxRecheck caps how long a certificate waits before it reads its ACME
	// renewal information again, whatever the server's Retry-After says (default
	// DefaultACMERenewalInfoMaxRecheck).
	RenewalInfoMaxRecheck time.Duration
}

// DefaultHTTP01SolverImage is the image of HTTP-01 solver Pods: this version's own
// (version.Image), whose entrypoint is certflow-worker.
var DefaultHTTP01SolverImage = version.Image()

// Defaults of ACMEConfig.
const (
	// DefaultHTTP01SolverImage is set below: the worker's own image.
	// DefaultACMESelfCheckTimeout is ACMEConfig.SelfCheckTimeout's default.
	DefaultACMESelfCheckTimeout = 2 * time.Minute
	// DefaultACMEAccountRecheckInterval is ACMEConfig.AccountRecheckInterval's default.
	DefaultACMEAccountRecheckInterval = acme.DefaultAccountRecheckInterval
	// DefaultACMERenewalInfoMaxRecheck is ACMEConfig.RenewalInfoMaxRecheck's default:
	// the server's Retry-After is honoured up to a day.
	DefaultACMERenewalInfoMaxRecheck = policy.ARIMaxRecheck
)

// WithDefaults returns c with the defaults filled in for zero fields.
func (c ACMEConfig) WithDefaults() ACMEConfig {
	if c.HTTP01SolverImage == "" {
		c.HTTP01SolverImage = DefaultHTTP01SolverImage
	}
	if c.SelfCheckTimeout <= 0 {
		c.SelfCheckTimeout = DefaultACMESelfCheckTimeout
	}
	if c.AccountRecheckInterval <= 0 {
		c.AccountRecheckInterval = DefaultACMEAccountRecheckInterval
	}
	if c.RenewalInfoMaxRecheck <= 0 {
		c.RenewalInfoMaxRecheck = DefaultACMERenewalInfoMaxRecheck
	}
	return c
}

// DefaultClusterResourceNamespace is upstream's default.
const DefaultClusterResourceNamespace = "cert-manager"

// DefaultWorkflowCacheSize is how many workflows a worker keeps in memory between
// workflow tasks (the SDK's default is 10,000). A Certificate's workflow sleeps for weeks
// between tasks and replays its short history in microseconds, so a small cache keeps
// memory flat as Certificates grow without costing throughput. Process-wide: set it with
// go.temporal.io/sdk/worker.SetStickyWorkflowCacheSize before creating workers.
const DefaultWorkflowCacheSize = 256

// Concurrency of one worker. A CA or SelfSigned issuance is one workflow task running a
// dozen local activities; with the SDK's defaults (1000 each) a burst of Certificates
// starts every task at once, every task slows down behind the others (past 80% of the
// task timeout the SDK splits it: more history, more work for everyone) and the heap
// grows with tasks in flight. A bounded number keeps each task short and the peak heap
// small; the rest wait in the task queue.
const (
	DefaultMaxConcurrentWorkflowTasks   = 64
	DefaultMaxConcurrentLocalActivities = 128
)

// New returns a worker with every workflow and activity registered; call Run or Start.
// With c.ACME.HTTP01SolverListen set, the worker also serves HTTP-01 challenges from
// c.HTTP01Registry (created when nil) on that address: Start and Run fail when it cannot
// listen there, Stop (and the end of Run) shuts it down.
func New(c Config) worker.Worker {
	if c.TaskQueue == "" {
		c.TaskQueue = workflows.TaskQueue
	}
	if c.ACME.HTTP01SolverListen != "" && c.HTTP01Registry == nil {
		c.HTTP01Registry = http01.NewRegistry()
	}
	o := c.Options
	if o.MaxConcurrentWorkflowTaskPollers == 0 {
		// Issuance runs in local activities inside workflow tasks: more workflow task
		// pollers keep a burst of new Certificates from queueing behind two pollers.
		o.MaxConcurrentWorkflowTaskPollers = 8
	}
	if o.MaxConcurrentWorkflowTaskExecutionSize == 0 {
		o.MaxConcurrentWorkflowTaskExecutionSize = DefaultMaxConcurrentWorkflowTasks
	}
	if o.MaxConcurrentLocalActivityExecutionSize == 0 {
		o.MaxConcurrentLocalActivityExecutionSize = DefaultMaxConcurrentLocalActivities
	}
	if o.MaxConcurrentActivityTaskPollers == 0 {
		o.MaxConcurrentActivityTaskPollers = 4
	}
	if o.Identity == "" {
		// The SDK's "<pid>@<host>@" with certflow's build in place of the task queue.
		o.Identity = version.WorkerIdentity()
	}
	w := worker.New(c.Temporal, c.TaskQueue, o)
	Register(w, c)
	s := worker.New(c.Temporal, scheduler.TaskQueue(c.TaskQueue), worker.Options{
		Identity: o.Identity, MaxConcurrentWorkflowTaskPollers: 2, MaxConcurrentWorkflowTaskExecutionSize: schedulerWorkflowTasks,
	})
	s.RegisterWorkflowWithOptions(workflows.AccountSchedulerWorkflow, workflow.RegisterOptions{Name: scheduler.WorkflowType})
	// The schedulers poll their own task queue with their own workflow task slots:
	// orders wait in their tasks for their scheduler's answer, so its tasks must not
	// queue behind theirs.
	both := &alongside{Worker: w, companion: s}
	if c.ACME.HTTP01SolverListen != "" {
		// The in-process HTTP-01 solver serves for as long as the worker polls.
		return &alongside{Worker: both, companion: &HTTP01Solver{Addr: c.ACME.HTTP01SolverListen, Registry: c.HTTP01Registry}}
	}
	return both
}

// schedulerWorkflowTasks bounds the ACME account schedulers' workflow tasks in flight
// (one per account at a time).
const schedulerWorkflowTasks = 8

// alongside is a worker with a companion (the schedulers' worker, the HTTP-01
// solver) that runs exactly as long as it polls: started first, stopped last.
type alongside struct {
	worker.Worker
	companion interface {
		Start() error
		Stop()
	}
}

func (w *alongside) Start() error {
	if err := w.companion.Start(); err != nil {
		return err
	}
	if err := w.Worker.Start(); err != nil {
		w.companion.Stop()
		return err
	}
	return nil
}

func (w *alongside) Run(interruptCh <-chan any) error {
	if err := w.companion.Start(); err != nil {
		return err
	}
	defer w.companion.Stop()
	return w.Worker.Run(interruptCh)
}

func (w *alongside) Stop() {
	w.Worker.Stop()
	w.companion.Stop()
}

// Register adds certflow's workflows and activities to any registry (a worker or a
// test environment), each under the name its histories record.
func Register(r worker.Registry, c Config) {
	if c.ClusterResourceNamespace == "" {
		c.ClusterResourceNamespace = DefaultClusterResourceNamespace
	}
	c.ACME = c.ACME.WithDefaults() // for the ACME activities
	r.RegisterWorkflowWithOptions(workflows.CertificateWorkflow, workflow.RegisterOptions{Name: "CertificateWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.IssuerWorkflow, workflow.RegisterOptions{Name: "IssuerWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.CertificateRequestWorkflow, workflow.RegisterOptions{Name: "CertificateRequestWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.OrderWorkflow, workflow.RegisterOptions{Name: "OrderWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.ChallengeWorkflow, workflow.RegisterOptions{Name: "ChallengeWorkflow"})
	r.RegisterWorkflowWithOptions(workflows.CampaignWorkflow, workflow.RegisterOptions{Name: workflows.CampaignWorkflowType})
	// Schedulers run on their own task queue (New); one started on this queue before
	// they had it runs here until it continues as new.
	r.RegisterWorkflowWithOptions(workflows.AccountSchedulerWorkflow, workflow.RegisterOptions{Name: scheduler.WorkflowType})
	kubeActivities := &kube.Activities{Kube: c.Kube, CertFlow: c.CertFlow, ClusterResourceNamespace: c.ClusterResourceNamespace, DisableApprover: c.DisableApprover}
	workflows.RegisterActivities(r, workflows.Activities{
		Kube: kubeActivities,
		Keys: &keys.Activities{Kube: c.Kube, ConfirmOwner: kubeActivities.ConfirmOwner},
		PKI:  &pki.Activities{Kube: c.Kube},
		ACME: &acme.Activities{Kube: c.Kube, CertFlow: c.CertFlow, ClusterResourceNamespace: c.ClusterResourceNamespace,
			UserAgent: "certflow", SelfCheckTimeout: c.ACME.SelfCheckTimeout, AccountRecheckInterval: c.ACME.AccountRecheckInterval,
			RenewalInfoMaxRecheck: c.ACME.RenewalInfoMaxRecheck},
		DNS01: &dns01.Activities{Kube: c.Kube, ClusterResourceNamespace: c.ClusterResourceNamespace,
			CloudflareAPIURL: c.ACME.CloudflareAPIURL, DigitalOceanAPIURL: c.ACME.DigitalOceanAPIURL,
			Route53APIURL: c.ACME.Route53APIURL, STSAPIURL: c.ACME.STSAPIURL, ProviderCAFile: c.ACME.DNS01ProviderCAFile,
			IssuerAmbientCredentials: c.ACME.IssuerAmbientCredentials, ClusterIssuerAmbientCredentials: c.ACME.ClusterIssuerAmbientCredentials,
			CloudDNSAPIURL: c.ACME.CloudDNSAPIURL, AzureEndpoints: c.ACME.AzureDNS, RecursiveNameservers: c.ACME.DNS01RecursiveNameservers,
			LoadChallenge: kubeActivities.LoadChallenge, ReportChallengeReason: kubeActivities.SetChallengeReason},
		HTTP01: &http01.Activities{Kube: c.Kube, Gateway: c.Gateway, Image: c.ACME.HTTP01SolverImage, ConfirmChallenge: kubeActivities.ConfirmChallenge,
			Local: c.HTTP01Registry, SelfCheck: c.ACME.HTTP01SelfCheck},
		Venafi: &venafi.Activities{Kube: c.Kube, CertFlow: c.CertFlow, ClusterResourceNamespace: c.ClusterResourceNamespace,
			UserAgent: "certflow", TestOnlyFakeConnectorURL: c.TestOnlyVenafiFakeConnectorURL},
		Vault:     &vault.Activities{Kube: c.Kube, ClusterResourceNamespace: c.ClusterResourceNamespace},
		Scheduler: &scheduler.Activities{Client: c.Temporal},
	})
}

// HTTP01Solver serves the HTTP-01 challenges of a Registry on one address, in the
// worker's process: the local stack's stand-in for solver Pods (ACMEConfig.HTTP01SolverListen).
// New wires one up by itself; use it directly only next to Register.
type HTTP01Solver struct {
	Addr     string // host:port to listen on
	Registry *http01.Registry

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{}
	ln   net.Listener
}

// Start listens on Addr and serves http01.Handler(Registry) in the background.
func (s *HTTP01Solver) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("http01 solver: already started")
	}
	if s.Registry == nil {
		return errors.New("http01 solver: no registry")
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("http01 solver: listen on %s: %w", s.Addr, err)
	}
	srv := &http.Server{
		Handler:           http01.Handler(s.Registry),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	s.srv, s.done, s.ln = srv, done, ln
	return nil
}

// ListenAddr is the address the solver listens on once started ("" before), with the
// port filled in when Addr asked for port 0.
func (s *HTTP01Solver) ListenAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop shuts the server down (requests in flight get 5 seconds). Safe to call more than
// once, and before Start.
func (s *HTTP01Solver) Stop() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.srv, s.done, s.ln = nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	<-done
}
