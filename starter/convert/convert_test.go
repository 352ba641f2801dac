package convert

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

func load(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, string(data))
}

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("fixture: %v\n%s", err, doc)
	}
	return &unstructured.Unstructured{Object: m}
}

func asYAML(t *testing.T, o *unstructured.Unstructured) string {
	t.Helper()
	b, err := yaml.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every kind of every old version converts to the v1 fixture of that kind, and the v1
// fixture to itself.
func TestToV1Fixtures(t *testing.T) {
	for _, kind := range []string{"certificate", "certificaterequest", "issuer", "clusterissuer", "order", "challenge"} {
		want := load(t, filepath.Join("testdata", "v1", kind+".yaml"))
		for _, version := range append(append([]string{}, oldVersions...), Version) {
			t.Run(version+"/"+kind, func(t *testing.T) {
				in := load(t, filepath.Join("testdata", version, kind+".yaml"))
				before := in.DeepCopy()
				got, err := ToV1(in, schema.GroupVersion{})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Object, want.Object) {
					t.Errorf("got:\n%s\nwant:\n%s", asYAML(t, got), asYAML(t, want))
				}
				if !reflect.DeepEqual(in.Object, before.Object) {
					t.Errorf("the input was modified")
				}
			})
		}
	}
}

func TestToV1Fields(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "v1alpha2 keyAlgorithm rsa and keySize, no privateKey",
			in:   "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: a}\nspec: {secretName: a, keyAlgorithm: rsa, keySize: 4096, keyEncoding: pkcs1, issuerRef: {name: ca}}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {secretName: a, privateKey: {algorithm: RSA, size: 4096, encoding: PKCS1}, issuerRef: {name: ca}}",
		},
		{
			name: "v1alpha3 keySize alone",
			in:   "apiVersion: cert-manager.io/v1alpha3\nkind: Certificate\nmetadata: {name: a}\nspec: {keySize: 521}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {privateKey: {size: 521}}",
		},
		{
			name: "empty old key fields leave no privateKey",
			in:   "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: a}\nspec: {keyAlgorithm: \"\", keySize: 0, organization: []}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {}",
		},
		{
			name: "an algorithm of no mapping is carried over",
			in:   "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: a}\nspec: {keyAlgorithm: Ed25519}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {privateKey: {algorithm: Ed25519}}",
		},
		{
			name: "v1alpha2 organization without subject",
			in:   "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: a}\nspec: {organization: [A, B]}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {subject: {organizations: [A, B]}}",
		},
		{
			name: "v1alpha3 has no organization field: left alone",
			in:   "apiVersion: cert-manager.io/v1alpha3\nkind: Certificate\nmetadata: {name: a}\nspec: {subject: {organizations: [A]}}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {subject: {organizations: [A]}}",
		},
		{
			name: "v1beta1 key fields are already privateKey",
			in:   "apiVersion: cert-manager.io/v1beta1\nkind: Certificate\nmetadata: {name: a}\nspec: {privateKey: {algorithm: Ed25519}}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}\nspec: {privateKey: {algorithm: Ed25519}}",
		},
		{
			name: "certificate without spec",
			in:   "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: a}",
			want: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: a}",
		},
		{
			name: "v1alpha2 HTTP-01 challenge",
			in:   "apiVersion: acme.cert-manager.io/v1alpha2\nkind: Challenge\nmetadata: {name: c}\nspec: {type: http-01, solver: {http01: {ingress: {}}}}",
			want: "apiVersion: acme.cert-manager.io/v1\nkind: Challenge\nmetadata: {name: c}\nspec: {type: HTTP-01, solver: {http01: {ingress: {}}}}",
		},
		{
			name: "v1beta1 order keeps request",
			in:   "apiVersion: acme.cert-manager.io/v1beta1\nkind: Order\nmetadata: {name: o}\nspec: {request: UkVR}",
			want: "apiVersion: acme.cert-manager.io/v1\nkind: Order\nmetadata: {name: o}\nspec: {request: UkVR}",
		},
		{
			name: "issuer without acme",
			in:   "apiVersion: cert-manager.io/v1alpha2\nkind: Issuer\nmetadata: {name: i}\nspec: {selfSigned: {}}",
			want: "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: i}\nspec: {selfSigned: {}}",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ToV1(parse(t, tt.in), schema.GroupVersion{})
			if err != nil {
				t.Fatal(err)
			}
			if want := parse(t, tt.want); !reflect.DeepEqual(got.Object, want.Object) {
				t.Errorf("got:\n%s\nwant:\n%s", asYAML(t, got), asYAML(t, want))
			}
		})
	}
}

