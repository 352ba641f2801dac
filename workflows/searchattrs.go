package workflows

import "github.com/certflow/certflow/workflows/searchattr"

// The typed search attributes the workflows set (package searchattr).
var (
	AttrCertNamespace = searchattr.CertNamespace
	AttrCertName      = searchattr.CertName
	AttrIssuerName    = searchattr.IssuerName
	AttrCertState     = searchattr.CertState
	AttrNotAfter      = searchattr.NotAfter
	AttrRenewalTime   = searchattr.RenewalTime
)
