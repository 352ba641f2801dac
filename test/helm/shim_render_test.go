package helm

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// The shims' values reach the watcher: upstream's ingressShim.defaultIssuer* as
// --default-issuer-*, and the Gateway API switch (on by default; config.enableGatewayAPI
// or upstream's newer config.gatewayAPI.enabled) as --enable-gateway-api, with the
// Gateway API's RBAC only then.
func TestRenderShimValues(t *testing.T) {
	gatewayRule := func(sets ...string) bool {
		cr := typed[rbacv1.ClusterRole](t, mustFind(t, render(t, sets...), "ClusterRole", "certflow-k8swatch"))
		for _, r := range cr.Rules {
			if slices.Contains(r.APIGroups, "gateway.networking.k8s.io") {
				return slices.Equal(r.Resources, []string{"gateways", "listenersets"}) && slices.Equal(r.Verbs, []string{"list", "watch"})
			}
		}
		return false
	}
	for _, tc := range []struct {
		name    string
		sets    []string
		gateway bool
		args    []string
	}{
		{name: "defaults", gateway: true},
		{name: "default issuer", sets: []string{"ingressShim.defaultIssuerName=letsencrypt", "ingressShim.defaultIssuerKind=ClusterIssuer", "ingressShim.defaultIssuerGroup=cert-manager.io"},
			gateway: true, args: []string{"--default-issuer-name=letsencrypt", "--default-issuer-kind=ClusterIssuer", "--default-issuer-group=cert-manager.io"}},
		{name: "config.enableGatewayAPI=false", sets: []string{"config.enableGatewayAPI=false"}},
		{name: "config.gatewayAPI.enabled=false wins", sets: []string{"config.enableGatewayAPI=true", "config.gatewayAPI.enabled=false"}},
		{name: "config.gatewayAPI.enabled=true", sets: []string{"config.enableGatewayAPI=false", "config.gatewayAPI.enabled=true"}, gateway: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, k := deployment(t, render(t, tc.sets...), "certflow-k8swatch")
			if got := slices.Contains(k.Args, "--enable-gateway-api"); got != tc.gateway {
				t.Errorf("watcher args %q: --enable-gateway-api %v, want %v", k.Args, got, tc.gateway)
			}
			for _, a := range tc.args {
				if !slices.Contains(k.Args, a) {
					t.Errorf("watcher args %q lack %s", k.Args, a)
				}
			}
			if got := gatewayRule(tc.sets...); got != tc.gateway {
				t.Errorf("the watcher's ClusterRole lists and watches gateways and listenersets: %v, want %v", got, tc.gateway)
			}
		})
	}
}
