// Package bind runs a private ISC BIND 9 (named) for tests: authoritative only, on
// 127.0.0.1 and a free high port (UDP and TCP), serving one or more primary zones
// that a TSIG key may change with RFC 2136 dynamic updates. Everything named writes
// (config, zone files, journals, pid, lock and session-key files, its log) lives
// under Options.Dir; it has no rndc control channel and does no recursion.
//
// named itself comes from Debian's bind9 package: hack/install-bind.sh installs it.
package bind

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/certflow/certflow/internal/localstack/childproc"
	"github.com/certflow/certflow/internal/localstack/freeport"
)

// Defaults for Options.
const (
	DefaultZone          = "example.com"
	DefaultTSIGKeyName   = "certflow-test."
	DefaultTSIGAlgorithm = "HMACMD5" // upstream cert-manager's default for RFC2136
	DefaultStartTimeout  = 30 * time.Second
)

// algorithms maps upstream cert-manager's TSIG algorithm names to BIND's.
var algorithms = map[string]string{
	"HMACMD5":    "hmac-md5",
	"HMACSHA1":   "hmac-sha1",
	"HMACSHA256": "hmac-sha256",
	"HMACSHA512": "hmac-sha512",
}

// BINDAlgorithm returns BIND's name (hmac-md5, hmac-sha1, hmac-sha256, hmac-sha512)
// for one of upstream cert-manager's TSIG algorithm names (HMACMD5, HMACSHA1,
// HMACSHA256, HMACSHA512; case-insensitive; empty means HMACMD5).
func BINDAlgorithm(upstream string) (string, error) {
	if upstream == "" {
		upstream = DefaultTSIGAlgorithm
	}
	if a, ok := algorithms[strings.ToUpper(upstream)]; ok {
		return a, nil
	}
	return "", fmt.Errorf("bind: unsupported TSIG algorithm %q (supported: HMACMD5, HMACSHA1, HMACSHA256, HMACSHA512)", upstream)
}

// Options for Start.
type Options struct {
	// Dir is where named's config, zones, journals, pid file and log go; required
	// (t.TempDir() in tests). named runs with Dir/named as its working directory.
	Dir string
	// Zones are the primary zones served, e.g. "example.com" (default: example.com).
	// Each gets an SOA, an NS record "ns1.<zone>." and an A record 127.0.0.1 for it,
	// so a resolver pointed at this server finds the zone's nameserver on loopback.
	Zones []string
	// Records are extra resource records in master-file syntax with absolute owner
	// names (e.g. "alias.example.com. 300 IN CNAME target.example.com."); each goes
	// into the longest zone that contains its owner.
	Records []string
	// TSIGKeyName is the key allowed to update every zone (default "certflow-test.").
	TSIGKeyName string
	// TSIGAlgorithm in upstream cert-manager's names: HMACMD5 (default), HMACSHA1,
	// HMACSHA256 or HMACSHA512.
	TSIGAlgorithm string
	// TSIGSecret is the base64 key; a random 32-byte one is generated when empty.
	TSIGSecret string
	// Named is the named binary (default: FindNamed()).
	Named string
	// StartTimeout bounds waiting for named to answer (default 30s); the ctx passed
	// to Start bounds it too.
	StartTimeout time.Duration
}

// Server is a running named.
type Server struct {
	addr      string
	port      int
	zones     []string
	keyName   string
	algorithm string
	secret    string
	dir       string
	proc      *childproc.Proc

	stopOnce sync.Once
	stopErr  error
}

