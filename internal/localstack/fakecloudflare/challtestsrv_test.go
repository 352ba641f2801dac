package fakecloudflare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/certflow/certflow/internal/localstack/childproc"
	"github.com/certflow/certflow/internal/localstack/freeport"
	"github.com/certflow/certflow/internal/testkit/dnsquery"
	"github.com/certflow/certflow/internal/testkit/jsonapi"
)

// TestChallTestSrvSinkRequests checks the management API calls the sink makes.
func TestChallTestSrvSinkRequests(t *testing.T) {
	var (
		mu    sync.Mutex
		calls []string
	)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]string
		if r.Method != http.MethodPost || json.Unmarshal(b, &body) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		calls = append(calls, r.URL.Path+" "+body["host"]+" "+body["value"])
		mu.Unlock()
		if body["value"] == "bad" {
			http.Error(w, "nope", http.StatusBadRequest)
		}
	}))
	defer hs.Close()
	sink := &ChallTestSrvSink{BaseURL: hs.URL + "/"}
	ctx := context.Background()
	// A host first seen is cleared; a value added next to others is only appended, a
	// value removed next to others stays served (no moment without records); a
	// replacement clears and sets the new values; the last removal clears the host.
	for _, values := range [][]string{{"a", "b"}, {"a", "b", "c"}, {"b", "c"}, {"b", "c", "d"}, {"x"}, nil} {
		if err := sink.SetTXT(ctx, "_acme-challenge.example.com.", values); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"/clear-txt _acme-challenge.example.com. ",
		"/set-txt _acme-challenge.example.com. a",
		"/set-txt _acme-challenge.example.com. b",
		"/set-txt _acme-challenge.example.com. c",
		"/set-txt _acme-challenge.example.com. d",
		"/clear-txt _acme-challenge.example.com. ",
		"/set-txt _acme-challenge.example.com. x",
		"/clear-txt _acme-challenge.example.com. ",
	}
	if !slices.Equal(calls, want) {
		t.Errorf("calls\n%q\nwant\n%q", calls, want)
	}
	err := sink.SetTXT(ctx, "x.example.com.", []string{"bad"})
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "nope") {
		t.Errorf("error %v", err)
	}
}

// TestChallTestSrvSinkIntegration runs the fake with a ChallTestSrvSink against a real
// pebble-challtestsrv and reads the records back over DNS. It runs when
// CERTFLOW_INTEGRATION is set (and then fails if bin/pebble-challtestsrv is missing).
func TestChallTestSrvSinkIntegration(t *testing.T) {
	if os.Getenv("CERTFLOW_INTEGRATION") == "" {
		t.Skip("integration test: set CERTFLOW_INTEGRATION=1 (and build bin/ with hack/build-tools.sh) to run it")
	}
	bin, err := repoBin("pebble-challtestsrv")
	if err != nil {
		t.Fatal(err)
	}
	dnsPort, mgmtPort := mustFreePort(t, true), mustFreePort(t, false)
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	mgmtURL := fmt.Sprintf("http://127.0.0.1:%d", mgmtPort)
	p, err := childproc.Start("pebble-challtestsrv", bin, []string{
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-defaultIPv6", "",
		"-dnsserver", dnsAddr, "-management", fmt.Sprintf("127.0.0.1:%d", mgmtPort),
	}, filepath.Join(t.TempDir(), "challtestsrv.log"), childproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	waitReady(t, p, mgmtURL, dnsAddr)

	sink := &ChallTestSrvSink{BaseURL: mgmtURL}
	fake := New(Options{Zones: []string{"example.test"}, Tokens: []string{testToken}, Sink: sink})
	apiURL, err := fake.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	zid := fake.Zones()[0].ID
	recordsURL := apiURL + "/zones/" + zid + "/dns_records"
	const name = "_acme-challenge.example.test."

	create := func(content string) string {
		t.Helper()
		body := fmt.Sprintf(`{"type":"TXT","name":%q,"content":%q,"ttl":120}`, name, content)
		var res struct {
			Success bool
			Result  struct{ ID string }
		}
		jsonapi.Call(context.Background(), t, testToken, http.MethodPost, recordsURL, body, &res)
		if !res.Success || res.Result.ID == "" {
			t.Fatalf("create %s failed", content)
		}
		return res.Result.ID
	}

	id1 := create("value-one")
	create("value-two")
	if got := dnsquery.TXT(t, dnsAddr, name); !slices.Equal(got, []string{"value-one", "value-two"}) {
		t.Fatalf("TXT %s = %q after two creates", name, got)
	}
	// A value deleted next to another stays served (see ChallTestSrvSink): never a
	// moment without the other.
	jsonapi.Call(context.Background(), t, testToken, http.MethodDelete, recordsURL+"/"+id1, "", nil)
	if got := dnsquery.TXT(t, dnsAddr, name); !slices.Contains(got, "value-two") {
		t.Fatalf("TXT %s = %q after deleting value-one, want value-two still served", name, got)
	}
	// A direct SetTXT with an empty set clears the name.
	if err := sink.SetTXT(context.Background(), name, nil); err != nil {
		t.Fatal(err)
	}
	if got := dnsquery.TXT(t, dnsAddr, name); len(got) != 0 {
		t.Fatalf("TXT %s = %q after clearing", name, got)
	}
}

// waitReady waits until challtestsrv answers on its management API and DNS server.
func waitReady(t *testing.T, p *childproc.Proc, mgmtURL, dnsAddr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if p.Exited() {
			t.Fatalf("pebble-challtestsrv exited: %v\n%s", p.Err(), p.Tail(40))
		}
		last = func() error {
			resp, err := http.Post(mgmtURL+"/clear-txt", "application/json", strings.NewReader(`{"host":"ready.invalid."}`))
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New(resp.Status)
			}
			m := new(dns.Msg)
			m.SetQuestion("ready.invalid.", dns.TypeA)
			_, _, err = (&dns.Client{Timeout: time.Second}).Exchange(m, dnsAddr)
			return err
		}()
		if last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pebble-challtestsrv not ready: %v\n%s", last, p.Tail(40))
}

// repoBin returns the path of bin/<name> in the repository root (the directory with
// go.mod above the working directory), or an error if it is missing.
func repoBin(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "bin", name)
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return "", fmt.Errorf("%s is missing (run hack/build-tools.sh)", p)
	}
	return p, nil
}

func mustFreePort(t *testing.T, udp bool) int {
	t.Helper()
	p, err := freeport.Get(udp)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