func TestToV1Errors(t *testing.T) {
	tests := []struct {
		name, in string
		target   schema.GroupVersion
		want     string
	}{
		{"no apiVersion", "kind: Certificate\nmetadata: {name: a}", schema.GroupVersion{}, "Certificate a: not a Kubernetes object: apiVersion and kind are required"},
		{"no kind", "apiVersion: cert-manager.io/v1alpha2\nmetadata: {name: a}", schema.GroupVersion{}, "apiVersion and kind are required"},
		{"other group", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}", schema.GroupVersion{}, "Secret v1 shop/s: not a cert-manager resource"},
		{"old certmanager.k8s.io group", "apiVersion: certmanager.k8s.io/v1alpha1\nkind: Certificate\nmetadata: {name: a}", schema.GroupVersion{}, "not a cert-manager resource: only cert-manager.io and acme.cert-manager.io objects are converted"},
		{"unknown kind", "apiVersion: cert-manager.io/v1alpha2\nkind: Order\nmetadata: {name: a}", schema.GroupVersion{}, `unknown kind "Order" of cert-manager.io (want one of Certificate, CertificateRequest, Issuer, ClusterIssuer)`},
		{"unknown version", "apiVersion: cert-manager.io/v1alpha1\nkind: Certificate\nmetadata: {name: a}", schema.GroupVersion{}, `unknown version "v1alpha1" of cert-manager.io (want one of v1alpha2, v1alpha3, v1beta1, v1)`},
		{"other group's target", "apiVersion: acme.cert-manager.io/v1alpha2\nkind: Order\nmetadata: {name: a}", schema.GroupVersion{Group: CertManagerGroup, Version: "v1"}, "a Order of acme.cert-manager.io cannot be converted to cert-manager.io/v1"},
		{"spec not an object", "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: a}\nspec: [1]", schema.GroupVersion{}, `field "spec" must be an object`},
		{"solvers not a list", "apiVersion: cert-manager.io/v1alpha2\nkind: Issuer\nmetadata: {name: a}\nspec: {acme: {solvers: 1}}", schema.GroupVersion{}, `field "solvers" must be a list`},
		{"solver not an object", "apiVersion: cert-manager.io/v1alpha3\nkind: ClusterIssuer\nmetadata: {name: a}\nspec: {acme: {solvers: [x]}}", schema.GroupVersion{}, "spec.acme.solvers[0] must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ToV1(parse(t, tt.in), tt.target)
			if err == nil {
				t.Fatalf("converted to:\n%s", asYAML(t, got))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"cert-manager.io/v1", "cert-manager.io/v1", ""},
		{"acme.cert-manager.io/v1", "acme.cert-manager.io/v1", ""},
		{"cert-manager.io/v1alpha2", "", "only cert-manager.io/v1 is served, older versions cannot be written"},
		{"apps/v1", "", "the group must be cert-manager.io or acme.cert-manager.io"},
		{"a/b/c", "", "invalid --output-version"},
	}
	for _, tt := range tests {
		gv, err := CheckTarget(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("CheckTarget(%q) = %v, want error with %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || gv.String() != tt.want && !(tt.want == "" && gv.Empty()) {
			t.Errorf("CheckTarget(%q) = %v, %v; want %s", tt.in, gv, err, tt.want)
		}
	}
}
