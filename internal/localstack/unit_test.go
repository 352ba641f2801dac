package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/localstack/childproc"
)

// Unit tests: they need no binaries and always run.

func TestCertsReusedAndRegenerated(t *testing.T) {
	dir := t.TempDir()
	p1, err := ensureKubePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ensureKubePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1.ca.certPEM, p2.ca.certPEM) || !bytes.Equal(p1.admin.certPEM, p2.admin.certPEM) {
		t.Fatal("certificates regenerated although present")
	}
	if len(p1.adminToken) < 32 || p1.adminToken != p2.adminToken {
		t.Fatalf("admin token %q then %q, want one stable random token", p1.adminToken, p2.adminToken)
	}
	if tf, err := os.ReadFile(filepath.Join(p1.dir, "tokens.csv")); err != nil || string(tf) != p1.adminToken+","+AdminUser+","+AdminUser+",\"system:masters\"\n" {
		t.Fatalf("tokens.csv %q (%v)", tf, err)
	}
	if got := p1.admin.cert.Subject; got.CommonName != AdminUser || len(got.Organization) != 1 || got.Organization[0] != "system:masters" {
		t.Fatalf("admin subject %v", got)
	}
	if err := p1.serving.cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := p1.serving.cert.VerifyHostname("localhost"); err != nil {
		t.Fatal(err)
	}
	// A new CA invalidates the leaves signed by the old one.
	if err := os.Remove(filepath.Join(p1.dir, "kube-ca.crt")); err != nil {
		t.Fatal(err)
	}
	p3, err := ensureKubePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p3.ca.certPEM, p1.ca.certPEM) || bytes.Equal(p3.serving.certPEM, p1.serving.certPEM) {
		t.Fatal("certificates not regenerated after the CA was removed")
	}
	if err := p3.serving.cert.CheckSignatureFrom(p3.ca.cert); err != nil {
		t.Fatal(err)
	}
	sa, err := os.ReadFile(filepath.Join(p1.dir, "sa.key"))
	if err != nil || !bytes.Contains(sa, []byte("PRIVATE KEY")) {
		t.Fatalf("sa.key: %v", err)
	}
}

func TestPebbleConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pebble.json")
	p := Ports{ACME: 1, PebbleManagement: 2, HTTP01: 3, TLSALPN01: 4}
	if err := writePebbleConfig(path, "/pki", &p, 0); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var c map[string]map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	pb := c["pebble"]
	for k, want := range map[string]any{
		"listenAddress": "127.0.0.1:1", "managementListenAddress": "127.0.0.1:2",
		"httpPort": 3.0, "tlsPort": 4.0, "ocspResponderURL": "", "externalAccountBindingRequired": false,
		"certificate": "/pki/pebble.crt",
	} {
		if pb[k] != want {
			t.Errorf("%s = %v, want %v", k, pb[k], want)
		}
	}
	if bl, ok := pb["domainBlocklist"].([]any); !ok || len(bl) != 0 {
		t.Errorf("domainBlocklist = %v", pb["domainBlocklist"])
	}
	// Let's Encrypt's profiles, in Pebble's words (ca.Profile).
	profiles, _ := pb["profiles"].(map[string]any)
	for name, want := range map[string]struct {
		validity float64
		cn       bool
	}{
		ProfileDefault: {90 * 86400, true}, ProfileClassic: {90 * 86400, true},
		ProfileTLSServer: {90 * 86400, false}, ProfileShortLived: {160 * 3600, false},
	} {
		prof, _ := profiles[name].(map[string]any)
		if prof["validityPeriod"] != want.validity || prof["promoteCommonName"] != want.cn {
			t.Errorf("profile %s = %v, want validityPeriod %v, promoteCommonName %t", name, prof, want.validity, want.cn)
		}
	}
}

func TestPebbleConfigShortLivedValidity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pebble.json")
	p := Ports{ACME: 1, PebbleManagement: 2, HTTP01: 3, TLSALPN01: 4}
	if err := writePebbleConfig(path, "/pki", &p, 400*time.Second); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var c pebbleConfig
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Pebble.Profiles[ProfileShortLived].ValidityPeriod; got != 400 {
		t.Errorf("shortlived validityPeriod = %d, want 400", got)
	}
	if got := c.Pebble.Profiles[ProfileTLSServer].ValidityPeriod; got != 90*86400 {
		t.Errorf("tlsserver validityPeriod = %d, want unchanged 90 days", got)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "localstack")); err != nil {
		t.Fatalf("RepoRoot %s: %v", root, err)
	}
}

