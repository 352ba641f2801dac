package starter

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ocsp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
)

func newInspectCommand(g *globals) *cobra.Command {
	inspect := &cobra.Command{Use: "inspect", Short: "Get details on certificate related resources"}
	inspect.AddCommand(&cobra.Command{
		Use:   "secret NAME",
		Short: "Get details about a kubernetes.io/tls typed secret",
		Long: `Get details about the certificate in a kubernetes.io/tls Secret, as cmctl shows them: the
names it is valid for and its usages, its validity period, its issuer and subject, its
serial number, fingerprint and CRL / OCSP / CA issuer (AIA) URLs, the chain in tls.crt and
ca.crt, and checks: trusted by this computer and by ca.crt, chain in order, valid now,
private key matching the certificate, and the certificate's CRL and OCSP status.`,
		Example:           "  kubectl cert-manager inspect secret my-crt --namespace my-namespace",
		Args:              exactlyOne("the name of the Secret"),
		ValidArgsFunction: completeSecrets(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				return inspectSecret(ctx, cmd.OutOrStdout(), c, args[0])
			})
		},
	})
	return inspect
}

func inspectSecret(ctx context.Context, out io.Writer, c *conn, name string) error {
	s, err := c.kube.CoreV1().Secrets(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("error when finding Secret %q: %w", name, err)
	}
	in, err := parseSecretForInspection(name, s.Data)
	if err != nil {
		return err
	}
	in.Now = nowFunc()
	in.SystemRoots, in.SystemRootsErr = x509.SystemCertPool()
	in.CRLStatus = checkCRL(ctx, in.Chain[0], in.issuerOf(in.Chain[0]))
	in.OCSPStatus = checkOCSP(ctx, in.Chain[0], in.issuerOf(in.Chain[0]))
	_, err = io.WriteString(out, in.String())
	return err
}

func parsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	return keys.ParsePrivateKeyPEM(pemBytes)
}

// issuerOf finds the certificate that signed c among tls.crt's and ca.crt's, or nil.
func (in *secretInspection) issuerOf(c *x509.Certificate) *x509.Certificate {
	for _, p := range append(append([]*x509.Certificate{}, in.Chain[1:]...), in.CA...) {
		if c.CheckSignatureFrom(p) == nil {
			return p
		}
	}
	return nil
}

// Revocation endpoints are named by the certificate, which may come from anyone: only
// http(s), no redirects, bounded in time and size.
const (
	revocationTimeout = 10 * time.Second
	maxRevocationBody = 1 << 20
)

var revocationClient = &http.Client{
	Timeout:       revocationTimeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func fetchRevocation(ctx context.Context, req *http.Request) ([]byte, error) {
	resp, err := revocationClient.Do(req.WithContext(ctx)) // #nosec G107 -- the scheme is checked, redirects are refused, time and size are bounded
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", req.URL.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRevocationBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxRevocationBody {
		return nil, fmt.Errorf("%s answered more than %d bytes", req.URL.Redacted(), maxRevocationBody)
	}
	return body, nil
}

func httpURL(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	return u, err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// checkCRL looks the certificate up in each of its http(s) CRLs, whose signature is
// checked when the issuer is known.
func checkCRL(ctx context.Context, cert, issuer *x509.Certificate) string {
	if len(cert.CRLDistributionPoints) == 0 {
		return "No CRL endpoints set"
	}
	checked := false
	for _, raw := range cert.CRLDistributionPoints {
		u, ok := httpURL(raw)
		if !ok {
			continue
		}
		checked = true
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "Cannot check CRL: " + err.Error()
		}
		body, err := fetchRevocation(ctx, req)
		if err != nil {
			return "Cannot check CRL: " + err.Error()
		}
		crl, err := x509.ParseRevocationList(body)
		if err != nil {
			return fmt.Sprintf("Cannot check CRL: %s is not a CRL: %v", u.Redacted(), err)
		}
		if issuer != nil {
			if err := crl.CheckSignatureFrom(issuer); err != nil {
				return fmt.Sprintf("Cannot check CRL: the CRL of %s is not signed by the certificate's issuer: %v", u.Redacted(), err)
			}
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber != nil && e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return fmt.Sprintf("Revoked by %s at %s", u.Redacted(), e.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	if !checked {
		return "No CRL endpoints we support found (http and https only)"
	}
	return "Valid"
}

// checkOCSP asks each of the certificate's http(s) OCSP responders.
func checkOCSP(ctx context.Context, cert, issuer *x509.Certificate) string {
	if len(cert.OCSPServer) == 0 {
		return "No OCSP servers set"
	}
	if issuer == nil {
		return "Cannot check OCSP, does not have a CA or intermediate certificate provided"
	}
	reqDER, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return "Cannot check OCSP: " + err.Error()
	}
	for _, raw := range cert.OCSPServer {
		u, ok := httpURL(raw)
		if !ok {
			return fmt.Sprintf("Cannot check OCSP: unsupported URL %q (http and https only)", raw)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(reqDER))
		if err != nil {
			return "Cannot check OCSP: " + err.Error()
		}
		req.Header.Set("Content-Type", "application/ocsp-request")
		req.Header.Set("Accept", "application/ocsp-response")
		body, err := fetchRevocation(ctx, req)
		if err != nil {
			return "Cannot check OCSP: " + err.Error()
		}
		resp, err := ocsp.ParseResponseForCert(body, cert, issuer)
		if err != nil {
			return "Cannot check OCSP: " + err.Error()
		}
		if resp.Status == ocsp.Revoked {
			return fmt.Sprintf("Marked as revoked by %s at %s", u.Redacted(), resp.RevokedAt.UTC().Format(time.RFC3339))
		}
	}
	return "valid"
}
