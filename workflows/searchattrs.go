package workflows

import "go.temporal.io/sdk/temporal"

// Typed search attributes that make the Temporal UI's workflow list usable. The local
// stack registers them with the dev server; a production namespace needs them added once
// (`temporal operator search-attribute create`).
var (
	AttrCertNamespace = temporal.NewSearchAttributeKeyKeyword("CertNamespace")
	AttrCertName      = temporal.NewSearchAttributeKeyKeyword("CertName")
	AttrIssuerName    = temporal.NewSearchAttributeKeyKeyword("IssuerName")
	AttrCertState     = temporal.NewSearchAttributeKeyKeyword("CertState")
	AttrNotAfter      = temporal.NewSearchAttributeKeyTime("NotAfter")
	AttrRenewalTime   = temporal.NewSearchAttributeKeyTime("RenewalTime")
)
