// Package localstack starts and stops the real local servers of the certflow
// development stack on 127.0.0.1: etcd + kube-apiserver (Kubernetes API without
// nodes), the Temporal dev server with its Web UI, and Pebble + pebble-challtestsrv
// (ACME) with a fake Cloudflare API (in process) that publishes its TXT records through
// challtestsrv. It is the one place that runs them, for `make run` and integration tests.
//
// The binaries come from bin/ (hack/build-tools.sh). Every child runs in its own
// process group with Pdeathsig=SIGKILL, so none outlives the process that started it,
// and logs to <StateDir>/<component>.log.
//
// Integration tests (internal/testkit/integration):
//
//	s := integration.StartStack(t, localstack.Options{Kube: true, Temporal: true, ACME: true})
//	// skipped unless CERTFLOW_INTEGRATION=1; free ports; stopped by t.Cleanup
//	err := localstack.InstallCRDs(ctx, s.RESTConfig, filepath.Join(root, localstack.CRDsDir),
//		filepath.Join(root, localstack.GatewayAPICRDsDir))
//
// make run:
//
//	s, err := localstack.Start(ctx, localstack.Options{BinDir: "bin", StateDir: ".state",
//		Kube: true, Temporal: true, ACME: true, Ports: localstack.DefaultPorts(), Log: os.Stderr})
//	defer s.Stop()
package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

// Options selects what Start runs and where.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kubectl, temporal, pebble, pebble-challtestsrv.
	// Empty means RepoRoot()/bin.
	BinDir string
	// StateDir holds the logs (<component>.log), etcd data, the Temporal database,
	// generated certificates (pki/), the pebble config and the kubeconfig.
	// Certificates and data are reused when Start runs again on the same StateDir.
	StateDir string
	// Which parts to start.
	Kube, Temporal, ACME bool
	// Ports: zero fields are picked free on 127.0.0.1. DefaultPorts gives the
	// well-known ones for `make run`.
	Ports Ports
	// ExistingKubeconfig, when set, is used instead of starting etcd and kube-apiserver.
	ExistingKubeconfig string
	// ExistingTemporal (host:port), when set, is used instead of starting Temporal;
	// missing SearchAttributes are registered there.
	ExistingTemporal string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// PebbleEnv adds to or overrides the environment of pebble. Defaults:
	// PEBBLE_VA_NOSLEEP=1, PEBBLE_AUTHZREUSE=0, PEBBLE_WFE_NONCEREJECT=0.
	PebbleEnv map[string]string
	// CloudflareZones are the zones of the fake Cloudflare API started with ACME; nil
	// means DefaultCloudflareZones. Stack.Cloudflare().AddZone adds more at runtime.
	CloudflareZones []string
	// PebbleDNSServer (host:port) is the DNS server Pebble resolves every identifier
	// with; empty means pebble-challtestsrv's. Point it at another server (e.g. a BIND
	// of internal/localstack/bind for RFC2136 tests) when the records Pebble must see live there.
	PebbleDNSServer string
	// PebbleShortLivedValidity overrides the validity of Pebble's "shortlived" profile
	// (ProfileShortLived); zero means 160 hours, Let's Encrypt's. A shorter one
	// compresses time for short-lived certificates (certflow-bench --mode shortlived).
	PebbleShortLivedValidity time.Duration
	// TemporalPostgres starts Temporal as a server on PostgreSQL (temporalpg.go:
	// bin/temporal-server and bin/temporal-sql-tool, Debian's postgres in
	// StateDir/postgres) instead of the dev server on SQLite, as a production cluster
	// runs it. It has no Web UI.
	TemporalPostgres bool
	// PostgresBinDir holds postgres, initdb and pg_isready; empty means the newest
	// /usr/lib/postgresql/*/bin (hack/install-postgresql.sh).
	PostgresBinDir string
	// TemporalUICodecEndpoint is the codec endpoint (a URL such as http://127.0.0.1:8081,
	// what certflow-worker --codec-server-listen-address serves) the dev server's Web UI
	// decodes payloads with, from the browser (temporal server start-dev
	// --ui-codec-endpoint). Empty: none, the UI shows encrypted payloads as they are.
	TemporalUICodecEndpoint string
	// DNSWebhook also starts bin/certflow-dnswebhook (with Kube and ACME), a DNS-01
	// webhook solver registered as an APIService (dnswebhook.go).
	DNSWebhook bool
	// RateLimitProxy, when set, puts a RateLimitProxy with these limits in front of
	// Pebble (which has none): ACMEDirectoryURL is the proxy's, Stack.RateLimitProxy
	// its counters. Off by default.
	RateLimitProxy *RateLimitProxyOptions
}

