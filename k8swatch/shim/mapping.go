// Package shim is upstream's certificate-shim for certflow: ingress-shim makes one
// Certificate per TLS Secret of an annotated Ingress, gateway-shim one per Secret of
// the HTTPS and TLS (Terminate) listeners of an annotated Gateway or ListenerSet. This
// file is the pure part: which Certificates an object asks for (Desired*) and what to
// do with the ones that exist (Plan). controller.go does the I/O.
package shim

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	gwapi "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/certflow/certflow/activities/keys"
	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Event reasons, upstream's.
const (
	ReasonBadConfig         = "BadConfig"
	ReasonCreateCertificate = "CreateCertificate"
	ReasonUpdateCertificate = "UpdateCertificate"
	ReasonDeleteCertificate = "DeleteCertificate"
	// ReasonCertificateNotOwned: a Certificate of the name the object asks for exists
	// and is not controlled by the object; it is left alone.
	ReasonCertificateNotOwned = "CertificateNotOwned"
)

// Kinds of the objects the shims read.
const (
	KindIngress     = "Ingress"
	KindGateway     = "Gateway"
	KindListenerSet = "ListenerSet"
)

// IgnoreTLSListenersAnnotation lists (comma-separated) the listeners of a Gateway or
// ListenerSet that get no Certificate, as upstream's.
const IgnoreTLSListenersAnnotation = "cert-manager.io/ignore-tls-listeners"

// applysetLabel is not copied onto Certificates: `kubectl apply --prune` would delete
// them as part of the Ingress's set (upstream issue 7306).
const applysetLabel = "applyset.kubernetes.io/part-of"

// GVKs of the owners.
var (
	IngressGVK     = networkingv1.SchemeGroupVersion.WithKind(KindIngress)
	GatewayGVK     = schema.GroupVersionKind{Group: gwapi.GroupName, Version: "v1", Kind: KindGateway}
	ListenerSetGVK = schema.GroupVersionKind{Group: gwapi.GroupName, Version: "v1", Kind: KindListenerSet}
)

// Config is the shims' configuration: upstream's flags of the same names.
type Config struct {
	// DefaultIssuerName, -Kind and -Group are the issuer of an object that asks for
	// certificates with an auto-certificate annotation only (--default-issuer-*).
	DefaultIssuerName, DefaultIssuerKind, DefaultIssuerGroup string
	// AutoCertificateAnnotations, set to "true" on an Ingress, ask for its certificates
	// with the default issuer (--auto-certificate-annotations; default
	// kubernetes.io/tls-acme).
	AutoCertificateAnnotations []string
	// EnableGatewayAPI runs the gateway-shim (--enable-gateway-api).
	EnableGatewayAPI bool
}

// Defaults fills upstream's defaults in.
func (c Config) Defaults() Config {
	if c.DefaultIssuerKind == "" {
		c.DefaultIssuerKind = cmapi.IssuerKind
	}
	if c.DefaultIssuerGroup == "" {
		c.DefaultIssuerGroup = cmapi.SchemeGroupVersion.Group
	}
	if c.AutoCertificateAnnotations == nil {
		c.AutoCertificateAnnotations = []string{cmapi.IngressTLSACMEAnnotationKey}
	}
	return c
}

// Desired is what an object asks for.
type Desired struct {
	// Managed: the object carries a shim annotation; without one nothing is done, not
	// even removals (as upstream).
	Managed bool
	// Invalid, when set, is why nothing can be done (BadConfig): no Certificate is
	// created, changed or removed for the object.
	Invalid string
	// Skipped are BadConfig messages of TLS entries or listeners left out.
	Skipped []string
	// Certificates asked for, by name.
	Certificates []*cmapi.Certificate
	// SecretNames the object refers to (Certificates it controls under other Secret
	// names are removed).
	SecretNames map[string]bool
}

// owner is the controlling object of the Certificates.
type owner struct {
	gvk                   schema.GroupVersionKind
	namespace, name       string
	uid                   types.UID
	labels, annotations   map[string]string
	listenerSetParentName string
	listenerSetParentNS   string
}

