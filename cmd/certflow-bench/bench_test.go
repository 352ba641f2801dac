package main

import (
	"os"
	"testing"
	"time"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

func TestParseStatus(t *testing.T) {
	in := "Name:\tcertflow-worker\nVmPeak:\t 2000000 kB\nVmHWM:\t  145000 kB\nVmRSS:\t  120500 kB\nThreads:\t12\n"
	m, err := parseStatus([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 120500 || m.HWM != 145000 {
		t.Errorf("got %+v", m)
	}
	if _, err := parseStatus([]byte("Name:\tzombie\nState:\tZ\n")); err == nil {
		t.Error("status without Vm lines: want an error")
	}
}

func TestParseStatCPU(t *testing.T) {
	// The command name may hold spaces and parentheses.
	in := "1234 (we (i)rd name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 12 0 500 1000 200"
	got, err := parseStatCPU([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got != 287 {
		t.Errorf("utime+stime = %d, want 287", got)
	}
	if _, err := parseStatCPU([]byte("1234 (x) S 1")); err == nil {
		t.Error("short stat: want an error")
	}
}

func TestParseStat(t *testing.T) {
	in := "1234 (postgres: temporal temporal 127.0.0.1(4711) idle) S 1200 1234 1234 0 -1 4194560 100 0 0 0 250 37 11 5 20 0 12 0 500 1000 200"
	got, err := parseStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := statFields{ppid: 1200, utime: 250, stime: 37, cutime: 11, cstime: 5}
	if got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
}

func TestTreeCPU(t *testing.T) {
	procs := map[int]statFields{
		1:   {ppid: 0, utime: 1000},
		100: {ppid: 1, utime: 10, stime: 5, cutime: 7, cstime: 3}, // the postmaster, with reaped backends
		101: {ppid: 100, utime: 20, stime: 2},
		102: {ppid: 100, utime: 30},
		103: {ppid: 101, utime: 4}, // a grandchild
		200: {ppid: 1, utime: 500}, // not in the tree
	}
	got, err := treeCPU(procs, 100)
	if err != nil || got != 10+5+7+3+20+2+30+4 {
		t.Errorf("treeCPU = %d, %v; want 81", got, err)
	}
	if _, err := treeCPU(procs, 999); err == nil {
		t.Error("a process that is gone: want an error")
	}
	// This test process is in its own tree.
	if n, err := readTreeCPU(os.Getpid()); err != nil || n < 0 {
		t.Errorf("readTreeCPU(self) = %d, %v", n, err)
	}
}

func TestParseMachineCPU(t *testing.T) {
	in := "cpu  100 5 50 1000 20 3 2 1 7 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n"
	busy, total, err := parseMachineCPU([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	// busy: user+nice+system+irq+softirq+steal; total adds idle and iowait (guest is in user).
	if busy != 161 || total != 1181 {
		t.Errorf("busy %d total %d, want 161 1181", busy, total)
	}
}

func TestParseLoadAvg(t *testing.T) {
	l, err := parseLoadAvg([]byte("0.49 1.79 2.66 3/456 7890\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l != (loadAvg{0.49, 1.79, 2.66}) || l.String() != "0.49 1.79 2.66" {
		t.Errorf("got %v", l)
	}
}

func TestSelfFromProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	m, err := readProcMem(os.Getpid())
	if err != nil || m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("readProcMem(self) = %+v, %v", m, err)
	}
	if _, err := readProcCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if clockTicks <= 0 {
		t.Errorf("clockTicks %v", clockTicks)
	}
}

func TestParseRequests(t *testing.T) {
	in := `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 10
apiserver_request_total{code="409",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="cert-manager.io",resource="certificates",scope="resource",subresource="status",verb="PUT",version="v1"} 4
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="WATCH",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="GET",version="v1"} 8
apiserver_request_duration_seconds_count{verb="GET"} 99
`
	after := parseRequests([]byte(in))
	if after["POST secrets"] != 12 || after["PUT certificates/status"] != 4 || after["GET secrets"] != 8 {
		t.Fatalf("parsed %v", after)
	}
	after["POST certificates"] = 2 // the bench's creates
	before := requestCounts{"POST secrets": 2, "GET secrets": 4}
	f := diffRequests(before, after, 2)
	if f.WritesPerCert != 8 || f.CertflowWritesPerCert != 7 || f.ReadsPerCert != 2 {
		t.Errorf("writes %v (%v by certflow), reads %v; want 8 (7) and 2", f.WritesPerCert, f.CertflowWritesPerCert, f.ReadsPerCert)
	}
	if _, ok := f.ByVerbResource["WATCH secrets"]; ok {
		t.Error("watches are not requests per certificate")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0, 1 * time.Millisecond}, {0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := percentile(d, c.q); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("empty: want 0")
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("one value: %v", got)
	}
}

func TestNames(t *testing.T) {
	n := names("cert", 1000)
	if len(n) != 1000 || n[0] != "cert-0001" || n[999] != "cert-1000" {
		t.Errorf("names: %v ... %v", n[0], n[len(n)-1])
	}
}

func TestTrackerLatencies(t *testing.T) {
	tr := newTracker()
	tr.expect([]string{"a", "b"})
	t0 := time.Now()
	tr.markCreated("a", t0)
	tr.markCreated("b", t0)
	c := leafCertificate("a")
	c.Status.Conditions = append(c.Status.Conditions, readyCondition())
	tr.observe(c)
	if tr.readyCount() != 1 {
		t.Fatalf("ready %d, want 1", tr.readyCount())
	}
	tr.observe(c) // a second Ready update keeps the first time
	lat, last := tr.latencies([]string{"a", "b"})
	if len(lat) != 1 || last.Before(t0) {
		t.Errorf("latencies %v last %v", lat, last)
	}
}

func readyCondition() cmapi.CertificateCondition {
	return cmapi.CertificateCondition{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue}
}

func TestParseCompletedWorkflowTasks(t *testing.T) {
	metrics := []byte(`# TYPE service_requests counter
service_requests{operation="RespondWorkflowTaskCompleted",service_name="frontend",namespace="default"} 120
service_requests{operation="RespondWorkflowTaskCompleted",service_name="history",namespace="default"} 7
service_requests{operation="SignalWithStartWorkflowExecution",service_name="frontend"} 50
service_request{operation="RespondWorkflowTaskCompleted"} 1000
`)
	if got := parseCompletedWorkflowTasks(metrics); got != 120 {
		t.Errorf("parseCompletedWorkflowTasks = %v, want 120 (the frontend's)", got)
	}
}
