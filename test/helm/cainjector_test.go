package helm

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// cainjector.enabled (upstream's value, on by default) turns the watcher's CA injector
// and its RBAC on and off together.
func TestRenderCAInjector(t *testing.T) {
	for _, tc := range []struct {
		sets []string
		on   bool
	}{{nil, true}, {[]string{"cainjector.enabled=false"}, false}} {
		objs := render(t, tc.sets...)
		_, k := deployment(t, objs, "certflow-k8swatch")
		if want := "--enable-cainjector=" + map[bool]string{true: "true", false: "false"}[tc.on]; !slices.Contains(k.Args, want) {
			t.Errorf("%v: watcher args %q lack %s", tc.sets, k.Args, want)
		}
		role := typed[rbacv1.ClusterRole](t, mustFind(t, objs, "ClusterRole", "certflow-k8swatch"))
		got := map[string][]string{}
		for _, r := range role.Rules {
			for _, res := range r.Resources {
				got[res] = r.Verbs
			}
		}
		for _, res := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations", "apiservices", "customresourcedefinitions"} {
			if verbs, ok := got[res]; ok != tc.on || ok && !slices.Equal(verbs, []string{"list", "watch", "patch"}) {
				t.Errorf("%v: the watcher's ClusterRole grants %s %v", tc.sets, res, verbs)
			}
		}
	}
}