// DesiredForIngress is what an Ingress asks for: one Certificate per TLS Secret.
func DesiredForIngress(ing *networkingv1.Ingress, cfg Config) Desired {
	o := owner{gvk: IngressGVK, namespace: ing.Namespace, name: ing.Name, uid: ing.UID, labels: ing.Labels, annotations: ing.Annotations}
	d := Desired{Managed: hasShimAnnotation(ing.Annotations, cfg.AutoCertificateAnnotations), SecretNames: map[string]bool{}}
	for _, t := range ing.Spec.TLS {
		if t.SecretName != "" {
			d.SecretNames[t.SecretName] = true
		}
	}
	if !d.Managed {
		return d
	}
	if msg := duplicateSecretNames(ing.Spec.TLS); msg != "" {
		d.Invalid = msg
		return d
	}
	hosts := map[string][]string{}
	var order []string
	for i, t := range ing.Spec.TLS {
		var missing []string
		if len(t.Hosts) == 0 {
			missing = append(missing, fmt.Sprintf("spec.tls[%d].hosts: Required value", i))
		}
		if t.SecretName == "" {
			missing = append(missing, fmt.Sprintf("spec.tls[%d].secretName: Required value", i))
		}
		if len(missing) > 0 {
			d.Skipped = append(d.Skipped, "Skipped a TLS block: "+strings.Join(missing, ", "))
			continue
		}
		if _, ok := hosts[t.SecretName]; !ok {
			order = append(order, t.SecretName)
		}
		hosts[t.SecretName] = append(hosts[t.SecretName], t.Hosts...)
	}
	return build(d, o, cfg, order, hosts)
}

// DesiredForGateway is what a Gateway asks for: one Certificate per Secret of its
// HTTPS and TLS (Terminate) listeners, with the hostnames of the listeners using it.
func DesiredForGateway(gw *gwapi.Gateway, cfg Config) Desired {
	o := owner{gvk: GatewayGVK, namespace: gw.Namespace, name: gw.Name, uid: gw.UID, labels: gw.Labels, annotations: gw.Annotations}
	ls := make([]gwapi.ListenerEntry, 0, len(gw.Spec.Listeners))
	for _, l := range gw.Spec.Listeners {
		ls = append(ls, gwapi.ListenerEntry{Name: l.Name, Hostname: l.Hostname, Port: l.Port, Protocol: l.Protocol, TLS: l.TLS})
	}
	return desiredForListeners(o, ls, cfg)
}

