package helm

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/internal/version"
	"github.com/certflow/certflow/worker"
)

// External Temporal with TLS (a CA and a client certificate) and an API key.
var externalTemporalSets = []string{
	"temporal.embedded.enabled=false",
	"temporal.address=temporal.example.com:7233",
	"temporal.namespace=certs",
	"temporal.taskQueue=certs-queue",
	"temporal.tls.enabled=true",
	"temporal.tls.serverName=temporal.example.com",
	"temporal.tls.secretName=temporal-client",
	"temporal.tls.mtls=true",
	"temporal.apiKey.secretName=temporal-api",
	"temporal.apiKey.key=token",
}

// `helm lint` finds no error with the default values, the user's, and an external
// Temporal's. (Its one warning: the version v0.1.0 has upstream's leading v, which
// SemVer 2 does not have.)
func TestLint(t *testing.T) {
	for name, sets := range map[string][]string{
		"defaults":          nil,
		"installCRDs":       {"installCRDs=true"},
		"user":              userSets,
		"external temporal": externalTemporalSets,
		"servicemonitor":    {"prometheus.servicemonitor.enabled=true", "podDisruptionBudget.enabled=true", "k8swatch.podDisruptionBudget.enabled=true"},
	} {
		l := action.NewLint()
		l.Namespace = namespace
		l.KubeVersion = kubeVersion(t)
		res := l.Run([]string{chartDir(t)}, values(t, sets...))
		for _, m := range res.Messages {
			if m.Severity >= support.ErrorSev {
				t.Errorf("%s: %s", name, m)
			}
		}
		for _, err := range res.Errors {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The default release: the worker and the watcher in the release namespace with the
// image of this version, talking to the embedded Temporal; no CRDs (upstream's default).
func TestRenderDefaults(t *testing.T) {
	objs := render(t)
	if crds := ofKind(objs, "CustomResourceDefinition"); len(crds) != 0 {
		t.Errorf("CRDs rendered without crds.enabled: %s", names(crds))
	}
	for _, kind := range []string{"ServiceMonitor", "PodDisruptionBudget"} {
		if o := ofKind(objs, kind); len(o) != 0 {
			t.Errorf("%s rendered by default: %s", kind, names(o))
		}
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole", "ClusterRoleBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
			"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		case "Role", "RoleBinding":
			if o.GetNamespace() != "kube-system" {
				t.Errorf("%s %s in namespace %q, want kube-system (the Lease's)", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		default:
			if o.GetNamespace() != namespace {
				t.Errorf("%s %s in namespace %q, want the release's %s", o.GetKind(), o.GetName(), o.GetNamespace(), namespace)
			}
		}
	}

	for _, c := range []struct{ name, bin string }{
		{"certflow-worker", "/usr/local/bin/certflow-worker"},
		{"certflow-k8swatch", "/usr/local/bin/certflow-k8swatch"},
	} {
		d, ctr := deployment(t, objs, c.name)
		if d.Spec.Template.Spec.ServiceAccountName != c.name {
			t.Errorf("%s runs as ServiceAccount %q, want %s", c.name, d.Spec.Template.Spec.ServiceAccountName, c.name)
		}
		mustFind(t, objs, "ServiceAccount", c.name)
		if ctr.Image != version.Image() {
			t.Errorf("%s image %s, want %s", c.name, ctr.Image, version.Image())
		}
		if !slices.Equal(ctr.Command, []string{c.bin}) {
			t.Errorf("%s command %q, want %s", c.name, ctr.Command, c.bin)
		}
		for _, a := range []string{"--cluster-resource-namespace=cert-manager", "--metrics-listen-address=0.0.0.0:9402", "--healthz-listen-address=0.0.0.0:9403", "--v=2"} {
			if !slices.Contains(ctr.Args, a) {
				t.Errorf("%s args %q lack %s", c.name, ctr.Args, a)
			}
		}
		for _, a := range ctr.Args {
			if strings.HasPrefix(a, "--feature-gates") || strings.HasPrefix(a, "--task-queue") {
				t.Errorf("%s has %s without featureGates / temporal.taskQueue", c.name, a)
			}
		}
		if v, _ := envValue(ctr, "TEMPORAL_ADDRESS"); v != "certflow-temporal.cert-manager.svc:7233" {
			t.Errorf("%s TEMPORAL_ADDRESS %q, want the embedded server's Service", c.name, v)
		}
		if v, _ := envValue(ctr, "TEMPORAL_NAMESPACE"); v != "default" {
			t.Errorf("%s TEMPORAL_NAMESPACE %q, want default", c.name, v)
		}
		for _, e := range ctr.Env {
			if strings.HasPrefix(e.Name, "TEMPORAL_TLS") || e.Name == "TEMPORAL_API_KEY" {
				t.Errorf("%s has %s by default", c.name, e.Name)
			}
		}
		ports := map[string]int32{}
		for _, p := range ctr.Ports {
			ports[p.Name] = p.ContainerPort
		}
		if ports["http-metrics"] != 9402 || ports["http-healthz"] != 9403 {
			t.Errorf("%s ports %v, want http-metrics 9402 and http-healthz 9403", c.name, ports)
		}
		for probe, p := range map[string]*corev1.Probe{"/livez": ctr.LivenessProbe, "/readyz": ctr.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != probe || p.HTTPGet.Port.String() != "http-healthz" {
				t.Errorf("%s probe %s: %+v, want httpGet %s on http-healthz", c.name, probe, p, probe)
			}
		}
		if sc := ctr.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s securityContext %+v, want a read-only root and no privilege escalation", c.name, ctr.SecurityContext)
		}
		svc := typed[corev1.Service](t, mustFind(t, objs, "Service", c.name))
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "tcp-prometheus-servicemonitor" || svc.Spec.Ports[0].Port != 9402 ||
			svc.Spec.Ports[0].TargetPort.String() != "http-metrics" {
			t.Errorf("Service %s ports %+v, want tcp-prometheus-servicemonitor 9402 to http-metrics", c.name, svc.Spec.Ports)
		}
		if !reflect.DeepEqual(svc.Spec.Selector, d.Spec.Selector.MatchLabels) {
			t.Errorf("Service %s selects %v, its Deployment's Pods are %v", c.name, svc.Spec.Selector, d.Spec.Selector.MatchLabels)
		}
	}
	_, w := deployment(t, objs, "certflow-worker")
	if !slices.Contains(w.Args, "--http01-solver-image="+version.Image()) {
		t.Errorf("worker args %q lack --http01-solver-image=%s (its solver Pods run its own image)", w.Args, version.Image())
	}
	_, k := deployment(t, objs, "certflow-k8swatch")
	if !slices.Contains(k.Args, "--leader-election-namespace=kube-system") {
		t.Errorf("watcher args %q lack --leader-election-namespace=kube-system", k.Args)
	}
	// The Role names the watcher's Lease (one name for every release: replicas of two
	// releases in one leader-election namespace share it).
	role := typed[rbacv1.Role](t, mustFind(t, objs, "Role", "certflow-k8swatch:leaderelection"))
	if len(role.Rules) == 0 || !slices.Equal(role.Rules[0].ResourceNames, []string{conventions.WatcherLeaseName}) {
		t.Errorf("the watcher's Role %+v does not name its Lease %s", role.Rules, conventions.WatcherLeaseName)
	}

	// The embedded Temporal: one replica of the dev server, its database on a claim.
	sts := typed[appsv1.StatefulSet](t, mustFind(t, objs, "StatefulSet", "certflow-temporal"))
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Errorf("embedded Temporal replicas %v, want 1", sts.Spec.Replicas)
	}
	tc := sts.Spec.Template.Spec.Containers[0]
	if tc.Image != "temporalio/temporal:"+buildToolsVar(t, "TEMPORAL_CLI_VERSION") {
		t.Errorf("embedded Temporal image %s, want temporalio/temporal:%s (hack/build-tools.sh's CLI)", tc.Image, buildToolsVar(t, "TEMPORAL_CLI_VERSION"))
	}
	for _, a := range []string{"server", "start-dev", "--ip=0.0.0.0", "--db-filename=/data/temporal.db", "--namespace=default", "--ui-port=8233"} {
		if !slices.Contains(tc.Args, a) {
			t.Errorf("embedded Temporal args %q lack %s", tc.Args, a)
		}
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 || sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("embedded Temporal claims %+v, want one of 1Gi", sts.Spec.VolumeClaimTemplates)
	}
	svc := typed[corev1.Service](t, mustFind(t, objs, "Service", "certflow-temporal"))
	var ports []int32
	for _, p := range svc.Spec.Ports {
		ports = append(ports, p.Port)
	}
	if !slices.Equal(ports, []int32{7233, 8233}) {
		t.Errorf("embedded Temporal Service ports %v, want 7233 and 8233", ports)
	}
}

// The user's flags: installCRDs=true renders the six CRDs (kept on uninstall:
// crds.keep's default), extraArgs reach the worker alone, featureGates both binaries.
func TestRenderUserFlags(t *testing.T) {
	objs := render(t, userSets...)
	crds := ofKind(objs, "CustomResourceDefinition")
	if len(crds) != 6 {
		t.Fatalf("%d CRDs with installCRDs=true, want 6: %s", len(crds), names(crds))
	}
	for _, c := range crds {
		if p := c.GetAnnotations()["helm.sh/resource-policy"]; p != "keep" {
			t.Errorf("CRD %s helm.sh/resource-policy %q, want keep (crds.keep defaults to true)", c.GetName(), p)
		}
	}
	_, w := deployment(t, objs, "certflow-worker")
	if !slices.Contains(w.Args, "--feature-gates=ExperimentalGatewayAPISupport=true") {
		t.Errorf("worker args %q lack the user's extraArgs", w.Args)
	}
	_, k := deployment(t, objs, "certflow-k8swatch")
	if slices.Contains(k.Args, "--feature-gates=ExperimentalGatewayAPISupport=true") {
		t.Errorf("watcher args %q have the worker's extraArgs", k.Args)
	}

	objs = render(t, "crds.enabled=true", "crds.keep=false", `featureGates=A=true\,B=false`, "k8swatch.extraArgs={--sweep-interval=10m}", "payloadCodec.enabled=false")
	for _, c := range ofKind(objs, "CustomResourceDefinition") {
		if _, ok := c.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("CRD %s has helm.sh/resource-policy with crds.keep=false", c.GetName())
		}
	}
	_, w = deployment(t, objs, "certflow-worker")
	_, k = deployment(t, objs, "certflow-k8swatch")
	for name, args := range map[string][]string{"worker": w.Args, "watcher": k.Args} {
		if !slices.Contains(args, "--feature-gates=A=true,B=false") {
			t.Errorf("%s args %q lack --feature-gates=A=true,B=false", name, args)
		}
	}
	if !slices.Contains(k.Args, "--sweep-interval=10m") || slices.Contains(w.Args, "--sweep-interval=10m") {
		t.Errorf("k8swatch.extraArgs: watcher %q, worker %q", k.Args, w.Args)
	}
	for name, args := range map[string][]string{"worker": w.Args, "watcher": k.Args} {
		for _, a := range args {
			if strings.HasPrefix(a, "--payload-codec-secret") {
				t.Errorf("%s has %s without payloadCodec.enabled", name, a)
			}
		}
	}

	// On by default; the codec endpoint only when asked for, on the worker, and given
	// to the embedded Web UI.
	for _, sets := range [][]string{nil, {"payloadCodec.server.enabled=true"}} {
		objs = render(t, sets...)
		_, w = deployment(t, objs, "certflow-worker")
		_, k = deployment(t, objs, "certflow-k8swatch")
		for name, args := range map[string][]string{"worker": w.Args, "watcher": k.Args} {
			if !slices.Contains(args, "--payload-codec-secret=cert-manager/certflow-payload-codec") {
				t.Errorf("%v: %s args %q lack --payload-codec-secret=cert-manager/certflow-payload-codec", sets, name, args)
			}
		}
		server := sets != nil
		// On the Pod's loopback only, with no port declared: port-forward reaches it, other Pods do not.
		if slices.Contains(w.Args, "--codec-server-listen-address=127.0.0.1:8081") != server ||
			slices.Contains(w.Args, "--codec-server-cors-origins=http://localhost:8233,http://127.0.0.1:8233") != server ||
			slices.ContainsFunc(w.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 8081 }) {
			t.Errorf("%v: worker args %q ports %v, want the codec endpoint on loopback %t", sets, w.Args, w.Ports, server)
		}
		ui := find(objs, "StatefulSet", "certflow-temporal")
		if ui == nil {
			t.Fatalf("%v: no embedded Temporal StatefulSet", sets)
		}
		uiArgs, _, _ := unstructured.NestedSlice(ui.Object, "spec", "template", "spec", "containers")
		if got := strings.Contains(fmt.Sprint(uiArgs), "--ui-codec-endpoint=http://localhost:8081"); got != server {
			t.Errorf("%v: embedded Temporal args %v, want --ui-codec-endpoint %t", sets, uiArgs, server)
		}
	}
}

