package worker

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/internal/features"
	"github.com/certflow/certflow/internal/logging"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/workflows"
)

// Flags are certflow-worker's command-line flags. They are defined here once, for the
// binary (AddTo, Check) and for what runs worker processes: certflow-bench and the
// crash tests render them back with Args, so a renamed flag cannot go out of step.
type Flags struct {
	Kubeconfig, TemporalAddress, TemporalNamespace string
	TaskQueue, ClusterResourceNamespace            string
	DisableApprover                                bool
	WorkflowCacheSize                              int
	MaxConcurrentWorkflowTasks                     int
	MaxConcurrentLocalActivities                   int
	ProfilerAddress                                string
	// MetricsListenAddress serves /metrics and HealthzListenAddress /livez and /readyz
	// (upstream's ports, 9402 and 9403, on every interface by default); empty: off.
	// Args renders both even when empty, so that a worker a test starts from zero Flags
	// serves neither and never takes a cluster's port on a shared machine.
	MetricsListenAddress, HealthzListenAddress string
	// FeatureGates is upstream's --feature-gates (see internal/features).
	FeatureGates string
	// PayloadCodecSecret (namespace/name) holds the key every Temporal payload is
	// encrypted with (internal/codec); created with a new key when missing. Empty: off.
	PayloadCodecSecret string
	// CodecServerListenAddress serves the codec endpoint for the Temporal Web UI to
	// browsers of CodecServerCORSOrigins (comma-separated; "*": any). Empty: off.
	CodecServerListenAddress, CodecServerCORSOrigins string
	ACME                                             ACMEConfig
	Logging                                          logging.Flags

	nameservers string // --dns01-recursive-nameservers until Check parses it
	// recursiveOnly is upstream's --dns01-recursive-nameservers-only, accepted so that its
	// values files and extraArgs start certflow: certflow's check asks only the recursive
	// nameservers whenever they are given, which is what the flag asks of upstream.
	recursiveOnly bool
}