// Ports are the loopback ports of the stack. Zero means "pick a free one".
type Ports struct {
	Etcd, EtcdPeer int
	APIServer      int
	// Temporal frontend gRPC, Web UI, HTTP API, metrics.
	Temporal, TemporalUI, TemporalHTTP, TemporalMetrics int
	// With Options.TemporalPostgres: PostgreSQL, and the server's membership ports and
	// its history, matching and worker services' gRPC ports.
	Postgres                                     int
	TemporalFrontendMembership                   int
	TemporalHistory, TemporalHistoryMembership   int
	TemporalMatching, TemporalMatchingMembership int
	TemporalWorker, TemporalWorkerMembership     int
	TemporalPprof                                int // the server's /debug/pprof/
	// Pebble ACME (TLS) and management (TLS) listeners.
	ACME, PebbleManagement int
	// pebble-challtestsrv DNS (UDP+TCP) and management HTTP API.
	ChallTestSrvDNS, ChallTestSrvAPI int
	// Ports Pebble's VA dials for HTTP-01 and TLS-ALPN-01. Nothing in the stack listens
	// there: the certflow solver serves HTTP-01 on HTTP01Port itself.
	HTTP01, TLSALPN01 int
	// The fake Cloudflare API (HTTP, in process), started with ACME.
	Cloudflare int
	// The fake DigitalOcean API (HTTP, in process), started with ACME.
	DigitalOcean int
	// The fake Route 53 and STS APIs (HTTP, in process), started with ACME.
	Route53 int
	// The DNS-01 webhook's secure port (Options.DNSWebhook).
	DNSWebhook int
	// The fake acme-dns server (HTTP, in process), started with ACME.
	AcmeDNS int
	// The fake Akamai Edge DNS API (HTTPS, in process), started with ACME.
	Akamai int
}

// DefaultPorts returns the fixed ports used by `make run`.
func DefaultPorts() Ports {
	return Ports{
		Etcd: 2379, EtcdPeer: 2380,
		APIServer: 6443,
		Temporal:  7233, TemporalUI: 8233, TemporalHTTP: 7243, TemporalMetrics: 7244,
		ACME: 14000, PebbleManagement: 15000,
		ChallTestSrvDNS: 8053, ChallTestSrvAPI: 8055,
		HTTP01: 5002, TLSALPN01: 5001,
		Cloudflare: 8056, DigitalOcean: 8057,
		Route53: 8061, AcmeDNS: 8064, Akamai: 8065,
	}
}

