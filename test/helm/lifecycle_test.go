package helm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certflow/certflow/internal/localstack/freeport"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// The user's install, for real: `helm install certflow deploy/charts/certflow --namespace
// cert-manager --create-namespace --set installCRDs=true --set "extraArgs={...}"` through
// the SDK against kube-apiserver. Every object is accepted; the worker and the watcher,
// run with the Deployments' own arguments and environment as the chart's ServiceAccounts,
// issue the user's CA example; an upgrade changes the replicas; uninstall keeps the
// CRDs (crds.keep's default) and, in a second release with crds.keep=false, removes them.
func TestInstallRunUpgradeUninstall(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	cfg := helmConfig(t)

	// Each binary's metrics and health endpoints on free loopback ports: the only values
	// a test must change (four processes cannot share 9402 and 9403 on one host).
	// Beyond the user's flags: the PodDisruptionBudgets (objects the server must accept
	// too) and the payload codec (its Secret created by the worker and read by the
	// watcher with the chart's RBAC).
	sets := append(slices.Clone(userSets), "podDisruptionBudget.enabled=true", "k8swatch.podDisruptionBudget.enabled=true", "payloadCodec.enabled=true")
	addrs := map[string]string{}
	for _, v := range []string{"metrics.listenAddress", "healthz.listenAddress", "k8swatch.metrics.listenAddress", "k8swatch.healthz.listenAddress"} {
		port, err := freeport.Get(false)
		if err != nil {
			t.Fatal(err)
		}
		addrs[v] = fmt.Sprintf("127.0.0.1:%d", port)
		sets = append(sets, v+"="+addrs[v])
	}

	manifest := install(ctx, t, cfg, releaseName, namespace, sets...)
	objs := decode(t, manifest)
	if n := len(ofKind(objs, "CustomResourceDefinition")); n != 6 {
		t.Fatalf("the release has %d CRDs, want 6", n)
	}
	// Every rendered object is on the server.
	if out, err := kubectl([]byte(manifest), "get", "-f", "-", "-o", "name"); err != nil {
		t.Fatalf("not every object of the release is on the server: %v\n%s", err, out)
	} else if n := len(strings.Fields(out)); n != len(objs) {
		t.Fatalf("%d of the release's %d objects on the server:\n%s", n, len(objs), out)
	}
	t.Logf("installed %d objects: %s", len(objs), names(objs))

	// A second release in another namespace installs next to it: Helm refuses an object
	// another release owns, so no cluster-scoped name clashes.
	second := helmConfigFor(t, "certflow-staging")
	install(ctx, t, second, "staging", "certflow-staging", "replicaCount=0", "k8swatch.replicaCount=0")
	un2 := action.NewUninstall(second)
	un2.WaitStrategy, un2.Timeout = kube.HookOnlyStrategy, 2*time.Minute
	if _, err := un2.Run("staging"); err != nil {
		t.Fatalf("helm uninstall of the second release: %v", err)
	}

	// The worker and the watcher as the installed Deployments run them.
	procs := map[string]*testkit.WorkerProcess{}
	for _, name := range []string{"certflow-worker", "certflow-k8swatch"} {
		procs[name] = runDeployment(t, objs, name, env.stack.TemporalAddress)
	}
	for name, addr := range map[string]string{"certflow-worker": addrs["healthz.listenAddress"], "certflow-k8swatch": addrs["k8swatch.healthz.listenAddress"]} {
		for _, p := range []string{"/livez", "/readyz"} {
			waitHTTP200(t, name, "http://"+addr+p)
		}
	}
	for name, addr := range map[string]string{"certflow-worker": addrs["metrics.listenAddress"], "certflow-k8swatch": addrs["k8swatch.metrics.listenAddress"]} {
		waitHTTP200(t, name, "http://"+addr+"/metrics")
	}
	issueSeedCA(t)
	if _, err := env.kube.CoreV1().Secrets(namespace).Get(ctx, "certflow-payload-codec", metav1.GetOptions{}); err != nil {
		t.Errorf("the payload codec Secret: %v", err)
	}

	// helm upgrade --reuse-values --set replicaCount=3 --set k8swatch.replicaCount=2
	up := action.NewUpgrade(cfg)
	up.Namespace, up.ReuseValues = namespace, true
	up.WaitStrategy, up.Timeout = kube.HookOnlyStrategy, 2*time.Minute
	rel, err := up.RunWithContext(ctx, releaseName, loadChart(t), values(t, "replicaCount=3", "k8swatch.replicaCount=2"))
	if err != nil {
		t.Fatalf("helm upgrade: %v", err)
	}
	if acc, _ := release.NewAccessor(rel); acc.Version() != 2 {
		t.Errorf("release version %d after the upgrade, want 2", acc.Version())
	}
	for name, want := range map[string]int32{"certflow-worker": 3, "certflow-k8swatch": 2} {
		d, err := env.kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != want {
			t.Errorf("Deployment %s replicas %v after the upgrade, want %d", name, d.Spec.Replicas, want)
		}
		if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--metrics-listen-address="+addrs[map[string]string{"certflow-worker": "metrics.listenAddress", "certflow-k8swatch": "k8swatch.metrics.listenAddress"}[name]]) {
			t.Errorf("Deployment %s lost the install's values in the upgrade: %q", name, d.Spec.Template.Spec.Containers[0].Args)
		}
	}
	for _, p := range procs {
		p.Stop(t)
	}

	// helm uninstall: the CRDs stay (crds.keep defaults to true), and so do the user's
	// Certificates; everything else of the release is gone.
	uninstall(t, cfg)
	crds := installedCRDs(t)
	if len(crds) != 6 {
		t.Errorf("%d certflow CRDs after uninstall with crds.keep=true, want 6: %v", len(crds), crds)
	}
	if _, err := env.certflow.CertmanagerV1().Certificates(namespace).Get(ctx, "ca-example-com", metav1.GetOptions{}); err != nil {
		t.Errorf("the Certificate did not survive the uninstall: %v", err)
	}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		if out, err := kubectl(nil, "get", strings.ToLower(o.GetKind())+"."+o.GroupVersionKind().Group, o.GetName(), "-n", o.GetNamespace(), "--ignore-not-found", "-o", "name"); err != nil || out != "" {
			t.Errorf("%s %s/%s is still there after uninstall (%v): %s", o.GetKind(), o.GetNamespace(), o.GetName(), err, out)
		}
	}

	// Installed again with crds.keep=false, the release adopts the kept CRDs; its
	// uninstall removes them.
	install(ctx, t, cfg, releaseName, namespace, "installCRDs=true", "crds.keep=false")
	for _, name := range installedCRDs(t) {
		crd, err := env.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("CRD %s keeps helm.sh/resource-policy=%s after an upgrade to crds.keep=false", name, p)
		}
	}
	// The adopting install rewrote the CRDs, and kube-apiserver re-initializes their
	// storage: a CRD deleted meanwhile can stay Terminating (its finalizer failed with
	// "storage is (re)initializing" and did not come back). Uninstall once they serve.
	testkit.Eventually(t, time.Minute, "the adopted CRDs serving their objects", func() (bool, string) {
		for _, name := range installedCRDs(t) {
			if out, err := kubectl(nil, "get", name, "-A", "-o", "name"); err != nil {
				return false, name + ": " + out
			}
		}
		return true, ""
	})
	uninstall(t, cfg)
	// kube-apiserver deletes a CRD once it has deleted its objects: on a loaded machine
	// (the test suites run two at a time) that took over a minute once.
	testkit.Eventually(t, 3*time.Minute, "the CRDs deleted by uninstall with crds.keep=false", func() (bool, string) {
		left := installedCRDs(t)
		return len(left) == 0, fmt.Sprint(left)
	})
}