// AddTo defines the flags on fs, with their defaults, to be parsed into f; Check
// validates them after fs.Parse.
func (f *Flags) AddTo(fs *flag.FlagSet) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then in-cluster)")
	fs.StringVar(&f.TemporalAddress, "temporal-address", "", "Temporal frontend host:port (default: Temporal's client configuration, TEMPORAL_ADDRESS or the profile file, then "+clients.DefaultTemporalAddress+")")
	fs.StringVar(&f.TemporalNamespace, "temporal-namespace", "", "Temporal namespace (default: TEMPORAL_NAMESPACE or the profile file, then default)")
	fs.StringVar(&f.TaskQueue, "task-queue", workflows.TaskQueue, "Temporal task queue")
	fs.StringVar(&f.ClusterResourceNamespace, "cluster-resource-namespace", DefaultClusterResourceNamespace, "namespace of the Secrets that ClusterIssuers refer to")
	fs.BoolVar(&f.DisableApprover, "disable-approver", false, "do not approve CertificateRequests automatically: wait for kubectl cert-manager approve/deny or the Approved/Denied condition")
	fs.IntVar(&f.WorkflowCacheSize, "workflow-cache-size", DefaultWorkflowCacheSize, "workflows kept in memory between tasks; idle Certificates sleep for weeks, so a small cache keeps memory flat")
	fs.IntVar(&f.MaxConcurrentWorkflowTasks, "max-concurrent-workflow-tasks", DefaultMaxConcurrentWorkflowTasks, "workflow tasks (with their local activities: the issuance of a CA or SelfSigned certificate) this worker runs at once; the rest wait in the task queue")
	fs.IntVar(&f.MaxConcurrentLocalActivities, "max-concurrent-local-activities", DefaultMaxConcurrentLocalActivities, "local activities (Kubernetes calls, signing) this worker runs at once")
	fs.StringVar(&f.ProfilerAddress, "profiler-address", "", "serve Go's pprof profiles on this host:port (as cert-manager's --profiler-address; off when empty)")

	fs.StringVar(&f.MetricsListenAddress, "metrics-listen-address", metrics.DefaultListenAddress, "serve Prometheus metrics at /metrics on this host:port (off when empty)")
	fs.StringVar(&f.HealthzListenAddress, "healthz-listen-address", metrics.DefaultHealthzListenAddress, "serve the /livez and /readyz probes on this host:port (off when empty)")
	fs.StringVar(&f.FeatureGates, "feature-gates", "", "cert-manager's controller feature gates, key=bool pairs separated by commas (accepted as upstream's; certflow behaves as each gate's default)")
	fs.StringVar(&f.PayloadCodecSecret, "payload-codec-secret", "", "namespace/name of the Secret whose key encrypts every Temporal payload (created with a new key when missing; off when empty)")
	fs.StringVar(&f.CodecServerListenAddress, "codec-server-listen-address", "", "serve the payload codec endpoint (POST /decode, /encode) that the Temporal Web UI decodes history with, on this host:port (off when empty; needs --payload-codec-secret)")
	fs.StringVar(&f.CodecServerCORSOrigins, "codec-server-cors-origins", "", "comma-separated origins of the Web UI allowed to call the codec endpoint from a browser (* for any)")
	f.Logging.AddTo(fs)
	fs.StringVar(&f.nameservers, "dns01-recursive-nameservers", "", "comma-separated host:port list of recursive nameservers the DNS-01 propagation check asks instead of the zone's authoritative nameservers")
	fs.StringVar(&f.ACME.CloudflareAPIURL, "cloudflare-api-url", "", "base URL of the Cloudflare v4 API including /client/v4 (default https://api.cloudflare.com/client/v4)")
	fs.StringVar(&f.ACME.DigitalOceanAPIURL, "digitalocean-api-url", "", "base URL of the DigitalOcean API, without /v2 (default https://api.digitalocean.com)")
	fs.StringVar(&f.ACME.Route53APIURL, "route53-api-url", "", "base URL of the Amazon Route 53 API, without /2013-04-01 (default: AWS's endpoint)")
	fs.StringVar(&f.ACME.STSAPIURL, "sts-api-url", "", "base URL of the AWS STS API the route53 solver assumes roles through (default: AWS's regional endpoint)")
	fs.BoolVar(&f.ACME.IssuerAmbientCredentials, "issuer-ambient-credentials", false, "let a route53 solver of an Issuer without static keys use the worker's own AWS credentials (upstream's flag)")
	fs.BoolVar(&f.ACME.ClusterIssuerAmbientCredentials, "cluster-issuer-ambient-credentials", true, "let a route53 solver of a ClusterIssuer without static keys use the worker's own AWS credentials (upstream's flag)")
	fs.StringVar(&f.ACME.CloudDNSAPIURL, "clouddns-api-url", "", "base URL of the Google Cloud DNS API, without /dns/v1 (default https://dns.googleapis.com)")
	fs.StringVar(&f.ACME.AzureDNS.AuthorityHost, "azuredns-authority-host", "", "https base URL of Microsoft Entra ID for azureDNS solvers (default: the solver's environment's)")
	fs.StringVar(&f.ACME.AzureDNS.ResourceManager, "azuredns-resource-manager-url", "", "https base URL of Azure Resource Manager for azureDNS solvers (default: the solver's environment's)")
	fs.StringVar(&f.ACME.DNS01ProviderCAFile, "dns01-provider-ca-file", "", "PEM file of CA certificates that DNS-01 provider API clients (Akamai, acme-dns, Azure DNS) trust besides the system's roots")
	fs.StringVar(&f.ACME.HTTP01SolverListen, "http01-solver-listen", "", "serve HTTP-01 challenges from this process on host:port instead of creating solver Pods (local stack)")
	fs.BoolVar(&f.recursiveOnly, "dns01-recursive-nameservers-only", false, "upstream's flag, accepted: the DNS-01 check always asks only --dns01-recursive-nameservers when they are set")
	fs.StringVar(&f.ACME.HTTP01SelfCheck.Resolver, "http01-self-check-nameserver", "", "DNS server (host:port) the HTTP-01 self check resolves names with (default: the system resolver)")
	fs.IntVar(&f.ACME.HTTP01SelfCheck.Port, "http01-self-check-port", 80, "port the HTTP-01 self check connects to instead of 80")
	fs.StringVar(&f.ACME.HTTP01SolverImage, "http01-solver-image", DefaultHTTP01SolverImage, "image of HTTP-01 solver Pods (they run certflow-worker "+http01.SolverSubcommand+")")
	fs.DurationVar(&f.ACME.SelfCheckTimeout, "acme-self-check-timeout", DefaultACMESelfCheckTimeout, "how long a challenge's self check may fail before the ACME server is asked to validate anyway")
	fs.DurationVar(&f.ACME.AccountRecheckInterval, "acme-account-recheck-interval", DefaultACMEAccountRecheckInterval, "how often a Ready ACME issuer verifies that the server still knows its account (and registers again when it does not)")
	fs.DurationVar(&f.ACME.RenewalInfoMaxRecheck, "acme-renewal-info-max-recheck", DefaultACMERenewalInfoMaxRecheck, "the longest a certificate waits before it reads its ACME renewal information (RFC 9773) again, whatever the server's Retry-After says (at least 30s)")
}

