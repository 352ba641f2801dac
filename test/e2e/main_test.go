// Package e2e runs certflow end to end on the real local stack: kube-apiserver + etcd,
// the Temporal dev server, the worker and k8swatch in this process. Tests skip only when
// CERTFLOW_INTEGRATION is unset; with it set, a missing server is a failure.
package e2e

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

	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/worker"
)

// env is the shared system under test, started once by TestMain.
var env struct {
	root     string
	stack    *localstack.Stack
	kube     kubernetes.Interface
	certflow versioned.Interface
	temporal client.Client
}

func TestMain(m *testing.M) {
	if !localstack.IntegrationEnabled() {
		os.Exit(m.Run())
	}
	code, err := runWithSystem(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
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
	state, err := os.MkdirTemp("", "certflow-e2e-")
	if err != nil {
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
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if env.temporal, err = client.DialContext(ctx, clients.TemporalOptions(stack.TemporalAddress, stack.TemporalNamespace, log)); err != nil {
		return 0, err
	}
	defer env.temporal.Close()
	for _, ns := range []string{"cert-manager", "istio-system", "istio"} {
		if _, err := env.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return 0, err
		}
	}

	// The worker and the watcher run as their ServiceAccounts with deploy/rbac applied,
	// so a missing permission fails the tests as it would fail in a cluster.
	if out, err := exec.Command(filepath.Join(root, "bin", "kubectl"), "--kubeconfig", stack.Kubeconfig,
		"apply", "-f", filepath.Join(root, "deploy", "rbac", "rbac.yaml")).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("apply RBAC: %v\n%s", err, out)
	}
	workerCfg := impersonate(cfg, "certflow-worker")
	workerKube, err := kubernetes.NewForConfig(workerCfg)
	if err != nil {
		return 0, err
	}
	workerCertFlow, err := versioned.NewForConfig(workerCfg)
	if err != nil {
		return 0, err
	}
	w := worker.New(worker.Config{Temporal: env.temporal, Kube: workerKube, CertFlow: workerCertFlow})
	if err := w.Start(); err != nil {
		return 0, err
	}
	defer w.Stop()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err := k8swatch.Serve(ctx, log, k8swatch.Flags{RESTConfig: impersonate(cfg, "certflow-k8swatch"), Temporal: env.temporal, LeaderElect: true, LeaseNamespace: "certflow"}); err != nil {
			fmt.Fprintln(os.Stderr, "k8swatch:", err)
		}
	}()
	defer func() { cancel(); <-watchDone }()
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e failed: logs of the stack are in %s\n", state)
	} else {
		os.RemoveAll(state)
	}
	return code, nil
}

// impersonate returns cfg acting as ServiceAccount certflow/<sa>.
func impersonate(cfg *rest.Config, sa string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:certflow:" + sa}
	return c
}

// kubectl runs bin/kubectl against the test cluster.
func kubectl(t *testing.T, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(env.root, "bin", "kubectl"), append([]string{"--kubeconfig", env.stack.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// mustKubectl runs kubectl and fails the test on error.
func mustKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// eventually polls cond until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
}
