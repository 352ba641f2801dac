package profiler

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestServesHeapProfileUntilStopped(t *testing.T) {
	addr, stop, err := Listen("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("heap profile: %s %.200s", resp.Status, body)
	}
	stop()
	if _, err := http.Get("http://" + addr + "/debug/pprof/"); err == nil {
		t.Error("still serving after stop")
	}
}

func TestBusyAddressFails(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr, stop, err := Listen("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := Serve(addr, log); err == nil {
		t.Error("a second profiler on the same address started")
	}
}