// Check validates the parsed flags and normalizes the nameservers (an entry without a
// port gets :53).
func (f *Flags) Check() error {
	var err error
	if f.ACME.DNS01RecursiveNameservers, err = parseNameservers(f.nameservers); err != nil {
		return fmt.Errorf("--dns01-recursive-nameservers: %w", err)
	}
	if r := f.ACME.HTTP01SelfCheck.Resolver; r != "" {
		if f.ACME.HTTP01SelfCheck.Resolver, err = hostPort(r); err != nil {
			return fmt.Errorf("--http01-self-check-nameserver: %w", err)
		}
	}
	if p := f.ACME.HTTP01SelfCheck.Port; p < 1 || p > 65535 {
		return fmt.Errorf("--http01-self-check-port: %d is not a port", p)
	}
	if a := f.ACME.HTTP01SolverListen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("--http01-solver-listen: %w", err)
		}
	}
	if f.MaxConcurrentWorkflowTasks < 2 {
		// The SDK polls the sticky and the normal task queue at once: one slot panics it.
		return errors.New("--max-concurrent-workflow-tasks must be at least 2")
	}
	if f.MaxConcurrentLocalActivities < 1 {
		return errors.New("--max-concurrent-local-activities must be at least 1")
	}
	if _, err := features.Parse(f.FeatureGates); err != nil {
		return err
	}
	if f.PayloadCodecSecret != "" {
		if _, _, err := codec.ParseSecretRef(f.PayloadCodecSecret); err != nil {
			return fmt.Errorf("--payload-codec-secret: %w", err)
		}
	}
	if f.CodecServerListenAddress != "" && f.PayloadCodecSecret == "" {
		return errors.New("--codec-server-listen-address needs --payload-codec-secret: there is no key to decode with")
	}
	if f.ACME.SelfCheckTimeout <= 0 {
		return errors.New("--acme-self-check-timeout must be positive")
	}
	if f.ACME.AccountRecheckInterval <= 0 {
		return errors.New("--acme-account-recheck-interval must be positive")
	}
	if f.ACME.RenewalInfoMaxRecheck <= 0 {
		return errors.New("--acme-renewal-info-max-recheck must be positive")
	}
	return nil
}

