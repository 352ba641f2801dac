package acme

import (
	"context"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
)

// Authorization is one identifier's authorization and the challenges offered for it.
type Authorization struct {
	URL        string
	Status     string // pending, valid, invalid, deactivated, expired, revoked
	Identifier string // the DNS name (without "*.") or IP address
	Wildcard   bool
	Challenges []ChallengeInfo
	// Error is why the authorization failed, from the failed challenge, in the
	// server's words.
	Error string `json:",omitempty"`
}

// ChallengeInfo is one challenge of an authorization.
type ChallengeInfo struct {
	Type   string // http-01, dns-01, tls-alpn-01
	URL    string
	Token  string
	Status string
	// KeyAuthorization is token + "." + the account key's thumbprint: public, and what
	// the HTTP-01 solver serves (DNS-01 publishes its SHA-256).
	KeyAuthorization string
	Error            string `json:",omitempty"`
}

// AuthorizationInput names an authorization of an account.
type AuthorizationInput struct {
	Account AccountRef
	URL     string
	// SettleFor reads again, for at most this long, while the server is still
	// validating (pending or processing): a validation the server decides in a
	// moment then costs the workflow no timer (0: one read).
	SettleFor time.Duration `json:",omitempty"`
}

// GetAuthorization reads an authorization with its challenges and their key
// authorizations (one request, or a few within SettleFor; the workflow polls on
// timers).
func (a *Activities) GetAuthorization(ctx context.Context, in AuthorizationInput) (Authorization, error) {
	core, _, err := a.client(ctx, in.Account)
	if err != nil {
		return Authorization{}, err
	}
	az, err := core.Authorizations.Get(in.URL)
	for s := newSettle(in.SettleFor); err == nil && (az.Status == legoacme.StatusPending || az.Status == legoacme.StatusProcessing) && s.wait(ctx); {
		az, err = core.Authorizations.Get(in.URL)
	}
	if err != nil {
		return Authorization{}, classify("get ACME authorization "+in.URL, err)
	}
	out := Authorization{URL: in.URL, Status: az.Status, Identifier: az.Identifier.Value, Wildcard: az.Wildcard}
	for _, ch := range az.Challenges {
		info := ChallengeInfo{Type: ch.Type, URL: ch.URL, Token: ch.Token, Status: ch.Status}
		if ch.Token != "" {
			if info.KeyAuthorization, err = core.GetKeyAuthorization(ch.Token); err != nil {
				return Authorization{}, err
			}
		}
		if ch.Error != nil {
			info.Error = problemMessage(ch.Error)
			if out.Error == "" {
				out.Error = info.Error
			}
		}
		out.Challenges = append(out.Challenges, info)
	}
	return out, nil
}

// ChallengeInput names a challenge of an account.
type ChallengeInput struct {
	Account AccountRef
	URL     string
}

// AcceptChallenge tells the server to validate a challenge. A challenge no longer
// pending (a retried step) is left alone.
func (a *Activities) AcceptChallenge(ctx context.Context, in ChallengeInput) (ChallengeInfo, error) {
	core, _, err := a.client(ctx, in.Account)
	if err != nil {
		return ChallengeInfo{}, err
	}
	ch, err := core.Challenges.Get(in.URL)
	if err != nil {
		return ChallengeInfo{}, classify("get ACME challenge "+in.URL, err)
	}
	if ch.Status == legoacme.StatusPending {
		if ch, err = core.Challenges.New(in.URL); err != nil {
			return ChallengeInfo{}, classify("accept ACME challenge "+in.URL, err)
		}
	}
	info := ChallengeInfo{Type: ch.Type, URL: ch.URL, Token: ch.Token, Status: ch.Status}
	if ch.Error != nil {
		info.Error = problemMessage(ch.Error)
	}
	return info, nil
}
