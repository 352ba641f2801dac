package acme

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
)

// RegisterInput is one ACME issuer's account as its spec describes it.
type RegisterInput struct {
	Account AccountRef
	Email   string `json:",omitempty"`
	// EAB is the external account binding (keyID and the Secret holding the HMAC key).
	EAB *EABRef `json:",omitempty"`
	// DisableAccountKeyGeneration: a missing key is an error instead of generated.
	DisableAccountKeyGeneration bool `json:",omitempty"`
}

// EABRef points at an external account binding's HMAC key.
type EABRef struct {
	KeyID      string
	SecretName string
	SecretKey  string
}

// AccountResult is what the issuer's status records.
type AccountResult struct {
	URI   string
	Email string
	// KeyHash is the SHA-256 of the account's public key (status.acme.lastPrivateKeyHash).
	KeyHash string
	// GeneratedKey: the account key Secret was created by this call.
	GeneratedKey bool
	// RecheckAfter is when the issuer verifies its account again (the worker's
	// setting, recorded here so that a replay waits the same): a server may forget
	// an account or deactivate it, and a Ready issuer must not say "registered" for
	// long after that. Zero in results recorded before the setting existed.
	RecheckAfter time.Duration `json:",omitempty"`
}

// RegisterAccount makes sure the issuer has an account key (generating one into
// privateKeySecretRef when missing, as upstream does) and an account at the server:
// registering with a key the server knows returns the existing account, so this also
// recovers an account whose URL was lost. A changed email is updated at the server.
// With in.Account.URL set (an issuer verifying the account it registered), the
// account is looked up first and registered only when the server no longer knows it
// or refuses it: a server that binds accounts to an external account binding need not
// see the binding again.
func (a *Activities) RegisterAccount(ctx context.Context, in RegisterInput) (AccountResult, error) {
	var res AccountResult
	generated, err := a.ensureAccountKey(ctx, in)
	if err != nil {
		return res, err
	}
	res.GeneratedKey = generated
	key, _, err := a.loadAccountKey(ctx, in.Account)
	if err != nil {
		return res, err
	}
	// The issuer checks its account (a changed key, a server that forgot it): the
	// orders' next calls read the key Secret again.
	a.keys.forgetSecret(a.keyNamespace(in.Account), in.Account.KeySecretName)
	hc, err := httpClient(in.Account)
	if err != nil {
		return res, err
	}
	msg := legoacme.Account{TermsOfServiceAgreed: true}
	if in.Email != "" {
		msg.Contact = []string{"mailto:" + in.Email}
	}
	var acct legoacme.ExtendedAccount
	if in.Account.URL != "" && !generated {
		if acct, err = a.existingAccount(hc, in.Account, key); err != nil {
			return res, err
		}
	}
	if acct.Location == "" {
		if acct, err = a.newAccount(ctx, hc, in, key, msg); err != nil {
			return res, err
		}
	}
	if acct.Location == "" {
		return res, fmt.Errorf("ACME server %s returned no account URL", in.Account.Server)
	}
	if in.Email != "" && !slices.Contains(acct.Contact, "mailto:"+in.Email) {
		// An existing account registered with another email: update it, as upstream does.
		kcore, err := newCore(hc, a.userAgent(), in.Account.Server, acct.Location, key)
		if err != nil {
			return res, classify("read the ACME directory "+in.Account.Server, err)
		}
		if _, err := kcore.Accounts.Update(acct.Location, legoacme.Account{Contact: msg.Contact}); err != nil {
			return res, classify("update the ACME account's email", err)
		}
	}
	res.URI, res.Email, res.KeyHash = acct.Location, in.Email, keys.PublicKeySHA256(key.Public())
	res.RecheckAfter = a.AccountRecheckInterval
	if res.RecheckAfter <= 0 {
		res.RecheckAfter = DefaultAccountRecheckInterval
	}
	return res, nil
}