// The CRD templates are deploy/crds (controller-gen's) plus the chart's labels and
// annotation.
func TestCRDsAreDeployCRDs(t *testing.T) {
	rendered := map[string]*unstructured.Unstructured{}
	for _, c := range ofKind(render(t, "crds.enabled=true"), "CustomResourceDefinition") {
		rendered[c.GetName()] = c
	}
	files, err := filepath.Glob(filepath.Join(chartDir(t), "..", "..", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no deploy/crds (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range decode(t, string(b)) {
			got := rendered[want.GetName()]
			if got == nil {
				t.Errorf("the chart does not render CRD %s of %s", want.GetName(), filepath.Base(f))
				continue
			}
			delete(rendered, want.GetName())
			if !reflect.DeepEqual(got.Object["spec"], want.Object["spec"]) {
				t.Errorf("CRD %s: the chart's spec differs from %s (make generate)", want.GetName(), filepath.Base(f))
			}
			for k, v := range want.GetAnnotations() {
				if got.GetAnnotations()[k] != v {
					t.Errorf("CRD %s: annotation %s=%q, want %q", want.GetName(), k, got.GetAnnotations()[k], v)
				}
			}
		}
	}
	for name := range rendered {
		t.Errorf("the chart renders CRD %s, which deploy/crds does not have", name)
	}
}

// An existing Temporal: no embedded server, the address, namespace, task queue, TLS with
// the Secret's CA and client certificate, and the API key from a Secret, all through
// the environment both binaries read (Temporal's client configuration).
func TestRenderExternalTemporal(t *testing.T) {
	objs := render(t, externalTemporalSets...)
	if len(ofKind(objs, "StatefulSet")) != 0 || find(objs, "Service", "certflow-temporal") != nil {
		t.Errorf("embedded Temporal rendered with temporal.embedded.enabled=false: %s", names(objs))
	}
	for _, name := range []string{"certflow-worker", "certflow-k8swatch"} {
		d, c := deployment(t, objs, name)
		want := map[string]string{
			"TEMPORAL_ADDRESS":                 "temporal.example.com:7233",
			"TEMPORAL_NAMESPACE":               "certs",
			"TEMPORAL_TLS":                     "true",
			"TEMPORAL_TLS_SERVER_NAME":         "temporal.example.com",
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/etc/certflow/temporal-tls/ca.crt",
			"TEMPORAL_TLS_CLIENT_CERT_PATH":    "/etc/certflow/temporal-tls/tls.crt",
			"TEMPORAL_TLS_CLIENT_KEY_PATH":     "/etc/certflow/temporal-tls/tls.key",
		}
		for k, v := range want {
			if got, ok := envValue(c, k); !ok || got != v {
				t.Errorf("%s %s=%q, want %q", name, k, got, v)
			}
		}
		var apiKey *corev1.EnvVar
		for i := range c.Env {
			if c.Env[i].Name == "TEMPORAL_API_KEY" {
				apiKey = &c.Env[i]
			}
		}
		if apiKey == nil || apiKey.ValueFrom == nil || apiKey.ValueFrom.SecretKeyRef == nil ||
			apiKey.ValueFrom.SecretKeyRef.Name != "temporal-api" || apiKey.ValueFrom.SecretKeyRef.Key != "token" {
			t.Errorf("%s TEMPORAL_API_KEY %+v, want Secret temporal-api's key token", name, apiKey)
		}
		if !slices.Contains(c.Args, "--task-queue=certs-queue") {
			t.Errorf("%s args %q lack --task-queue=certs-queue", name, c.Args)
		}
		var mounted bool
		for _, m := range c.VolumeMounts {
			mounted = mounted || (m.Name == "temporal-tls" && m.MountPath == "/etc/certflow/temporal-tls" && m.ReadOnly)
		}
		var volume bool
		for _, v := range d.Spec.Template.Spec.Volumes {
			volume = volume || (v.Name == "temporal-tls" && v.Secret != nil && v.Secret.SecretName == "temporal-client")
		}
		if !mounted || !volume {
			t.Errorf("%s does not mount Secret temporal-client at /etc/certflow/temporal-tls: mounts %+v, volumes %+v", name, c.VolumeMounts, d.Spec.Template.Spec.Volumes)
		}
	}

	// TLS to a server with a public certificate: no Secret, no paths.
	objs = render(t, "temporal.embedded.enabled=false", "temporal.address=x.tmprl.cloud:7233", "temporal.tls.enabled=true")
	_, c := deployment(t, objs, "certflow-worker")
	for _, e := range c.Env {
		if strings.HasSuffix(e.Name, "_PATH") {
			t.Errorf("worker has %s without temporal.tls.secretName", e.Name)
		}
	}
	if len(c.VolumeMounts) != 0 {
		t.Errorf("worker mounts %+v without temporal.tls.secretName", c.VolumeMounts)
	}

	// No server at all, and mTLS without a Secret, are refused with what to set.
	for _, c := range []struct{ sets, want string }{
		{"temporal.embedded.enabled=false", "temporal.address is required"},
		{"temporal.tls.enabled=true,temporal.tls.mtls=true", "temporal.tls.mtls needs temporal.tls.secretName"},
		{"temporal.embedded.enabled=false,temporal.address=x:7233", ""},
	} {
		_, err := renderRelease(t, releaseName, namespace, c.sets)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("--set %s: %v", c.sets, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("--set %s: error %v, want one saying %q", c.sets, err, c.want)
		}
	}
}

// The ServiceMonitor (Prometheus Operator) scrapes both binaries through their
// Services' port; the PodDisruptionBudgets select their Deployments' Pods.
func TestRenderServiceMonitorAndPDB(t *testing.T) {
	objs := render(t, "prometheus.servicemonitor.enabled=true", "prometheus.servicemonitor.interval=30s", "prometheus.servicemonitor.labels.release=kube-prometheus",
		"podDisruptionBudget.enabled=true", "k8swatch.podDisruptionBudget.enabled=true", "k8swatch.podDisruptionBudget.maxUnavailable=1")
	sm := mustFind(t, objs, "ServiceMonitor", "certflow")
	if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetNamespace() != namespace || sm.GetLabels()["release"] != "kube-prometheus" {
		t.Errorf("ServiceMonitor %s in %s labels %v", sm.GetAPIVersion(), sm.GetNamespace(), sm.GetLabels())
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 {
		t.Fatalf("ServiceMonitor endpoints %v, want 1", eps)
	}
	ep := eps[0].(map[string]any)
	if ep["port"] != "tcp-prometheus-servicemonitor" || ep["path"] != "/metrics" || ep["interval"] != "30s" || ep["scrapeTimeout"] != "30s" {
		t.Errorf("ServiceMonitor endpoint %v", ep)
	}
	exprs, _, _ := unstructured.NestedSlice(sm.Object, "spec", "selector", "matchExpressions")
	for _, name := range []string{"certflow-worker", "certflow-k8swatch"} {
		svc := mustFind(t, objs, "Service", name)
		for _, e := range exprs {
			e := e.(map[string]any)
			if vals, _ := e["values"].([]any); !slices.Contains(vals, any(svc.GetLabels()[e["key"].(string)])) {
				t.Errorf("the ServiceMonitor's %v does not select Service %s (labels %v)", e, name, svc.GetLabels())
			}
		}
		pdb := typed[policyv1.PodDisruptionBudget](t, mustFind(t, objs, "PodDisruptionBudget", name))
		d, _ := deployment(t, objs, name)
		if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
			t.Errorf("PodDisruptionBudget %s selects %v, the Deployment's Pods are %v", name, pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels)
		}
	}
	if pdb := typed[policyv1.PodDisruptionBudget](t, mustFind(t, objs, "PodDisruptionBudget", "certflow-k8swatch")); pdb.Spec.MaxUnavailable == nil || pdb.Spec.MinAvailable != nil {
		t.Errorf("k8swatch PodDisruptionBudget %+v, want maxUnavailable only", pdb.Spec)
	}
	if pdb := typed[policyv1.PodDisruptionBudget](t, mustFind(t, objs, "PodDisruptionBudget", "certflow-worker")); pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("worker PodDisruptionBudget %+v, want minAvailable 1", pdb.Spec)
	}
}

// Two releases (in two namespaces) share no cluster-scoped object but the CRDs, and
// bind their own ServiceAccounts.
func TestTwoReleasesDoNotClash(t *testing.T) {
	m1, err := renderRelease(t, "certflow", "cert-manager")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := renderRelease(t, "staging", "certflow-staging")
	if err != nil {
		t.Fatal(err)
	}
	key := func(o *unstructured.Unstructured) string {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	first := map[string]bool{}
	for _, o := range decode(t, m1) {
		first[key(o)] = true
	}
	for _, o := range decode(t, m2) {
		if first[key(o)] && o.GetNamespace() != "certflow-staging" {
			t.Errorf("both releases render %s", key(o))
		}
		if o.GetKind() == "ClusterRoleBinding" || o.GetKind() == "RoleBinding" {
			b := typed[rbacv1.ClusterRoleBinding](t, o)
			for _, s := range b.Subjects {
				if s.Namespace != "certflow-staging" || !strings.HasPrefix(s.Name, "staging-certflow-") {
					t.Errorf("%s of release staging binds %s/%s", key(o), s.Namespace, s.Name)
				}
			}
		}
	}
}

// deploy/certflow.yaml is the Namespace cert-manager and the chart rendered as
// `helm template certflow deploy/charts/certflow --namespace cert-manager --set
// crds.enabled=true` (hack/update-chart.sh writes it; make verify-generate compares the
// bytes, this the objects).
func TestBundleIsTheChart(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "..", "..", "certflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bundle := decode(t, string(b))
	if len(bundle) == 0 || bundle[0].GetKind() != "Namespace" || bundle[0].GetName() != namespace {
		t.Fatalf("deploy/certflow.yaml does not start with Namespace %s", namespace)
	}
	sameObjects(t, "deploy/certflow.yaml", bundle[1:], render(t, "crds.enabled=true"))
}

// deploy/rbac/rbac.yaml (what the other integration tests apply) is the chart's
// ServiceAccounts and RBAC for namespace certflow: the rules tested there are the chart's.
func TestRBACIsTheChart(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "..", "..", "rbac", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := decode(t, string(b))
	if len(file) == 0 || file[0].GetKind() != "Namespace" || file[0].GetName() != "certflow" {
		t.Fatal("deploy/rbac/rbac.yaml does not start with Namespace certflow")
	}
	m, err := renderRelease(t, "certflow", "certflow")
	if err != nil {
		t.Fatal(err)
	}
	var want []*unstructured.Unstructured
	for _, o := range decode(t, m) {
		switch o.GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			want = append(want, o)
		}
	}
	sameObjects(t, "deploy/rbac/rbac.yaml", file[1:], want)
}

// sameObjects fails unless got and want hold equal objects, in any order.
func sameObjects(t *testing.T, what string, got, want []*unstructured.Unstructured) {
	t.Helper()
	key := func(o *unstructured.Unstructured) string {
		return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
	}
	index := map[string]*unstructured.Unstructured{}
	for _, o := range want {
		index[key(o)] = o
	}
	for _, o := range got {
		w, ok := index[key(o)]
		if !ok {
			t.Errorf("%s has %s, which the chart does not render (make generate)", what, key(o))
			continue
		}
		delete(index, key(o))
		if !reflect.DeepEqual(o.Object, w.Object) {
			t.Errorf("%s: %s differs from the chart's rendering (make generate)", what, key(o))
		}
	}
	for k := range index {
		t.Errorf("%s lacks %s of the chart's rendering (make generate)", what, k)
	}
}

// An empty listen address turns the endpoint off: the flag is empty (the binaries
// serve nothing there) and the container has no such port, nor probes without healthz.
func TestRenderEndpointsOff(t *testing.T) {
	objs := render(t, "metrics.listenAddress=", "healthz.listenAddress=")
	_, w := deployment(t, objs, "certflow-worker")
	for _, a := range []string{"--metrics-listen-address=", "--healthz-listen-address="} {
		if !slices.Contains(w.Args, a) {
			t.Errorf("worker args %q lack %s", w.Args, a)
		}
	}
	if len(w.Ports) != 0 || w.LivenessProbe != nil || w.ReadinessProbe != nil {
		t.Errorf("worker with its endpoints off: ports %+v, liveness %+v, readiness %+v", w.Ports, w.LivenessProbe, w.ReadinessProbe)
	}
	if _, k := deployment(t, objs, "certflow-k8swatch"); len(k.Ports) != 2 || k.LivenessProbe == nil {
		t.Errorf("the watcher's endpoints changed with the worker's values: ports %+v", k.Ports)
	}
	// No Service points at a metrics port that is not there.
	if find(objs, "Service", "certflow-worker") != nil || find(objs, "Service", "certflow-k8swatch") == nil {
		t.Errorf("metrics Services with the worker's metrics off: worker %v, watcher %v",
			find(objs, "Service", "certflow-worker") != nil, find(objs, "Service", "certflow-k8swatch") != nil)
	}
}

// Upstream's securityContext (the Pod's) is taken when set, instead of podSecurityContext.
func TestRenderUpstreamSecurityContext(t *testing.T) {
	for sets, want := range map[string]int64{"": 0, "securityContext.runAsUser=1234": 1234} {
		var args []string
		if sets != "" {
			args = []string{sets}
		}
		d, _ := deployment(t, render(t, args...), "certflow-worker")
		sc := d.Spec.Template.Spec.SecurityContext
		if sc == nil {
			t.Fatalf("%q: no Pod securityContext", sets)
		}
		got := int64(0)
		if sc.RunAsUser != nil {
			got = *sc.RunAsUser
		}
		if got != want || (want == 0 && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot)) {
			t.Errorf("%q: Pod securityContext %+v, want runAsUser %d", sets, sc, want)
		}
	}
}

