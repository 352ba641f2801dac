package starter

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/certflow/certflow/starter/convert"
)

// manifestFlags are kubectl's flags for reading manifests: -f (files, directories, URLs,
// - for stdin), -k and -R.
func manifestFlags(cmd *cobra.Command, o *resource.FilenameOptions, what string) {
	cmd.Flags().StringSliceVarP(&o.Filenames, "filename", "f", o.Filenames, what)
	cmd.Flags().StringVarP(&o.Kustomize, "kustomize", "k", o.Kustomize, "process a kustomization directory; cannot be used with -f")
	cmd.Flags().BoolVarP(&o.Recursive, "recursive", "R", o.Recursive, "process the directory given in -f recursively")
}

// readManifests reads the objects of the manifests o names, with no server, each List
// flattened into its items. list tells whether the input was more than one object (or a
// List), as kubectl decides when to print a List.
func readManifests(o *resource.FilenameOptions) (objs []*unstructured.Unstructured, list bool, err error) {
	r := resource.NewLocalBuilder().Unstructured().FilenameParam(false, o).Flatten().Do()
	if err := r.Err(); err != nil {
		return nil, false, err
	}
	single := false
	infos, err := r.IntoSingleItemImplied(&single).Infos()
	if err != nil {
		return nil, false, err
	}
	for _, info := range infos {
		u, ok := info.Object.(*unstructured.Unstructured)
		if !ok {
			return nil, false, fmt.Errorf("%s: unexpected object %T", info.Source, info.Object)
		}
		objs = append(objs, u)
	}
	return objs, !single || len(objs) != 1, nil
}

func newConvertCommand() *cobra.Command {
	var (
		files         resource.FilenameOptions
		outputVersion string
	)
	printFlags := genericclioptions.NewPrintFlags("converted").WithDefaultOutput("yaml")
	cmd := &cobra.Command{
		Use:   "convert -f FILE",
		Short: "Convert cert-manager manifests of older API versions to v1",
		Long: `Convert manifests of cert-manager's older API versions (v1alpha2, v1alpha3, v1beta1 of
cert-manager.io and acme.cert-manager.io) to cert-manager.io/v1 and acme.cert-manager.io/v1,
the versions certflow serves, as cmctl converts them: e.g. a v1alpha2 Certificate's
keyAlgorithm, keySize and keyEncoding become privateKey, organization becomes
subject.organizations, emailSANs and uriSANs become emailAddresses and uris, a
CertificateRequest's or Order's csr becomes request. Both YAML and JSON are read, from
files, directories, URLs or - (stdin); several objects are printed as a List. Nothing is
sent to the cluster.`,
		Example: `  # Convert cert.yaml to v1 and print it as YAML
  kubectl cert-manager convert -f cert.yaml
  # Convert every manifest under ./manifests, as JSON
  kubectl cert-manager convert -R -f ./manifests -o json
  # Convert and apply
  kubectl cert-manager convert -f old.yaml | kubectl apply -f -`,
		DisableFlagsInUseLine: true,
		Args:                  cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := files.RequireFilenameOrKustomize(); err != nil {
				return err
			}
			_, err := convert.CheckTarget(outputVersion)
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			printer, err := printFlags.ToPrinter()
			if err != nil {
				return err
			}
			target, err := convert.CheckTarget(outputVersion)
			if err != nil {
				return err
			}
			objs, list, err := readManifests(&files)
			if err != nil {
				return err
			}
			out, err := convertObjects(objs, list, target)
			if err != nil {
				return err
			}
			return printer.PrintObj(out, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&outputVersion, "output-version", "", "the group version to write (cert-manager.io/v1 or acme.cert-manager.io/v1); by default each object's group's v1")
	manifestFlags(cmd, &files, "path to a file, directory or URL of cert-manager resources to convert (- for stdin)")
	printFlags.AddFlags(cmd)
	return cmd
}

// convertObjects converts each object to v1: the one object, or a List of them when list.
// No object is printed when one of them cannot be converted.
func convertObjects(objs []*unstructured.Unstructured, list bool, target schema.GroupVersion) (runtime.Object, error) {
	if len(objs) == 0 {
		return nil, errors.New("no objects passed to convert")
	}
	var errs []error
	converted := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		c, err := convert.ToV1(o, target)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		converted = append(converted, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !list {
		return converted[0], nil
	}
	l := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}}
	for _, c := range converted {
		l.Items = append(l.Items, *c)
	}
	return l, nil
}
