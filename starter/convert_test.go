package starter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
)

func TestConvertManifests(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert := "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: c}\nspec: {keyAlgorithm: ecdsa, secretName: s}\n"
	order := "apiVersion: acme.cert-manager.io/v1alpha3\nkind: Order\nmetadata: {name: o}\nspec: {csr: UkVR}\n"
	for _, tc := range []struct {
		name     string
		content  string
		target   schema.GroupVersion
		wantKind string
		items    []string // "apiVersion kind" of each converted object
		err      string
	}{
		{name: "one object", content: cert, wantKind: "Certificate", items: []string{"cert-manager.io/v1 Certificate"}},
		{name: "two documents", content: cert + "---\n" + order, wantKind: "List", items: []string{"cert-manager.io/v1 Certificate", "acme.cert-manager.io/v1 Order"}},
		{name: "a List of one", content: "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSpace(cert), "\n", "\n  ") + "\n", wantKind: "Certificate", items: []string{"cert-manager.io/v1 Certificate"}}, // as kubectl and cmctl: one object read from one file is printed alone
		{name: "JSON", content: `{"apiVersion": "cert-manager.io/v1beta1", "kind": "Issuer", "metadata": {"name": "i"}, "spec": {"selfSigned": {}}}`, wantKind: "Issuer", items: []string{"cert-manager.io/v1 Issuer"}},
		{name: "a Secret among them", content: cert + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", err: "Secret v1 s: not a cert-manager resource"},
		{name: "target of the other group", content: order, target: schema.GroupVersion{Group: "cert-manager.io", Version: "v1"}, err: "a Order of acme.cert-manager.io cannot be converted to cert-manager.io/v1"},
		{name: "nothing", content: "# empty\n", err: "no objects passed to convert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.content)
			objs, list, err := readManifests(&resource.FilenameOptions{Filenames: []string{f}})
			if err == nil {
				var out interface{}
				out, err = convertObjects(objs, list, tc.target)
				if err == nil {
					var got []string
					kind := ""
					switch o := out.(type) {
					case *unstructured.Unstructured:
						kind = o.GetKind()
						got = append(got, o.GetAPIVersion()+" "+o.GetKind())
					case *unstructured.UnstructuredList:
						kind = o.GetKind()
						for _, i := range o.Items {
							got = append(got, i.GetAPIVersion()+" "+i.GetKind())
						}
					}
					if kind != tc.wantKind || strings.Join(got, ",") != strings.Join(tc.items, ",") {
						t.Errorf("converted to %s %v, want %s %v", kind, got, tc.wantKind, tc.items)
					}
				}
			}
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}
