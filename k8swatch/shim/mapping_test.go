package shim

import (
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwapi "sigs.k8s.io/gateway-api/apis/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// siteAnnotations express examples/certificate-site-example-com.yaml.
var siteAnnotations = map[string]string{
	cmapi.IngressClusterIssuerNameAnnotationKey: "ca-example-issuer",
	cmapi.CommonNameAnnotationKey:               "site.example.com",
	cmapi.SubjectOrganizationsAnnotationKey:     "Example Inc.",
	cmapi.PrivateKeyAlgorithmAnnotationKey:      "RSA",
	cmapi.PrivateKeyEncodingAnnotationKey:       "PKCS1",
	cmapi.PrivateKeySizeAnnotationKey:           "2048",
	cmapi.DurationAnnotationKey:                 "2160h",
	cmapi.RenewBeforeAnnotationKey:              "360h",
}

func ingress(ann map[string]string, tls ...networkingv1.IngressTLS) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "web", UID: "ing-uid", Annotations: ann, Labels: map[string]string{"app": "site", applysetLabel: "x"}},
		Spec:       networkingv1.IngressSpec{TLS: tls},
	}
}

func tlsEntry(secret string, hosts ...string) networkingv1.IngressTLS {
	return networkingv1.IngressTLS{SecretName: secret, Hosts: hosts}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

func dur(s string) *metav1.Duration {
	d, _ := time.ParseDuration(s)
	return &metav1.Duration{Duration: d}
}

func TestDesiredForIngressSiteCertificate(t *testing.T) {
	d := DesiredForIngress(ingress(siteAnnotations, tlsEntry("site-example-com-tls", "site.example.com")), Config{}.Defaults())
	if !d.Managed || d.Invalid != "" || len(d.Skipped) > 0 || len(d.Certificates) != 1 {
		t.Fatalf("desired = %+v", d)
	}
	got := d.Certificates[0]
	want := cmapi.CertificateSpec{
		CommonName: "site.example.com", DNSNames: []string{"site.example.com"}, SecretName: "site-example-com-tls",
		Subject:  &cmapi.X509Subject{Organizations: []string{"Example Inc."}},
		Duration: dur("2160h"), RenewBefore: dur("360h"),
		IssuerRef: cmmeta.IssuerReference{Name: "ca-example-issuer", Kind: cmapi.ClusterIssuerKind, Group: "cert-manager.io"},
		Usages:    cmapi.DefaultKeyUsages(),
		PrivateKey: &cmapi.CertificatePrivateKey{
			Algorithm: cmapi.RSAKeyAlgorithm, Encoding: cmapi.PKCS1, Size: 2048, RotationPolicy: cmapi.RotationPolicyAlways,
		},
	}
	if !equality.Semantic.DeepEqual(got.Spec, want) {
		t.Errorf("spec\n got %+v\nwant %+v", got.Spec, want)
	}
	if got.Name != "site-example-com-tls" || got.Namespace != "web" {
		t.Errorf("name %s/%s", got.Namespace, got.Name)
	}
	ref := metav1.GetControllerOf(got)
	if ref == nil || ref.Kind != "Ingress" || ref.APIVersion != "networking.k8s.io/v1" || ref.Name != "site" || ref.UID != "ing-uid" {
		t.Errorf("controller %+v", ref)
	}
	if got.Labels["app"] != "site" || got.Labels[applysetLabel] != "" {
		t.Errorf("labels %v: want the Ingress's without the applyset label", got.Labels)
	}
}

func TestDesiredForIngress(t *testing.T) {
	cfg := Config{}.Defaults()
	withDefault := Config{DefaultIssuerName: "letsencrypt", DefaultIssuerKind: cmapi.ClusterIssuerKind}.Defaults()
	cluster := map[string]string{cmapi.IngressClusterIssuerNameAnnotationKey: "ca"}
	for _, tc := range []struct {
		name       string
		ing        *networkingv1.Ingress
		cfg        Config
		managed    bool
		invalid    string // substring of Invalid
		skipped    int
		certs      []string
		check      func(t *testing.T, crts []*cmapi.Certificate)
		secretUsed string
	}{
		{name: "no annotation", ing: ingress(nil, tlsEntry("a", "a.example.com")), cfg: cfg, secretUsed: "a"},
		{name: "tls-acme false", ing: ingress(map[string]string{"kubernetes.io/tls-acme": "false"}, tlsEntry("a", "a.example.com")), cfg: withDefault},
		{name: "tls-acme with default issuer", ing: ingress(map[string]string{"kubernetes.io/tls-acme": "true"}, tlsEntry("a", "a.example.com")), cfg: withDefault,
			managed: true, certs: []string{"a"}, check: func(t *testing.T, c []*cmapi.Certificate) {
				want := cmmeta.IssuerReference{Name: "letsencrypt", Kind: cmapi.ClusterIssuerKind, Group: "cert-manager.io"}
				if c[0].Spec.IssuerRef != want {
					t.Errorf("issuerRef %+v", c[0].Spec.IssuerRef)
				}
			}},
		{name: "tls-acme without default issuer", ing: ingress(map[string]string{"kubernetes.io/tls-acme": "true"}, tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "failed to determine issuer name"},
		{name: "custom auto annotation", ing: ingress(map[string]string{"example.com/tls": "true"}, tlsEntry("a", "a.example.com")),
			cfg: Config{DefaultIssuerName: "x", AutoCertificateAnnotations: []string{"example.com/tls"}}.Defaults(), managed: true, certs: []string{"a"}},
		{name: "issuer with kind and group", ing: ingress(map[string]string{
			cmapi.IngressIssuerNameAnnotationKey: "pca", cmapi.IssuerKindAnnotationKey: "AWSPCAIssuer", cmapi.IssuerGroupAnnotationKey: "awspca.cert-manager.io",
		}, tlsEntry("a", "a.example.com")), cfg: cfg, managed: true, certs: []string{"a"}, check: func(t *testing.T, c []*cmapi.Certificate) {
			want := cmmeta.IssuerReference{Name: "pca", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"}
			if c[0].Spec.IssuerRef != want {
				t.Errorf("issuerRef %+v", c[0].Spec.IssuerRef)
			}
		}},
		{name: "issuer and cluster-issuer", ing: ingress(with(cluster, cmapi.IngressIssuerNameAnnotationKey, "b"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `both "cert-manager.io/issuer" and "cert-manager.io/cluster-issuer" may not be set`},
		{name: "cluster-issuer and issuer-kind", ing: ingress(with(cluster, cmapi.IssuerKindAnnotationKey, "Issuer"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `"cert-manager.io/issuer-kind" may not be set`},
		{name: "two TLS entries, hosts merged per entry, IPs apart", ing: ingress(cluster, tlsEntry("b", "b.example.com", "10.0.0.1", "b.example.com"), tlsEntry("a", "a.example.com")),
			cfg: cfg, managed: true, certs: []string{"a", "b"}, check: func(t *testing.T, c []*cmapi.Certificate) {
				if strings.Join(c[1].Spec.DNSNames, ",") != "b.example.com" || strings.Join(c[1].Spec.IPAddresses, ",") != "10.0.0.1" {
					t.Errorf("b: dnsNames %v ips %v", c[1].Spec.DNSNames, c[1].Spec.IPAddresses)
				}
			}},
		{name: "duplicate secret names", ing: ingress(cluster, tlsEntry("a", "a.example.com"), tlsEntry("a", "www.example.com")), cfg: cfg,
			managed: true, invalid: "this secret name must only appear in a single TLS entry but is also used in spec.tls[1].secretName"},
		{name: "entry without hosts skipped", ing: ingress(cluster, tlsEntry("a"), tlsEntry("b", "b.example.com")), cfg: cfg,
			managed: true, skipped: 1, certs: []string{"b"}},
		{name: "bad duration", ing: ingress(with(cluster, cmapi.DurationAnnotationKey, "90 days"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `invalid ingress annotation "cert-manager.io/duration"`},
		{name: "duration too short", ing: ingress(with(cluster, cmapi.DurationAnnotationKey, "30m"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "duration must be greater than or equal to 1h0m0s"},
		{name: "renew-before too short", ing: ingress(with(cluster, cmapi.RenewBeforeAnnotationKey, "1m"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "renewBefore must be greater than or equal to 5m0s"},
		{name: "bad usage", ing: ingress(with(cluster, cmapi.UsagesAnnotationKey, "server auth,flying"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `invalid key usage name "flying"`},
		{name: "bad RSA size", ing: ingress(with(cluster, cmapi.PrivateKeySizeAnnotationKey, "1024"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "invalid private key size for RSA algorithm"},
		{name: "bad ECDSA size", ing: ingress(with(cluster, cmapi.PrivateKeyAlgorithmAnnotationKey, "ECDSA", cmapi.PrivateKeySizeAnnotationKey, "2048"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "invalid private key size for ECDSA algorithm"},
		{name: "bad algorithm", ing: ingress(with(cluster, cmapi.PrivateKeyAlgorithmAnnotationKey, "DSA"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `invalid private key algorithm "DSA"`},
		{name: "bad encoding", ing: ingress(with(cluster, cmapi.PrivateKeyEncodingAnnotationKey, "DER"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `invalid private key encoding "DER"`},
		{name: "bad rotation policy", ing: ingress(with(cluster, cmapi.PrivateKeyRotationPolicyAnnotationKey, "Sometimes"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `invalid private key rotation policy "Sometimes"`},
		{name: "bad revision history limit", ing: ingress(with(cluster, cmapi.RevisionHistoryLimitAnnotationKey, "0"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "revision history limit must be a positive number"},
		{name: "bad email", ing: ingress(with(cluster, cmapi.EmailsAnnotationKey, "Me <me@example.com>"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "must only contain the email address itself"},
		{name: "common name too long", ing: ingress(with(cluster, cmapi.CommonNameAnnotationKey, strings.Repeat("a", 65)), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: "common name may not be more than 64 bytes"},
		{name: "bad renew-before-percentage", ing: ingress(with(cluster, cmapi.RenewBeforePercentageAnnotationKey, "ten"), tlsEntry("a", "a.example.com")), cfg: cfg,
			managed: true, invalid: `"cert-manager.io/renew-before-percentage"`},
		{name: "every override", ing: ingress(with(cluster,
			cmapi.UsagesAnnotationKey, "digital signature, server auth",
			cmapi.RenewBeforePercentageAnnotationKey, "25",
			cmapi.RevisionHistoryLimitAnnotationKey, "3",
			cmapi.PrivateKeyAlgorithmAnnotationKey, "ECDSA",
			cmapi.PrivateKeySizeAnnotationKey, "384",
			cmapi.PrivateKeyEncodingAnnotationKey, "PKCS8",
			cmapi.PrivateKeyRotationPolicyAnnotationKey, "Never",
			cmapi.EmailsAnnotationKey, "a@example.com, b@example.com",
			cmapi.SubjectOrganizationalUnitsAnnotationKey, `Web,"Ops, Night"`,
			cmapi.SubjectCountriesAnnotationKey, "NL",
			cmapi.SubjectProvincesAnnotationKey, "NH",
			cmapi.SubjectLocalitiesAnnotationKey, "Amsterdam",
			cmapi.SubjectPostalCodesAnnotationKey, "1000",
			cmapi.SubjectStreetAddressesAnnotationKey, "Dam 1",
			cmapi.SubjectSerialNumberAnnotationKey, "42",
		), tlsEntry("a", "a.example.com")), cfg: cfg, managed: true, certs: []string{"a"}, check: func(t *testing.T, c []*cmapi.Certificate) {
			s := c[0].Spec
			want := cmapi.CertificateSpec{
				DNSNames: []string{"a.example.com"}, SecretName: "a",
				IssuerRef:             cmmeta.IssuerReference{Name: "ca", Kind: cmapi.ClusterIssuerKind, Group: "cert-manager.io"},
				Usages:                []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageServerAuth},
				RenewBeforePercentage: ptr(int32(25)), RevisionHistoryLimit: ptr(int32(3)),
				PrivateKey:     &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 384, Encoding: cmapi.PKCS8, RotationPolicy: cmapi.RotationPolicyNever},
				EmailAddresses: []string{"a@example.com", "b@example.com"},
				Subject: &cmapi.X509Subject{OrganizationalUnits: []string{"Web", "Ops, Night"}, Countries: []string{"NL"}, Provinces: []string{"NH"},
					Localities: []string{"Amsterdam"}, PostalCodes: []string{"1000"}, StreetAddresses: []string{"Dam 1"}, SerialNumber: "42"},
			}
			if !equality.Semantic.DeepEqual(s, want) {
				t.Errorf("spec\n got %+v\nwant %+v", s, want)
			}
		}},
		{name: "edit in place and ingress class", ing: ingress(with(cluster,
			acmev1.IngressEditInPlaceAnnotationKey, "true",
			acmev1.IngressACMEIssuerHTTP01IngressClassAnnotationKey, "traefik",
		), tlsEntry("a", "a.example.com")), cfg: cfg, managed: true, certs: []string{"a"}, check: func(t *testing.T, c []*cmapi.Certificate) {
			a := c[0].Annotations
			if a[acmev1.ACMECertificateHTTP01IngressNameOverride] != "site" || a[cmapi.IssueTemporaryCertificateAnnotation] != "true" ||
				a[acmev1.ACMECertificateHTTP01IngressClassOverride] != "traefik" || len(a) != 3 {
				t.Errorf("annotations %v", a)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DesiredForIngress(tc.ing, tc.cfg)
			if d.Managed != tc.managed {
				t.Fatalf("managed = %v, want %v", d.Managed, tc.managed)
			}
			if tc.invalid == "" && d.Invalid != "" || !strings.Contains(d.Invalid, tc.invalid) {
				t.Fatalf("invalid = %q, want %q", d.Invalid, tc.invalid)
			}
			if len(d.Skipped) != tc.skipped {
				t.Errorf("skipped = %q, want %d", d.Skipped, tc.skipped)
			}
			var names []string
			for _, c := range d.Certificates {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.certs, ",") {
				t.Fatalf("certificates %v, want %v", names, tc.certs)
			}
			if tc.secretUsed != "" && !d.SecretNames[tc.secretUsed] {
				t.Errorf("secret %s not among %v", tc.secretUsed, d.SecretNames)
			}
			if tc.check != nil {
				tc.check(t, d.Certificates)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func gateway(ann map[string]string, listeners ...gwapi.Listener) *gwapi.Gateway {
	return &gwapi.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "gw", Namespace: "web", UID: "gw-uid", Annotations: ann},
		Spec:       gwapi.GatewaySpec{Listeners: listeners},
	}
}

func listener(name string, proto gwapi.ProtocolType, host string, mode gwapi.TLSModeType, refs ...gwapi.SecretObjectReference) gwapi.Listener {
	l := gwapi.Listener{Name: gwapi.SectionName(name), Protocol: proto, Port: 443}
	if host != "" {
		h := gwapi.Hostname(host)
		l.Hostname = &h
	}
	if mode != "" || refs != nil {
		l.TLS = &gwapi.ListenerTLSConfig{CertificateRefs: refs}
		if mode != "" {
			l.TLS.Mode = &mode
		}
	}
	return l
}

func secretRef(name string) gwapi.SecretObjectReference {
	return gwapi.SecretObjectReference{Name: gwapi.ObjectName(name), Group: ptr(gwapi.Group("")), Kind: ptr(gwapi.Kind("Secret"))}
}

func TestDesiredForGateway(t *testing.T) {
	cfg := Config{DefaultIssuerName: "default"}.Defaults()
	cluster := map[string]string{cmapi.IngressClusterIssuerNameAnnotationKey: "ca"}
	otherNS := secretRef("x")
	otherNS.Namespace = ptr(gwapi.Namespace("elsewhere"))
	configMap := secretRef("y")
	configMap.Kind = ptr(gwapi.Kind("ConfigMap"))
	for _, tc := range []struct {
		name    string
		gw      *gwapi.Gateway
		managed bool
		skipped int
		certs   map[string]string // name -> dnsNames
	}{
		{name: "tls-acme is for Ingresses only", gw: gateway(map[string]string{"kubernetes.io/tls-acme": "true"},
			listener("https", gwapi.HTTPSProtocolType, "a.example.com", gwapi.TLSModeTerminate, secretRef("a")))},
		{name: "HTTPS and TLS terminate, shared Secret", gw: gateway(cluster,
			listener("https", gwapi.HTTPSProtocolType, "a.example.com", gwapi.TLSModeTerminate, secretRef("a")),
			listener("https-www", gwapi.HTTPSProtocolType, "www.example.com", gwapi.TLSModeTerminate, secretRef("a")),
			listener("tls", gwapi.TLSProtocolType, "db.example.com", gwapi.TLSModeTerminate, secretRef("db")),
			listener("http", gwapi.HTTPProtocolType, "a.example.com", ""),
		), managed: true, certs: map[string]string{"a": "a.example.com,www.example.com", "db": "db.example.com"}},
		{name: "passthrough and ignored listeners", gw: gateway(with(cluster, IgnoreTLSListenersAnnotation, "skip, other"),
			listener("pass", gwapi.TLSProtocolType, "p.example.com", gwapi.TLSModePassthrough),
			listener("skip", gwapi.HTTPSProtocolType, "s.example.com", gwapi.TLSModeTerminate, secretRef("s")),
			listener("https", gwapi.HTTPSProtocolType, "a.example.com", gwapi.TLSModeTerminate, secretRef("a")),
		), managed: true, certs: map[string]string{"a": "a.example.com"}},
		{name: "bad listeners skipped", gw: gateway(cluster,
			listener("nohost", gwapi.HTTPSProtocolType, "", gwapi.TLSModeTerminate, secretRef("n")),
			listener("norefs", gwapi.HTTPSProtocolType, "n.example.com", gwapi.TLSModeTerminate),
			listener("cross", gwapi.HTTPSProtocolType, "c.example.com", gwapi.TLSModeTerminate, otherNS),
			listener("kind", gwapi.HTTPSProtocolType, "k.example.com", gwapi.TLSModeTerminate, configMap),
			listener("notls", gwapi.HTTPSProtocolType, "t.example.com", ""),
			listener("https", gwapi.HTTPSProtocolType, "a.example.com", gwapi.TLSModeTerminate, secretRef("a")),
		), managed: true, skipped: 5, certs: map[string]string{"a": "a.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DesiredForGateway(tc.gw, cfg)
			if d.Managed != tc.managed || d.Invalid != "" || len(d.Skipped) != tc.skipped {
				t.Fatalf("managed %v invalid %q skipped %q", d.Managed, d.Invalid, d.Skipped)
			}
			got := map[string]string{}
			for _, c := range d.Certificates {
				got[c.Name] = strings.Join(c.Spec.DNSNames, ",")
				ref := metav1.GetControllerOf(c)
				if ref == nil || ref.Kind != "Gateway" || ref.APIVersion != "gateway.networking.k8s.io/v1" || ref.UID != "gw-uid" {
					t.Errorf("%s: controller %+v", c.Name, ref)
				}
				if c.Annotations[acmev1.ACMECertificateHTTP01ParentRefKind] != "Gateway" || c.Annotations[acmev1.ACMECertificateHTTP01ParentRefName] != "gw" {
					t.Errorf("%s: annotations %v", c.Name, c.Annotations)
				}
			}
			if len(got) != len(tc.certs) {
				t.Fatalf("certificates %v, want %v", got, tc.certs)
			}
			for k, v := range tc.certs {
				if got[k] != v {
					t.Errorf("%s: dnsNames %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestDesiredForListenerSet(t *testing.T) {
	parent := gateway(map[string]string{cmapi.IngressClusterIssuerNameAnnotationKey: "ca"})
	h := gwapi.Hostname("ls.example.com")
	mode := gwapi.TLSModeTerminate
	ls := &gwapi.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "web", UID: "ls-uid"},
		Spec: gwapi.ListenerSetSpec{ParentRef: gwapi.ParentGatewayReference{Name: "gw"}, Listeners: []gwapi.ListenerEntry{{
			Name: "https", Protocol: gwapi.HTTPSProtocolType, Hostname: &h, TLS: &gwapi.ListenerTLSConfig{Mode: &mode, CertificateRefs: []gwapi.SecretObjectReference{secretRef("ls")}},
		}}},
	}
	d := DesiredForListenerSet(ls, parent, Config{}.Defaults())
	if !d.Managed || d.Invalid != "" || len(d.Certificates) != 1 {
		t.Fatalf("desired %+v", d)
	}
	c := d.Certificates[0]
	if c.Spec.IssuerRef.Name != "ca" || c.Spec.IssuerRef.Kind != cmapi.ClusterIssuerKind || c.Spec.DNSNames[0] != "ls.example.com" {
		t.Errorf("spec %+v", c.Spec)
	}
	if ref := metav1.GetControllerOf(c); ref == nil || ref.Kind != "ListenerSet" || ref.UID != "ls-uid" {
		t.Errorf("controller %+v", ref)
	}
	if c.Annotations[acmev1.ACMECertificateHTTP01ParentRefKind] != "ListenerSet" || c.Annotations[acmev1.ACMECertificateHTTP01ParentRefName] != "team" {
		t.Errorf("annotations %v", c.Annotations)
	}
	// Its own issuer wins over the parent's; the fallback points the solver at the Gateway.
	ls.Annotations = map[string]string{cmapi.IngressIssuerNameAnnotationKey: "own", acmev1.ACMECertificateHTTP01ParentRefFallback: "true"}
	c = DesiredForListenerSet(ls, parent, Config{}.Defaults()).Certificates[0]
	if c.Spec.IssuerRef.Name != "own" || c.Spec.IssuerRef.Kind != cmapi.IssuerKind {
		t.Errorf("issuerRef %+v", c.Spec.IssuerRef)
	}
	if c.Annotations[acmev1.ACMECertificateHTTP01ParentRefKind] != "Gateway" || c.Annotations[acmev1.ACMECertificateHTTP01ParentRefName] != "gw" ||
		c.Annotations[acmev1.ACMECertificateHTTP01ParentRefNamespace] != "web" {
		t.Errorf("annotations %v", c.Annotations)
	}
	if ls.Annotations[cmapi.IngressClusterIssuerNameAnnotationKey] != "" {
		t.Errorf("the ListenerSet itself was changed: %v", ls.Annotations)
	}
}

// stored is crt as the API server returns it: with a UID, and the CRD's defaults.
func stored(crt *cmapi.Certificate, uid string) *cmapi.Certificate {
	c := crt.DeepCopy()
	c.UID = types.UID(uid)
	c.ResourceVersion = "1"
	return c
}

func TestPlan(t *testing.T) {
	cfg := Config{}.Defaults()
	ing := ingress(siteAnnotations, tlsEntry("site-tls", "site.example.com"), tlsEntry("www-tls", "www.example.com"))
	d := DesiredForIngress(ing, cfg)
	site, www := stored(d.Certificates[0], "c1"), stored(d.Certificates[1], "c2")
	handWritten := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "www-tls", Namespace: "web", UID: "c3"}, Spec: cmapi.CertificateSpec{SecretName: "www-tls"}}
	otherOwner := stored(www, "c4")
	otherOwner.OwnerReferences[0].UID = "another-ingress"
	removed := stored(site, "c5")
	removed.Name, removed.Spec.SecretName = "old-tls", "old-tls"
	unrelated := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "web", UID: "c6"}, Spec: cmapi.CertificateSpec{SecretName: "other"}}
	edited := DesiredForIngress(ingress(with(siteAnnotations, cmapi.DurationAnnotationKey, "720h", acmev1.IngressEditInPlaceAnnotationKey, "true"),
		tlsEntry("site-tls", "site.example.com"), tlsEntry("www-tls", "www.example.com")), cfg)
	keystores := stored(site, "c1")
	keystores.Spec.Keystores = &cmapi.CertificateKeystores{}
	keystores.Annotations = map[string]string{"team": "web"}

	ops := func(as []Action) string {
		var s []string
		for _, a := range as {
			s = append(s, string(a.Op)+" "+a.Certificate.Name)
		}
		return strings.Join(s, ", ")
	}
	for _, tc := range []struct {
		name     string
		d        Desired
		existing []*cmapi.Certificate
		want     string
		check    func(t *testing.T, as []Action)
	}{
		{name: "nothing yet", d: d, existing: []*cmapi.Certificate{unrelated}, want: "create site-tls, create www-tls"},
		{name: "up to date: no write", d: d, existing: []*cmapi.Certificate{site, www, unrelated}, want: ""},
		{name: "hand-written Certificate of the name", d: d, existing: []*cmapi.Certificate{site, handWritten}, want: "not-owned www-tls"},
		{name: "another object's Certificate", d: d, existing: []*cmapi.Certificate{site, otherOwner}, want: "not-owned www-tls"},
		{name: "TLS entry removed", d: d, existing: []*cmapi.Certificate{site, www, removed}, want: "delete old-tls"},
		{name: "invalid changes nothing", d: Desired{Managed: true, Invalid: "bad", SecretNames: map[string]bool{}}, existing: []*cmapi.Certificate{site, www, removed}, want: ""},
		{name: "annotation edits update the shim's fields only", d: edited, existing: []*cmapi.Certificate{keystores, www}, want: "update site-tls, update www-tls",
			check: func(t *testing.T, as []Action) {
				u := as[0].Certificate
				if u.Spec.Duration.Duration != 720*time.Hour || u.Spec.Keystores == nil || u.Annotations["team"] != "web" || u.UID != "c1" ||
					u.Annotations[acmev1.ACMECertificateHTTP01IngressNameOverride] != "site" {
					t.Errorf("update %+v", u)
				}
			}},
		{name: "solver annotations removed with the Ingress's", d: d, existing: []*cmapi.Certificate{stored(edited.Certificates[0], "c1"), www}, want: "update site-tls",
			check: func(t *testing.T, as []Action) {
				if len(as[0].Certificate.Annotations) != 0 {
					t.Errorf("annotations %v", as[0].Certificate.Annotations)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := Plan(tc.d, "ing-uid", tc.existing)
			if got := ops(as); got != tc.want {
				t.Fatalf("plan %q, want %q", got, tc.want)
			}
			if tc.check != nil {
				tc.check(t, as)
			}
		})
	}
}
