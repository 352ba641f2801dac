// Package crash checks that certflow survives its worker being SIGKILLed mid-issuance,
// on the real local stack: kube-apiserver + etcd and the Temporal dev server
// (internal/localstack), k8swatch in this process, and the worker as a child process
// built from ./cmd/certflow-worker, so it can be killed like a crashing pod.
//
// It also holds TestRecordHistories, which records the workflow histories that
// workflows/replay_test.go replays (see there for the command).
//
// Tests skip only when CERTFLOW_INTEGRATION is unset; with it set, a missing binary,
// toolchain or server is a failure.
package crash

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/worker"
)

// Identities the worker and the watcher run as (deploy/rbac), so a missing permission
// fails here as it would in a cluster.
const (
	workerUser  = "system:serviceaccount:certflow:certflow-worker"
	watcherUser = "system:serviceaccount:certflow:certflow-k8swatch"
)

// env is the shared system under test, started once by TestMain.
var env struct {
	root      string
	state     string // stack state, worker binary and worker logs
	workerBin string
	stack     *localstack.Stack
	// workerConfig and workerKubeconfig act as the worker's ServiceAccount.
	workerConfig     *rest.Config
	workerKubeconfig string
	kube             kubernetes.Interface // admin
	certflow         versioned.Interface  // admin
	temporal         client.Client
}

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	code, err := runWithSystem(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash test setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithSystem(m *testing.M) (int, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return 0, err
	}
	env.root = root
	state, cleanup, err := testkit.StateDir("certflow-crash-", "crash test: logs of the stack and the worker processes")
	if err != nil {
		return 0, err
	}
	env.state = state
	code := 1
	defer func() { cleanup(code) }()

	if env.workerBin, err = testkit.BuildBinary(root, state, "certflow-worker"); err != nil {
		return 0, err
	}

	o := localstack.Options{BinDir: filepath.Join(root, "bin"), StateDir: state, Kube: true, Temporal: true, Log: os.Stderr}
	if err := localstack.CheckBinaries(o); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	startCtx, startCancel := context.WithTimeout(ctx, 3*time.Minute)
	defer startCancel()
	stack, err := localstack.Start(startCtx, o)
	if err != nil {
		return 0, err
	}
	defer stack.Stop()
	env.stack = stack
	if err := localstack.InstallCRDs(startCtx, stack.RESTConfig, filepath.Join(root, "deploy", "crds")); err != nil {
		return 0, err
	}
	cfg, err := clients.RESTConfig(stack.Kubeconfig, 100, 200)
	if err != nil {
		return 0, err
	}
	if env.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return 0, err
	}
	if env.certflow, err = versioned.NewForConfig(cfg); err != nil {
		return 0, err
	}
	if out, err := exec.CommandContext(startCtx, filepath.Join(root, "bin", "kubectl"), "--kubeconfig", stack.Kubeconfig,
		"apply", "-f", filepath.Join(root, "deploy", "rbac", "rbac.yaml")).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("apply RBAC: %v\n%s", err, out)
	}
	env.workerConfig = impersonate(cfg, workerUser)
	env.workerKubeconfig = filepath.Join(state, "worker.kubeconfig")
	if err := writeImpersonatingKubeconfig(stack.Kubeconfig, env.workerKubeconfig, workerUser); err != nil {
		return 0, err
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if env.temporal, err = client.DialContext(ctx, clients.TemporalOptions(stack.TemporalAddress, stack.TemporalNamespace, log)); err != nil {
		return 0, err
	}
	defer env.temporal.Close()

	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err := k8swatch.Serve(ctx, log, k8swatch.Flags{RESTConfig: impersonate(cfg, watcherUser), Temporal: env.temporal, LeaderElect: false}); err != nil {
			fmt.Fprintln(os.Stderr, "k8swatch:", err)
		}
	}()
	defer func() { cancel(); <-watchDone }()
	code = m.Run()
	return code, nil
}

func impersonate(cfg *rest.Config, user string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user}
	return c
}

// writeImpersonatingKubeconfig copies a kubeconfig, making every user act as user.
// startWatcher runs the certflow-k8swatch binary as its ServiceAccount with args (after
// --kubeconfig) and environ, logging to <state>/<name>.log; the caller stops it.
func startWatcher(t *testing.T, name string, args, environ []string) (p *testkit.WorkerProcess, logPath string) {
	t.Helper()
	bin, err := testkit.BuildBinary(env.root, env.state, "certflow-k8swatch")
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(env.state, name+".kubeconfig")
	if err := writeImpersonatingKubeconfig(env.stack.Kubeconfig, kc, watcherUser); err != nil {
		t.Fatal(err)
	}
	logPath = filepath.Join(env.state, name+".log")
	p, err = testkit.StartProcess(name, bin, logPath, append([]string{"--kubeconfig", kc}, args...), environ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p, logPath
}

func writeImpersonatingKubeconfig(from, to, user string) error {
	kc, err := clientcmd.LoadFromFile(from)
	if err != nil {
		return err
	}
	if len(kc.AuthInfos) == 0 {
		return fmt.Errorf("%s has no users", from)
	}
	for _, a := range kc.AuthInfos {
		a.Impersonate = user
	}
	return clientcmd.WriteToFile(*kc, to)
}

// startWorker starts the worker binary and waits until it polls the task queue.
func startWorker(t *testing.T, name string) *testkit.WorkerProcess {
	t.Helper()
	return testkit.StartWorkerProcess(t, name, env.workerBin, filepath.Join(env.state, name+".log"), worker.Flags{Kubeconfig: env.workerKubeconfig,
		TemporalAddress: env.stack.TemporalAddress, TemporalNamespace: env.stack.TemporalNamespace}.Args())
}

// kubectl runs bin/kubectl against the test cluster as admin.
func kubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(env.root, "bin", "kubectl"), append([]string{"--kubeconfig", env.stack.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func createNamespace(t *testing.T, ns string) {
	t.Helper()
	testkit.CreateNamespace(t, env.kube, ns)
}

// eventually polls cond until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testkit.Eventually(t, timeout, what, cond)
}

func waitCertificateReady(t *testing.T, ns, name string, timeout time.Duration) *cmapi.Certificate {
	t.Helper()
	return testkit.WaitCertificateReady(t, env.certflow, ns, name, timeout)
}

func waitIssuerReady(t *testing.T, ns, name string) {
	t.Helper()
	testkit.WaitIssuerReady(t, env.certflow, ns, name, 60*time.Second)
}

// run is one run of a workflow (continue-as-new makes a chain of them).
type run struct {
	RunID  string
	Events []*historypb.HistoryEvent
}

// runChain returns every run of a workflow, oldest first, walking back from the current
// run: each run's first event names the run it continued.
func runChain(t *testing.T, id string) []run {
	t.Helper()
	d, err := env.temporal.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	var runs []run
	for runID := d.GetWorkflowExecutionInfo().GetExecution().GetRunId(); runID != ""; {
		events := runHistory(t, id, runID)
		runs = append([]run{{RunID: runID, Events: events}}, runs...)
		runID = events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
	}
	return runs
}

// runHistory reads the whole history of one run.
func runHistory(t *testing.T, id, runID string) []*historypb.HistoryEvent {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := env.temporal.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s run %s: %v", id, runID, err)
		}
		events = append(events, ev)
	}
	if len(events) == 0 {
		t.Fatalf("history of %s run %s is empty", id, runID)
	}
	return events
}