// Stack describes a running local stack. Fields of parts that were not requested are empty.
type Stack struct {
	// Kubeconfig is the path of a kubeconfig with embedded admin credentials (a bearer
	// token of user certflow-admin, group system:masters); RESTConfig is the same as a
	// rest.Config.
	Kubeconfig string
	RESTConfig *rest.Config

	TemporalAddress   string // host:port of the frontend gRPC service
	TemporalUIURL     string // http://127.0.0.1:<ui>; empty with ExistingTemporal
	TemporalNamespace string // "default"
	// TemporalPprofURL is http://127.0.0.1:<port>/debug/pprof/ of the Temporal server on
	// PostgreSQL (Options.TemporalPostgres); the dev server has none.
	TemporalPprofURL string

	ACMEDirectoryURL string // https://127.0.0.1:<acme>/dir
	// RateLimitProxy is in front of Pebble when Options.RateLimitProxy asks for it.
	RateLimitProxy      *RateLimitProxy
	ACMECABundlePEM     []byte // CA that signed the TLS certificate of the ACME and management endpoints
	ACMECABundleFile    string // the same CA as a file (StateDir/pki/acme-ca.crt)
	PebbleManagementURL string // https://127.0.0.1:<mgmt> (/roots/0 is the issuing root)
	ChallTestSrvURL     string // http://127.0.0.1:<api> (/set-txt, /clear-txt, /add-a ...)
	ChallTestSrvDNS     string // 127.0.0.1:<dns>, the resolver Pebble uses unless Options.PebbleDNSServer (answers A 127.0.0.1 for every name)
	HTTP01Port          int    // Pebble validates HTTP-01 on 127.0.0.1:HTTP01Port
	TLSALPN01Port       int    // Pebble validates TLS-ALPN-01 on 127.0.0.1:TLSALPN01Port

	Ports    Ports  // the ports actually used
	StateDir string // where logs, data and certificates live

	// StartTimes is how long each started component took until ready.
	StartTimes map[string]time.Duration

	mu            sync.Mutex
	procs         []*proc
	closers       []closer // in-process servers
	cloudflare    *fakecloudflare.Server
	cloudflareURL string
	cloudflareTXT *txtInterceptor // between the fake Cloudflare and challtestsrv
	digitalOcean  *fakedns.Store  // the fake DigitalOcean account
	doURL         string
	route53       *fakedns.Store // the fake Route 53 account
	route53URL    string
	dnsWebhook    *dnsWebhook
	cloudDNS      *cloudDNSFake    // the fake Google Cloud DNS API
	azureDNS      *azureDNSFake    // the fake Azure DNS API
	acmeDNS       *fakedns.AcmeDNS // the fake acme-dns server
	acmeDNSURL    string
	akamai        *fakedns.Store // the fake Akamai Edge DNS account
	akamaiHost    string
	runs          map[string]*componentRun // how each server was started, for Restart
	stopped       bool
	log           *lineWriter
}

// TemporalNamespace is the namespace the stack uses (always present in the dev server).
const TemporalNamespace = "default"

// Start starts the requested parts in parallel and waits until each is ready. On any
// failure it stops what it started and returns an error that includes the tail of the
// failing component's log.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.StateDir == "" {
		return nil, errors.New("localstack: Options.StateDir is required")
	}
	stateDir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return nil, err
	}
	o.StateDir = stateDir
	if o.BinDir == "" {
		root, err := RepoRoot()
		if err != nil {
			return nil, fmt.Errorf("localstack: Options.BinDir is empty and %w", err)
		}
		o.BinDir = filepath.Join(root, "bin")
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(stateDir, "pki"), 0o755); err != nil {
		return nil, err
	}
	s := &Stack{
		StateDir:   stateDir,
		Ports:      o.Ports,
		StartTimes: map[string]time.Duration{},
		log:        &lineWriter{w: o.Log},
	}
	begin := time.Now()

	// The first failure cancels the other starters.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var errs []error
	run := func(f func(context.Context, *Options) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(sctx, &o); err != nil {
				errMu.Lock()
				if sctx.Err() == nil || len(errs) == 0 || ctx.Err() != nil {
					errs = append(errs, err)
				}
				errMu.Unlock()
				cancel()
			}
		}()
	}
	if o.Kube || o.ExistingKubeconfig != "" {
		run(s.startKube)
	}
	if o.Temporal || o.ExistingTemporal != "" {
		run(s.startTemporal)
	}
	if o.ACME {
		run(s.startACME)
	}
	wg.Wait()
	if len(errs) == 0 && o.DNSWebhook {
		if err := s.startDNSWebhook(ctx, &o); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		if err := s.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping after failed start: %w", err))
		}
		return nil, fmt.Errorf("localstack: %w", errors.Join(errs...))
	}
	s.log.printf("local stack ready in %s (state in %s)", time.Since(begin).Round(10*time.Millisecond), stateDir)
	return s, nil
}