// DesiredForListenerSet is what a ListenerSet attached to parent asks for; as
// upstream, it inherits the issuer annotations of its parent Gateway that it does not
// set itself.
func DesiredForListenerSet(ls *gwapi.ListenerSet, parent *gwapi.Gateway, cfg Config) Desired {
	ann := maps.Clone(ls.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	if parent != nil {
		_, hasIssuer := ann[cmapi.IngressIssuerNameAnnotationKey]
		_, hasClusterIssuer := ann[cmapi.IngressClusterIssuerNameAnnotationKey]
		inherit := []string{cmapi.IssuerKindAnnotationKey, cmapi.IssuerGroupAnnotationKey}
		if !hasIssuer && !hasClusterIssuer {
			inherit = append(inherit, cmapi.IngressIssuerNameAnnotationKey, cmapi.IngressClusterIssuerNameAnnotationKey)
		}
		for _, k := range inherit {
			if v, ok := parent.Annotations[k]; ok {
				ann[k] = v
			}
		}
	}
	o := owner{gvk: ListenerSetGVK, namespace: ls.Namespace, name: ls.Name, uid: ls.UID, labels: ls.Labels, annotations: ann,
		listenerSetParentName: string(ls.Spec.ParentRef.Name), listenerSetParentNS: ls.Namespace}
	if ns := ls.Spec.ParentRef.Namespace; ns != nil && *ns != "" {
		o.listenerSetParentNS = string(*ns)
	}
	return desiredForListeners(o, ls.Spec.Listeners, cfg)
}

// ListenerSetParent is the namespace and name of the Gateway a ListenerSet attaches to.
func ListenerSetParent(ls *gwapi.ListenerSet) (namespace, name string) {
	namespace = ls.Namespace
	if ns := ls.Spec.ParentRef.Namespace; ns != nil && *ns != "" {
		namespace = string(*ns)
	}
	return namespace, string(ls.Spec.ParentRef.Name)
}

func desiredForListeners(o owner, listeners []gwapi.ListenerEntry, cfg Config) Desired {
	// The auto-certificate annotations are for Ingresses only (upstream).
	d := Desired{Managed: hasShimAnnotation(o.annotations, nil), SecretNames: map[string]bool{}}
	for _, l := range listeners {
		if l.TLS == nil {
			continue
		}
		for _, ref := range l.TLS.CertificateRefs {
			d.SecretNames[string(ref.Name)] = true
		}
	}
	if !d.Managed {
		return d
	}
	ignored := map[string]bool{}
	for n := range strings.SplitSeq(o.annotations[IgnoreTLSListenersAnnotation], ",") {
		ignored[strings.TrimSpace(n)] = true
	}
	hosts := map[string][]string{}
	var order []string
	for i, l := range listeners {
		if l.Protocol != gwapi.HTTPSProtocolType && l.Protocol != gwapi.TLSProtocolType {
			continue
		}
		if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode == gwapi.TLSModePassthrough {
			continue
		}
		if ignored[string(l.Name)] {
			continue
		}
		if errs := listenerErrors(i, l, o.namespace); len(errs) > 0 {
			d.Skipped = append(d.Skipped, "Skipped a listener block: "+strings.Join(errs, ", "))
			continue
		}
		for _, ref := range l.TLS.CertificateRefs {
			name := string(ref.Name)
			if _, ok := hosts[name]; !ok {
				order = append(order, name)
			}
			hosts[name] = append(hosts[name], string(*l.Hostname))
		}
	}
	return build(d, o, cfg, order, hosts)
}

// listenerErrors are the reasons a TLS listener cannot get a Certificate.
func listenerErrors(i int, l gwapi.ListenerEntry, namespace string) []string {
	path := fmt.Sprintf("spec.listeners[%d]", i)
	var errs []string
	if l.Hostname == nil || *l.Hostname == "" {
		errs = append(errs, path+".hostname: Required value: the hostname cannot be empty")
	}
	if l.TLS == nil {
		return append(errs, path+".tls: Required value: the TLS block cannot be empty")
	}
	if len(l.TLS.CertificateRefs) == 0 {
		errs = append(errs, path+".tls.certificateRef: Required value: listener has no certificateRefs")
	}
	for j, ref := range l.TLS.CertificateRefs {
		p := fmt.Sprintf("%s.tls.certificateRef[%d]", path, j)
		if ref.Group != nil && *ref.Group != "" && *ref.Group != "core" {
			errs = append(errs, fmt.Sprintf("%s.group: Unsupported value: %q: supported values: \"core\", \"\"", p, *ref.Group))
		}
		if ref.Kind != nil && *ref.Kind != "" && *ref.Kind != "Secret" {
			errs = append(errs, fmt.Sprintf("%s.kind: Unsupported value: %q: supported values: \"Secret\", \"\"", p, *ref.Kind))
		}
		if ref.Namespace != nil && string(*ref.Namespace) != namespace {
			errs = append(errs, fmt.Sprintf("%s.namespace: Invalid value: %q: cross-namespace secret references are not allowed in listeners", p, *ref.Namespace))
		}
	}
	if l.TLS.Mode == nil {
		errs = append(errs, path+".tls.mode: Required value: the mode field is required")
	} else if *l.TLS.Mode != gwapi.TLSModeTerminate {
		errs = append(errs, fmt.Sprintf("%s.tls.mode: Unsupported value: %q: supported values: \"Terminate\"", path, *l.TLS.Mode))
	}
	return errs
}

// build makes the Certificates of the Secrets in order, with their hosts.
func build(d Desired, o owner, cfg Config, order []string, hosts map[string][]string) Desired {
	issuer, err := issuerFor(o.annotations, cfg)
	if err != nil {
		d.Invalid = "Could not determine issuer for ingress due to bad annotations: " + err.Error()
		return d
	}
	labels := maps.Clone(o.labels)
	delete(labels, applysetLabel)
	if len(labels) == 0 {
		labels = nil
	}
	t := true
	for _, secret := range order {
		dnsNames, ips := splitHosts(hosts[secret])
		crt := &cmapi.Certificate{
			ObjectMeta: metav1.ObjectMeta{
				Name: secret, Namespace: o.namespace, Labels: maps.Clone(labels),
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: o.gvk.GroupVersion().String(), Kind: o.gvk.Kind, Name: o.name, UID: o.uid,
					Controller: &t, BlockOwnerDeletion: &t,
				}},
			},
			Spec: cmapi.CertificateSpec{
				DNSNames: dnsNames, IPAddresses: ips, SecretName: secret, IssuerRef: issuer,
				Usages: cmapi.DefaultKeyUsages(),
			},
		}
		crt.Annotations = solverAnnotations(o)
		if err := translateAnnotations(&crt.Spec, o.annotations); err != nil {
			d.Invalid = err.Error()
			d.Certificates = nil
			return d
		}
		d.Certificates = append(d.Certificates, crt)
	}
	sort.Slice(d.Certificates, func(i, j int) bool { return d.Certificates[i].Name < d.Certificates[j].Name })
	return d
}

