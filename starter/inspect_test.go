package starter

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/certflow/certflow/pki/pkitest"
)

// The CRL and OCSP checks against responders on loopback: a good and a revoked
// certificate, a CRL signed by someone else, a responder that fails, a redirect.
func TestRevocationChecks(t *testing.T) {
	caKey, otherKey := pkitest.Key(t), pkitest.Key(t)
	now := time.Now()
	ca := pkitest.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "revoking ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, nil, caKey.Public(), caKey)

	var revoked bool   // the answer of both responders
	var crlKey = caKey // who signs the CRL
	var failing bool   // both responders answer 500
	var redirect bool  // both responders redirect
	var leaf *x509.Certificate
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case failing:
			http.Error(w, "down", http.StatusInternalServerError)
			return
		case redirect:
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
			return
		}
		switch r.URL.Path {
		case "/crl":
			tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
			if revoked {
				tmpl.RevokedCertificateEntries = []x509.RevocationListEntry{{SerialNumber: leaf.SerialNumber, RevocationTime: now.Add(-time.Minute).Truncate(time.Second)}}
			}
			der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca, crlKey)
			if err != nil {
				t.Error(err)
			}
			_, _ = w.Write(der)
		case "/ocsp":
			req, _ := io.ReadAll(r.Body)
			if _, err := ocsp.ParseRequest(req); err != nil {
				t.Errorf("OCSP request: %v", err)
			}
			tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: leaf.SerialNumber, ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
			if revoked {
				tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, now.Add(-time.Minute).Truncate(time.Second), ocsp.KeyCompromise
			}
			der, err := ocsp.CreateResponse(ca, ca, tmpl, caKey)
			if err != nil {
				t.Error(err)
			}
			_, _ = w.Write(der)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	leafKey := pkitest.Key(t)
	leaf = pkitest.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "revocable"}, SerialNumber: big.NewInt(77),
		CRLDistributionPoints: []string{"ldap://ignored.example.com/crl", srv.URL + "/crl"}, OCSPServer: []string{srv.URL + "/ocsp"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, ca, leafKey.Public(), caKey)

	at := now.Add(-time.Minute).Truncate(time.Second).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name                       string
		revoked, failing, redirect bool
		crlSigner                  bool // the CRL is signed by another key
		crl, ocsp                  string
	}{
		{name: "good", crl: "Valid", ocsp: "valid"},
		{name: "revoked", revoked: true, crl: "Revoked by " + srv.URL + "/crl at " + at, ocsp: "Marked as revoked by " + srv.URL + "/ocsp at " + at},
		{name: "CRL of another signer", crlSigner: true, crl: "Cannot check CRL: the CRL of " + srv.URL + "/crl is not signed by the certificate's issuer", ocsp: "valid"},
		{name: "responders fail", failing: true, crl: "Cannot check CRL: " + srv.URL + "/crl answered 500 Internal Server Error", ocsp: "Cannot check OCSP: " + srv.URL + "/ocsp answered 500"},
		{name: "redirects are not followed", redirect: true, crl: "answered 302 Found", ocsp: "answered 302 Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			revoked, failing, redirect, crlKey = tc.revoked, tc.failing, tc.redirect, caKey
			if tc.crlSigner {
				crlKey = otherKey
			}
			if got := checkCRL(t.Context(), leaf, ca); !strings.Contains(got, tc.crl) {
				t.Errorf("CRL status %q, want %q", got, tc.crl)
			}
			if got := checkOCSP(t.Context(), leaf, ca); !strings.Contains(got, tc.ocsp) {
				t.Errorf("OCSP status %q, want %q", got, tc.ocsp)
			}
		})
	}

	ldapOnly := pkitest.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "ldap"}, SerialNumber: big.NewInt(78),
		CRLDistributionPoints: []string{"ldap://x.example.com/crl"}, OCSPServer: []string{"ftp://x.example.com"}}, ca, leafKey.Public(), caKey)
	if got := checkCRL(t.Context(), ldapOnly, ca); !strings.Contains(got, "No CRL endpoints we support found") {
		t.Errorf("CRL status of an ldap CRL: %q", got)
	}
	if got := checkOCSP(t.Context(), ldapOnly, ca); !strings.Contains(got, `unsupported URL "ftp://x.example.com"`) {
		t.Errorf("OCSP status of an ftp responder: %q", got)
	}
}
