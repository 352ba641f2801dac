package localstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/workflows/searchattr"
)

// quietLogger drops the SDK's log lines (connection retries while the server boots).
var quietLogger = tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))

func (s *Stack) startTemporal(ctx context.Context, o *Options) error {
	s.TemporalNamespace = TemporalNamespace
	if o.ExistingTemporal != "" {
		t := time.Now()
		s.TemporalAddress = o.ExistingTemporal
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var err error
		for {
			if err = checkTemporal(ctx, o.ExistingTemporal, true); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("temporal at %s: %w", o.ExistingTemporal, err)
			case <-time.After(500 * time.Millisecond):
			}
		}
		s.recordTime("temporal (existing)", time.Since(t))
		return nil
	}
	if o.TemporalPostgres {
		return s.startTemporalPostgres(ctx, o)
	}
	p := &s.Ports
	uiURL := func() string { return "http://127.0.0.1:" + strconv.Itoa(p.TemporalUI) }
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	err := s.runComponent(ctx, o, component{
		name: "temporal", bin: "temporal", chain: "temporal", timeout: 90 * time.Second,
		reset: func() {
			p.Temporal, p.TemporalUI, p.TemporalHTTP, p.TemporalMetrics =
				o.Ports.Temporal, o.Ports.TemporalUI, o.Ports.TemporalHTTP, o.Ports.TemporalMetrics
		},
		pick: func() error {
			return fillPorts(nil, &p.Temporal, &p.TemporalUI, &p.TemporalHTTP, &p.TemporalMetrics)
		},
		addr: func() string { return fmt.Sprintf("127.0.0.1:%d (UI %d)", p.Temporal, p.TemporalUI) },
		args: func() []string {
			args := []string{
				"server", "start-dev",
				"--ip", "127.0.0.1", "--ui-ip", "127.0.0.1",
				"--port", strconv.Itoa(p.Temporal),
				"--ui-port", strconv.Itoa(p.TemporalUI),
				"--http-port", strconv.Itoa(p.TemporalHTTP),
				"--metrics-port", strconv.Itoa(p.TemporalMetrics),
				"--db-filename", filepath.Join(o.StateDir, "temporal.db"),
				// SQLite's default rollback journal with synchronous=FULL syncs several
				// times per transaction and doubled Temporal's CPU per Certificate in
				// `make bench` (17.7 → 9.6 ms). WAL with synchronous=NORMAL still survives
				// a SIGKILL of any process (only an OS crash can lose the last commits),
				// which is the durability a local stack needs.
				"--sqlite-pragma", "journal_mode=wal",
				"--sqlite-pragma", "synchronous=normal",
				"--log-level", "warn",
			}
			if o.TemporalUICodecEndpoint != "" {
				args = append(args, "--ui-codec-endpoint", o.TemporalUICodecEndpoint)
			}
			for _, a := range SearchAttributes() {
				args = append(args, "--search-attribute", a.Name+"="+a.CLIType())
			}
			return args
		},
		ready: func(ctx context.Context) error {
			if err := checkTemporal(ctx, "127.0.0.1:"+strconv.Itoa(p.Temporal), false); err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, uiURL()+"/", nil)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("web UI: %w", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("web UI: %s", resp.Status)
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	s.TemporalAddress = "127.0.0.1:" + strconv.Itoa(p.Temporal)
	s.TemporalUIURL = uiURL()
	return nil
}

// checkTemporal dials addr and checks health, the default namespace and the search
// attributes; with register it adds the missing search attributes.
func checkTemporal(ctx context.Context, addr string, register bool) error {
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: TemporalNamespace, Logger: quietLogger})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: TemporalNamespace}); err != nil {
		return fmt.Errorf("describe namespace %s: %w", TemporalNamespace, err)
	}
	if !register {
		missing, err := clients.MissingSearchAttributes(ctx, c, TemporalNamespace)
		if err == nil && len(missing) > 0 {
			err = fmt.Errorf("search attributes not registered yet: %v", missing)
		}
		return err
	}
	return clients.EnsureSearchAttributes(ctx, c, TemporalNamespace)
}

// SearchAttributes are the search attributes the dev server starts with (the ones the
// workflows set).
func SearchAttributes() []clients.SearchAttribute {
	var out []clients.SearchAttribute
	for _, k := range searchattr.All {
		out = append(out, clients.SearchAttribute{Name: k.GetName(), Type: k.GetValueType()})
	}
	return out
}