// FindNamed returns the path of the named binary: on PATH, else /usr/sbin/named.
func FindNamed() (string, error) {
	if p, err := exec.LookPath("named"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/named", "/usr/local/sbin/named"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("bind: named (ISC BIND 9) not found on PATH nor at /usr/sbin/named: run hack/install-bind.sh to install Debian's bind9")
}

// Start writes named's configuration and zones under o.Dir, starts named in the
// foreground (-g: logs to Dir/named.log) on 127.0.0.1:<free port>, and returns once
// it answers SOA queries for every zone over UDP and TCP. ctx bounds only the start;
// the server runs until Stop (or until this process dies: named gets Pdeathsig).
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("bind: Options.Dir is required")
	}
	bin := o.Named
	if bin == "" {
		var err error
		if bin, err = FindNamed(); err != nil {
			return nil, err
		}
	}
	zones, err := normalizeZones(o.Zones)
	if err != nil {
		return nil, err
	}
	algUp := strings.ToUpper(o.TSIGAlgorithm)
	if algUp == "" {
		algUp = DefaultTSIGAlgorithm
	}
	alg, err := BINDAlgorithm(algUp)
	if err != nil {
		return nil, err
	}
	keyName := o.TSIGKeyName
	if keyName == "" {
		keyName = DefaultTSIGKeyName
	}
	keyName = dns.CanonicalName(keyName)
	if _, ok := dns.IsDomainName(keyName); !ok {
		return nil, fmt.Errorf("bind: invalid TSIG key name %q", o.TSIGKeyName)
	}
	secret := o.TSIGSecret
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		secret = base64.StdEncoding.EncodeToString(b)
	} else if _, err := base64.StdEncoding.DecodeString(secret); err != nil {
		return nil, fmt.Errorf("bind: TSIG secret is not valid base64: %v", err)
	}
	records, err := assignRecords(zones, o.Records)
	if err != nil {
		return nil, err
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	work, err := filepath.Abs(filepath.Join(o.Dir, "named"))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	for _, z := range zones {
		if err := os.WriteFile(filepath.Join(work, zoneFile(z)), []byte(zoneText(z, records[z])), 0o644); err != nil {
			return nil, err
		}
	}

	s := &Server{zones: zones, keyName: keyName, algorithm: algUp, secret: secret, dir: work}
	// A free port can be taken by someone else between probing and named binding it;
	// named then exits at once, and another port is tried.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freeport.Get(true)
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(work, "named.conf")
		if err := os.WriteFile(conf, []byte(configText(work, port, keyName, alg, secret, zones)), 0o644); err != nil {
			return nil, err
		}
		// Journals from an earlier attempt would be replayed; there are none yet, but
		// remove them so a retried start begins from the zone files.
		for _, z := range zones {
			_ = os.Remove(filepath.Join(work, zoneFile(z)+".jnl"))
		}
		// -g: foreground, all logging to stderr; -4: IPv4 only; -n 1: one worker
		// thread is plenty. No -u: named keeps the user it was started as (root here,
		// where it is allowed; any user works, all files are in work and the port is
		// high).
		args := []string{"-g", "-4", "-n", "1", "-c", conf}
		proc, err := childproc.Start("named", bin, args, filepath.Join(o.Dir, "named.log"), childproc.Options{Dir: work})
		if err != nil {
			return nil, err
		}
		s.proc, s.port, s.addr = proc, port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err = s.waitReady(ctx)
		if err == nil {
			return s, nil
		}
		lastErr = err
		exited := proc.Exited()
		_ = proc.Stop(2 * time.Second)
		if !exited || ctx.Err() != nil || !strings.Contains(strings.ToLower(proc.Tail(40)), "address in use") {
			break
		}
	}
	return nil, lastErr
}