// existingAccount looks the account up at ref.URL. An account the server does not
// know there, or no longer accepts (deactivated, another key, another server's URL),
// comes back empty, for a registration; a rate limit, a network error or a 5xx answer
// is an error.
func (a *Activities) existingAccount(hc *http.Client, ref AccountRef, key crypto.Signer) (legoacme.ExtendedAccount, error) {
	core, err := newCore(hc, a.userAgent(), ref.Server, ref.URL, key)
	if err != nil {
		return legoacme.ExtendedAccount{}, classify("read the ACME directory "+ref.Server, err)
	}
	got, err := core.Accounts.Get(ref.URL)
	var rl *legoacme.RateLimitedError
	var pd *legoacme.ProblemDetails
	switch {
	case err == nil && got.Status == legoacme.StatusValid:
		return legoacme.ExtendedAccount{Account: got, Location: ref.URL}, nil
	case err == nil, !errors.As(err, &rl) && errors.As(err, &pd) && pd.HTTPStatus >= 400 && pd.HTTPStatus < 500:
		return legoacme.ExtendedAccount{}, nil
	}
	return legoacme.ExtendedAccount{}, classify("look up the ACME account "+ref.URL, err)
}

// newAccount registers the account (newAccount with the key: the server answers with
// the account it knows for the key, or makes one).
func (a *Activities) newAccount(ctx context.Context, hc *http.Client, in RegisterInput, key crypto.Signer, msg legoacme.Account) (legoacme.ExtendedAccount, error) {
	core, err := newCore(hc, a.userAgent(), in.Account.Server, "", key)
	if err != nil {
		return legoacme.ExtendedAccount{}, classify("read the ACME directory "+in.Account.Server, err)
	}
	if in.EAB != nil {
		hmacKey, err := a.eabKey(ctx, in)
		if err != nil {
			return legoacme.ExtendedAccount{}, err
		}
		acct, err := core.Accounts.NewEAB(msg, in.EAB.KeyID, hmacKey)
		if err != nil {
			return acct, classify("register ACME account with external account binding", err)
		}
		return acct, nil
	}
	acct, err := core.Accounts.New(msg)
	if err != nil {
		return acct, classify("register ACME account", err)
	}
	return acct, nil
}

// ensureAccountKey creates the account key Secret when it does not exist.
func (a *Activities) ensureAccountKey(ctx context.Context, in RegisterInput) (bool, error) {
	ns := a.keyNamespace(in.Account)
	_, err := a.Kube.CoreV1().Secrets(ns).Get(ctx, in.Account.KeySecretName, metav1.GetOptions{})
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("get ACME account key Secret %s/%s: %w", ns, in.Account.KeySecretName, err)
	}
	if in.DisableAccountKeyGeneration {
		return false, nonRetryable(ErrTypeAccountKey, "ACME account key Secret %s/%s not found and disableAccountKeyGeneration is set", ns, in.Account.KeySecretName)
	}
	// RSA 2048 in PKCS#1, as upstream generates account keys.
	spec, err := keys.NormalizeKeySpec(cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS1)
	if err != nil {
		return false, err
	}
	signer, err := keys.GenerateKey(spec)
	if err != nil {
		return false, err
	}
	pemBytes, err := keys.EncodePrivateKey(signer, cmapi.PKCS1)
	if err != nil {
		return false, err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: in.Account.KeySecretName, Namespace: ns},
		Data:       map[string][]byte{in.Account.secretKey(): pemBytes},
	}
	if _, err := a.Kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{FieldManager: conventions.FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("create ACME account key Secret %s/%s: %w", ns, in.Account.KeySecretName, err)
	}
	return true, nil
}

// eabKey reads the external account binding's HMAC key (base64url, as the CA hands it out).
func (a *Activities) eabKey(ctx context.Context, in RegisterInput) (string, error) {
	ns := a.keyNamespace(in.Account)
	s, err := a.Kube.CoreV1().Secrets(ns).Get(ctx, in.EAB.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nonRetryable(ErrTypeConfig, "external account binding Secret %s/%s not found", ns, in.EAB.SecretName)
	}
	if err != nil {
		return "", fmt.Errorf("get external account binding Secret %s/%s: %w", ns, in.EAB.SecretName, err)
	}
	k := in.EAB.SecretKey
	if k == "" {
		return "", nonRetryable(ErrTypeConfig, "externalAccountBinding.keySecretRef.key is required")
	}
	v := strings.TrimSpace(string(s.Data[k]))
	if v == "" {
		return "", nonRetryable(ErrTypeConfig, "external account binding Secret %s/%s has no key %q", ns, in.EAB.SecretName, k)
	}
	return v, nil
}
