package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchJSON = `{"mode": "throughput", "n": 1000, "temporal": "postgres", "workers": 2,
 "machine": {"cores": 2, "loadavg_start": [1.5, 2, 2.5]},
 "issuance": {"certs_per_s": 17.5, "cpu_per_cert_ms_total": 100,
   "cpu_per_cert_ms": {"temporal": 24, "postgres": 21, "kube-apiserver": 30, "etcd": 5,
     "certflow-worker": 8, "certflow-worker-2": 7, "certflow-k8swatch": 4, "certflow-bench": 1.2},
   "latency_p50_s": 8.7, "latency_p99_s": 13.3},
 "api": {"writes_per_cert": 8, "reads_per_cert": 8}, "history": {"events_per_cert": 18}}`

func TestReadRuns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "postgres-w2-n1000.json"), []byte(benchJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := strings.NewReplacer(`"temporal": "postgres", "workers": 2`, `"temporal": "dev", "workers": 1`, `"n": 1000`, `"n": 100`).Replace(benchJSON)
	if err := os.WriteFile(filepath.Join(dir, "dev-w1-n100.json"), []byte(dev), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, err := readRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Setup != "dev server, 1 worker" || rows[1].Setup != "PostgreSQL, 2 workers" {
		t.Fatalf("rows %+v: want the dev server's first", rows)
	}
	r := rows[1]
	if r.N != 1000 || r.CPUms != 100 || r.TemporalCPUms != 45 || r.KubeCPUms != 35 || r.CertflowCPUms != 19 || r.Writes != 8 || r.HistoryEvents != 18 {
		t.Errorf("row %+v", r)
	}
	png := filepath.Join(dir, "curve.png")
	if err := drawPNG(png, rows); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Errorf("%s is not a PNG: %v", png, err)
	}
}

func TestUnfinishedRunIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dev-w1-n10000.json"), []byte(`{"mode": "throughput", "n": 10000, "error": "timed out"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readRuns(dir); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("readRuns = %v, want the run's error", err)
	}
}
