package main

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

func TestACMEIssuerAndCertificate(t *testing.T) {
	ci := acmeIssuer("https://127.0.0.1:14000/dir", []byte("PEM"), "")
	a := ci.Spec.ACME
	if ci.Name != acmeClusterIssuer || a == nil || a.Server != "https://127.0.0.1:14000/dir" || string(a.CABundle) != "PEM" || a.PrivateKeySecretRef.Name == "" {
		t.Fatalf("issuer %+v", ci)
	}
	if len(a.Solvers) != 1 || a.Solvers[0].DNS01 == nil || a.Solvers[0].DNS01.Cloudflare == nil {
		t.Fatalf("solvers %+v", a.Solvers)
	}
	tok := a.Solvers[0].DNS01.Cloudflare.APIToken
	if tok == nil || tok.Name != cloudflareSecret || tok.Key != cloudflareSecretKey {
		t.Errorf("apiTokenSecretRef %+v", tok)
	}

	c := acmeCertificate("cert-007")
	if !slices.Equal(c.Spec.DNSNames, []string{"cert-007.example.com"}) || c.Namespace != benchNS || c.Spec.SecretName != "cert-007-tls" {
		t.Errorf("certificate %+v", c.Spec)
	}
	if c.Spec.IssuerRef.Name != acmeClusterIssuer || c.Spec.IssuerRef.Kind != "ClusterIssuer" {
		t.Errorf("issuerRef %+v", c.Spec.IssuerRef)
	}
	if k := c.Spec.PrivateKey; k == nil || k.Algorithm != cmapi.ECDSAKeyAlgorithm || k.Size != 256 {
		t.Errorf("private key %+v", k)
	}
	b := &bench{cfg: config{mode: modeACME}}
	if b.certificate("x").Spec.IssuerRef.Name != acmeClusterIssuer {
		t.Error("acme mode: want the ACME ClusterIssuer")
	}
	b.cfg.mode = modeThroughput
	if b.certificate("x").Spec.IssuerRef.Name != caClusterIssuer {
		t.Error("throughput mode: want the CA ClusterIssuer")
	}
}

func TestDefaultsACME(t *testing.T) {
	c := config{mode: modeACME, concurrency: 32, probes: 5, sampleEvery: time.Second, set: map[string]bool{}}
	if err := c.defaults(); err != nil {
		t.Fatal(err)
	}
	if c.n != 100 || c.probes != 1 || c.timeout != 10*time.Minute || c.out != "out/bench-acme.json" {
		t.Errorf("defaults: n %d probes %d timeout %s out %s", c.n, c.probes, c.timeout, c.out)
	}
	c = config{mode: modeACME, n: 20, concurrency: 32, probes: 0, sampleEvery: time.Second, set: map[string]bool{"probes": true}}
	if err := c.defaults(); err != nil || c.n != 20 || c.probes != 0 {
		t.Errorf("explicit: n %d probes %d, %v", c.n, c.probes, err)
	}
	c = config{mode: "nope", concurrency: 1, sampleEvery: time.Second}
	if err := c.defaults(); err == nil {
		t.Error("unknown mode: want an error")
	}
}

func TestWorkflowKind(t *testing.T) {
	for id, want := range map[string]string{
		"certificate/bench/cert-1":      "certificate",
		"order/bench/cert-1-1-123":      "order",
		"challenge/bench/cert-1-1-12-0": "challenge",
		"plain":                         "plain",
	} {
		if got := workflowKind(id); got != want {
			t.Errorf("workflowKind(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestWalkTree(t *testing.T) {
	hist := map[string]historyCount{
		"certificate/b/c": {Events: 30, Runs: 2, ByType: map[string]int{"WorkflowTaskCompleted": 5}, Children: []string{"order/b/o1"},
			WFTWait: time.Second, Activity: map[string]*activityTime{"A": {Count: 1, Run: time.Second}}},
		"order/b/o1": {Events: 90, Runs: 1, ByType: map[string]int{"WorkflowTaskCompleted": 10}, Children: []string{"challenge/b/c1", "challenge/b/c2"},
			WFTWait: 2 * time.Second, Activity: map[string]*activityTime{"A": {Count: 2, Run: time.Second}, "B": {Count: 1}}},
		"challenge/b/c1": {Events: 50, Runs: 1, ByType: map[string]int{"WorkflowTaskCompleted": 7}},
		// A child listed twice (e.g. by two runs) is counted once.
		"challenge/b/c2": {Events: 40, Runs: 1, ByType: map[string]int{}, Children: []string{"challenge/b/c1"}},
	}
	count := func(id string) (historyCount, error) {
		h, ok := hist[id]
		if !ok {
			return historyCount{}, errors.New("no such workflow " + id)
		}
		// countHistory returns fresh maps; so does the fake.
		h.ByType = maps.Clone(h.ByType)
		acts := map[string]*activityTime{}
		for k, v := range h.Activity {
			a := *v
			acts[k] = &a
		}
		h.Activity = acts
		return h, nil
	}
	h, err := walkTree("certificate/b/c", count)
	if err != nil {
		t.Fatal(err)
	}
	if h.Events != 210 || h.Runs != 2 || h.ByType["WorkflowTaskCompleted"] != 22 || h.WFTWait != 3*time.Second {
		t.Errorf("totals: events %d runs %d wft %d wait %s", h.Events, h.Runs, h.ByType["WorkflowTaskCompleted"], h.WFTWait)
	}
	if a := h.Activity["A"]; a.Count != 3 || a.Run != 2*time.Second || h.Activity["B"].Count != 1 {
		t.Errorf("activities %+v %+v", *h.Activity["A"], *h.Activity["B"])
	}
	want := map[string]kindCount{"certificate": {1, 2, 30}, "order": {1, 1, 90}, "challenge": {2, 2, 90}}
	for k, w := range want {
		if got := h.Kinds[k]; got == nil || *got != w {
			t.Errorf("kind %s: %+v, want %+v", k, got, w)
		}
	}
	if _, err := walkTree("order/b/missing", count); err == nil {
		t.Error("missing root: want an error")
	}
	if hist["certificate/b/c"].Activity["A"].Count != 1 {
		t.Error("walkTree changed a child's counts")
	}
}

func TestCountsAndLists(t *testing.T) {
	m := countByState([]string{"valid", "valid", "", "pending"}, func(s string) string { return s })
	if m["valid"] != 2 || m["none"] != 1 || m["pending"] != 1 {
		t.Errorf("countByState %v", m)
	}
	if got := formatCounts(m); got != "valid 2, none 1, pending 1" {
		t.Errorf("formatCounts %q", got)
	}
	if got := formatCounts(nil); got != "none" {
		t.Errorf("formatCounts(nil) %q", got)
	}
	if stateSuffix(nil) != "" || stateSuffix(map[string]int{"pending": 3}) != " (pending 3)" {
		t.Error("stateSuffix")
	}
	got := kindList(map[string]kindFigures{
		"challenge":   {Workflows: 1, Runs: 1, EventsPerCert: 53},
		"certificate": {Workflows: 1, Runs: 1, EventsPerCert: 28},
		"order":       {Workflows: 1, Runs: 1, EventsPerCert: 91.3},
	})
	want := "certificate 28.0 events (1.00 workflows, 1.00 runs); order 91.3 events (1.00 workflows, 1.00 runs); challenge 53.0 events (1.00 workflows, 1.00 runs)"
	if got != want {
		t.Errorf("kindList:\n got %s\nwant %s", got, want)
	}
}