// Upstream's values for the DNS-01 check's nameservers reach the worker, which accepts
// both flags; global.rbac.create=false leaves the RBAC out.
func TestRenderUpstreamWorkerValues(t *testing.T) {
	objs := render(t, `dns01RecursiveNameservers=8.8.8.8:53\,1.1.1.1:53`, "dns01RecursiveNameserversOnly=true", "global.rbac.create=false")
	_, w := deployment(t, objs, "certflow-worker")
	for _, a := range []string{"--dns01-recursive-nameservers=8.8.8.8:53,1.1.1.1:53", "--dns01-recursive-nameservers-only"} {
		if !slices.Contains(w.Args, a) {
			t.Errorf("worker args %q lack %s", w.Args, a)
		}
	}
	var f worker.Flags
	fs := flag.NewFlagSet("certflow-worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.AddTo(fs)
	if err := fs.Parse(w.Args); err != nil {
		t.Errorf("the worker does not take its rendered args %q: %v", w.Args, err)
	} else if err := f.Check(); err != nil || !slices.Equal(f.ACME.DNS01RecursiveNameservers, []string{"8.8.8.8:53", "1.1.1.1:53"}) {
		t.Errorf("worker flags %v: nameservers %q", err, f.ACME.DNS01RecursiveNameservers)
	}
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} {
		if got := ofKind(objs, kind); len(got) > 0 {
			t.Errorf("global.rbac.create=false renders %s %s", kind, names(got))
		}
	}
	if len(ofKind(render(t), "ClusterRole")) != 2 {
		t.Error("the default renders no ClusterRoles")
	}
}

