// Package searchattr names the typed Temporal search attributes certflow's workflows set,
// which make the Temporal UI's workflow list usable. It imports nothing of certflow's, so
// that the worker's startup and the local stack can register them without the workflows.
package searchattr

import "go.temporal.io/sdk/temporal"

var (
	CertNamespace = temporal.NewSearchAttributeKeyKeyword("CertNamespace")
	CertName      = temporal.NewSearchAttributeKeyKeyword("CertName")
	IssuerName    = temporal.NewSearchAttributeKeyKeyword("IssuerName")
	CertState     = temporal.NewSearchAttributeKeyKeyword("CertState")
	NotAfter      = temporal.NewSearchAttributeKeyTime("NotAfter")
	RenewalTime   = temporal.NewSearchAttributeKeyTime("RenewalTime")
)

// All are every search attribute the workflows set. The worker registers those a
// namespace lacks when it starts (internal/clients EnsureSearchAttributes), or names the
// command that adds them.
var All = []temporal.SearchAttributeKey{CertNamespace, CertName, IssuerName, CertState, NotAfter, RenewalTime}