// Stop stops every process the stack started: SIGTERM to its process group, then
// SIGKILL after a grace period. Dependent processes stop in reverse start order
// (kube-apiserver before etcd, pebble before pebble-challtestsrv); the independent
// parts (Kubernetes, Temporal, ACME) stop in parallel. In-process servers (the fake
// Cloudflare API) are closed first. Stop is idempotent and safe to call concurrently.
func (s *Stack) Stop() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	var all []error
	// In-process servers first: the fake Cloudflare writes into challtestsrv.
	for _, c := range slices.Backward(s.closers) {
		if err := c.close(); err != nil {
			all = append(all, fmt.Errorf("close %s: %w", c.name, err))
		}
		s.log.printf("stopped %s", c.name)
	}
	chains := map[string][]*proc{}
	for _, p := range s.procs {
		chains[p.chain] = append(chains[p.chain], p)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(s.procs))
	for _, chain := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range slices.Backward(chain) {
				t := time.Now()
				if err := p.stop(stopGrace); err != nil {
					errs <- err
				}
				s.log.printf("stopped %s in %s", p.Name, time.Since(t).Round(10*time.Millisecond))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// PIDs returns the process ids of the processes the stack started, by component name.
func (s *Stack) PIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.procs))
	for _, p := range s.procs {
		m[p.Name] = p.PID()
	}
	return m
}

// LogPath returns the log file of a component (e.g. "kube-apiserver").
func (s *Stack) LogPath(component string) string {
	return filepath.Join(s.StateDir, component+".log")
}

// track registers a started process so that Stop will stop it. If the stack is
// already being torn down it stops the process at once.
func (s *Stack) track(p *proc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		_ = p.stop(stopGrace)
		return errors.New("stack stopped while starting " + p.Name)
	}
	s.procs = append(s.procs, p)
	return nil
}

// untrack stops a process that failed to become ready and forgets it.
func (s *Stack) untrack(p *proc) {
	s.mu.Lock()
	s.procs = slices.DeleteFunc(s.procs, func(q *proc) bool { return q == p })
	s.mu.Unlock()
	_ = p.stop(2 * time.Second)
}

func (s *Stack) recordTime(name string, d time.Duration) {
	s.mu.Lock()
	s.StartTimes[name] = d
	s.mu.Unlock()
	s.log.printf("%s ready in %s", name, d.Round(10*time.Millisecond))
}

// component describes one server to run.
type component struct {
	name    string
	chain   string // processes of one chain depend on each other: "kube", "temporal", "acme"
	bin     string
	timeout time.Duration
	env     map[string]string
	// pick fills zero ports (called before each attempt; reset restores the
	// caller's fixed ports first).
	pick  func() error
	reset func()
	args  func() []string
	addr  func() string // shown in progress lines
	ready func(context.Context) error
	// appendLog keeps the component's earlier log (a restart).
	appendLog bool
	// asUser runs the process as another user (nil: as this process).
	asUser *syscall.Credential
}

// runComponent starts c, waits until ready, and retries once with fresh ports if the
// failure was "address already in use".
func (s *Stack) runComponent(ctx context.Context, o *Options, c component) error {
	for attempt := 1; ; attempt++ {
		if c.reset != nil && attempt > 1 {
			c.reset()
		}
		if c.pick != nil {
			if err := c.pick(); err != nil {
				return fmt.Errorf("%s: pick ports: %w", c.name, err)
			}
		}
		t := time.Now()
		s.log.printf("starting %s on %s", c.name, c.addr())
		bin := c.bin
		if !filepath.IsAbs(bin) {
			bin = filepath.Join(o.BinDir, bin)
		}
		p, err := startProc(c.name, bin, c.args(), o.StateDir, c.env, c.appendLog, c.asUser)
		if err != nil {
			return err
		}
		p.chain = c.chain
		if err := s.track(p); err != nil {
			return err
		}
		err = waitReady(ctx, p, c.timeout, c.ready)
		if err == nil {
			s.recordTime(c.name, time.Since(t))
			s.remember(c, o)
			return nil
		}
		retry := attempt == 1 && addrInUse(p) && ctx.Err() == nil
		s.untrack(p)
		if !retry {
			return componentError(p, err)
		}
		s.log.printf("%s: address already in use, retrying once", c.name)
	}
}
