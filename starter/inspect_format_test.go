package starter

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/pki/pkitest"
)

func TestInspectSecret(t *testing.T) {
	p := newTestPKI(t)
	systemRoots := x509.NewCertPool() // this computer trusts nothing of the test's
	for _, tc := range []struct {
		name string
		data map[string][]byte
		now  time.Time
		want []string
		not  []string
	}{{
		name: "leaf, intermediate and root in ca.crt with its key",
		data: map[string][]byte{corev1.TLSCertKey: pkitest.PEM(p.leaf, p.inter), cmmeta.TLSCAKey: pkitest.PEM(p.root), corev1.TLSPrivateKeyKey: p.leafKeyPEM},
		now:  t0.Add(time.Hour),
		want: []string{
			"DNS Names: \n\t\t- web.example.com\n\t\t- www.example.com",
			"URIs: \n\t\t- spiffe://example.org/web", "IP Addresses: \n\t\t- 127.0.0.1", "Email Addresses: \n\t\t- ops@example.com",
			"Usages: \n\t\t- digital signature\n\t\t- server auth",
			"Not Before: Sun, 01 Mar 2026 12:00:00 UTC", "Not After: Mon, 02 Mar 2026 12:00:00 UTC",
			"Issued By:\n\tCommon Name:\ttest intermediate\n\tOrganization:\t<none>\n\tOrganizationalUnit:\t<none>\n\tCountry:\tFR",
			"Issued For:\n\tCommon Name:\tweb.example.com",
			"Serial Number:\t4242", "Is a CA certificate: false",
			"CRL:\thttp://crl.example.com/ca.crl", "OCSP:\thttp://ocsp.example.com", "CA Issuers (AIA):\thttp://example.com/ca.crt",
			"Fingerprints: \t" + fingerprint(p.leaf),
			"0: CN=web.example.com (issued by CN=test intermediate,C=FR)",
			"1: CN=test intermediate,C=FR (issued by CN=test root,O=Root Org)",
			"ca.crt: CN=test root,O=Root Org (issued by CN=test root,O=Root Org)",
			"Trusted by this computer:\tno: x509: certificate signed by unknown authority",
			"Trusted with ca.crt:\tyes",
			"Chain in order:\tyes (2 certificates, each signed by the next)",
			"Valid now:\tyes (expires in 23h0m)",
			"Private key matches:\tyes",
		},
	}, {
		name: "chain out of order, expired, another key, no ca.crt",
		data: map[string][]byte{corev1.TLSCertKey: pkitest.PEM(p.leaf, p.root, p.inter), corev1.TLSPrivateKeyKey: p.otherKeyPEM},
		now:  t0.Add(48 * time.Hour),
		want: []string{
			"Chain in order:\tno: certificate 0 (CN=web.example.com) is not signed by certificate 1 (CN=test root,O=Root Org)",
			"Valid now:\tno: certificate 0 (CN=web.example.com) expired at 2026-03-02T12:00:00Z",
			"Private key matches:\tno: 'tls.key' is not the key of the certificate",
		},
		not: []string{"Trusted with ca.crt", "ca.crt:"},
	}, {
		name: "not yet valid CA, no key, bad key",
		data: map[string][]byte{corev1.TLSCertKey: pkitest.PEM(p.root)},
		now:  t0.Add(-time.Minute),
		want: []string{
			"Is a CA certificate: true", "Chain in order:\tyes (tls.crt holds the leaf only)",
			"Valid now:\tno: certificate 0 (CN=test root,O=Root Org) is not valid before 2026-03-01T12:00:00Z",
			"Private key matches:\tno private key in the Secret ('tls.key' is not set)",
			"DNS Names: <none>", "Usages: \n\t\t- cert sign",
		},
	}, {
		name: "a key that does not parse",
		data: map[string][]byte{corev1.TLSCertKey: pkitest.PEM(p.leaf), corev1.TLSPrivateKeyKey: []byte("junk")},
		now:  t0,
		want: []string{"Private key matches:\tno: 'tls.key' does not parse:"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := parseSecretForInspection("web-tls", tc.data)
			if err != nil {
				t.Fatal(err)
			}
			in.Now, in.SystemRoots = tc.now, systemRoots
			in.CRLStatus, in.OCSPStatus = "crl words", "ocsp words"
			out := in.String()
			for _, w := range append(tc.want, "CRL Status:\tcrl words", "OCSP Status:\tocsp words") {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestInspectSecretWithoutCertificate(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string][]byte
		want string
	}{
		{"no tls.crt", map[string][]byte{"password": []byte("x")}, `Secret "s" has no certificate: its 'tls.crt' is missing or empty`},
		{"not PEM", map[string][]byte{corev1.TLSCertKey: []byte("hello")}, `Secret "s" has no certificate: its 'tls.crt' holds no PEM CERTIFICATE block`},
		{"a bad certificate", map[string][]byte{corev1.TLSCertKey: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")}, `error when parsing 'tls.crt' of Secret "s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSecretForInspection("s", tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckRevocationWithoutEndpoints(t *testing.T) {
	p := newTestPKI(t)
	if got := checkCRL(t.Context(), p.root, nil); got != "No CRL endpoints set" {
		t.Errorf("CRL status %q", got)
	}
	if got := checkOCSP(t.Context(), p.root, nil); got != "No OCSP servers set" {
		t.Errorf("OCSP status %q", got)
	}
	if got := checkOCSP(t.Context(), p.leaf, nil); !strings.Contains(got, "does not have a CA or intermediate certificate") {
		t.Errorf("OCSP status without issuer %q", got)
	}
}