// The admission policies for CertificateRequests are on by default, each bound by a
// binding of its name; admissionPolicies.enabled=false leaves them out. The worker may
// approve for approveSignerNames (upstream's default: every Issuer and ClusterIssuer),
// and for nothing when they are empty.
func TestRenderAdmissionPolicies(t *testing.T) {
	objs := render(t)
	for _, kind := range []string{"MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"} {
		policies := ofKind(objs, kind)
		if len(policies) != 1 {
			t.Errorf("%d %ss rendered by default, want 1", len(policies), kind)
			continue
		}
		b := mustFind(t, objs, kind+"Binding", policies[0].GetName())
		if name, _, _ := unstructured.NestedString(b.Object, "spec", "policyName"); name != policies[0].GetName() {
			t.Errorf("%sBinding %s binds %q, want %s", kind, b.GetName(), name, policies[0].GetName())
		}
	}
	if b := ofKind(objs, "ValidatingAdmissionPolicyBinding"); len(b) == 1 {
		if acts, _, _ := unstructured.NestedStringSlice(b[0].Object, "spec", "validationActions"); !slices.Equal(acts, []string{"Deny"}) {
			t.Errorf("ValidatingAdmissionPolicyBinding actions %q, want [Deny]", acts)
		}
	}
	for _, o := range render(t, "admissionPolicies.enabled=false") {
		if strings.Contains(o.GetKind(), "AdmissionPolicy") {
			t.Errorf("admissionPolicies.enabled=false renders %s %s", o.GetKind(), o.GetName())
		}
	}

	approve := func(objs []*unstructured.Unstructured) []string {
		var names []string
		for _, r := range typed[rbacv1.ClusterRole](t, mustFind(t, objs, "ClusterRole", "certflow-worker")).Rules {
			if slices.Contains(r.Resources, "signers") {
				if !slices.Equal(r.APIGroups, []string{"cert-manager.io"}) || !slices.Equal(r.Verbs, []string{"approve"}) {
					t.Errorf("worker's signers rule %+v, want approve in cert-manager.io", r)
				}
				names = append(names, r.ResourceNames...)
			}
		}
		return names
	}
	if got, want := approve(objs), []string{"issuers.cert-manager.io/*", "clusterissuers.cert-manager.io/*"}; !slices.Equal(got, want) {
		t.Errorf("the worker approves for %q, want %q", got, want)
	}
	if got := approve(render(t, "approveSignerNames=null")); len(got) != 0 {
		t.Errorf("approveSignerNames=null: the worker approves for %q", got)
	}
}

