package testkit

import (
	"slices"
	"testing"
	"time"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/worker"
)

func TestWorkerFlags(t *testing.T) {
	got := WorkerFlags(worker.ACMEConfig{
		DNS01RecursiveNameservers: []string{"127.0.0.1:8053", "127.0.0.1:9053"},
		CloudflareAPIURL:          "http://127.0.0.1:8056/client/v4",
		HTTP01SolverListen:        "127.0.0.1:5002",
		HTTP01SelfCheck:           http01.SelfCheckOptions{Resolver: "127.0.0.1:8053", Port: 5002},
		SelfCheckTimeout:          90 * time.Second,
	})
	want := []string{
		"--dns01-recursive-nameservers", "127.0.0.1:8053,127.0.0.1:9053",
		"--cloudflare-api-url", "http://127.0.0.1:8056/client/v4",
		"--http01-solver-listen", "127.0.0.1:5002",
		"--http01-self-check-nameserver", "127.0.0.1:8053",
		"--http01-self-check-port", "5002",
		"--acme-self-check-timeout", "1m30s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("WorkerFlags:\n got %q\nwant %q", got, want)
	}
	if got := WorkerFlags(worker.ACMEConfig{}); len(got) != 0 {
		t.Errorf("WorkerFlags of the zero config: %q, want none", got)
	}
}
