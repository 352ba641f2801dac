package api_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestValidManifests checks that the user's manifests (examples/) and
// api/testdata/valid pass the CRDs' schemas and CEL rules.
func TestValidManifests(t *testing.T) {
	crds := loadCRDs(t)
	var files []string
	for _, glob := range []string{"../examples/*.yaml", "testdata/valid/*.yaml"} {
		f, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d valid manifests", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			for _, m := range readManifests(t, f) {
				if errs := crds.forObject(t, m).validate(m.obj, nil); len(errs) > 0 {
					t.Errorf("%s: want valid, got: %v", f, errs.ToAggregate())
				}
			}
		})
	}
}

// TestInvalidManifests checks that each manifest in api/testdata/invalid is
// refused with an error containing its "# expect:" text.
func TestInvalidManifests(t *testing.T) {
	crds := loadCRDs(t)
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d invalid manifests", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ms := readManifests(t, f)
			if len(ms) != 1 {
				t.Fatalf("want one manifest per invalid file, got %d", len(ms))
			}
			m := ms[0]
			if len(m.expects) == 0 {
				t.Fatal(`no "# expect:" line`)
			}
			errs := crds.forObject(t, m).validate(m.obj, nil)
			if len(errs) == 0 {
				t.Fatalf("want invalid, got no error")
			}
			got := errs.ToAggregate().Error()
			for _, want := range m.expects {
				if !strings.Contains(got, want) {
					t.Errorf("error does not contain %q:\n%s", want, got)
				}
			}
		})
	}
}

// TestCertificateRequestSpecImmutable checks the transition rule that makes
// a CertificateRequest's spec immutable, as upstream's webhook does.
func TestCertificateRequestSpecImmutable(t *testing.T) {
	crds := loadCRDs(t)
	m := readManifests(t, "testdata/valid/certificaterequest.yaml")[0]
	c := crds.forObject(t, m)
	old := readManifests(t, "testdata/valid/certificaterequest.yaml")[0].obj

	changed := readManifests(t, "testdata/valid/certificaterequest.yaml")[0].obj
	changed["spec"].(map[string]any)["isCA"] = true
	errs := c.validate(changed, old)
	if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), "spec is immutable") {
		t.Errorf("changing spec.isCA: want 'spec is immutable', got %v", got)
	}

	statusOnly := readManifests(t, "testdata/valid/certificaterequest.yaml")[0].obj
	statusOnly["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Approved", "status": "True", "reason": "cert-manager.io"}}}
	if errs := c.validate(statusOnly, old); len(errs) > 0 {
		t.Errorf("status-only change: want valid, got %v", errs.ToAggregate())
	}
}

// TestPrivateKeyDefaults checks the schema defaults of spec.privateKey.
func TestPrivateKeyDefaults(t *testing.T) {
	crds := loadCRDs(t)
	m := readManifests(t, "../examples/certificate-http01-example.yaml")[0]
	m.obj["spec"].(map[string]any)["privateKey"] = map[string]any{}
	if errs := crds.forObject(t, m).validate(m.obj, nil); len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	pk := m.obj["spec"].(map[string]any)["privateKey"].(map[string]any)
	want := map[string]any{"algorithm": "RSA", "encoding": "PKCS1", "rotationPolicy": "Always"}
	for k, v := range want {
		if pk[k] != v {
			t.Errorf("privateKey.%s = %v, want %v", k, pk[k], v)
		}
	}
	if _, ok := m.obj["spec"].(map[string]any)["duration"]; ok {
		t.Errorf("spec.duration must not be defaulted by the schema (upstream defaults it in code)")
	}
}

// TestCRDNames checks scopes, short names, categories and printer columns
// against upstream's.
func TestCRDNames(t *testing.T) {
	crds := loadCRDs(t)
	type want struct {
		scope      string
		shortNames []string
		categories []string
		columns    []string
	}
	wants := map[string]want{
		"Certificate":        {"Namespaced", []string{"cert", "certs"}, []string{"cert-manager"}, []string{"Ready", "Secret", "Issuer", "Status", "Expiration", "Age"}},
		"CertificateRequest": {"Namespaced", []string{"cr", "crs"}, []string{"cert-manager"}, []string{"Approved", "Denied", "Ready", "Issuer", "Requester", "Status", "Age"}},
		"Issuer":             {"Namespaced", nil, []string{"cert-manager"}, []string{"Ready", "Status", "Age"}},
		"ClusterIssuer":      {"Cluster", nil, []string{"cert-manager"}, []string{"Ready", "Status", "Age"}},
		"Order":              {"Namespaced", nil, []string{"cert-manager", "cert-manager-acme"}, []string{"State", "Issuer", "Reason", "Age"}},
		"Challenge":          {"Namespaced", nil, []string{"cert-manager", "cert-manager-acme"}, []string{"State", "Domain", "Reason", "Age"}},
	}
	if len(crds) != len(wants) {
		t.Errorf("got %d CRDs, want %d", len(crds), len(wants))
	}
	for gk, c := range crds {
		w, ok := wants[gk.Kind]
		if !ok {
			t.Errorf("unexpected CRD %v", gk)
			continue
		}
		if string(c.crd.Spec.Scope) != w.scope {
			t.Errorf("%s scope %s, want %s", gk.Kind, c.crd.Spec.Scope, w.scope)
		}
		if !slices.Equal(c.crd.Spec.Names.ShortNames, w.shortNames) {
			t.Errorf("%s shortNames %v, want %v", gk.Kind, c.crd.Spec.Names.ShortNames, w.shortNames)
		}
		if !slices.Equal(c.crd.Spec.Names.Categories, w.categories) {
			t.Errorf("%s categories %v, want %v", gk.Kind, c.crd.Spec.Names.Categories, w.categories)
		}
		cols := c.crd.Spec.AdditionalPrinterColumns
		if len(c.crd.Spec.Versions[0].AdditionalPrinterColumns) > 0 {
			cols = c.crd.Spec.Versions[0].AdditionalPrinterColumns
		}
		var names []string
		for _, col := range cols {
			names = append(names, col.Name)
		}
		if !slices.Equal(names, w.columns) {
			t.Errorf("%s printer columns %v, want %v", gk.Kind, names, w.columns)
		}
		if c.crd.Spec.Subresources == nil && c.crd.Spec.Versions[0].Subresources == nil {
			t.Errorf("%s has no status subresource", gk.Kind)
		}
	}
}