// waitReady polls SOA for every zone over UDP and TCP until all answer
// authoritatively, named exits, or ctx ends.
func (s *Server) waitReady(ctx context.Context) error {
	pending := map[string]bool{}
	for _, z := range s.zones {
		pending[z] = true
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		for z := range pending {
			ok := true
			for _, netw := range []string{"udp", "tcp"} {
				if err := s.probe(ctx, netw, z); err != nil {
					ok, last = false, err.Error()
					break
				}
			}
			if ok {
				delete(pending, z)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-s.proc.Done():
			return fmt.Errorf("bind: named exited during start (%v); log %s:\n%s", s.proc.Err(), s.proc.LogPath, s.proc.Tail(30))
		case <-ctx.Done():
			return fmt.Errorf("bind: named did not answer SOA on %s in time (last: %s); log %s:\n%s", s.addr, last, s.proc.LogPath, s.proc.Tail(30))
		case <-tick.C:
		}
	}
}

func (s *Server) probe(ctx context.Context, netw, zone string) error {
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	m.RecursionDesired = false
	c := &dns.Client{Net: netw, Timeout: 500 * time.Millisecond}
	r, _, err := c.ExchangeContext(ctx, m, s.addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
		return fmt.Errorf("SOA %s over %s: rcode %s, aa=%v, %d answers", zone, netw, dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
	}
	return nil
}

// Addr is "127.0.0.1:port", for both UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Port is the port named listens on.
func (s *Server) Port() int { return s.port }

// Zones are the served zones as canonical names with trailing dot ("example.com.").
func (s *Server) Zones() []string { return append([]string(nil), s.zones...) }

// TSIGKeyName is the key's name as a canonical FQDN ("certflow-test.").
func (s *Server) TSIGKeyName() string { return s.keyName }

// TSIGAlgorithm is the key's algorithm in upstream cert-manager's naming (HMACSHA256).
func (s *Server) TSIGAlgorithm() string { return s.algorithm }

// TSIGSecret is the key's base64 secret.
func (s *Server) TSIGSecret() string { return s.secret }

// LogPath is named's log file.
func (s *Server) LogPath() string { return s.proc.LogPath }

// LogTail returns the last n lines of named's log.
func (s *Server) LogTail(n int) string { return s.proc.Tail(n) }

// Stop terminates named (SIGTERM, SIGKILL after 5s). Safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.proc.Stop(5 * time.Second) })
	return s.stopErr
}

func normalizeZones(in []string) ([]string, error) {
	if len(in) == 0 {
		in = []string{DefaultZone}
	}
	seen := map[string]bool{}
	var out []string
	for _, z := range in {
		c := dns.CanonicalName(strings.TrimSpace(z))
		if c == "." {
			return nil, errors.New("bind: the root zone cannot be served")
		}
		if _, ok := dns.IsDomainName(c); !ok || strings.ContainsAny(c, "\"; \t\n{}") {
			return nil, fmt.Errorf("bind: invalid zone name %q", z)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// assignRecords parses extra records and files each under the longest zone that
// contains its owner.
func assignRecords(zones []string, recs []string) (map[string][]string, error) {
	out := map[string][]string{}
	byLen := append([]string(nil), zones...)
	sort.Slice(byLen, func(i, j int) bool { return dns.CountLabel(byLen[i]) > dns.CountLabel(byLen[j]) })
	for _, line := range recs {
		rr, err := dns.NewRR(line)
		if err != nil {
			return nil, fmt.Errorf("bind: record %q: %v", line, err)
		}
		if rr == nil {
			continue
		}
		owner := dns.CanonicalName(rr.Header().Name)
		placed := false
		for _, z := range byLen {
			if dns.IsSubDomain(z, owner) {
				out[z] = append(out[z], rr.String())
				placed = true
				break
			}
		}
		if !placed {
			return nil, fmt.Errorf("bind: record %q is in none of the zones %v", line, zones)
		}
	}
	return out, nil
}

func zoneFile(zone string) string { return strings.TrimSuffix(zone, ".") + ".db" }

func zoneText(zone string, extra []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n", zone)
	fmt.Fprintf(&b, "@\tIN\tSOA\tns1.%s hostmaster.%s 1 3600 600 86400 60\n", zone, zone)
	fmt.Fprintf(&b, "@\tIN\tNS\tns1.%s\n", zone)
	fmt.Fprintf(&b, "ns1.%s\tIN\tA\t127.0.0.1\n", zone)
	for _, r := range extra {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	return b.String()
}

func configText(work string, port int, keyName, alg, secret string, zones []string) string {
	q := strconv.Quote
	p := func(name string) string { return q(filepath.Join(work, name)) }
	var b strings.Builder
	fmt.Fprintf(&b, "key %s {\n\talgorithm %s;\n\tsecret %s;\n};\n\n", q(keyName), alg, q(secret))
	b.WriteString("// No rndc control channel.\ncontrols { };\n\n")
	b.WriteString("options {\n")
	fmt.Fprintf(&b, "\tdirectory %s;\n", q(work))
	fmt.Fprintf(&b, "\tpid-file %s;\n", p("named.pid"))
	fmt.Fprintf(&b, "\tlock-file %s;\n", p("named.lock"))
	fmt.Fprintf(&b, "\tsession-keyfile %s;\n", p("session.key"))
	fmt.Fprintf(&b, "\tmanaged-keys-directory %s;\n", q(work))
	fmt.Fprintf(&b, "\tdump-file %s;\n", p("named_dump.db"))
	fmt.Fprintf(&b, "\tstatistics-file %s;\n", p("named.stats"))
	fmt.Fprintf(&b, "\tmemstatistics-file %s;\n", p("named.memstats"))
	fmt.Fprintf(&b, "\tlisten-on port %d { 127.0.0.1; };\n", port)
	b.WriteString("\tlisten-on-v6 { none; };\n")
	b.WriteString("\trecursion no;\n")
	b.WriteString("\tallow-recursion { none; };\n")
	b.WriteString("\tallow-query { any; };\n")
	b.WriteString("\tallow-transfer { none; };\n")
	b.WriteString("\tnotify no;\n")
	b.WriteString("\tdnssec-validation no;\n")
	b.WriteString("\tempty-zones-enable no;\n")
	b.WriteString("\tminimal-responses no;\n")
	b.WriteString("};\n")
	for _, z := range zones {
		fmt.Fprintf(&b, "\nzone %s {\n\ttype primary;\n\tfile %s;\n\tallow-update { key %s; };\n};\n", q(z), q(zoneFile(z)), q(keyName))
	}
	return b.String()
}
