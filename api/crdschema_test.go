package api_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdDir is where the generated CRDs live, relative to this package.
const crdDir = "../deploy/crds"

// crdSchema validates custom resources of one CRD version the way
// kube-apiserver does on create and update: prune unknown fields, apply
// defaults, check the OpenAPI schema and list invariants, then (unless the
// schema check found a blocking error) run the x-kubernetes-validations CEL
// rules.
type crdSchema struct {
	crd        *apiextensions.CustomResourceDefinition
	structural *structuralschema.Structural
	schema     validation.SchemaValidator
	cel        *cel.Validator
}

// loadCRD reads one generated CRD file, checks it the way kube-apiserver
// does on CRD creation (structural schema, CEL compilation and estimated
// cost limits) and returns a validator for its single version.
func loadCRD(t testing.TB, path string) *crdSchema {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v1crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &v1crd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensions.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	scheme.Default(&v1crd)
	var crd apiextensions.CustomResourceDefinition
	if err := scheme.Convert(&v1crd, &crd, nil); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	crd.Status.StoredVersions = []string{"v1"}
	if errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), &crd); len(errs) > 0 {
		t.Fatalf("%s is not a valid CRD (kube-apiserver would refuse it): %v", path, errs.ToAggregate())
	}
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("%s: want exactly one version", path)
	}
	// The internal form keeps a schema shared by all versions at the top.
	validationSchema := crd.Spec.Validation
	if v := crd.Spec.Versions[0].Schema; v != nil {
		validationSchema = v
	}
	if validationSchema == nil || validationSchema.OpenAPIV3Schema == nil {
		t.Fatalf("%s: no schema", path)
	}
	props := validationSchema.OpenAPIV3Schema
	s, err := structuralschema.NewStructural(props)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sv, _, err := validation.NewSchemaValidator(props)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &crdSchema{crd: &crd, structural: s, schema: sv, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}
}

// validate returns the errors kube-apiserver would report for obj (a create
// when old is nil, else an update from old). obj is pruned and defaulted in
// place, as it would be before storage.
func (c *crdSchema) validate(obj, old map[string]any) field.ErrorList {
	pruning.Prune(obj, c.structural, true)
	structuraldefaulting.Default(obj, c.structural)
	var errs field.ErrorList
	if old == nil {
		errs = append(errs, validation.ValidateCustomResource(nil, obj, c.schema)...)
	} else {
		pruning.Prune(old, c.structural, true)
		structuraldefaulting.Default(old, c.structural)
		errs = append(errs, validation.ValidateCustomResourceUpdate(nil, obj, old, c.schema)...)
	}
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, c.structural, obj)...)
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
		}
	}
	var oldObj any
	if old != nil {
		oldObj = old
	}
	celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj, oldObj, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// crdSet holds the validators of all generated CRDs by group and kind.
type crdSet map[schema.GroupKind]*crdSchema

func loadCRDs(t testing.TB) crdSet {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no CRDs in %s; run 'make generate'", crdDir)
	}
	set := crdSet{}
	for _, f := range files {
		c := loadCRD(t, f)
		set[schema.GroupKind{Group: c.crd.Spec.Group, Kind: c.crd.Spec.Names.Kind}] = c
	}
	return set
}

// manifest is one YAML document of a test file, with the "# expect:" lines
// of that file.
type manifest struct {
	file    string
	obj     map[string]any
	expects []string
}

// readManifests reads every document of a multi-document YAML file.
func readManifests(t testing.TB, path string) []manifest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var expects []string
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "# expect:"); ok {
			expects = append(expects, strings.TrimSpace(rest))
		}
	}
	var out []manifest
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		// Decode as kube-apiserver does: integers as int64, not float64.
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(js, &obj); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if obj == nil {
			continue
		}
		out = append(out, manifest{file: path, obj: obj, expects: expects})
	}
	return out
}

func (s crdSet) forObject(t testing.TB, m manifest) *crdSchema {
	t.Helper()
	apiVersion, _ := m.obj["apiVersion"].(string)
	kind, _ := m.obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(strings.TrimSpace(apiVersion))
	if err != nil {
		t.Fatalf("%s: %v", m.file, err)
	}
	c, ok := s[gv.WithKind(kind).GroupKind()]
	if !ok {
		t.Fatalf("%s: no CRD for %s %s", m.file, apiVersion, kind)
	}
	if gv.Version != "v1" {
		t.Fatalf("%s: version %q is not served", m.file, gv.Version)
	}
	return c
}
