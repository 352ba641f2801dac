package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/certflow/certflow/internal/localstack/childproc"
	"github.com/certflow/certflow/internal/localstack/freeport"
)

// The Temporal server on PostgreSQL (Options.TemporalPostgres) is what a production
// cluster runs instead of the dev server: bin/temporal-server (all four services in one
// process) with its persistence and visibility in a PostgreSQL of Debian's packages,
// in StateDir/postgres, schemas set up by bin/temporal-sql-tool from the schemas the
// server release embeds. It has no Web UI.

// temporalShards is the cluster's number of history shards: Temporal's own development
// configurations use 4 (the dev server runs 1; production clusters run hundreds, fixed
// when the cluster is created).
const temporalShards = 4

// postgresDatabases are the databases of the Temporal server and their embedded
// schemas (temporal-sql-tool --schema-name).
var postgresDatabases = []struct{ name, schema string }{
	{"temporal", "postgresql/v12/temporal"},
	{"temporal_visibility", "postgresql/v12/visibility"},
}

func (s *Stack) startTemporalPostgres(ctx context.Context, o *Options) error {
	pgBin, err := postgresBinDir(o.PostgresBinDir)
	if err != nil {
		return err
	}
	cred, err := postgresCredential()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(o.StateDir, "postgres")
	if err := initPostgres(ctx, o.StateDir, pgBin, dataDir, cred); err != nil {
		return err
	}
	p := &s.Ports
	pgPort := func() string { return strconv.Itoa(p.Postgres) }
	err = s.runComponent(ctx, o, component{
		name: "postgres", bin: filepath.Join(pgBin, "postgres"), chain: "temporal", timeout: 60 * time.Second,
		asUser: cred,
		reset:  func() { p.Postgres = o.Ports.Postgres },
		pick:   func() error { return fillPorts(nil, &p.Postgres) },
		addr:   func() string { return "127.0.0.1:" + pgPort() },
		args: func() []string {
			return []string{
				"-D", dataDir, "-h", "127.0.0.1", "-p", pgPort(),
				"-c", "unix_socket_directories=", // TCP on loopback only
				"-c", "max_connections=200",
				"-c", "log_min_messages=warning",
			}
		},
		ready: func(ctx context.Context) error {
			out, err := exec.CommandContext(ctx, filepath.Join(pgBin, "pg_isready"), "-h", "127.0.0.1", "-p", pgPort(), "-U", "temporal", "-d", "postgres").CombinedOutput()
			if err != nil {
				return fmt.Errorf("pg_isready: %v: %s", err, strings.TrimSpace(string(out)))
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	if err := s.setupTemporalSchemas(ctx, o); err != nil {
		return err
	}
	root := filepath.Join(o.StateDir, "temporal-server")
	err = s.runComponent(ctx, o, component{
		name: "temporal", bin: "temporal-server", chain: "temporal", timeout: 120 * time.Second,
		reset: func() {
			p.Temporal, p.TemporalHTTP, p.TemporalMetrics = o.Ports.Temporal, o.Ports.TemporalHTTP, o.Ports.TemporalMetrics
			p.TemporalFrontendMembership, p.TemporalHistory, p.TemporalHistoryMembership = o.Ports.TemporalFrontendMembership, o.Ports.TemporalHistory, o.Ports.TemporalHistoryMembership
			p.TemporalMatching, p.TemporalMatchingMembership = o.Ports.TemporalMatching, o.Ports.TemporalMatchingMembership
			p.TemporalWorker, p.TemporalWorkerMembership = o.Ports.TemporalWorker, o.Ports.TemporalWorkerMembership
			p.TemporalPprof = o.Ports.TemporalPprof
		},
		pick: func() error {
			if err := fillPorts(nil, &p.Temporal, &p.TemporalHTTP, &p.TemporalMetrics,
				&p.TemporalHistory, &p.TemporalMatching, &p.TemporalWorker, &p.TemporalPprof); err != nil {
				return err
			}
			// The cluster_membership table keeps a service's port as a smallint.
			for _, m := range []*int{&p.TemporalFrontendMembership, &p.TemporalHistoryMembership, &p.TemporalMatchingMembership, &p.TemporalWorkerMembership} {
				if *m != 0 {
					continue
				}
				port, err := freeport.GetBelow(1 << 15)
				if err != nil {
					return err
				}
				*m = port
			}
			return writeTemporalServerConfig(root, p)
		},
		addr: func() string { return fmt.Sprintf("127.0.0.1:%d (on PostgreSQL 127.0.0.1:%d)", p.Temporal, p.Postgres) },
		args: func() []string {
			return []string{"--root", root, "--config", "config", "--env", "development", "--allow-no-auth", "start"}
		},
		ready: func(ctx context.Context) error {
			addr := "127.0.0.1:" + strconv.Itoa(p.Temporal)
			if err := registerNamespace(ctx, addr); err != nil {
				return err
			}
			return checkTemporal(ctx, addr, true)
		},
	})
	if err != nil {
		return err
	}
	s.TemporalAddress = "127.0.0.1:" + strconv.Itoa(p.Temporal)
	s.TemporalPprofURL = fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", p.TemporalPprof)
	return nil
}

// postgresBinDir returns dir, or the newest /usr/lib/postgresql/*/bin with postgres
// and initdb (Debian's layout; hack/install-postgresql.sh installs it).
func postgresBinDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "postgres")) && isExecutable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", errors.New("postgres: no /usr/lib/postgresql/*/bin/postgres (install it with hack/install-postgresql.sh)")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// postgresCredential is the user postgres runs as: PostgreSQL refuses to run as root,
// so root runs it as the "postgres" user Debian's package creates; nil otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root needs the user postgres (hack/install-postgresql.sh): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("postgres: user postgres has uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// initPostgres creates the database cluster in dataDir unless it holds one: superuser
// "temporal", trust authentication (it listens on loopback only), UTF-8 without a
// locale. As root, dataDir is owned by the postgres user and stateDir is made
// traversable (not readable) by others; the directories above must be already.
func initPostgres(ctx context.Context, stateDir, pgBin, dataDir string, cred *syscall.Credential) error {
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if cred != nil {
		fi, err := os.Stat(stateDir)
		if err != nil {
			return err
		}
		if err := os.Chmod(stateDir, fi.Mode().Perm()|0o001); err != nil {
			return err
		}
		// The directories above are left as they are: they must let others pass.
		for d := filepath.Dir(stateDir); ; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
				return fmt.Errorf("postgres runs as user postgres and cannot reach %s: %s is closed to others (use a state directory under /tmp)", dataDir, d)
			}
			if d == filepath.Dir(d) {
				break
			}
		}
		if err := os.Chown(dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(pgBin, "initdb"), "-D", dataDir, "-U", "temporal",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %v: %s", dataDir, err, childproc.LastLines(out, 20))
	}
	return nil
}

// setupTemporalSchemas creates the Temporal databases and brings their schemas to the
// server release's, once per state directory (a stamp file records it, so a restart
// skips the tool). Each step may run again: temporal-sql-tool takes a database that
// exists and updates schemas from the version they are at, so a start interrupted
// before the stamp simply does them again.
func (s *Stack) setupTemporalSchemas(ctx context.Context, o *Options) error {
	stamp := filepath.Join(o.StateDir, "postgres-schemas.done")
	if _, err := os.Stat(stamp); err == nil {
		return nil
	}
	t := time.Now()
	tool := filepath.Join(o.BinDir, "temporal-sql-tool")
	for _, db := range postgresDatabases {
		base := []string{"--plugin", "postgres12", "--ep", "127.0.0.1", "--port", strconv.Itoa(s.Ports.Postgres), "--user", "temporal", "--db", db.name}
		for _, step := range [][]string{{"create-database"}, {"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", db.schema}} {
			out, err := exec.CommandContext(ctx, tool, append(base, step...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("temporal-sql-tool %s %s: %v: %s", step[0], db.name, err, childproc.LastLines(out, 20))
			}
		}
	}
	if err := os.WriteFile(stamp, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	s.recordTime("temporal schemas", time.Since(t))
	return nil
}

// registerNamespace creates the stack's namespace (a server, unlike the dev server,
// starts with none); one that exists is fine.
func registerNamespace(ctx context.Context, addr string) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietLogger})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        TemporalNamespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", TemporalNamespace, err)
	}
	return nil
}

// writeTemporalServerConfig writes root/config/development.yaml for the ports picked.
func writeTemporalServerConfig(root string, p *Ports) error {
	dir := filepath.Join(root, "config")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "development.yaml"))
	if err != nil {
		return err
	}
	err = temporalServerConfig.Execute(f, struct {
		*Ports
		Shards int
	}{p, temporalShards})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// temporalServerConfig follows the server release's config/development-postgres12.yaml,
// on the stack's ports, without archival.
var temporalServerConfig = template.Must(template.New("temporal").Parse(`log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: {{.Shards}}
  datastores:
    postgres-default:
      sql:
        pluginName: postgres12
        databaseName: temporal
        connectAddr: "127.0.0.1:{{.Postgres}}"
        connectProtocol: tcp
        user: temporal
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    postgres-visibility:
      sql:
        pluginName: postgres12
        databaseName: temporal_visibility
        connectAddr: "127.0.0.1:{{.Postgres}}"
        connectProtocol: tcp
        user: temporal
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    host: 127.0.0.1
    port: {{.TemporalPprof}}
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:{{.TemporalMetrics}}"
services:
  frontend:
    rpc:
      grpcPort: {{.Temporal}}
      membershipPort: {{.TemporalFrontendMembership}}
      bindOnIP: 127.0.0.1
      httpPort: {{.TemporalHTTP}}
  history:
    rpc:
      grpcPort: {{.TemporalHistory}}
      membershipPort: {{.TemporalHistoryMembership}}
      bindOnIP: 127.0.0.1
  matching:
    rpc:
      grpcPort: {{.TemporalMatching}}
      membershipPort: {{.TemporalMatchingMembership}}
      bindOnIP: 127.0.0.1
  worker:
    rpc:
      grpcPort: {{.TemporalWorker}}
      membershipPort: {{.TemporalWorkerMembership}}
      bindOnIP: 127.0.0.1
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:{{.Temporal}}"
      httpAddress: "127.0.0.1:{{.TemporalHTTP}}"
dcRedirectionPolicy:
  policy: noop
archival:
  history:
    state: disabled
  visibility:
    state: disabled
namespaceDefaults:
  archival:
    history:
      state: disabled
    visibility:
      state: disabled
`))
