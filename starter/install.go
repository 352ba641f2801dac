package starter

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/release"
	v1release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"helm.sh/helm/v4/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/certflow/certflow/deploy/charts"
)

const (
	// defaultInstallNamespace is cmctl's: install and uninstall use it unless
	// --namespace is given.
	defaultInstallNamespace = "cert-manager"
	defaultReleaseName      = "certflow"
	// keepPolicy is the annotation that makes Helm leave an object on uninstall.
	keepPolicy = "helm.sh/resource-policy"
)

func newExperimentalCommand(g *globals) *cobra.Command {
	x := &cobra.Command{
		Use:     "experimental",
		Aliases: []string{"x"},
		Short:   "Interact with experimental features",
	}
	create := &cobra.Command{Use: "create", Short: "Create experimental resources"}
	create.AddCommand(newCreateCSRCommand())
	x.AddCommand(newInstallCommand(g), newUninstallCommand(g), create)
	return x
}

// installOptions are install's and uninstall's flags, as cmctl names them.
type installOptions struct {
	releaseName string
	chartName   string
	dryRun      bool
	wait        bool
	timeout     time.Duration
	values      values.Options
}

func addInstallUninstallFlags(cmd *cobra.Command, o *installOptions) {
	cmd.Flags().DurationVar(&o.timeout, "timeout", 300*time.Second, "Time to wait for any individual Kubernetes operation (like Jobs for hooks)")
	cmd.Flags().BoolVar(&o.wait, "wait", true, "If set, will wait until all Pods, PVCs, Services, and minimum number of Pods of a Deployment, StatefulSet, or ReplicaSet are in a ready state before marking the release as successful. It will wait for as long as --timeout")
	cmd.Flags().StringVar(&o.releaseName, "release-name", defaultReleaseName, "name of the helm release")
}

