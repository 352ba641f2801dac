// Package testsystem runs the whole of certflow for integration tests: the local stack
// (kube-apiserver + etcd, Temporal dev server, optionally Pebble), the CRDs, the RBAC of
// deploy/rbac, and the worker and the watcher in-process, each acting as its own
// ServiceAccount so that a missing permission fails a test as it would fail a cluster.
package testsystem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tworker "go.temporal.io/sdk/worker"
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

// Options shape the system.
type Options struct {
	// DisableApprover runs the worker without the internal approver.
	DisableApprover bool
	// ACME also starts Pebble and pebble-challtestsrv.
	ACME bool
	// Namespaces to create up front (cert-manager, the cluster resource namespace, always).
	Namespaces []string
	// NoWorker leaves the worker out (a test runs its own, e.g. as a child process).
	NoWorker bool
	// Log receives the stack's progress lines (default os.Stderr).
	Log io.Writer
}

// System is a running certflow.
type System struct {
	Root     string
	Stack    *localstack.Stack
	Config   *rest.Config // admin
	Kube     kubernetes.Interface
	CertFlow versioned.Interface
	Temporal client.Client

	stateDir string
	cleanups []func()
}

// Start brings the system up; on error everything started is stopped.
func Start(ctx context.Context, o Options) (s *System, err error) {
	s = &System{}
	defer func() {
		if err != nil {
			s.Stop(false)
			s = nil
		}
	}()
	if s.Root, err = localstack.RepoRoot(); err != nil {
		return s, err
	}
	if s.stateDir, err = os.MkdirTemp("", "certflow-test-"); err != nil {
		return s, err
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	lo := localstack.Options{BinDir: filepath.Join(s.Root, "bin"), StateDir: s.stateDir, Kube: true, Temporal: true, ACME: o.ACME, Log: o.Log}
	if err := localstack.CheckBinaries(lo); err != nil {
		return s, err
	}
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if s.Stack, err = localstack.Start(startCtx, lo); err != nil {
		return s, err
	}
	s.cleanups = append(s.cleanups, func() { s.Stack.Stop() })
	if err := localstack.InstallCRDs(startCtx, s.Stack.RESTConfig, filepath.Join(s.Root, "deploy", "crds")); err != nil {
		return s, err
	}
	if s.Config, err = clients.RESTConfig(s.Stack.Kubeconfig, clients.DefaultQPS, clients.DefaultBurst); err != nil {
		return s, err
	}
	if s.Kube, s.CertFlow, err = clients.Kubernetes(s.Config); err != nil {
		return s, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if s.Temporal, err = client.DialContext(ctx, clients.TemporalOptions(s.Stack.TemporalAddress, s.Stack.TemporalNamespace, log)); err != nil {
		return s, err
	}
	s.cleanups = append(s.cleanups, s.Temporal.Close)
	for _, ns := range append([]string{worker.DefaultClusterResourceNamespace}, o.Namespaces...) {
		if err := s.CreateNamespace(ctx, ns); err != nil {
			return s, err
		}
	}
	if out, err := s.Kubectl(nil, "apply", "-f", filepath.Join(s.Root, "deploy", "rbac", "rbac.yaml")); err != nil {
		return s, fmt.Errorf("apply RBAC: %v\n%s", err, out)
	}

	if !o.NoWorker {
		w, err := s.NewWorker(o.DisableApprover)
		if err != nil {
			return s, err
		}
		if err := w.Start(); err != nil {
			return s, err
		}
		s.cleanups = append(s.cleanups, w.Stop)
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := k8swatch.Serve(watchCtx, log, k8swatch.Flags{RESTConfig: s.Impersonate("certflow-k8swatch"), Temporal: s.Temporal, LeaderElect: true, LeaseNamespace: "certflow"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "k8swatch:", err)
		}
	}()
	s.cleanups = append(s.cleanups, func() { stopWatch(); <-done })
	return s, nil
}

// NewWorker returns a worker (not started) acting as the certflow-worker ServiceAccount.
func (s *System) NewWorker(disableApprover bool) (tworker.Worker, error) {
	cfg := s.Impersonate("certflow-worker")
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return nil, err
	}
	return worker.New(worker.Config{Temporal: s.Temporal, Kube: kc, CertFlow: cf, DisableApprover: disableApprover}), nil
}

// Impersonate returns the admin config acting as ServiceAccount certflow/<sa>.
func (s *System) Impersonate(sa string) *rest.Config {
	c := rest.CopyConfig(s.Config)
	c.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:certflow:" + sa}
	return c
}

// CreateNamespace creates a namespace if it is missing.
func (s *System) CreateNamespace(ctx context.Context, name string) error {
	_, err := s.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// Kubectl runs bin/kubectl against the system's API server.
func (s *System) Kubectl(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(s.Root, "bin", "kubectl"), append([]string{"--kubeconfig", s.Stack.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// Stop stops everything in reverse order. keepState keeps the logs for a failed run.
func (s *System) Stop(keepState bool) {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
	if s.stateDir == "" {
		return
	}
	if keepState {
		fmt.Fprintf(os.Stderr, "logs of the stack are in %s\n", s.stateDir)
	} else {
		os.RemoveAll(s.stateDir)
	}
}
