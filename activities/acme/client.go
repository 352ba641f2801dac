// Package acme holds the ACME activities: account registration and each step of an
// order (create, authorizations, challenges, finalize, certificate), one idempotent
// activity per step, through lego's acme/api. The account key stays in its Secret:
// activities take a reference and read it; nothing here returns key bytes.
package acme

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-acme/lego/v4/acme/api"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/bounded"
)

// Activities talk to ACME servers on behalf of ACME issuers.
type Activities struct {
	Kube     kubernetes.Interface
	CertFlow versioned.Interface
	// ClusterResourceNamespace holds the Secrets of ClusterIssuers.
	ClusterResourceNamespace string
	// UserAgent is sent with every ACME request.
	UserAgent string
	// SelfCheckTimeout: see Settings (0 = DefaultSelfCheckTimeout).
	SelfCheckTimeout time.Duration
	// AccountRecheckInterval: see AccountResult.RecheckAfter (0 =
	// DefaultAccountRecheckInterval).
	AccountRecheckInterval time.Duration
	// RenewalInfoMaxRecheck caps RenewalInfo.RetryAfter (0: the server's Retry-After
	// as it is).
	RenewalInfoMaxRecheck time.Duration

	mu    sync.Mutex
	cores map[string]*api.Core // by coreKey: a client per account, server and key version
	keys  keyCache             // account keys read within accountKeyTTL
}

// DefaultAccountKeySecretKey is where the account key lives in privateKeySecretRef's
// Secret when the reference names no key (upstream's default).
const DefaultAccountKeySecretKey = "tls.key"

// AccountRef is everything an activity needs to act as an ACME account, without the key
// itself: the Secret holding it is read in the activity.
type AccountRef struct {
	Server        string
	CABundle      []byte `json:",omitempty"`
	SkipTLSVerify bool   `json:",omitempty"`
	// KeyNamespace is the issuer's resource namespace ("" = the cluster resource
	// namespace, for ClusterIssuers).
	KeyNamespace  string
	KeySecretName string
	KeySecretKey  string `json:",omitempty"`
	// URL is the account's URL (status.acme.uri); empty before registration.
	URL string `json:",omitempty"`
}

func (a *Activities) keyNamespace(ref AccountRef) string {
	if ref.KeyNamespace == "" {
		return a.ClusterResourceNamespace
	}
	return ref.KeyNamespace
}

func (ref AccountRef) secretKey() string {
	if ref.KeySecretKey == "" {
		return DefaultAccountKeySecretKey
	}
	return ref.KeySecretKey
}

// loadAccountKey reads the account key from its Secret.
func (a *Activities) loadAccountKey(ctx context.Context, ref AccountRef) (crypto.Signer, string, error) {
	ns := a.keyNamespace(ref)
	s, err := a.Kube.CoreV1().Secrets(ns).Get(ctx, ref.KeySecretName, metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		s, err = a.Kube.CoreV1().Secrets(ns).Get(ctx, ref.KeySecretName, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil, "", nonRetryable(ErrTypeAccountKey, "ACME account key Secret %s/%s not found", ns, ref.KeySecretName)
	}
	if err != nil {
		return nil, "", fmt.Errorf("get ACME account key Secret %s/%s: %w", ns, ref.KeySecretName, err)
	}
	data, ok := s.Data[ref.secretKey()]
	if !ok || len(data) == 0 {
		return nil, "", nonRetryable(ErrTypeAccountKey, "ACME account key Secret %s/%s has no key %q", ns, ref.KeySecretName, ref.secretKey())
	}
	key, err := keys.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, "", nonRetryable(ErrTypeAccountKey, "ACME account key Secret %s/%s, key %q: %v", ns, ref.KeySecretName, ref.secretKey(), err)
	}
	return key, string(s.UID) + "/" + s.ResourceVersion, nil
}