// hasShimAnnotation reports whether the object asks for certificates: an issuer or
// cluster-issuer annotation, or one of the auto-certificate annotations set to true.
func hasShimAnnotation(ann map[string]string, auto []string) bool {
	if _, ok := ann[cmapi.IngressIssuerNameAnnotationKey]; ok {
		return true
	}
	if _, ok := ann[cmapi.IngressClusterIssuerNameAnnotationKey]; ok {
		return true
	}
	for _, k := range auto {
		if b, _ := strconv.ParseBool(ann[k]); b {
			return true
		}
	}
	return false
}

// issuerFor is the issuer the annotations name, or the default one.
func issuerFor(ann map[string]string, cfg Config) (cmmeta.IssuerReference, error) {
	ref := cmmeta.IssuerReference{Name: cfg.DefaultIssuerName, Kind: cfg.DefaultIssuerKind, Group: cfg.DefaultIssuerGroup}
	issuer, hasIssuer := ann[cmapi.IngressIssuerNameAnnotationKey]
	if hasIssuer {
		ref.Name, ref.Kind = issuer, cmapi.IssuerKind
	}
	cluster, hasCluster := ann[cmapi.IngressClusterIssuerNameAnnotationKey]
	if hasCluster {
		ref.Name, ref.Kind = cluster, cmapi.ClusterIssuerKind
	}
	kind, hasKind := ann[cmapi.IssuerKindAnnotationKey]
	if hasKind {
		ref.Kind = kind
	}
	group, hasGroup := ann[cmapi.IssuerGroupAnnotationKey]
	if hasGroup {
		ref.Group = group
	}
	var errs []string
	if ref.Name == "" {
		errs = append(errs, "failed to determine issuer name to be used for ingress resource")
	}
	both := func(a, b string) string { return fmt.Sprintf("both %q and %q may not be set", a, b) }
	if hasIssuer && hasCluster {
		errs = append(errs, both(cmapi.IngressIssuerNameAnnotationKey, cmapi.IngressClusterIssuerNameAnnotationKey))
	}
	if hasCluster && hasGroup {
		errs = append(errs, both(cmapi.IngressClusterIssuerNameAnnotationKey, cmapi.IssuerGroupAnnotationKey))
	}
	if hasCluster && hasKind {
		errs = append(errs, both(cmapi.IngressClusterIssuerNameAnnotationKey, cmapi.IssuerKindAnnotationKey))
	}
	if len(errs) > 0 {
		return cmmeta.IssuerReference{}, errors.New(strings.Join(errs, ", "))
	}
	return ref, nil
}

// duplicateSecretNames refuses an Ingress whose TLS entries share a Secret: each is
// one Certificate.
func duplicateSecretNames(tls []networkingv1.IngressTLS) string {
	first := map[string]int{}
	var errs []string
	reported := map[string]bool{}
	for i, t := range tls {
		j, seen := first[t.SecretName]
		if !seen {
			first[t.SecretName] = i
			continue
		}
		if !reported[t.SecretName] {
			reported[t.SecretName] = true
			errs = append(errs, fmt.Sprintf("spec.tls[%d].secretName: Invalid value: %q: this secret name must only appear in a single TLS entry but is also used in spec.tls[%d].secretName", j, t.SecretName, i))
		}
	}
	return strings.Join(errs, ", ")
}

