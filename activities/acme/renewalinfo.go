package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/bounded"
	"github.com/certflow/certflow/pki"
	"github.com/certflow/certflow/policy"
)

// RenewalInfoInput asks the ACME server when to renew a certificate: the one an order
// just downloaded (CertificatePEM, no API read), or else the one a Secret holds.
type RenewalInfoInput struct {
	Account        AccountRef
	Namespace      string `json:",omitempty"`
	SecretName     string `json:",omitempty"`
	CertificatePEM []byte `json:",omitempty"`
}

// RenewalInfo is the server's renewal information for one certificate (RFC 9773).
type RenewalInfo struct {
	// Supported is false when the server's directory offers no renewalInfo.
	Supported bool `json:",omitempty"`
	// CertID is the certificate's ARI identifier, NotBefore and NotAfter its validity.
	CertID    string    `json:",omitempty"`
	NotBefore time.Time `json:",omitempty"`
	NotAfter  time.Time `json:",omitempty"`
	// Window is the suggested window (zero when none was read).
	Window         policy.ARIWindow `json:",omitempty"`
	ExplanationURL string           `json:",omitempty"`
	// RetryAfter is the server's Retry-After (0 = none given), capped by the worker's
	// --acme-renewal-info-max-recheck.
	RetryAfter time.Duration `json:",omitempty"`
	// Error says why no window was read: the renewal falls back to renewBefore.
	Error string `json:",omitempty"`
}

// maxRenewalInfoBytes bounds the answer read.
const maxRenewalInfoBytes = 64 << 10

// GetRenewalInfo reads the renewal information of a certificate (RenewalInfoInput), an
// unauthenticated GET of <renewalInfo>/<certID> with the account's HTTP client. It
// fails only when its context ends: whatever goes wrong at the server or with the
// certificate is said in Error, and the renewal time stays as it would be without ARI,
// so a broken renewalInfo never holds up a renewal.
func (a *Activities) GetRenewalInfo(ctx context.Context, in RenewalInfoInput) (RenewalInfo, error) {
	res, err := a.renewalInfo(ctx, in)
	if ctx.Err() != nil {
		return RenewalInfo{}, ctx.Err()
	}
	if err != nil {
		res.Error = bounded.Excerpt(err.Error(), 0)
	}
	return res, nil
}

func (a *Activities) renewalInfo(ctx context.Context, in RenewalInfoInput) (RenewalInfo, error) {
	var res RenewalInfo
	chain, where := in.CertificatePEM, "the order's chain"
	if len(chain) == 0 {
		secret, err := a.Kube.CoreV1().Secrets(in.Namespace).Get(ctx, in.SecretName, metav1.GetOptions{})
		if err != nil {
			return res, fmt.Errorf("read Secret %s/%s: %w", in.Namespace, in.SecretName, err)
		}
		chain, where = secret.Data[corev1.TLSCertKey], "Secret "+in.Namespace+"/"+in.SecretName
	}
	certs, err := pki.ParseCertificates(chain)
	if err != nil || len(certs) == 0 {
		return res, fmt.Errorf("%s holds no certificate", where)
	}
	leaf := certs[0]
	res.NotBefore, res.NotAfter = leaf.NotBefore, leaf.NotAfter
	if res.CertID, err = policy.ARICertID(leaf.AuthorityKeyId, leaf.SerialNumber); err != nil {
		return res, err
	}
	core, _, err := a.client(ctx, in.Account)
	if err != nil {
		return res, err
	}
	err = fetchRenewalInfo(core, &res)
	res.RetryAfter = capRetryAfter(res.RetryAfter, a.RenewalInfoMaxRecheck)
	return res, err
}

// capRetryAfter bounds a renewalInfo Retry-After (0: none given, which the workflow
// reads as policy.ARIDefaultRetryAfter) by the worker's maximum (0: no maximum).
func capRetryAfter(retryAfter, maxRecheck time.Duration) time.Duration {
	if maxRecheck <= 0 {
		return retryAfter
	}
	d := retryAfter
	if d <= 0 {
		d = policy.ARIDefaultRetryAfter
	}
	return min(d, maxRecheck)
}

// fetchRenewalInfo reads res.CertID's renewal information from the server into res.
func fetchRenewalInfo(core *api.Core, res *RenewalInfo) error {
	resp, err := core.Certificates.GetRenewalInfo(res.CertID)
	if errors.Is(err, api.ErrNoARI) {
		return nil
	}
	res.Supported = true
	if err != nil {
		return fmt.Errorf("get renewal information: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRenewalInfoBytes))
	if err != nil {
		return fmt.Errorf("read renewal information: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("renewal information for %s: HTTP %d: %s", res.CertID, resp.StatusCode, bounded.Excerpt(string(body), 512))
	}
	var info legoacme.RenewalInfoResponse
	if err := json.Unmarshal(body, &info); err != nil {
		return fmt.Errorf("renewal information for %s does not parse: %w", res.CertID, err)
	}
	w := policy.ARIWindow{Start: info.SuggestedWindow.Start.UTC(), End: info.SuggestedWindow.End.UTC()}
	if !w.Valid() {
		return fmt.Errorf("renewal information for %s: invalid window [%s, %s]", res.CertID,
			w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339))
	}
	res.Window, res.ExplanationURL = w, bounded.Excerpt(info.ExplanationURL, 2048)
	return nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date); 0 when absent or bad.
func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	d, err := api.ParseRetryAfter(h)
	if err != nil || d < 0 {
		return 0
	}
	return d
}
