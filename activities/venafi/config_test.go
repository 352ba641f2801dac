package venafi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Venafi/vcert/v5/pkg/endpoint"
	"github.com/Venafi/vcert/v5/pkg/venafi/fake"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

func tppSpec(mod func(*cmapi.VenafiTPP)) *cmapi.VenafiIssuer {
	t := &cmapi.VenafiTPP{URL: "https://tpp.example.com/vedsdk", CredentialsRef: cmmeta.LocalObjectReference{Name: "creds"}}
	if mod != nil {
		mod(t)
	}
	return &cmapi.VenafiIssuer{Zone: `DevOps\certflow`, TPP: t}
}

func cloudSpec(key string) *cmapi.VenafiIssuer {
	return &cmapi.VenafiIssuer{Zone: "app\\template", Cloud: &cmapi.VenafiCloud{
		APITokenSecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "token"}, Key: key}}}
}

func TestSecretsOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    *cmapi.VenafiIssuer
		want    []string // secret/key
		wantErr string
	}{
		{name: "tpp", spec: tppSpec(nil), want: []string{"creds/"}},
		{name: "tpp with CA bundle Secret, default key", spec: tppSpec(func(t *cmapi.VenafiTPP) {
			t.CABundleSecretRef = &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "ca"}}
		}), want: []string{"creds/", "ca/ca.crt"}},
		{name: "tpp with inline CA bundle", spec: tppSpec(func(t *cmapi.VenafiTPP) { t.CABundle = []byte("x") }), want: []string{"creds/"}},
		{name: "cloud default key", spec: cloudSpec(""), want: []string{"token/api-key"}},
		{name: "cloud named key", spec: cloudSpec("apikey"), want: []string{"token/apikey"}},
		{name: "nil", spec: nil, wantErr: "no venafi configuration"},
		{name: "no zone", spec: &cmapi.VenafiIssuer{TPP: tppSpec(nil).TPP}, wantErr: "zone must be set"},
		{name: "neither", spec: &cmapi.VenafiIssuer{Zone: "z"}, wantErr: "exactly one of"},
		{name: "both", spec: &cmapi.VenafiIssuer{Zone: "z", TPP: tppSpec(nil).TPP, Cloud: cloudSpec("").Cloud}, wantErr: "exactly one of"},
		{name: "tpp without url", spec: tppSpec(func(t *cmapi.VenafiTPP) { t.URL = "" }), wantErr: "tpp.url must be set"},
		{name: "tpp without credentials", spec: tppSpec(func(t *cmapi.VenafiTPP) { t.CredentialsRef.Name = "" }), wantErr: "credentialsRef.name"},
		{name: "tpp with both CA bundles", spec: tppSpec(func(t *cmapi.VenafiTPP) {
			t.CABundle = []byte("x")
			t.CABundleSecretRef = &cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: "ca"}}
		}), wantErr: "at most one"},
		{name: "cloud without Secret", spec: &cmapi.VenafiIssuer{Zone: "z", Cloud: &cmapi.VenafiCloud{}}, wantErr: "apiTokenSecretRef.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refs, err := SecretsOf(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range refs {
				got = append(got, r.Secret+"/"+r.Key)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	caPEM := []byte(fake.CaCertPEM)
	for _, tc := range []struct {
		name     string
		spec     *cmapi.VenafiIssuer
		creds    Credentials
		fake     bool
		wantType endpoint.ConnectorType
		wantAuth endpoint.Authentication
		wantErr  string
	}{
		{name: "tpp password", spec: tppSpec(nil), creds: Credentials{TPP: map[string][]byte{"username": []byte("u"), "password": []byte("p")}},
			wantType: endpoint.ConnectorTypeTPP, wantAuth: endpoint.Authentication{User: "u", Password: "p", ClientId: "cert-manager.io", Scope: "certificate:manage"}},
		{name: "tpp token and client id", spec: tppSpec(nil), creds: Credentials{TPP: map[string][]byte{"access-token": []byte("tok"), "client-id": []byte("mine")}},
			wantType: endpoint.ConnectorTypeTPP, wantAuth: endpoint.Authentication{AccessToken: "tok", ClientId: "mine", Scope: "certificate:manage"}},
		{name: "tpp username only", spec: tppSpec(nil), creds: Credentials{TPP: map[string][]byte{"username": []byte("u")}}, wantErr: `has neither "access-token" nor both`},
		{name: "tpp empty Secret", spec: tppSpec(nil), creds: Credentials{}, wantErr: "has neither"},
		{name: "tpp bad CA bundle", spec: tppSpec(nil), creds: Credentials{TPP: map[string][]byte{"access-token": []byte("t")}, CABundle: []byte("junk")}, wantErr: "no PEM certificate"},
		{name: "tpp good CA bundle", spec: tppSpec(nil), creds: Credentials{TPP: map[string][]byte{"access-token": []byte("t")}, CABundle: caPEM},
			wantType: endpoint.ConnectorTypeTPP, wantAuth: endpoint.Authentication{AccessToken: "t", ClientId: "cert-manager.io", Scope: "certificate:manage"}},
		{name: "cloud", spec: cloudSpec(""), creds: Credentials{APIKey: "k"}, wantType: endpoint.ConnectorTypeCloud, wantAuth: endpoint.Authentication{APIKey: "k"}},
		{name: "cloud empty key", spec: cloudSpec("x"), creds: Credentials{}, wantErr: `(Secret "token", key "x") is empty`},
		{name: "fake keeps the checks", spec: cloudSpec(""), creds: Credentials{}, fake: true, wantErr: "is empty"},
		{name: "fake", spec: cloudSpec(""), creds: Credentials{APIKey: "k"}, fake: true, wantType: endpoint.ConnectorTypeFake, wantAuth: endpoint.Authentication{APIKey: "k"}},
		{name: "invalid spec", spec: &cmapi.VenafiIssuer{Zone: "z"}, wantErr: "exactly one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Config(tc.spec, tc.creds, tc.fake)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConnectorType != tc.wantType || cfg.Zone != tc.spec.Zone || !reflect.DeepEqual(*cfg.Credentials, tc.wantAuth) {
				t.Errorf("got %v zone %q %+v, want %v %+v", cfg.ConnectorType, cfg.Zone, *cfg.Credentials, tc.wantType, tc.wantAuth)
			}
		})
	}
}

