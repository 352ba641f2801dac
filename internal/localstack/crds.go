package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
)

// FieldManager is the server-side apply field manager used by InstallCRDs.
const FieldManager = "certflow-localstack"

// InstallCRDs server-side applies every CustomResourceDefinition found in dir/*.yaml
// (multi-document files allowed; kustomization.yaml is skipped) and waits until each
// is Established and its names are accepted.
func InstallCRDs(ctx context.Context, cfg *rest.Config, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "kustomization.yaml" })
	if len(files) == 0 {
		return fmt.Errorf("no *.yaml files in %s", dir)
	}
	cs, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var names []string
	for _, f := range files {
		crds, err := readCRDs(f)
		if err != nil {
			return err
		}
		for _, crd := range crds {
			force := true
			if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.name, types.ApplyPatchType, crd.raw,
				metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
				return fmt.Errorf("apply CRD %s from %s: %w", crd.name, f, err)
			}
			names = append(names, crd.name)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, name := range names {
		for {
			crd, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err == nil && crdReady(crd) {
				break
			}
			if err == nil {
				err = fmt.Errorf("conditions %v", crd.Status.Conditions)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %w", name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func crdReady(crd *apiextensionsv1.CustomResourceDefinition) bool {
	established, named := false, false
	for _, c := range crd.Status.Conditions {
		switch c.Type {
		case apiextensionsv1.Established:
			established = c.Status == apiextensionsv1.ConditionTrue
		case apiextensionsv1.NamesAccepted:
			named = c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return established && named
}

type crdDoc struct {
	name string
	raw  []byte // the document as JSON, applied unchanged
}

// readCRDs decodes the CustomResourceDefinitions of a (multi-document) YAML file.
func readCRDs(path string) ([]crdDoc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []crdDoc
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		var crd metav1.PartialObjectMetadata
		if err := json.Unmarshal(raw, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if crd.APIVersion != "apiextensions.k8s.io/v1" || crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: holds a %s %s, not an apiextensions.k8s.io/v1 CustomResourceDefinition", path, crd.APIVersion, crd.Kind)
		}
		if crd.Name == "" {
			return nil, fmt.Errorf("%s: CustomResourceDefinition without metadata.name", path)
		}
		out = append(out, crdDoc{name: crd.Name, raw: raw})
	}
}
