// Package dns01 presents and removes ACME DNS-01 TXT records at DNS providers
// (Cloudflare, RFC2136, DigitalOcean, Route53, acme-dns, Akamai, cert-manager webhook
// solvers) and checks that they have propagated.
package dns01

import "context"

// Provider writes and removes one TXT record. Both calls are idempotent and keep no
// state between calls, so a record presented by one process can be cleaned up by
// another (a worker that restarted, or a different replica).
type Provider interface {
	// Present makes fqdn (with trailing dot, e.g. "_acme-challenge.example.com.") carry
	// a TXT record with value. Presenting the same pair twice leaves one record; other
	// values at the same name (a wildcard and its apex share one) are left alone.
	Present(ctx context.Context, fqdn, value string) error
	// CleanUp removes the TXT record fqdn=value. A record that is already gone is not an
	// error; other values at the same name are left alone.
	CleanUp(ctx context.Context, fqdn, value string) error
}
