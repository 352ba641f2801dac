package worker

import (
	"flag"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/certflow/certflow/activities/dns01"
	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/internal/logging"
)

// Args renders the set fields as flags, in the order workers have always been given
// them, and AddTo parses them back to the same Flags.
func TestFlagsArgs(t *testing.T) {
	f := Flags{
		Kubeconfig: "/k", TemporalAddress: "127.0.0.1:7233", TemporalNamespace: "default", ClusterResourceNamespace: "cert-manager",
		MetricsListenAddress: "127.0.0.1:9402", FeatureGates: "ExperimentalGatewayAPISupport=true",
		Logging: logging.Flags{Format: "json", Verbosity: 2},
		ACME: ACMEConfig{
			DNS01RecursiveNameservers: []string{"127.0.0.1:8053", "127.0.0.1:9053"},
			CloudflareAPIURL:          "http://127.0.0.1:8056/client/v4",
			DigitalOceanAPIURL:        "http://127.0.0.1:8057",
			Route53APIURL:             "http://127.0.0.1:8061",
			STSAPIURL:                 "http://127.0.0.1:8061",
			IssuerAmbientCredentials:  true,
			CloudDNSAPIURL:            "http://127.0.0.1:8058",
			AzureDNS:                  dns01.AzureEndpoints{AuthorityHost: "https://127.0.0.1:8059", ResourceManager: "https://127.0.0.1:8059"},
			DNS01ProviderCAFile:       "/state/pki/acme-ca.crt",
			HTTP01SolverListen:        "127.0.0.1:5002",
			HTTP01SelfCheck:           http01.SelfCheckOptions{Resolver: "127.0.0.1:8053", Port: 5002},
			SelfCheckTimeout:          90 * time.Second,
			AccountRecheckInterval:    time.Minute,
			RenewalInfoMaxRecheck:     15 * time.Second,
		},
	}
	got := f.Args()
	want := []string{
		"--kubeconfig", "/k", "--temporal-address", "127.0.0.1:7233", "--temporal-namespace", "default",
		"--cluster-resource-namespace", "cert-manager",
		"--metrics-listen-address=127.0.0.1:9402", "--healthz-listen-address=",
		"--feature-gates", "ExperimentalGatewayAPISupport=true",
		"--logging-format", "json", "-v", "2",
		"--dns01-recursive-nameservers", "127.0.0.1:8053,127.0.0.1:9053",
		"--cloudflare-api-url", "http://127.0.0.1:8056/client/v4",
		"--digitalocean-api-url", "http://127.0.0.1:8057",
		"--route53-api-url", "http://127.0.0.1:8061",
		"--sts-api-url", "http://127.0.0.1:8061",
		"--issuer-ambient-credentials", "--cluster-issuer-ambient-credentials=false",
		"--clouddns-api-url", "http://127.0.0.1:8058",
		"--azuredns-authority-host", "https://127.0.0.1:8059",
		"--azuredns-resource-manager-url", "https://127.0.0.1:8059",
		"--dns01-provider-ca-file", "/state/pki/acme-ca.crt",
		"--http01-solver-listen", "127.0.0.1:5002",
		"--http01-self-check-nameserver", "127.0.0.1:8053",
		"--http01-self-check-port", "5002",
		"--acme-self-check-timeout", "1m30s",
		"--acme-account-recheck-interval", "1m0s",
		"--acme-renewal-info-max-recheck", "15s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
	if got, want := (Flags{}).Args(), []string{"--metrics-listen-address=", "--healthz-listen-address=", "--cluster-issuer-ambient-credentials=false"}; !slices.Equal(got, want) {
		t.Errorf("Args of the zero Flags: %q, want only the listeners and ClusterIssuers' ambient credentials off %q", got, want)
	}

	var back Flags
	fs := flag.NewFlagSet("certflow-worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	back.AddTo(fs)
	if err := fs.Parse(got); err != nil || fs.NArg() != 0 {
		t.Fatalf("parse: %v, %d left over", err, fs.NArg())
	}
	if err := back.Check(); err != nil {
		t.Fatal(err)
	}
	// What Args leaves out keeps the worker's defaults.
	f.TaskQueue, f.WorkflowCacheSize = back.TaskQueue, back.WorkflowCacheSize
	f.MaxConcurrentWorkflowTasks, f.MaxConcurrentLocalActivities = back.MaxConcurrentWorkflowTasks, back.MaxConcurrentLocalActivities
	f.ACME.HTTP01SolverImage = back.ACME.HTTP01SolverImage
	f.nameservers = back.nameservers
	if !reflect.DeepEqual(back, f) {
		t.Errorf("parsed back:\n got %+v\nwant %+v", back, f)
	}
}