// splitHosts de-duplicates hosts (first seen first) into DNS names and IP addresses.
func splitHosts(hosts []string) (dnsNames, ips []string) {
	seen := map[string]bool{}
	for _, h := range hosts {
		if seen[h] {
			continue
		}
		seen[h] = true
		if net.ParseIP(h) != nil {
			ips = append(ips, h)
		} else {
			dnsNames = append(dnsNames, h)
		}
	}
	return dnsNames, ips
}

// SolverAnnotationKeys are the Certificate annotations the shims derive for the ACME
// HTTP-01 solver: they are set and removed with the object's annotations.
var SolverAnnotationKeys = []string{
	acmev1.ACMECertificateHTTP01IngressNameOverride,
	acmev1.ACMECertificateHTTP01IngressClassOverride,
	acmev1.ACMECertificateHTTP01IngressClassNameOverride,
	acmev1.ACMECertificateHTTP01ParentRefKind,
	acmev1.ACMECertificateHTTP01ParentRefName,
	acmev1.ACMECertificateHTTP01ParentRefNamespace,
	cmapi.IssueTemporaryCertificateAnnotation,
}

// solverAnnotations are upstream's Certificate annotations for the HTTP-01 solver:
// http01-edit-in-place routes the challenge through the Ingress itself (and asks for a
// temporary certificate, as upstream), http01-ingress-class and
// http01-ingress-ingressclassname pick the solver Ingress's class, and a Gateway's or
// ListenerSet's Certificates attach the solver HTTPRoute to it.
func solverAnnotations(o owner) map[string]string {
	out := map[string]string{}
	if o.annotations[acmev1.IngressEditInPlaceAnnotationKey] == "true" {
		out[acmev1.ACMECertificateHTTP01IngressNameOverride] = o.name
		out[cmapi.IssueTemporaryCertificateAnnotation] = "true"
	}
	if v := o.annotations[acmev1.IngressACMEIssuerHTTP01IngressClassAnnotationKey]; v != "" {
		out[acmev1.ACMECertificateHTTP01IngressClassOverride] = v
	}
	if v := o.annotations[acmev1.IngressACMEIssuerHTTP01IngressClassNameAnnotationKey]; v != "" {
		out[acmev1.ACMECertificateHTTP01IngressClassNameOverride] = v
	}
	switch o.gvk.Kind {
	case KindGateway:
		out[acmev1.ACMECertificateHTTP01ParentRefKind] = KindGateway
		out[acmev1.ACMECertificateHTTP01ParentRefName] = o.name
	case KindListenerSet:
		if b, _ := strconv.ParseBool(o.annotations[acmev1.ACMECertificateHTTP01ParentRefFallback]); b {
			out[acmev1.ACMECertificateHTTP01ParentRefKind] = KindGateway
			out[acmev1.ACMECertificateHTTP01ParentRefName] = o.listenerSetParentName
			out[acmev1.ACMECertificateHTTP01ParentRefNamespace] = o.listenerSetParentNS
		} else {
			out[acmev1.ACMECertificateHTTP01ParentRefKind] = KindListenerSet
			out[acmev1.ACMECertificateHTTP01ParentRefName] = o.name
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// invalid is a BadConfig message for an annotation.
func invalid(key, format string, args ...any) error {
	return fmt.Errorf("invalid ingress annotation %q: %s", key, fmt.Sprintf(format, args...))
}

// splitCSV splits a comma-separated value with CSV quoting ("Example, Inc.",Other).
func splitCSV(key, v string) ([]string, error) {
	r := csv.NewReader(strings.NewReader(v))
	r.TrimLeadingSpace = true
	fields, err := r.Read()
	if err != nil {
		return nil, invalid(key, "%v", err)
	}
	if _, err := r.Read(); err == nil {
		return nil, invalid(key, "more than one line")
	}
	return fields, nil
}

// translateAnnotations sets the spec fields of upstream's override annotations.
func translateAnnotations(spec *cmapi.CertificateSpec, ann map[string]string) error {
	if v, ok := ann[cmapi.CommonNameAnnotationKey]; ok {
		if len(v) > 64 {
			return invalid(cmapi.CommonNameAnnotationKey, "common name may not be more than 64 bytes")
		}
		spec.CommonName = v
	}
	if v := ann[cmapi.AltNamesAnnotationKey]; v != "" {
		spec.DNSNames = append(spec.DNSNames, strings.Split(v, ",")...)
	}
	if v := ann[cmapi.IPSANAnnotationKey]; v != "" {
		for ip := range strings.SplitSeq(v, ",") {
			ip = strings.TrimSpace(ip)
			if net.ParseIP(ip) == nil {
				return invalid(cmapi.IPSANAnnotationKey, "%q is not a valid IP address", ip)
			}
			spec.IPAddresses = append(spec.IPAddresses, ip)
		}
	}
	if v := ann[cmapi.EmailsAnnotationKey]; v != "" {
		spec.EmailAddresses = nil
		for e := range strings.SplitSeq(v, ",") {
			e = strings.TrimSpace(e)
			addr, err := mail.ParseAddress(e)
			if err != nil {
				return invalid(cmapi.EmailsAnnotationKey, "%q is not a valid email address", e)
			}
			if addr.Address != e {
				return invalid(cmapi.EmailsAnnotationKey, "%q must only contain the email address itself", e)
			}
			spec.EmailAddresses = append(spec.EmailAddresses, e)
		}
	}
	subject := &cmapi.X509Subject{}
	for key, field := range map[string]*[]string{
		cmapi.SubjectOrganizationsAnnotationKey:       &subject.Organizations,
		cmapi.SubjectOrganizationalUnitsAnnotationKey: &subject.OrganizationalUnits,
		cmapi.SubjectCountriesAnnotationKey:           &subject.Countries,
		cmapi.SubjectProvincesAnnotationKey:           &subject.Provinces,
		cmapi.SubjectLocalitiesAnnotationKey:          &subject.Localities,
		cmapi.SubjectPostalCodesAnnotationKey:         &subject.PostalCodes,
		cmapi.SubjectStreetAddressesAnnotationKey:     &subject.StreetAddresses,
	} {
		if v, ok := ann[key]; ok {
			vals, err := splitCSV(key, v)
			if err != nil {
				return err
			}
			*field = vals
		}
	}
	subject.SerialNumber = ann[cmapi.SubjectSerialNumberAnnotationKey]
	if !reflect.DeepEqual(subject, &cmapi.X509Subject{}) {
		spec.Subject = subject
	}
	if v, ok := ann[cmapi.DurationAnnotationKey]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return invalid(cmapi.DurationAnnotationKey, "%v", err)
		}
		if d < cmapi.MinimumCertificateDuration {
			return invalid(cmapi.DurationAnnotationKey, "duration must be greater than or equal to %s", cmapi.MinimumCertificateDuration)
		}
		spec.Duration = &metav1.Duration{Duration: d}
	}
	if v, ok := ann[cmapi.RenewBeforeAnnotationKey]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return invalid(cmapi.RenewBeforeAnnotationKey, "%v", err)
		}
		if d < cmapi.MinimumRenewBefore {
			return invalid(cmapi.RenewBeforeAnnotationKey, "renewBefore must be greater than or equal to %s", cmapi.MinimumRenewBefore)
		}
		spec.RenewBefore = &metav1.Duration{Duration: d}
	}
	if v, ok := ann[cmapi.RenewBeforePercentageAnnotationKey]; ok {
		pct, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return invalid(cmapi.RenewBeforePercentageAnnotationKey, "%v", err)
		}
		p := int32(pct)
		spec.RenewBeforePercentage = &p
	}
	if v, ok := ann[cmapi.UsagesAnnotationKey]; ok {
		var usages []cmapi.KeyUsage
		for u := range strings.SplitSeq(v, ",") {
			usage := cmapi.KeyUsage(strings.TrimSpace(u))
			if !slices.Contains(knownUsages, usage) {
				return invalid(cmapi.UsagesAnnotationKey, "invalid key usage name %q", u)
			}
			usages = append(usages, usage)
		}
		spec.Usages = usages
	}
	if v, ok := ann[cmapi.RevisionHistoryLimitAnnotationKey]; ok {
		limit, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return invalid(cmapi.RevisionHistoryLimitAnnotationKey, "%v", err)
		}
		if limit < 1 {
			return invalid(cmapi.RevisionHistoryLimitAnnotationKey, "revision history limit must be a positive number %q", v)
		}
		l := int32(limit)
		spec.RevisionHistoryLimit = &l
	}
	key := func() *cmapi.CertificatePrivateKey {
		if spec.PrivateKey == nil {
			spec.PrivateKey = &cmapi.CertificatePrivateKey{}
		}
		return spec.PrivateKey
	}
	if v, ok := ann[cmapi.PrivateKeyAlgorithmAnnotationKey]; ok {
		alg := cmapi.PrivateKeyAlgorithm(v)
		if alg != cmapi.RSAKeyAlgorithm && alg != cmapi.ECDSAKeyAlgorithm && alg != cmapi.Ed25519KeyAlgorithm {
			return invalid(cmapi.PrivateKeyAlgorithmAnnotationKey, "invalid private key algorithm %q", v)
		}
		key().Algorithm = alg
	}
	if v, ok := ann[cmapi.PrivateKeyEncodingAnnotationKey]; ok {
		enc := cmapi.PrivateKeyEncoding(v)
		if enc != cmapi.PKCS1 && enc != cmapi.PKCS8 {
			return invalid(cmapi.PrivateKeyEncodingAnnotationKey, "invalid private key encoding %q", v)
		}
		key().Encoding = enc
	}
	if v, ok := ann[cmapi.PrivateKeySizeAnnotationKey]; ok {
		size, err := strconv.Atoi(v)
		if err != nil {
			return invalid(cmapi.PrivateKeySizeAnnotationKey, "%v", err)
		}
		alg := cmapi.RSAKeyAlgorithm
		if spec.PrivateKey != nil && spec.PrivateKey.Algorithm != "" {
			alg = spec.PrivateKey.Algorithm
		}
		switch alg {
		case cmapi.RSAKeyAlgorithm:
			if size < keys.MinRSAKeySize || size > keys.MaxRSAKeySize {
				return invalid(cmapi.PrivateKeySizeAnnotationKey, "invalid private key size for RSA algorithm %q", v)
			}
		case cmapi.ECDSAKeyAlgorithm:
			if size != 256 && size != 384 && size != 521 {
				return invalid(cmapi.PrivateKeySizeAnnotationKey, "invalid private key size for ECDSA algorithm %q", v)
			}
		}
		key().Size = size
	}
	if v, ok := ann[cmapi.PrivateKeyRotationPolicyAnnotationKey]; ok {
		p := cmapi.PrivateKeyRotationPolicy(v)
		if p != cmapi.RotationPolicyNever && p != cmapi.RotationPolicyAlways {
			return invalid(cmapi.PrivateKeyRotationPolicyAnnotationKey, "invalid private key rotation policy %q", v)
		}
		key().RotationPolicy = p
	}
	if pk := spec.PrivateKey; pk != nil {
		// The CRD's defaults, so that the Certificate read back compares equal.
		if pk.Algorithm == "" {
			pk.Algorithm = cmapi.RSAKeyAlgorithm
		}
		if pk.Encoding == "" {
			pk.Encoding = cmapi.PKCS1
		}
		if pk.RotationPolicy == "" {
			pk.RotationPolicy = cmapi.RotationPolicyAlways
		}
	}
	if v, ok := ann[cmapi.IngressSecretTemplate]; ok {
		dec := json.NewDecoder(bytes.NewReader([]byte(v)))
		dec.DisallowUnknownFields()
		t := &cmapi.CertificateSecretTemplate{}
		if err := dec.Decode(t); err != nil {
			return invalid(cmapi.IngressSecretTemplate, "error parsing secret template JSON: %v", err)
		}
		for k := range t.Annotations {
			if strings.HasPrefix(k, "cert-manager.io/") {
				return invalid(cmapi.IngressSecretTemplate, "secretTemplate must not have cert-manager.io/ annotations: %q", k)
			}
		}
		if len(t.Annotations) > 0 || len(t.Labels) > 0 {
			spec.SecretTemplate = t
		}
	}
	return nil
}

