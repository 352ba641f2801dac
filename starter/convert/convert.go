// Package convert converts manifests of cert-manager's older API versions (v1alpha2,
// v1alpha3 and v1beta1 of cert-manager.io and acme.cert-manager.io) to v1, field by field
// as cert-manager's own conversions do, on unstructured objects: fields this package does
// not know are carried over as they are. It does no I/O.
package convert

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The API groups convert handles.
const (
	CertManagerGroup = "cert-manager.io"
	ACMEGroup        = "acme.cert-manager.io"
)

// Version is the version every object is converted to.
const Version = "v1"

// oldVersions are the versions cert-manager served before v1, oldest first.
var oldVersions = []string{"v1alpha2", "v1alpha3", "v1beta1"}

// kinds are the kinds of each group.
var kinds = map[string][]string{
	CertManagerGroup: {"Certificate", "CertificateRequest", "Issuer", "ClusterIssuer"},
	ACMEGroup:        {"Order", "Challenge"},
}

// Error is a conversion error that names the object.
type Error struct {
	Object string // "Kind name" as far as known
	Reason string
}

func (e *Error) Error() string {
	if e.Object == "" {
		return e.Reason
	}
	return e.Object + ": " + e.Reason
}

// Describe names obj for messages: "Certificate cert-manager.io/v1alpha2 ns/name".
func Describe(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	s := strings.TrimSpace(obj.GetKind() + " " + obj.GetAPIVersion())
	if name != "" {
		s += " " + name
	}
	if s == "" {
		return "object"
	}
	return s
}

// CheckTarget validates an --output-version: empty (each object to the v1 of its group),
// or cert-manager.io/v1 or acme.cert-manager.io/v1.
func CheckTarget(outputVersion string) (schema.GroupVersion, error) {
	if outputVersion == "" {
		return schema.GroupVersion{}, nil
	}
	gv, err := schema.ParseGroupVersion(outputVersion)
	if err != nil {
		return schema.GroupVersion{}, fmt.Errorf("invalid --output-version %q: %w", outputVersion, err)
	}
	if _, ok := kinds[gv.Group]; !ok {
		return schema.GroupVersion{}, fmt.Errorf("invalid --output-version %q: the group must be %s or %s", outputVersion, CertManagerGroup, ACMEGroup)
	}
	if gv.Version != Version {
		return schema.GroupVersion{}, fmt.Errorf("invalid --output-version %q: only %s/%s is served, older versions cannot be written", outputVersion, gv.Group, Version)
	}
	return gv, nil
}

// ToV1 returns obj converted to the v1 of its group (or to target, when not empty, which
// must be that v1; see CheckTarget). obj is not modified. An object that is not of a
// cert-manager group, or of a kind or version cert-manager never served, is an *Error.
func ToV1(obj *unstructured.Unstructured, target schema.GroupVersion) (*unstructured.Unstructured, error) {
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil || obj.GetAPIVersion() == "" || obj.GetKind() == "" {
		return nil, &Error{Object: Describe(obj), Reason: "not a Kubernetes object: apiVersion and kind are required"}
	}
	known, ok := kinds[gv.Group]
	if !ok {
		return nil, &Error{Object: Describe(obj), Reason: fmt.Sprintf("not a cert-manager resource: only %s and %s objects are converted", CertManagerGroup, ACMEGroup)}
	}
	if !contains(known, obj.GetKind()) {
		return nil, &Error{Object: Describe(obj), Reason: fmt.Sprintf("unknown kind %q of %s (want one of %s)", obj.GetKind(), gv.Group, strings.Join(known, ", "))}
	}
	if gv.Version != Version && !contains(oldVersions, gv.Version) {
		return nil, &Error{Object: Describe(obj), Reason: fmt.Sprintf("unknown version %q of %s (want one of %s, %s)", gv.Version, gv.Group, strings.Join(oldVersions, ", "), Version)}
	}
	if !target.Empty() && target.Group != gv.Group {
		return nil, &Error{Object: Describe(obj), Reason: fmt.Sprintf("a %s of %s cannot be converted to %s", obj.GetKind(), gv.Group, target)}
	}
	out := obj.DeepCopy()
	out.SetAPIVersion(gv.Group + "/" + Version)
	if gv.Version == Version {
		return out, nil
	}
	c := converter{version: gv.Version, obj: out.Object}
	switch obj.GetKind() {
	case "Certificate":
		c.certificate()
	case "CertificateRequest":
		if c.before("v1beta1") {
			rename(c.spec(), "csr", "request")
		}
	case "Issuer", "ClusterIssuer":
		c.issuer()
	case "Order":
		if c.before("v1beta1") {
			rename(c.spec(), "csr", "request")
		}
	case "Challenge":
		c.challenge()
	}
	if c.err != "" {
		return nil, &Error{Object: Describe(obj), Reason: c.err}
	}
	return out, nil
}

