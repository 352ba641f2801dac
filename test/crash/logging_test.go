package crash

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/logging"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
)

// With --logging-format=json every line the worker and the watcher write is one JSON
// object, client-go's (leader election) included, as a log pipeline expects.
func TestJSONLogs(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	workerLog := filepath.Join(env.state, "worker-json.log")
	w, err := testkit.StartProcess("worker-json", env.workerBin, workerLog, worker.Flags{Kubeconfig: env.workerKubeconfig,
		TemporalAddress: env.stack.TemporalAddress, TemporalNamespace: env.stack.TemporalNamespace, Logging: logging.Flags{Format: "json"}}.Args(), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w.Stop(t)

	wp, watcherLog := startWatcher(t, "watcher-json", append([]string{"--temporal-address", env.stack.TemporalAddress,
		"--logging-format=json", "-v=2"}, testkit.SideServersOff...), nil)
	eventually(t, 60*time.Second, "the watcher leading", func() (bool, string) {
		b, _ := os.ReadFile(watcherLog)
		return strings.Contains(string(b), "k8swatch caches synced"), wp.Tail(5)
	})
	wp.Stop(t)

	for _, path := range []string{workerLog, watcherLog} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "# ") { // the command line the test harness writes first
				continue
			}
			n++
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("%s: not a JSON object: %s", filepath.Base(path), line)
			}
		}
		f.Close()
		if n == 0 {
			t.Errorf("%s has no log lines", filepath.Base(path))
		}
	}
	if b, _ := os.ReadFile(watcherLog); !strings.Contains(string(b), "acquire leader lease") {
		t.Errorf("the watcher's log has no line of client-go's leader election:\n%s", b)
	}
}