var knownUsages = []cmapi.KeyUsage{
	cmapi.UsageSigning, cmapi.UsageDigitalSignature, cmapi.UsageContentCommitment, cmapi.UsageKeyEncipherment,
	cmapi.UsageKeyAgreement, cmapi.UsageDataEncipherment, cmapi.UsageCertSign, cmapi.UsageCRLSign,
	cmapi.UsageEncipherOnly, cmapi.UsageDecipherOnly, cmapi.UsageAny, cmapi.UsageServerAuth, cmapi.UsageClientAuth,
	cmapi.UsageCodeSigning, cmapi.UsageEmailProtection, cmapi.UsageSMIME, cmapi.UsageIPsecEndSystem,
	cmapi.UsageIPsecTunnel, cmapi.UsageIPsecUser, cmapi.UsageTimestamping, cmapi.UsageOCSPSigning,
	cmapi.UsageMicrosoftSGC, cmapi.UsageNetscapeSGC,
}

// Op is what to do with one Certificate.
type Op string

// Ops of a Plan.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
	// OpNotOwned: a Certificate of the name exists and is not the object's: left
	// alone, with an Event on the object.
	OpNotOwned Op = "not-owned"
)

// Action is one step of a Plan: Certificate is the object to create or the update to
// write (a copy of the existing one with the shim's fields set), or the one to delete.
type Action struct {
	Op          Op
	Certificate *cmapi.Certificate
}