func TestSearchAttributeCLITypes(t *testing.T) {
	for _, a := range SearchAttributes() {
		if a.CLIType() == "Unspecified" {
			t.Errorf("%s has no CLI type", a.Name)
		}
	}
}

// writeScript writes an executable shell script named name into dir.
func writeScript(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// A component that dies at start makes Start fail with the tail of its log, and
// stops what was already started.
func TestStartFailureReportsLogTail(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	bin := t.TempDir()
	writeScript(t, bin, "pebble-challtestsrv", `echo "challtestsrv: something broke badly" >&2; exit 3`)
	state := t.TempDir()
	t0 := time.Now()
	s, err := Start(context.Background(), Options{BinDir: bin, StateDir: state, ACME: true})
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded with a failing component")
	}
	if !strings.Contains(err.Error(), "something broke badly") {
		t.Fatalf("error lacks the log tail: %v", err)
	}
	if time.Since(t0) > 10*time.Second {
		t.Errorf("failure took %s to notice", time.Since(t0))
	}
}

func TestMissingBinary(t *testing.T) {
	_, err := Start(context.Background(), Options{BinDir: t.TempDir(), StateDir: t.TempDir(), Kube: true})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("want a not-found error, got %v", err)
	}
	if err := CheckBinaries(Options{BinDir: t.TempDir(), Kube: true, Temporal: true, ACME: true}); err == nil ||
		!strings.Contains(err.Error(), "etcd") || !strings.Contains(err.Error(), "pebble-challtestsrv") {
		t.Fatalf("CheckBinaries: %v", err)
	}
}

// Stop kills the whole process group, including a child that ignores SIGTERM, and a
// stuck readiness check gives up when the context is cancelled.
func TestStopKillsProcessGroup(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	writeScript(t, dir, "stubborn", `trap "" TERM; sleep 300 & echo $! > `+dir+`/child.pid; wait`)
	p, err := startProc("stubborn", filepath.Join(dir, "stubborn"), nil, dir, nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var childPID int
	for range 50 {
		if b, err := os.ReadFile(filepath.Join(dir, "child.pid")); err == nil && len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(bytes.TrimSpace(b), &childPID); err == nil {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if childPID == 0 {
		t.Fatal("child pid not written")
	}
	if err := p.stop(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The grandchild is reparented and reaped by init (or a subreaper); give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for alive(childPID) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive", childPID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie waiting for its reaper.
func alive(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3, after the parenthesised command name, is the state.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && len(b) > i+2 {
		return b[i+2] != 'Z'
	}
	return true
}

// "address already in use" makes Start retry the component once, with new free ports.
func TestRetryOnAddressInUse(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	bin := t.TempDir()
	// The script runs in StateDir: the first attempt leaves a marker file behind.
	writeScript(t, bin, "pebble-challtestsrv", `echo "$@" >> attempts
if [ -f attempted ]; then echo "second attempt failed differently" >&2; exit 1; fi
touch attempted; echo "listen tcp 127.0.0.1:1: bind: address already in use" >&2; exit 1`)
	state := t.TempDir()
	var log bytes.Buffer
	_, err := Start(context.Background(), Options{BinDir: bin, StateDir: state, ACME: true, Log: &log})
	if err == nil || !strings.Contains(err.Error(), "second attempt failed differently") {
		t.Fatalf("want the second attempt's error, got %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(state, "attempts"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] == lines[1] {
		t.Fatalf("want two attempts with different ports, got %q", lines)
	}
	if !strings.Contains(log.String(), "retrying once") {
		t.Errorf("progress log: %s", log.String())
	}
}

// The Temporal dev server reports a taken port as a panic followed by a goroutine dump
// of some hundred lines: the port conflict is still recognised (and retried), and the
// error names the panic, not only the end of the dump.
func TestPanicWithLongDumpRecognised(t *testing.T) {
	log := filepath.Join(t.TempDir(), "temporal.log")
	var b strings.Builder
	b.WriteString("panic: listen tcp 127.0.0.1:35157: bind: address already in use\n\ngoroutine 1 [running]:\n")
	for i := range 150 {
		fmt.Fprintf(&b, "go.uber.org/dig.frame%d(...)\n\tparam.go:%d +0x358\n", i, i)
	}
	if err := os.WriteFile(log, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &proc{Proc: &childproc.Proc{Name: "temporal", LogPath: log}}
	if !addrInUse(p) {
		t.Error("a taken port reported by a panic was not recognised")
	}
	err := componentError(p, errors.New("temporal exited before it was ready"))
	if !strings.Contains(err.Error(), "panic: listen tcp 127.0.0.1:35157") || !strings.Contains(err.Error(), "frame149") {
		t.Errorf("error lacks the panic message or the tail: %v", err)
	}
}