// Args renders the fields that are set (not zero) as certflow-worker flags, for a
// worker run as a child process; the worker's defaults apply to the rest, except the
// listen addresses, always rendered (empty: off).
func (f Flags) Args() []string {
	var a []string
	str := func(name, v string) {
		if v != "" {
			a = append(a, "--"+name, v)
		}
	}
	num := func(name string, v int) {
		if v != 0 {
			a = append(a, "--"+name, strconv.Itoa(v))
		}
	}
	str("kubeconfig", f.Kubeconfig)
	str("temporal-address", f.TemporalAddress)
	str("temporal-namespace", f.TemporalNamespace)
	str("task-queue", f.TaskQueue)
	str("cluster-resource-namespace", f.ClusterResourceNamespace)
	if f.DisableApprover {
		a = append(a, "--disable-approver")
	}
	num("workflow-cache-size", f.WorkflowCacheSize)
	num("max-concurrent-workflow-tasks", f.MaxConcurrentWorkflowTasks)
	num("max-concurrent-local-activities", f.MaxConcurrentLocalActivities)
	str("profiler-address", f.ProfilerAddress)
	a = append(a, "--metrics-listen-address="+f.MetricsListenAddress, "--healthz-listen-address="+f.HealthzListenAddress)
	str("feature-gates", f.FeatureGates)
	str("payload-codec-secret", f.PayloadCodecSecret)
	str("codec-server-listen-address", f.CodecServerListenAddress)
	str("codec-server-cors-origins", f.CodecServerCORSOrigins)
	a = append(a, f.Logging.Args()...)
	c := f.ACME
	str("dns01-recursive-nameservers", strings.Join(c.DNS01RecursiveNameservers, ","))
	str("cloudflare-api-url", c.CloudflareAPIURL)
	str("digitalocean-api-url", c.DigitalOceanAPIURL)
	str("route53-api-url", c.Route53APIURL)
	str("sts-api-url", c.STSAPIURL)
	if c.IssuerAmbientCredentials {
		a = append(a, "--issuer-ambient-credentials")
	}
	if !c.ClusterIssuerAmbientCredentials { // the flag's default is upstream's true
		a = append(a, "--cluster-issuer-ambient-credentials=false")
	}
	str("clouddns-api-url", c.CloudDNSAPIURL)
	str("azuredns-authority-host", c.AzureDNS.AuthorityHost)
	str("azuredns-resource-manager-url", c.AzureDNS.ResourceManager)
	str("dns01-provider-ca-file", c.DNS01ProviderCAFile)
	str("http01-solver-listen", c.HTTP01SolverListen)
	str("http01-self-check-nameserver", c.HTTP01SelfCheck.Resolver)
	num("http01-self-check-port", c.HTTP01SelfCheck.Port)
	str("http01-solver-image", c.HTTP01SolverImage)
	if c.SelfCheckTimeout > 0 {
		a = append(a, "--acme-self-check-timeout", c.SelfCheckTimeout.String())
	}
	if c.AccountRecheckInterval > 0 {
		a = append(a, "--acme-account-recheck-interval", c.AccountRecheckInterval.String())
	}
	if c.RenewalInfoMaxRecheck > 0 {
		a = append(a, "--acme-renewal-info-max-recheck", c.RenewalInfoMaxRecheck.String())
	}
	return a
}

// parseNameservers splits a comma-separated list of nameservers; an entry without a
// port gets :53.
func parseNameservers(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		hp, err := hostPort(s)
		if err != nil {
			return nil, err
		}
		out = append(out, hp)
	}
	return out, nil
}

// hostPort returns s as host:port, adding port 53 when s has none.
func hostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// A bare host or IP (an IPv6 literal only in brackets with a port).
		if strings.Contains(s, ":") && net.ParseIP(s) == nil {
			return "", fmt.Errorf("%q is not host:port", s)
		}
		return net.JoinHostPort(s, "53"), nil
	}
	if host == "" {
		return "", fmt.Errorf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q has no valid port", s)
	}
	return s, nil
}