// helmConfig is the SDK's configuration of the helm CLI for the stack's kubeconfig and
// the release namespace (releases stored as Secrets, Helm's default).
func helmConfig(t *testing.T) *action.Configuration {
	t.Helper()
	return helmConfigFor(t, namespace)
}

func helmConfigFor(t *testing.T, ns string) *action.Configuration {
	t.Helper()
	kubeconfig := env.stack.Kubeconfig
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = &kubeconfig, &ns
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// install installs the chart for real as release name in namespace ns (created when
// missing) with sets, waiting for hooks only (no kubelet runs its Pods here), and returns
// the release's manifest.
func install(ctx context.Context, t *testing.T, cfg *action.Configuration, name, ns string, sets ...string) string {
	t.Helper()
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.CreateNamespace = name, ns, true
	in.WaitStrategy, in.Timeout = kube.HookOnlyStrategy, 2*time.Minute
	rel, err := in.RunWithContext(ctx, loadChart(t), values(t, sets...))
	if err != nil {
		t.Fatalf("helm install %s %q: %v", name, sets, err)
	}
	return manifestOf(t, rel)
}

func uninstall(t *testing.T, cfg *action.Configuration) {
	t.Helper()
	un := action.NewUninstall(cfg)
	un.WaitStrategy, un.Timeout = kube.HookOnlyStrategy, 2*time.Minute
	resp, err := un.Run(releaseName)
	if err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	if resp != nil && resp.Info != "" {
		t.Logf("helm uninstall: %s", resp.Info)
	}
}

// installedCRDs lists the CRDs of cert-manager's groups on the server.
func installedCRDs(t *testing.T) []string {
	t.Helper()
	list, err := env.dyn.Resource(crdGVR).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list.Items {
		if strings.HasSuffix(c.GetName(), ".cert-manager.io") {
			out = append(out, c.GetName())
		}
	}
	return out
}

// runDeployment runs the binary of a rendered Deployment as a process with the
// container's arguments and environment, as a kubelet would: Secret volumes are written
// into a directory of the test (paths under their mount path in arguments and
// environment lead there) and environment variables from Secrets are read from the
// server. Only what a test cannot have changes besides: the Temporal address is
// temporalAddress, and the Kubernetes credentials (in a cluster, the Pod's
// ServiceAccount token) are a kubeconfig impersonating the Pod's ServiceAccount.
func runDeployment(t *testing.T, objs []*unstructured.Unstructured, name, temporalAddress string) *testkit.WorkerProcess {
	t.Helper()
	ctx := context.Background()
	d, c := deployment(t, objs, name)
	if len(c.Command) == 0 {
		t.Fatalf("Deployment %s has no command", name)
	}
	bin := env.bins[path.Base(c.Command[0])]
	if bin == "" {
		t.Fatalf("Deployment %s runs %s, not a certflow binary", name, c.Command[0])
	}
	files := filepath.Join(env.state, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name) // prefix of this run's files
	mounts := map[string]string{}                                                      // mount path in the container: directory of the test
	for _, m := range c.VolumeMounts {
		var secret string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				secret = v.Secret.SecretName
			}
		}
		if secret == "" {
			t.Fatalf("Deployment %s mounts volume %s, which is not a Secret", name, m.Name)
		}
		s, err := env.kube.CoreV1().Secrets(d.Namespace).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("Deployment %s mounts Secret %s: %v", name, secret, err)
		}
		dir := files + "-" + m.Name
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for k, v := range s.Data {
			if err := os.WriteFile(filepath.Join(dir, k), v, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		mounts[m.MountPath] = dir
	}
	local := func(v string) string {
		for mp, dir := range mounts {
			if v == mp || strings.HasPrefix(v, mp+"/") {
				return dir + strings.TrimPrefix(v, mp)
			}
			if k, rest, ok := strings.Cut(v, "="+mp); ok && (rest == "" || strings.HasPrefix(rest, "/")) { // --flag=<path>
				return k + "=" + dir + rest
			}
		}
		return v
	}
	var args []string
	for _, a := range append(slices.Clone(c.Command[1:]), c.Args...) {
		args = append(args, local(a))
	}
	sa := "system:serviceaccount:" + d.Namespace + ":" + d.Spec.Template.Spec.ServiceAccountName
	kc := files + ".kubeconfig"
	writeImpersonatingKubeconfig(t, kc, sa)
	envs := []string{"KUBECONFIG=" + kc}
	for _, e := range c.Env {
		v := local(e.Value)
		switch {
		case e.Name == "TEMPORAL_ADDRESS":
			v = temporalAddress
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, err := env.kube.CoreV1().Secrets(d.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("Deployment %s: %s from Secret %s: %v", name, e.Name, ref.Name, err)
			}
			b, ok := s.Data[ref.Key]
			if !ok {
				t.Fatalf("Deployment %s: %s from Secret %s, which has no key %s", name, e.Name, ref.Name, ref.Key)
			}
			v = string(b)
		case e.ValueFrom != nil:
			t.Fatalf("Deployment %s: %s comes from %+v, which this test cannot give", name, e.Name, e.ValueFrom)
		}
		envs = append(envs, e.Name+"="+v)
	}
	logPath := files + ".log"
	ready := time.Duration(0)
	if name == "certflow-worker" {
		ready = time.Minute
	}
	p, err := testkit.StartProcess(name, bin, logPath, args, envs, ready)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(t) })
	t.Logf("%s (pid %d) as %s: %s %q; log %s", name, p.PID(), sa, c.Command[0], args, logPath)
	if name == "certflow-k8swatch" {
		testkit.Eventually(t, 60*time.Second, "the watcher leading", func() (bool, string) {
			b, _ := os.ReadFile(logPath)
			return bytes.Contains(b, []byte("k8swatch caches synced")), p.Tail(5)
		})
	}
	return p
}

