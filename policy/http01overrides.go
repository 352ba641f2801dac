package policy

import (
	"errors"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// HTTP01OverrideKeys are the Certificate annotations that change the HTTP-01 solver of
// its challenges (ingress-shim and gateway-shim set them from the Ingress's or the
// Gateway's): the existing Ingress to edit, the solver Ingress's class or
// ingressClassName, and the parent the solver HTTPRoute attaches to.
var HTTP01OverrideKeys = []string{
	acmev1.ACMECertificateHTTP01IngressNameOverride,
	acmev1.ACMECertificateHTTP01IngressClassOverride,
	acmev1.ACMECertificateHTTP01IngressClassNameOverride,
	acmev1.ACMECertificateHTTP01ParentRefKind,
	acmev1.ACMECertificateHTTP01ParentRefName,
	acmev1.ACMECertificateHTTP01ParentRefNamespace,
}

// HTTP01Overrides picks the HTTP01OverrideKeys out of a Certificate's annotations (nil
// when it has none).
func HTTP01Overrides(annotations map[string]string) map[string]string {
	var out map[string]string
	for _, k := range HTTP01OverrideKeys {
		if v, ok := annotations[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

// ApplyHTTP01Overrides is the solver a challenge uses once the Certificate's override
// annotations (HTTP01Overrides) are applied, as upstream applies its Order's:
//
//   - an Ingress solver takes at most one of http01-override-ingress-name (edit that
//     Ingress in place), -ingress-class and -ingress-ingressclassname, which replaces
//     the solver's own name, class and ingressClassName;
//   - a gatewayHTTPRoute solver with http01-parentrefkind and -parentrefname (both or
//     neither) attaches its HTTPRoute to that parent, in the namespace of
//     http01-parentrefnamespace or else the challenge's, instead of an issuer parentRef
//     naming the same object; it must end up with a parent.
//
// The issuer's solver is not modified; other solvers come back as they are.
func ApplyHTTP01Overrides(s acmev1.ACMEChallengeSolver, overrides map[string]string, namespace string) (acmev1.ACMEChallengeSolver, error) {
	if s.HTTP01 == nil || len(overrides) == 0 {
		return s, nil
	}
	out := *s.DeepCopy()
	if ing := out.HTTP01.Ingress; ing != nil {
		name, hasName := overrides[acmev1.ACMECertificateHTTP01IngressNameOverride]
		class, hasClass := overrides[acmev1.ACMECertificateHTTP01IngressClassOverride]
		className, hasClassName := overrides[acmev1.ACMECertificateHTTP01IngressClassNameOverride]
		n := 0
		for _, b := range []bool{hasName, hasClass, hasClassName} {
			if b {
				n++
			}
		}
		if n > 1 {
			return s, errors.New("may not specify more than one of: name, class, ingressClassName override annotations")
		}
		if n == 1 {
			ing.Name, ing.Class, ing.IngressClassName = name, nil, nil
			if hasClass {
				ing.Class = &class
			}
			if hasClassName {
				ing.IngressClassName = &className
			}
		}
	}
	if route := out.HTTP01.GatewayHTTPRoute; route != nil {
		name, hasName := overrides[acmev1.ACMECertificateHTTP01ParentRefName]
		kind, hasKind := overrides[acmev1.ACMECertificateHTTP01ParentRefKind]
		if hasName != hasKind {
			return s, errors.New("cannot specify only one of parentRefName, parentRefKind override annotations")
		}
		if hasName {
			ns := namespace
			if v := overrides[acmev1.ACMECertificateHTTP01ParentRefNamespace]; v != "" {
				ns = v
			}
			kept := make([]acmev1.ParentReference, 0, len(route.ParentRefs)+1)
			for _, p := range route.ParentRefs {
				same := p.Name == name && p.Namespace != nil && *p.Namespace == ns && (p.Kind == nil || *p.Kind == kind)
				if !same {
					kept = append(kept, p)
				}
			}
			route.ParentRefs = append(kept, acmev1.ParentReference{Name: name, Namespace: &ns, Kind: &kind})
		}
		if len(route.ParentRefs) == 0 {
			return s, errors.New("must specify parentRefs either through annotations or solver config")
		}
	}
	return out, nil
}
