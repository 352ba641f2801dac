package localstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// SearchAttribute is a custom Temporal search attribute certflow relies on.
type SearchAttribute struct {
	Name string
	Type enumspb.IndexedValueType
}

// SearchAttributes are registered on every Temporal server the stack starts or uses.
var SearchAttributes = []SearchAttribute{
	{"CertNamespace", enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{"CertName", enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{"IssuerName", enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{"CertState", enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	{"NotAfter", enumspb.INDEXED_VALUE_TYPE_DATETIME},
	{"RenewalTime", enumspb.INDEXED_VALUE_TYPE_DATETIME},
}

// CLIType is the type name the temporal CLI expects (--search-attribute Name=Type).
func (a SearchAttribute) CLIType() string {
	switch a.Type {
	case enumspb.INDEXED_VALUE_TYPE_TEXT:
		return "Text"
	case enumspb.INDEXED_VALUE_TYPE_KEYWORD:
		return "Keyword"
	case enumspb.INDEXED_VALUE_TYPE_INT:
		return "Int"
	case enumspb.INDEXED_VALUE_TYPE_DOUBLE:
		return "Double"
	case enumspb.INDEXED_VALUE_TYPE_BOOL:
		return "Bool"
	case enumspb.INDEXED_VALUE_TYPE_DATETIME:
		return "Datetime"
	case enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST:
		return "KeywordList"
	}
	return "Unspecified"
}

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
			for _, a := range SearchAttributes {
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
	missing, err := missingSearchAttributes(ctx, c)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	if !register {
		return fmt.Errorf("search attributes not registered yet: %v", keys(missing))
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: TemporalNamespace, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes %v: %w", keys(missing), err)
	}
	if missing, err = missingSearchAttributes(ctx, c); err != nil || len(missing) > 0 {
		return fmt.Errorf("search attributes still missing after registration: %v (%v)", keys(missing), err)
	}
	return nil
}

func missingSearchAttributes(ctx context.Context, c client.Client) (map[string]enumspb.IndexedValueType, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: TemporalNamespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, a := range SearchAttributes {
		t, ok := resp.GetCustomAttributes()[a.Name]
		if !ok {
			missing[a.Name] = a.Type
		} else if t != a.Type {
			return nil, fmt.Errorf("search attribute %s has type %s, want %s", a.Name, t, a.Type)
		}
	}
	return missing, nil
}

func keys(m map[string]enumspb.IndexedValueType) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return strings.Join(ks, ",")
}