func newInstallCommand(g *globals) *cobra.Command {
	o := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install certflow",
		Long: `Install certflow with the Helm libraries: the chart of this CLI's own version, embedded in
it (deploy/charts/certflow), into namespace cert-manager unless --namespace says another.
Most of 'helm install''s value flags are supported.

The CRDs come with the release (crds.enabled=true) when the cluster has none of
cert-manager's; when it already serves them (applied by hand, or by another release)
they are left as they are. Either way --set crds.enabled=... decides. The chart keeps
the CRDs on uninstall (crds.keep=true).

With --dry-run the manifests are printed and nothing is created. --wait (the default, as
cmctl's) waits for the Pods to be ready: --wait=false returns once the objects exist.`,
		Example: `  kubectl cert-manager x install
  kubectl cert-manager x install -n my-certflow --set replicaCount=2
  kubectl cert-manager x install --set temporal.enabled=false -f my-values.yaml
  kubectl cert-manager x install --dry-run > certflow.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInstall(cmd, g, o)
		},
	}
	addInstallUninstallFlags(cmd, o)
	f := cmd.Flags()
	f.StringSliceVarP(&o.values.ValueFiles, "values", "f", nil, "specify values in a YAML file or a URL (can specify multiple)")
	f.StringArrayVar(&o.values.Values, "set", nil, "set values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)")
	f.StringArrayVar(&o.values.StringValues, "set-string", nil, "set STRING values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)")
	f.StringArrayVar(&o.values.FileValues, "set-file", nil, "set values from respective files specified via the command line (can specify multiple or separate values with commas: key1=path1,key2=path2)")
	f.StringArrayVar(&o.values.JSONValues, "set-json", nil, "set JSON values on the command line (can specify multiple or separate values with commas: key1=jsonval1,key2=jsonval2)")
	f.StringArrayVar(&o.values.LiteralValues, "set-literal", nil, "set a literal STRING value on the command line")
	f.BoolVar(&o.dryRun, "dry-run", false, "Simulate install and output manifest")
	f.StringVar(&o.chartName, "chart-name", charts.Name, "Name of the chart to install: the embedded "+charts.Name+", or the path of a chart directory or archive")
	_ = f.MarkHidden("chart-name")
	return cmd
}

// installNamespace is --namespace when given, else cmctl's cert-manager.
func installNamespace(cmd *cobra.Command, g *globals) string {
	if cmd.Flags().Changed("namespace") && g.kube.Namespace != nil && *g.kube.Namespace != "" {
		return *g.kube.Namespace
	}
	return defaultInstallNamespace
}

// helmConfiguration is Helm's action configuration for the CLI's kubeconfig flags, with
// releases stored as Secrets in namespace (the helm CLI's default).
func helmConfiguration(g *globals, namespace string) (*action.Configuration, error) {
	ns := namespace
	g.kube.Namespace = &ns
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := cfg.Init(g.kube, namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm configuration: %w", err)
	}
	return cfg, nil
}

// loadChart is the embedded chart, or the one at --chart-name's path.
func loadChart(name string) (*chart.Chart, error) {
	if name == charts.Name {
		return charts.Certflow()
	}
	c, err := loader.Load(name)
	if err != nil {
		return nil, fmt.Errorf("--chart-name %q is neither the embedded chart %q nor a chart's path: %w", name, charts.Name, err)
	}
	return c, nil
}

func runInstall(cmd *cobra.Command, g *globals, o *installOptions) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	namespace := installNamespace(cmd, g)
	chrt, err := loadChart(o.chartName)
	if err != nil {
		return err
	}
	vals, err := o.values.MergeValues(getter.Providers{})
	if err != nil {
		return err
	}
	if _, set := crdsValue(vals); !set {
		served, err := cmCRDsServed(g)
		switch {
		case err != nil && !o.dryRun:
			return fmt.Errorf("cannot tell whether the cluster has cert-manager's CRDs: %w", err)
		case served:
			fmt.Fprintln(cmd.ErrOrStderr(), "cert-manager's CRDs are already served: left as they are (crds.enabled=false)")
		}
		setCRDsEnabled(vals, !served)
	}
	cfg, err := helmConfiguration(g, namespace)
	if err != nil {
		return err
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace, in.CreateNamespace = o.releaseName, namespace, true
	in.Timeout = o.timeout
	if o.dryRun {
		// Rendered without the cluster, as cmctl does: a KubeVersion every chart accepts.
		in.DryRunStrategy = action.DryRunClient
		in.KubeVersion = &common.KubeVersion{Version: "v999.999.999", Major: "999", Minor: "999"}
		in.WaitStrategy = kube.HookOnlyStrategy
	} else if o.wait {
		in.WaitStrategy, in.RollbackOnFailure = kube.StatusWatcherStrategy, true
	} else {
		in.WaitStrategy = kube.HookOnlyStrategy
	}
	rel, err := in.RunWithContext(ctx, chrt, vals)
	if err != nil {
		return fmt.Errorf("install release %s in namespace %s: %w", o.releaseName, namespace, err)
	}
	acc, err := release.NewAccessor(rel)
	if err != nil {
		return err
	}
	if o.dryRun {
		_, err := io.WriteString(out, acc.Manifest())
		return err
	}
	printReleaseSummary(out, acc)
	return nil
}

// crdsValue is the CRD switch the values set, if any: crds.enabled, or its deprecated
// alias installCRDs.
func crdsValue(vals map[string]any) (enabled, set bool) {
	if crds, ok := vals["crds"].(map[string]any); ok {
		if v, ok := crds["enabled"].(bool); ok {
			return v, true
		}
	}
	if v, ok := vals["installCRDs"].(bool); ok {
		return v, true
	}
	return false, false
}

func setCRDsEnabled(vals map[string]any, enabled bool) {
	crds, ok := vals["crds"].(map[string]any)
	if !ok {
		crds = map[string]any{}
		vals["crds"] = crds
	}
	crds["enabled"] = enabled
}

// cmCRDsServed tells whether the API server serves any of cert-manager's groups.
func cmCRDsServed(g *globals) (bool, error) {
	cfg, err := g.kube.ToDiscoveryClient()
	if err != nil {
		return false, err
	}
	cfg.Invalidate()
	for _, gv := range []string{"cert-manager.io/v1", "acme.cert-manager.io/v1"} {
		list, err := cfg.ServerResourcesForGroupVersion(gv)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return false, err
		case len(list.APIResources) > 0:
			return true, nil
		}
	}
	return false, nil
}

func printReleaseSummary(out io.Writer, acc release.Accessor) {
	fmt.Fprintf(out, "NAME: %s\n", acc.Name())
	if !acc.DeployedAt().IsZero() {
		fmt.Fprintf(out, "LAST DEPLOYED: %s\n", acc.DeployedAt().Format(time.ANSIC))
	}
	fmt.Fprintf(out, "NAMESPACE: %s\n", acc.Namespace())
	fmt.Fprintf(out, "STATUS: %s\n", acc.Status())
	fmt.Fprintf(out, "REVISION: %d\n", acc.Version())
	if notes := strings.TrimSpace(acc.Notes()); notes != "" {
		fmt.Fprintf(out, "NOTES:\n%s\n", notes)
	}
}

func newUninstallCommand(g *globals) *cobra.Command {
	o := &installOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Uninstall certflow",
		Long: `Uninstall a Helm release of certflow (release certflow in namespace cert-manager unless
--release-name and --namespace say another).

The CRDs stay, and with them every Certificate, Issuer and CertificateRequest, even if
they were installed with the release and without crds.keep, as cmctl does: the release's
CRDs are marked helm.sh/resource-policy=keep before Helm removes the rest. Delete them
by hand if you mean to: kubectl delete crd -l app.kubernetes.io/component=crds.`,
		Example: `  kubectl cert-manager x uninstall
  kubectl cert-manager x uninstall --namespace my-certflow
  kubectl cert-manager x uninstall --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUninstall(cmd, g, o)
		},
	}
	addInstallUninstallFlags(cmd, o)
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "simulate uninstall and output manifests to be deleted")
	return cmd
}