func writeImpersonatingKubeconfig(t *testing.T, to, user string) {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(env.stack.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range kc.AuthInfos {
		a.Impersonate = user
	}
	if err := clientcmd.WriteToFile(*kc, to); err != nil {
		t.Fatal(err)
	}
}

func waitHTTP200(t *testing.T, name, url string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, name+" "+url+" 200", func() (bool, string) {
		resp, err := http.Get(url)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("%s: %s", resp.Status, b)
	})
}

// issueSeedCA applies the user's CA example from examples/ as their notes do: a
// self-signed Issuer, the CA Certificate, the ClusterIssuer using its Secret (in the
// cluster resource namespace, the release's), and a site Certificate in istio-system.
func issueSeedCA(t *testing.T) {
	t.Helper()
	apply := func(file string, args ...string) {
		t.Helper()
		if out, err := kubectl(nil, append([]string{"apply", "-f", filepath.Join(env.root, "examples", file)}, args...)...); err != nil {
			t.Fatalf("kubectl apply %s: %v\n%s", file, err, out)
		}
	}
	apply("selfsigned-issuer.yaml", "-n", namespace)
	apply("certificate-example-ca.yaml")
	testkit.WaitIssuerReady(t, env.certflow, namespace, "selfsigned-issuer", 60*time.Second)
	testkit.WaitCertificateReady(t, env.certflow, namespace, "ca-example-com", 60*time.Second)
	apply("clusterIssuer-ca-example.yaml")
	testkit.WaitIssuerReady(t, env.certflow, "", "ca-example-issuer", 60*time.Second)
	testkit.CreateNamespace(t, env.kube, "istio-system")
	apply("certificate-site-example-com.yaml")
	testkit.WaitCertificateReady(t, env.certflow, "istio-system", "site-example-com", 60*time.Second)
	_, leaf := testkit.ReadTLSSecret(t, env.kube, "istio-system", "site-example-com-tls")
	if leaf.Issuer.CommonName != "ca.example.com" || !slices.Equal(leaf.DNSNames, []string{"site.example.com"}) {
		t.Errorf("site-example-com-tls: issuer %q, names %v; want issued by ca.example.com for site.example.com", leaf.Issuer.CommonName, leaf.DNSNames)
	}
	if _, err := env.kube.CoreV1().Secrets(namespace).Get(context.Background(), "ca-example-com-tls", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Errorf("no Secret ca-example-com-tls")
	}
}

// kubectl runs bin/kubectl as the stack's admin.
func kubectl(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(env.root, "bin", "kubectl"), append([]string{"--kubeconfig", env.stack.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