// deploy/admission/policies.yaml (what the local stack installs) is the chart's
// admission policies.
func TestAdmissionPoliciesAreTheChart(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "..", "..", "admission", "policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []*unstructured.Unstructured
	for _, o := range render(t) {
		if strings.Contains(o.GetKind(), "AdmissionPolicy") {
			want = append(want, o)
		}
	}
	sameObjects(t, "deploy/admission/policies.yaml", decode(t, string(b)), want)
}

// dns01ProviderCA mounts a ConfigMap's CA into the worker (only) and points
// --dns01-provider-ca-file at it; the worker takes the rendered flag.
func TestRenderDNS01ProviderCA(t *testing.T) {
	objs := render(t, "dns01ProviderCA.configMapName=provider-ca", "dns01ProviderCA.key=bundle.pem", "volumes[0].name=extra", "volumes[0].emptyDir.medium=Memory")
	d, w := deployment(t, objs, "certflow-worker")
	const file = "/etc/certflow/dns01-provider-ca/bundle.pem"
	if !slices.Contains(w.Args, "--dns01-provider-ca-file="+file) {
		t.Errorf("worker args %q lack --dns01-provider-ca-file=%s", w.Args, file)
	}
	var f worker.Flags
	fs := flag.NewFlagSet("certflow-worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.AddTo(fs)
	if err := fs.Parse(w.Args); err != nil || f.ACME.DNS01ProviderCAFile != file {
		t.Errorf("the worker does not take its rendered args %q: %v (CA file %q)", w.Args, err, f.ACME.DNS01ProviderCAFile)
	}
	var mounted, volume, extra bool
	for _, m := range w.VolumeMounts {
		mounted = mounted || (m.Name == "dns01-provider-ca" && m.MountPath == "/etc/certflow/dns01-provider-ca" && m.ReadOnly)
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volume = volume || (v.Name == "dns01-provider-ca" && v.ConfigMap != nil && v.ConfigMap.Name == "provider-ca")
		extra = extra || v.Name == "extra"
	}
	if !mounted || !volume || !extra {
		t.Errorf("worker mounts %+v, volumes %+v: want ConfigMap provider-ca at /etc/certflow/dns01-provider-ca beside the user's volume", w.VolumeMounts, d.Spec.Template.Spec.Volumes)
	}
	wd, wc := deployment(t, objs, "certflow-k8swatch")
	for _, v := range wd.Spec.Template.Spec.Volumes {
		if v.Name == "dns01-provider-ca" {
			t.Errorf("the watcher mounts the DNS-01 provider CA: %+v", v)
		}
	}
	if slices.ContainsFunc(wc.Args, func(a string) bool { return strings.HasPrefix(a, "--dns01-provider-ca-file") }) {
		t.Errorf("the watcher got %q", wc.Args)
	}
	// Off by default.
	_, w = deployment(t, render(t), "certflow-worker")
	if slices.ContainsFunc(w.Args, func(a string) bool { return strings.HasPrefix(a, "--dns01-provider-ca-file") }) || len(w.VolumeMounts) != 0 {
		t.Errorf("default worker has %q, mounts %+v", w.Args, w.VolumeMounts)
	}
}
