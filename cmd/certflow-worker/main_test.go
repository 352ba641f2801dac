package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/certflow/certflow/activities/http01"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
)

func TestParseFlagsDefaults(t *testing.T) {
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := f.ACME
	if len(a.DNS01RecursiveNameservers) != 0 || a.CloudflareAPIURL != "" || a.HTTP01SolverListen != "" || a.HTTP01SelfCheck.Resolver != "" {
		t.Errorf("defaults set ACME fields: %+v", a)
	}
	if a.HTTP01SelfCheck.Port != 80 || a.HTTP01SolverImage != worker.DefaultHTTP01SolverImage || a.SelfCheckTimeout != worker.DefaultACMESelfCheckTimeout {
		t.Errorf("defaults: %+v", a)
	}
	if f.MaxConcurrentWorkflowTasks != worker.DefaultMaxConcurrentWorkflowTasks || f.MaxConcurrentLocalActivities != worker.DefaultMaxConcurrentLocalActivities || f.ProfilerAddress != "" {
		t.Errorf("concurrency defaults %d/%d, profiler %q", f.MaxConcurrentWorkflowTasks, f.MaxConcurrentLocalActivities, f.ProfilerAddress)
	}
}

func TestParseFlagsACME(t *testing.T) {
	f, err := parseFlags([]string{
		"--dns01-recursive-nameservers", "127.0.0.1:8053, 10.0.0.1,[::1]:53",
		"--cloudflare-api-url", "http://127.0.0.1:8056/client/v4",
		"--http01-solver-listen", "127.0.0.1:5002",
		"--http01-self-check-nameserver", "127.0.0.1:8053",
		"--http01-self-check-port", "5002",
		"--http01-solver-image", "registry.example/certflow:v1",
		"--acme-self-check-timeout", "15s",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := f.ACME
	if want := []string{"127.0.0.1:8053", "10.0.0.1:53", "[::1]:53"}; !slices.Equal(a.DNS01RecursiveNameservers, want) {
		t.Errorf("nameservers %q, want %q", a.DNS01RecursiveNameservers, want)
	}
	if a.CloudflareAPIURL != "http://127.0.0.1:8056/client/v4" || a.HTTP01SolverListen != "127.0.0.1:5002" ||
		a.HTTP01SelfCheck != (http01.SelfCheckOptions{Resolver: "127.0.0.1:8053", Port: 5002}) ||
		a.HTTP01SolverImage != "registry.example/certflow:v1" || a.SelfCheckTimeout != 15*time.Second {
		t.Errorf("ACME config %+v", a)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--dns01-recursive-nameservers", "127.0.0.1:x"},
		{"--dns01-recursive-nameservers", ":53"},
		{"--http01-self-check-port", "0"},
		{"--http01-solver-listen", "5002"},
		{"--acme-self-check-timeout", "0s"},
		{"--max-concurrent-workflow-tasks", "0"},
		{"--max-concurrent-workflow-tasks", "1"},
		{"--max-concurrent-local-activities", "-1"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// get fetches url, retrying connection errors for up to five seconds.
func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSolverSubcommand runs `certflow-worker http01-solver` as a solver Pod would.
func TestSolverSubcommand(t *testing.T) {
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- solverMain(ctx, []string{"--listen-host=127.0.0.1", "--listen-port=" + strconv.Itoa(port),
			"--domain=www.example.com", "--token=tok-1", "--key=tok-1.thumb"}, io.Discard)
	}()
	base := "http://127.0.0.1:" + strconv.Itoa(port) + http01.ChallengePath
	if code, body := get(t, base+"tok-1", "www.example.com"); code != http.StatusOK || body != "tok-1.thumb" {
		t.Errorf("token: %d %q", code, body)
	}
	if code, _ := get(t, base+"tok-1", "other.example.com"); code != http.StatusNotFound {
		t.Errorf("other host: %d, want 404", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("solver: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("solver did not stop")
	}
	for _, args := range [][]string{{"--token=t"}, {"--key=k"}, {"--token=t", "--key=k", "--listen-port=0"}} {
		if err := solverMain(context.Background(), args, io.Discard); err == nil {
			t.Errorf("%q: %v, want a flag error", args, err)
		}
	}
}

// TestWorkerServesHTTP01 starts a worker with HTTP01SolverListen against a real Temporal
// server: tokens in its registry are served while it runs, and Stop closes the port.
func TestWorkerServesHTTP01(t *testing.T) {
	s := integration.StartStack(t, localstack.Options{Temporal: true})
	tc, err := client.Dial(clients.TemporalOptions(s.TemporalAddress, s.TemporalNamespace, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	reg := http01.NewRegistry()
	w := worker.New(worker.Config{Temporal: tc, TaskQueue: "http01-test", ACME: worker.ACMEConfig{HTTP01SolverListen: addr}, HTTP01Registry: reg})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	reg.Add("", "tok-2", "tok-2.thumb")
	if code, body := get(t, "http://"+addr+http01.ChallengePath+"tok-2", "any.example.com"); code != http.StatusOK || body != "tok-2.thumb" {
		t.Errorf("token: %d %q", code, body)
	}
	// A second worker on the same address fails to start instead of running without it.
	w2 := worker.New(worker.Config{Temporal: tc, TaskQueue: "http01-test", ACME: worker.ACMEConfig{HTTP01SolverListen: addr}})
	if err := w2.Start(); err == nil {
		w2.Stop()
		t.Error("second worker started on a taken HTTP-01 address")
	}
	w.Stop()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("HTTP-01 port still open after Stop")
	}
}
