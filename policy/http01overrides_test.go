package policy

import (
	"reflect"
	"strings"
	"testing"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

func strp(s string) *string { return &s }

func TestHTTP01Overrides(t *testing.T) {
	got := HTTP01Overrides(map[string]string{
		acmev1.ACMECertificateHTTP01IngressNameOverride: "site", "cert-manager.io/issue-temporary-certificate": "true", "team": "web",
	})
	if !reflect.DeepEqual(got, map[string]string{acmev1.ACMECertificateHTTP01IngressNameOverride: "site"}) {
		t.Errorf("overrides %v", got)
	}
	if HTTP01Overrides(map[string]string{"team": "web"}) != nil {
		t.Error("overrides of a Certificate without any are not nil")
	}
}

func TestApplyHTTP01Overrides(t *testing.T) {
	ingress := func(name string, class, className *string) acmev1.ACMEChallengeSolver {
		return acmev1.ACMEChallengeSolver{HTTP01: &acmev1.ACMEChallengeSolverHTTP01{Ingress: &acmev1.ACMEChallengeSolverHTTP01Ingress{
			Name: name, Class: class, IngressClassName: className,
		}}}
	}
	route := func(refs ...acmev1.ParentReference) acmev1.ACMEChallengeSolver {
		return acmev1.ACMEChallengeSolver{HTTP01: &acmev1.ACMEChallengeSolverHTTP01{GatewayHTTPRoute: &acmev1.ACMEChallengeSolverHTTP01GatewayHTTPRoute{ParentRefs: refs}}}
	}
	ref := func(kind, ns, name string) acmev1.ParentReference {
		r := acmev1.ParentReference{Name: name}
		if kind != "" {
			r.Kind = &kind
		}
		if ns != "" {
			r.Namespace = &ns
		}
		return r
	}
	dns := acmev1.ACMEChallengeSolver{DNS01: &acmev1.ACMEChallengeSolverDNS01{}}
	for _, tc := range []struct {
		name      string
		solver    acmev1.ACMEChallengeSolver
		overrides map[string]string
		want      acmev1.ACMEChallengeSolver
		err       string
	}{
		{name: "no overrides", solver: ingress("", strp("nginx"), nil), want: ingress("", strp("nginx"), nil)},
		{name: "DNS-01 untouched", solver: dns, overrides: map[string]string{acmev1.ACMECertificateHTTP01IngressNameOverride: "site"}, want: dns},
		{name: "edit in place replaces the class", solver: ingress("", strp("nginx"), nil),
			overrides: map[string]string{acmev1.ACMECertificateHTTP01IngressNameOverride: "site"}, want: ingress("site", nil, nil)},
		{name: "class replaces ingressClassName", solver: ingress("", nil, strp("nginx")),
			overrides: map[string]string{acmev1.ACMECertificateHTTP01IngressClassOverride: "traefik"}, want: ingress("", strp("traefik"), nil)},
		{name: "ingressClassName replaces the name", solver: ingress("other", nil, nil),
			overrides: map[string]string{acmev1.ACMECertificateHTTP01IngressClassNameOverride: "haproxy"}, want: ingress("", nil, strp("haproxy"))},
		{name: "two ingress overrides", solver: ingress("", nil, nil), overrides: map[string]string{
			acmev1.ACMECertificateHTTP01IngressNameOverride: "site", acmev1.ACMECertificateHTTP01IngressClassOverride: "traefik",
		}, err: "may not specify more than one of"},
		{name: "parentRef of the Gateway added, the issuer's same one dropped", solver: route(ref("", "web", "gw"), ref("Gateway", "infra", "shared")),
			overrides: map[string]string{acmev1.ACMECertificateHTTP01ParentRefKind: "Gateway", acmev1.ACMECertificateHTTP01ParentRefName: "gw"},
			want:      route(ref("Gateway", "infra", "shared"), ref("Gateway", "web", "gw"))},
		{name: "parentRef namespace annotation", solver: route(),
			overrides: map[string]string{acmev1.ACMECertificateHTTP01ParentRefKind: "Gateway", acmev1.ACMECertificateHTTP01ParentRefName: "gw", acmev1.ACMECertificateHTTP01ParentRefNamespace: "infra"},
			want:      route(ref("Gateway", "infra", "gw"))},
		{name: "parentRef kind without name", solver: route(ref("", "web", "gw")),
			overrides: map[string]string{acmev1.ACMECertificateHTTP01ParentRefKind: "Gateway"}, err: "cannot specify only one of"},
		{name: "no parent at all", solver: route(), overrides: map[string]string{acmev1.ACMECertificateHTTP01IngressClassOverride: "x"},
			err: "must specify parentRefs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.solver.DeepCopy()
			got, err := ApplyHTTP01Overrides(tc.solver, tc.overrides, "web")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("solver\n got %+v\nwant %+v", got.HTTP01, tc.want.HTTP01)
			}
			if !reflect.DeepEqual(&tc.solver, before) {
				t.Error("the issuer's solver was modified")
			}
		})
	}
}
