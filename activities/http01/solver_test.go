package http01

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	var r Registry // the zero value is usable
	if _, ok := r.Lookup("example.com", "t1"); ok {
		t.Fatal("empty registry found a token")
	}
	r.Remove("example.com", "t1") // no-op

	r.Add("", "any", "k-any")
	r.Add("Example.COM.", "host", "k-host")
	r.Add("", "both", "k-both-any")
	r.Add("example.com", "both", "k-both-host")
	r.Add("[2001:db8::1]", "v6", "k-v6")
	if r.Len() != 5 {
		t.Fatalf("Len = %d", r.Len())
	}
	tests := []struct {
		host, token string
		want        string // "" = not found
	}{
		{"whatever.org", "any", "k-any"},
		{"", "any", "k-any"},
		{"example.com", "host", "k-host"},
		{"EXAMPLE.com:8080", "host", "k-host"},
		{"example.com.", "host", "k-host"},
		{"other.com", "host", ""},
		{"", "host", ""},
		{"example.com", "both", "k-both-host"},
		{"other.com", "both", "k-both-any"},
		{"[2001:db8::1]:80", "v6", "k-v6"},
		{"2001:db8::1", "v6", "k-v6"},
		{"example.com", "missing", ""},
	}
	for _, tc := range tests {
		got, ok := r.Lookup(tc.host, tc.token)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("Lookup(%q, %q) = %q, %v; want %q", tc.host, tc.token, got, ok, tc.want)
		}
	}
	r.Add("", "any", "k-any-2") // replaces
	if got, _ := r.Lookup("x", "any"); got != "k-any-2" {
		t.Errorf("replaced key = %q", got)
	}
	r.Remove("example.com", "both")
	if got, _ := r.Lookup("example.com", "both"); got != "k-both-any" {
		t.Errorf("after removing the host entry: %q", got)
	}
	r.Remove("EXAMPLE.COM", "host")
	if _, ok := r.Lookup("example.com", "host"); ok {
		t.Error("host entry still there after Remove")
	}
	if r.Len() != 3 {
		t.Errorf("Len = %d after removals", r.Len())
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				tok := fmt.Sprintf("t%d-%d", i, j)
				r.Add("", tok, "k")
				if _, ok := r.Lookup("h", tok); !ok {
					t.Errorf("lost %s", tok)
				}
				r.Remove("", tok)
			}
		}()
	}
	wg.Wait()
	if r.Len() != 0 {
		t.Fatalf("Len = %d", r.Len())
	}
}

type httpResult struct {
	status      int
	body        string
	contentType string
}

func do(t *testing.T, method, url, host string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{resp.StatusCode, string(b), resp.Header.Get("Content-Type")}
}

func TestHandler(t *testing.T) {
	reg := NewRegistry()
	reg.Add("", "anyhost", "anyhost.thumb")
	reg.Add("example.com", "hosted", "hosted.thumb")
	srv := httptest.NewServer(Handler(reg)) // listens on 127.0.0.1
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s", srv.URL)
	}
	p := srv.URL + "/.well-known/acme-challenge/"
	tests := []struct {
		name, method, url, host string
		want                    int
		body                    string
	}{
		{"token for any host", "GET", p + "anyhost", "whatever.example.org", 200, "anyhost.thumb"},
		{"token for any host, default Host", "GET", p + "anyhost", "", 200, "anyhost.thumb"},
		{"token for its host", "GET", p + "hosted", "example.com", 200, "hosted.thumb"},
		{"token for its host with port", "GET", p + "hosted", "example.com:80", 200, "hosted.thumb"},
		{"token for another host", "GET", p + "hosted", "other.com", 404, ""},
		{"token for its host, Host is the listener", "GET", p + "hosted", "", 404, ""},
		{"unknown token", "GET", p + "nope", "example.com", 404, ""},
		{"empty token", "GET", p, "example.com", 404, ""},
		{"nested path", "GET", p + "anyhost/x", "example.com", 404, ""},
		{"other path", "GET", srv.URL + "/anyhost", "example.com", 404, ""},
		{"HEAD", "HEAD", p + "anyhost", "example.com", 200, ""},
		{"POST not allowed", "POST", p + "anyhost", "example.com", 405, ""},
		{"health check /", "GET", srv.URL + "/", "", 200, ""},
		{"health check /healthz", "GET", srv.URL + "/healthz", "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := do(t, tc.method, tc.url, tc.host)
			if got.status != tc.want {
				t.Fatalf("status = %d, want %d (body %q)", got.status, tc.want, got.body)
			}
			if tc.want == 200 && tc.body != "" {
				if got.body != tc.body {
					t.Fatalf("body = %q, want %q", got.body, tc.body)
				}
				if got.contentType != "text/plain" {
					t.Fatalf("Content-Type = %q", got.contentType)
				}
			}
		})
	}
	reg.Remove("", "anyhost")
	if got := do(t, "GET", p+"anyhost", "x"); got.status != 404 {
		t.Fatalf("after Remove: %d", got.status)
	}
	reg.Add("", "late", "late.thumb")
	if got := do(t, "GET", p+"late", "x"); got.status != 200 || got.body != "late.thumb" {
		t.Fatalf("token added while serving: %+v", got)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRunSolver(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunSolver(ctx, addr, "example.com", "tok", "tok.thumb") }()

	url := "http://" + addr + "/.well-known/acme-challenge/tok"
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("RunSolver returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("solver not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := do(t, "GET", url, "example.com"); got.status != 200 || got.body != "tok.thumb" {
		t.Fatalf("GET for the domain: %+v", got)
	}
	if got := do(t, "GET", url, "other.com"); got.status != 404 {
		t.Fatalf("GET for another host: %+v", got)
	}
	if got := do(t, "GET", "http://"+addr+"/healthz", ""); got.status != 200 {
		t.Fatalf("healthz: %+v", got)
	}

	// Listening on the same address again fails at once.
	if err := RunSolver(context.Background(), addr, "example.com", "tok", "k"); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("second RunSolver on %s: %v", addr, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunSolver after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunSolver did not stop after ctx was cancelled")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("still listening after RunSolver returned")
	}
}

func TestRunSolverRequiresTokenAndKey(t *testing.T) {
	if err := RunSolver(context.Background(), "127.0.0.1:0", "example.com", "", "k"); err == nil {
		t.Fatal("no error without token")
	}
	if err := RunSolver(context.Background(), "127.0.0.1:0", "example.com", "t", ""); err == nil {
		t.Fatal("no error without key")
	}
}
