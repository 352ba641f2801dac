package logging

import (
	"bytes"
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

func TestJSONCoversKlog(t *testing.T) {
	var f Flags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f.AddTo(fs)
	if err := fs.Parse([]string{"--logging-format=json", "-v=4"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log, err := f.New(&out)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("ours", "k", "v")
	klog.InfoS("client-go's", "lock", "kube-system/x")
	klog.V(4).InfoS("a debug line of client-go's")
	klog.Flush()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("not JSON: %s", l)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := (Flags{Format: "xml"}).New(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("New(xml) = %v, want an error naming text and json", err)
	}
	if a := (Flags{Format: "json", Verbosity: 2}).Args(); strings.Join(a, " ") != "--logging-format json -v 2" {
		t.Errorf("Args = %q", a)
	}
}