// cachedAccountKey is loadAccountKey, answered from the worker's cache when the key
// was read less than accountKeyTTL ago for the same account URL.
func (a *Activities) cachedAccountKey(ctx context.Context, ref AccountRef) (crypto.Signer, string, error) {
	k := keyCacheKey{namespace: a.keyNamespace(ref), name: ref.KeySecretName, key: ref.secretKey(), accountURL: ref.URL}
	if key, version, ok := a.keys.get(k); ok {
		return key, version, nil
	}
	key, version, err := a.loadAccountKey(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	a.keys.put(k, key, version)
	return key, version, nil
}

// client returns a lego client acting as the account. Clients are kept per account,
// server and key version, so a burst of orders shares one directory fetch and one nonce
// pool.
func (a *Activities) client(ctx context.Context, ref AccountRef) (*api.Core, crypto.Signer, error) {
	key, version, err := a.cachedAccountKey(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%t\x00%s/%s\x00", ref.Server, ref.URL, version, ref.SkipTLSVerify, a.keyNamespace(ref), ref.KeySecretName)
	h.Write(ref.CABundle)
	ck := hex.EncodeToString(h.Sum(nil))

	a.mu.Lock()
	core := a.cores[ck]
	a.mu.Unlock()
	if core != nil {
		return core, key, nil
	}
	hc, err := httpClient(ref)
	if err != nil {
		return nil, nil, err
	}
	core, err = newCore(hc, a.userAgent(), ref.Server, ref.URL, key)
	if err != nil {
		return nil, nil, classify(fmt.Sprintf("read the ACME directory %s", ref.Server), err)
	}
	a.mu.Lock()
	if a.cores == nil {
		a.cores = map[string]*api.Core{}
	}
	a.cores[ck] = core
	a.mu.Unlock()
	return core, key, nil
}

// newCore is api.New that lets the client's metrics name the directory's endpoints.
func newCore(hc *http.Client, userAgent, server, accountURL string, key crypto.Signer) (*api.Core, error) {
	t, instrumented := hc.Transport.(*instrumented) // before lego wraps it in its own
	core, err := api.New(hc, userAgent, server, accountURL, key)
	if err != nil {
		return nil, err
	}
	if instrumented {
		t.setDirectory(core.GetDirectory())
	}
	return core, nil
}

func (a *Activities) userAgent() string {
	if a.UserAgent == "" {
		return "certflow"
	}
	return a.UserAgent
}

// httpClient trusts the issuer's caBundle (or the system roots), or nothing at all with
// skipTLSVerify, as upstream does. Its Transport is an *instrumented: every request is
// counted in the ACME client metrics.
func httpClient(ref AccountRef) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if len(ref.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ref.CABundle) {
			return nil, nonRetryable(ErrTypeConfig, "caBundle of the ACME issuer holds no PEM certificate")
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	if ref.SkipTLSVerify {
		tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // the issuer asked for it (spec.acme.skipTLSVerify)
	}
	tr.MaxResponseHeaderBytes = maxResponseHeader
	// Every order of the account talks to the one server at once: keep their
	// connections (the default keeps 2 idle per host, so a burst pays a TLS handshake
	// per call).
	tr.MaxIdleConnsPerHost = maxIdleConnsPerServer
	return &http.Client{
		Transport: &instrumented{next: bounded.Body(tr, maxResponseBody), directoryURL: ref.Server},
		Timeout:   30 * time.Second,
	}, nil
}

// The ACME server is the one an issuer names: its responses are read within bounds.
// lego reads bodies whole, and a certificate chain (the largest response) is at most
// 1 MiB by its own limit.
const (
	maxResponseBody   = 1 << 20
	maxResponseHeader = 64 << 10
)

// maxIdleConnsPerServer is how many idle connections to its server an account keeps.
const maxIdleConnsPerServer = 64

// Settings are the worker's ACME settings a workflow needs to decide with.
type Settings struct {
	// SelfCheckTimeout is how long a challenge's self check may keep failing before
	// the ACME server is asked to validate anyway (and gives its own verdict).
	SelfCheckTimeout time.Duration
}

// DefaultSelfCheckTimeout is the worker's default for Settings.SelfCheckTimeout.
const DefaultSelfCheckTimeout = 2 * time.Minute

// DefaultAccountRecheckInterval is the worker's default for
// AccountResult.RecheckAfter: one registration request (which finds the existing
// account) per issuer every quarter of an hour.
const DefaultAccountRecheckInterval = 15 * time.Minute

// GetSettings returns the worker's ACME settings (recorded in the history, so a replay
// decides the same way even if the worker's flags changed since).
func (a *Activities) GetSettings(ctx context.Context) (Settings, error) {
	s := Settings{SelfCheckTimeout: a.SelfCheckTimeout}
	if s.SelfCheckTimeout <= 0 {
		s.SelfCheckTimeout = DefaultSelfCheckTimeout
	}
	return s, nil
}