// Plan compares what the object asks for with the Certificates of its namespace
// (existing) and says what to change. ownerUID is the object's: only Certificates it
// controls are updated or deleted. An invalid or unmanaged Desired changes nothing.
func Plan(d Desired, ownerUID types.UID, existing []*cmapi.Certificate) []Action {
	if !d.Managed || d.Invalid != "" {
		return nil
	}
	byName := map[string]*cmapi.Certificate{}
	for _, c := range existing {
		byName[c.Name] = c
	}
	var out []Action
	wanted := map[string]bool{}
	for _, want := range d.Certificates {
		wanted[want.Name] = true
		cur, ok := byName[want.Name]
		if !ok {
			out = append(out, Action{Op: OpCreate, Certificate: want})
			continue
		}
		if !controlledBy(cur, ownerUID) {
			out = append(out, Action{Op: OpNotOwned, Certificate: cur})
			continue
		}
		if upd, changed := withShimFields(cur, want); changed {
			out = append(out, Action{Op: OpUpdate, Certificate: upd})
		}
	}
	names := slices.Sorted(maps.Keys(byName))
	for _, n := range names {
		c := byName[n]
		if wanted[n] || !controlledBy(c, ownerUID) || d.SecretNames[c.Spec.SecretName] {
			continue
		}
		out = append(out, Action{Op: OpDelete, Certificate: c})
	}
	return out
}