func runUninstall(cmd *cobra.Command, g *globals, o *installOptions) error {
	out := cmd.OutOrStdout()
	namespace := installNamespace(cmd, g)
	cfg, err := helmConfiguration(g, namespace)
	if err != nil {
		return err
	}
	last, err := cfg.Releases.Last(o.releaseName)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("release %s not found in namespace %s, did you use the correct namespace (--namespace) and --release-name?", o.releaseName, namespace)
	}
	if err != nil {
		return fmt.Errorf("read release %s in namespace %s: %w", o.releaseName, namespace, err)
	}
	kept := 0
	if !o.dryRun {
		if kept, err = keepCRDs(cfg, last); err != nil {
			return err
		}
	}
	un := action.NewUninstall(cfg)
	un.DryRun, un.Timeout, un.IgnoreNotFound, un.KeepHistory = o.dryRun, o.timeout, true, false
	if o.wait {
		un.WaitStrategy, un.DeletionPropagation = kube.StatusWatcherStrategy, "foreground"
	} else {
		un.WaitStrategy, un.DeletionPropagation = kube.HookOnlyStrategy, "background"
	}
	res, err := un.Run(o.releaseName)
	if err != nil {
		return fmt.Errorf("uninstall release %s in namespace %s: %w", o.releaseName, namespace, err)
	}
	if o.dryRun {
		if res == nil || res.Release == nil {
			return errors.New("helm returned no release for the dry run")
		}
		acc, err := release.NewAccessor(res.Release)
		if err != nil {
			return err
		}
		_, err = io.WriteString(out, acc.Manifest())
		return err
	}
	if res != nil && res.Info != "" {
		fmt.Fprintln(out, res.Info)
	}
	if kept > 0 {
		fmt.Fprintf(out, "%d CRDs of the release kept, with every object of theirs\n", kept)
	}
	fmt.Fprintf(out, "release %q uninstalled\n", o.releaseName)
	return nil
}

// keepCRDs marks the CRDs of the release's manifest helm.sh/resource-policy=keep in the
// stored release, which is what Helm's uninstall reads, and returns how many CRDs the
// release has.
func keepCRDs(cfg *action.Configuration, last release.Releaser) (int, error) {
	rel, ok := last.(*v1release.Release)
	if !ok {
		return 0, fmt.Errorf("release of an unsupported type %T", last)
	}
	manifest, crds, changed, err := keepCRDsInManifest(rel.Manifest)
	if err != nil || !changed {
		return crds, err
	}
	rel.Manifest = manifest
	if err := cfg.Releases.Update(rel); err != nil {
		return 0, fmt.Errorf("mark the release's CRDs %s=keep: %w", keepPolicy, err)
	}
	return crds, nil
}

// keepCRDsInManifest adds helm.sh/resource-policy=keep to the CRDs of manifest that lack
// it, and counts them.
func keepCRDsInManifest(manifest string) (out string, crds int, changed bool, err error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var b strings.Builder
	for _, k := range keys {
		doc := docs[k]
		var head releaseutil.SimpleHead
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return "", 0, false, fmt.Errorf("read the release's manifest: %w", err)
		}
		if head.Kind == "CustomResourceDefinition" && strings.HasPrefix(head.Version, "apiextensions.k8s.io/") {
			crds++
			if head.Metadata == nil || head.Metadata.Annotations[keepPolicy] != "keep" {
				var obj unstructured.Unstructured
				if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
					return "", 0, false, fmt.Errorf("read the release's manifest: %w", err)
				}
				a := obj.GetAnnotations()
				if a == nil {
					a = map[string]string{}
				}
				a[keepPolicy] = "keep"
				obj.SetAnnotations(a)
				y, err := yaml.Marshal(obj.Object)
				if err != nil {
					return "", 0, false, err
				}
				doc, changed = string(y), true
			}
		}
		b.WriteString("---\n")
		b.WriteString(strings.TrimSpace(doc))
		b.WriteString("\n")
	}
	if !changed {
		return manifest, crds, false, nil
	}
	return b.String(), crds, true, nil
}

func newCreateCSRCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "certificatesigningrequest",
		Aliases: []string{"csr"},
		Short:   "Create a Kubernetes CertificateSigningRequest from a cert-manager Certificate (not served by certflow)",
		Long: `cmctl creates a Kubernetes CertificateSigningRequest (certificates.k8s.io/v1) for cert-manager's
experimental CSR controllers to sign. certflow does not sign Kubernetes
CertificateSigningRequests (it has no such controller, whatever
ExperimentalCertificateSigningRequestControllers says), so this command only says so.

To get a certificate from a Certificate manifest without a Certificate object, use
'create certificaterequest', which certflow's issuers sign.`,
		Args:               cobra.ArbitraryArgs,
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("certflow does not sign Kubernetes CertificateSigningRequests (certificates.k8s.io/v1): " +
				"no CertificateSigningRequest would ever be signed, so none is created. " +
				"Use 'kubectl cert-manager create certificaterequest --from-certificate-file FILE --fetch-certificate' instead, which certflow's issuers sign")
		},
	}
}