// converter rewrites one object's content in place.
type converter struct {
	version string
	obj     map[string]any
	err     string
}

// before tells whether the object's version is older than v.
func (c *converter) before(v string) bool {
	return index(oldVersions, c.version) < index(oldVersions, v)
}

func (c *converter) spec() map[string]any {
	return c.object(c.obj, "spec")
}

// object returns m[key] as an object, nil when absent; a value of another type is an error.
func (c *converter) object(m map[string]any, key string) map[string]any {
	if m == nil {
		return nil
	}
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	o, ok := v.(map[string]any)
	if !ok && c.err == "" {
		c.err = fmt.Sprintf("field %q must be an object, not %T", key, v)
	}
	return o
}

// certificate: emailSANs and uriSANs became emailAddresses and uris (v1); organization
// became subject.organizations (v1alpha3); keyAlgorithm, keyEncoding and keySize became
// privateKey.algorithm, .encoding and .size (v1beta1), their values upper-cased.
func (c *converter) certificate() {
	spec := c.spec()
	if spec == nil {
		return
	}
	rename(spec, "emailSANs", "emailAddresses")
	rename(spec, "uriSANs", "uris")
	if c.before("v1alpha3") {
		if orgs, ok := spec["organization"]; ok {
			delete(spec, "organization")
			if !empty(orgs) {
				subject := c.object(spec, "subject")
				if subject == nil {
					subject = map[string]any{}
					spec["subject"] = subject
				}
				subject["organizations"] = orgs
			}
		}
	}
	if c.before("v1beta1") {
		alg, hasAlg := spec["keyAlgorithm"]
		enc, hasEnc := spec["keyEncoding"]
		size, hasSize := spec["keySize"]
		delete(spec, "keyAlgorithm")
		delete(spec, "keyEncoding")
		delete(spec, "keySize")
		if (hasAlg && !empty(alg)) || (hasEnc && !empty(enc)) || (hasSize && !empty(size)) {
			pk := c.object(spec, "privateKey")
			if pk == nil {
				pk = map[string]any{}
				spec["privateKey"] = pk
			}
			setOrDelete(pk, "algorithm", mapValue(alg, map[string]string{"rsa": "RSA", "ecdsa": "ECDSA"}))
			setOrDelete(pk, "encoding", mapValue(enc, map[string]string{"pkcs1": "PKCS1", "pkcs8": "PKCS8"}))
			setOrDelete(pk, "size", size)
		}
	}
}

// issuer: the ACME solvers' acmedns, azuredns and clouddns became acmeDNS, azureDNS and
// cloudDNS (v1beta1).
func (c *converter) issuer() {
	if !c.before("v1beta1") {
		return
	}
	acme := c.object(c.spec(), "acme")
	if acme == nil {
		return
	}
	solvers, ok := acme["solvers"].([]any)
	if !ok {
		if acme["solvers"] != nil {
			c.err = fmt.Sprintf("field \"solvers\" must be a list, not %T", acme["solvers"])
		}
		return
	}
	for i := range solvers {
		s, ok := solvers[i].(map[string]any)
		if !ok {
			c.err = fmt.Sprintf("spec.acme.solvers[%d] must be an object", i)
			return
		}
		c.dns01(s)
	}
}

func (c *converter) dns01(solver map[string]any) {
	d := c.object(solver, "dns01")
	if d == nil {
		return
	}
	rename(d, "acmedns", "acmeDNS")
	rename(d, "azuredns", "azureDNS")
	rename(d, "clouddns", "cloudDNS")
}

// challenge: authzURL became authorizationURL and the types http-01 and dns-01 HTTP-01
// and DNS-01 (v1beta1), and the solver's DNS providers were renamed as an issuer's.
func (c *converter) challenge() {
	if !c.before("v1beta1") {
		return
	}
	spec := c.spec()
	if spec == nil {
		return
	}
	rename(spec, "authzURL", "authorizationURL")
	if t, ok := spec["type"]; ok {
		spec["type"] = mapValue(t, map[string]string{"http-01": "HTTP-01", "dns-01": "DNS-01"})
	}
	c.dns01(c.object(spec, "solver"))
}

// rename moves m[from] to m[to]; the old field wins, as it is the one the old version
// defined.
func rename(m map[string]any, from, to string) {
	if m == nil {
		return
	}
	if v, ok := m[from]; ok {
		delete(m, from)
		m[to] = v
	}
}

func setOrDelete(m map[string]any, key string, v any) {
	if empty(v) {
		delete(m, key)
		return
	}
	m[key] = v
}

// mapValue maps a string value by table, leaving others as they are.
func mapValue(v any, table map[string]string) any {
	if s, ok := v.(string); ok {
		if mapped, ok := table[s]; ok {
			return mapped
		}
	}
	return v
}

// empty is the JSON zero value (what omitempty leaves out).
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case int64:
		return x == 0
	case int:
		return x == 0
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func contains(list []string, s string) bool { return index(list, s) >= 0 }

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
