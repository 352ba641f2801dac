// Package helm checks certflow's Helm chart (deploy/charts/certflow) and the static
// bundle rendered from it (deploy/certflow.yaml), with Helm's Go SDK (helm.sh/helm/v4,
// the library of the helm CLI).
//
// Without a cluster: the chart lints and renders what each value says (the user's
// `--set installCRDs=true --set "extraArgs={--feature-gates=...}"`, an external Temporal
// with TLS and an API key, the ServiceMonitor), two releases do not clash, and the
// bundle and deploy/rbac/rbac.yaml are the chart's rendering.
//
// On the real local stack (kube-apiserver + etcd with RBAC, the Temporal dev server;
// CERTFLOW_INTEGRATION set): helm install with the user's flags into cert-manager, every
// rendered object accepted by the API server; then the real certflow-worker and
// certflow-k8swatch binaries run with exactly the arguments and environment of the
// installed Deployments, as the chart's ServiceAccounts, and issue the user's CA example;
// then upgrade and uninstall, the CRDs kept or not as crds.keep says. There is no
// scheduler or kubelet: the Deployments get no Pods, so the binaries run as processes.
//
// Tests that need the stack skip only when CERTFLOW_INTEGRATION is unset; with it set, a
// missing binary, toolchain or server is a failure.
package helm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/clients"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// env is the local stack, started once by TestMain with CERTFLOW_INTEGRATION.
var env struct {
	root  string
	state string // stack state, binaries, kubeconfigs and the binaries' logs
	bins  map[string]string
	stack *localstack.Stack
	// Admin clients.
	kube     kubernetes.Interface
	dyn      dynamic.Interface
	certflow versioned.Interface
}

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	code, err := runWithStack(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm test setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// runWithStack starts kube-apiserver + etcd and Temporal, with no CRDs and no RBAC of
// certflow's: the chart installs them.
func runWithStack(m *testing.M) (int, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return 0, err
	}
	env.root = root
	state, cleanup, err := testkit.StateDir("certflow-helm-", "helm test: logs of the stack and of the worker and watcher processes")
	if err != nil {
		return 0, err
	}
	env.state = state
	code := 1
	defer func() { cleanup(code) }()
	env.bins = map[string]string{}
	for _, cmd := range []string{"certflow-worker", "certflow-k8swatch"} {
		if env.bins[cmd], err = testkit.BuildBinary(root, state, cmd); err != nil {
			return 0, err
		}
	}
	o := localstack.Options{BinDir: filepath.Join(root, "bin"), StateDir: state, Kube: true, Temporal: true, Log: os.Stderr}
	if err := localstack.CheckBinaries(o); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stack, err := localstack.Start(ctx, o)
	if err != nil {
		return 0, err
	}
	defer stack.Stop()
	env.stack = stack
	cfg, err := clients.RESTConfig(stack.Kubeconfig, 100, 200)
	if err != nil {
		return 0, err
	}
	if env.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return 0, err
	}
	if env.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return 0, err
	}
	if env.certflow, err = versioned.NewForConfig(cfg); err != nil {
		return 0, err
	}
	code = m.Run()
	return code, nil
}