func TestParseCustomFields(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []CustomField
		wantErr string
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: `[]`, want: []CustomField{}},
		{in: `[{"name":"cost-center","value":"42"}]`, want: []CustomField{{Name: "cost-center", Value: "42"}}},
		{in: `[{"type":"Plain","name":"a","value":"b"}]`, want: []CustomField{{Type: "Plain", Name: "a", Value: "b"}}},
		{in: `[{"type":"Bool","name":"a","value":"true"}]`, wantErr: `invalid custom fields type: "Bool"`},
		{in: `{"name":"a"}`, wantErr: "not a JSON list"},
		{in: `[{"name":`, wantErr: "not a JSON list"},
		{in: `[` + strings.Repeat(`{"name":"a","value":"b"},`, 4000) + `{}]`, wantErr: "longer than"},
	} {
		got, err := ParseCustomFields(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%.40q: err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestMergeCustomFields(t *testing.T) {
	issuer := []CustomField{{Name: "team", Value: "ops"}, {Name: "cost", Value: "1"}}
	request := []CustomField{{Name: "cost", Value: "2"}, {Name: "app", Value: "web"}}
	got := MergeCustomFields(issuer, request)
	want := []CustomField{{Name: "app", Value: "web"}, {Name: "cost", Value: "2"}, {Name: "team", Value: "ops"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := MergeCustomFields(nil, nil); len(got) != 0 {
		t.Errorf("merge of nothing: %+v", got)
	}
	vf := vcertCustomFields(want)
	if len(vf) != 4 || vf[0].Value != "cert-manager" || vf[1].Name != "app" {
		t.Errorf("vcert fields: %+v", vf)
	}
}

func TestSplitChain(t *testing.T) {
	root, rootKey := cert(t, "root", nil, nil, true)
	inter, interKey := cert(t, "intermediate", root, rootKey, true)
	leaf, _ := cert(t, "leaf", inter, interKey, false)
	pemOf := func(c *x509.Certificate) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	for _, tc := range []struct {
		name      string
		cert      string
		chain     []string
		wantCerts []string
		wantCA    string
		wantErr   string
	}{
		{name: "leaf, intermediate, root", cert: pemOf(leaf), chain: []string{pemOf(inter), pemOf(root)}, wantCerts: []string{"leaf", "intermediate"}, wantCA: "root"},
		{name: "no root at the end", cert: pemOf(leaf), chain: []string{pemOf(inter)}, wantCerts: []string{"leaf", "intermediate"}},
		{name: "leaf alone", cert: pemOf(leaf), wantCerts: []string{"leaf"}},
		{name: "self-signed alone", cert: pemOf(root), wantCerts: []string{"root"}},
		{name: "nothing", cert: "", wantErr: "no certificate"},
		{name: "junk", cert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", wantErr: "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs, ca, err := SplitChain(tc.cert, tc.chain)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for rest := certs; ; {
				var b *pem.Block
				if b, rest = pem.Decode(rest); b == nil {
					break
				}
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, c.Subject.CommonName)
			}
			if !reflect.DeepEqual(names, tc.wantCerts) {
				t.Errorf("certificates %v, want %v", names, tc.wantCerts)
			}
			gotCA := ""
			if b, _ := pem.Decode(ca); b != nil {
				c, _ := x509.ParseCertificate(b.Bytes)
				gotCA = c.Subject.CommonName
			}
			if gotCA != tc.wantCA {
				t.Errorf("CA %q, want %q", gotCA, tc.wantCA)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	msg := redact("login as admin with s3cr3t-pass failed:\n  token s3cr3t-tok refused", []string{"s3cr3t-pass", "s3cr3t-tok", ""})
	if strings.Contains(msg, "s3cr3t") || !strings.Contains(msg, "[redacted]") || strings.Contains(msg, "\n") {
		t.Errorf("redact: %q", msg)
	}
	if got := redact(strings.Repeat("x", 5000), nil); len(got) > 1100 {
		t.Errorf("not capped: %d", len(got))
	}
	creds := Credentials{TPP: map[string][]byte{"username": []byte("admin"), "password": []byte("pw-1234"), "access-token": []byte("tok-5678")}, APIKey: "key-9999"}
	if got := creds.secrets(); !reflect.DeepEqual(got, []string{"pw-1234", "tok-5678", "key-9999"}) {
		t.Errorf("secrets: %v", got)
	}
}

func TestFriendlyName(t *testing.T) {
	for _, tc := range []struct {
		csr  x509.CertificateRequest
		want string
	}{
		{x509.CertificateRequest{Subject: pkix.Name{CommonName: "cn.example"}, DNSNames: []string{"dns.example"}}, "cn.example"},
		{x509.CertificateRequest{DNSNames: []string{"dns.example", "b"}}, "dns.example"},
		{x509.CertificateRequest{EmailAddresses: []string{"a@example.com"}}, "a@example.com"},
		{x509.CertificateRequest{}, ""},
	} {
		got, err := friendlyName(&tc.csr)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("friendlyName(%+v) = %q, %v; want %q", tc.csr.Subject, got, err, tc.want)
		}
	}
}

// cert makes a certificate named cn, signed by parent (self-signed when nil).
func cert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parentKey, parent
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}
