package main

import (
	"bufio"
	"bytes"
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
)

// requestCounts is kube-apiserver's apiserver_request_total summed by "VERB resource"
// (resource/subresource when there is one).
type requestCounts map[string]float64

// scrapeRequests reads kube-apiserver's /metrics.
func scrapeRequests(ctx context.Context, kc kubernetes.Interface) (requestCounts, error) {
	b, err := kc.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	return parseRequests(b), nil
}

// parseRequests picks apiserver_request_total out of the Prometheus text format.
func parseRequests(b []byte) requestCounts {
	out := requestCounts{}
	eachSample(b, "apiserver_request_total", func(labels map[string]string, v float64) {
		key := labels["verb"] + " " + labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[key] += v
	})
	return out
}

// eachSample calls f with the labels and value of every sample of metric in the
// Prometheus text format b.
func eachSample(b []byte, metric string, f func(labels map[string]string, v float64)) {
	prefix := metric + "{"
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			continue
		}
		f(parseLabels(line[len(prefix):end]), v)
	}
}

// parseLabels parses `a="x",b="y"` (label values here hold no quotes or commas).
func parseLabels(s string) map[string]string {
	m := map[string]string{}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		m[k] = strings.Trim(v, `"`)
	}
	return m
}

// writeVerbs are the verbs that change objects.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

// apiFigures are kube-apiserver requests during a phase, per Certificate.
type apiFigures struct {
	WritesPerCert float64 `json:"writes_per_cert"`
	// CertflowWritesPerCert leaves out the bench's own creates of the Certificates.
	CertflowWritesPerCert float64 `json:"certflow_writes_per_cert"`
	ReadsPerCert          float64 `json:"reads_per_cert"` // GET and LIST (watches not counted)
	// ByVerbResource is requests per Certificate by "VERB resource[/subresource]"
	// (all verbs but WATCH).
	ByVerbResource map[string]float64 `json:"by_verb_resource_per_cert"`
	// EventsPerCert and SecretsPerCert count the objects in the bench namespace at the end.
	EventsPerCert  float64 `json:"events_per_cert"`
	SecretsPerCert float64 `json:"secrets_per_cert"`
}

// diffRequests turns two scrapes into per-Certificate figures.
func diffRequests(before, after requestCounts, n int) apiFigures {
	f := apiFigures{ByVerbResource: map[string]float64{}}
	if n == 0 {
		return f
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		d := after[k] - before[k]
		verb, _, _ := strings.Cut(k, " ")
		if d <= 0 || verb == "WATCH" {
			continue
		}
		f.ByVerbResource[k] = d / float64(n)
		switch {
		case writeVerbs[verb]:
			f.WritesPerCert += d / float64(n)
		case verb == "GET" || verb == "LIST":
			f.ReadsPerCert += d / float64(n)
		}
	}
	f.CertflowWritesPerCert = f.WritesPerCert - f.ByVerbResource["POST certificates"]
	return f
}