func controlledBy(c *cmapi.Certificate, uid types.UID) bool {
	ref := metav1.GetControllerOfNoCopy(c)
	return ref != nil && ref.UID == uid
}

// withShimFields is cur with the fields the shim sets taken from want (labels, the
// solver annotations, and the spec fields of the annotations), and whether that
// changes anything. Fields the shim never sets (keystores, secretTemplate without its
// annotation, ...) are kept as they are.
func withShimFields(cur, want *cmapi.Certificate) (*cmapi.Certificate, bool) {
	upd := cur.DeepCopy()
	upd.Labels = maps.Clone(want.Labels)
	for _, k := range SolverAnnotationKeys {
		if v, ok := want.Annotations[k]; ok {
			if upd.Annotations == nil {
				upd.Annotations = map[string]string{}
			}
			upd.Annotations[k] = v
		} else {
			delete(upd.Annotations, k)
		}
	}
	if len(upd.Annotations) == 0 {
		upd.Annotations = nil
	}
	if len(cur.Labels) == 0 && len(upd.Labels) == 0 {
		upd.Labels = cur.Labels
	}
	if len(cur.Annotations) == 0 && len(upd.Annotations) == 0 {
		upd.Annotations = cur.Annotations
	}
	s, w := &upd.Spec, want.Spec
	s.CommonName, s.DNSNames, s.IPAddresses, s.EmailAddresses = w.CommonName, w.DNSNames, w.IPAddresses, w.EmailAddresses
	s.SecretName, s.IssuerRef, s.Usages, s.Subject = w.SecretName, w.IssuerRef, w.Usages, w.Subject
	s.Duration, s.RenewBefore, s.RenewBeforePercentage = w.Duration, w.RenewBefore, w.RenewBeforePercentage
	s.RevisionHistoryLimit, s.PrivateKey = w.RevisionHistoryLimit, w.PrivateKey
	if w.SecretTemplate != nil {
		s.SecretTemplate = w.SecretTemplate
	}
	return upd, !equality.Semantic.DeepEqual(cur, upd)
}
