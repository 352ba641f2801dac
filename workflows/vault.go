package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	"github.com/certflow/certflow/activities/vault"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/apperr"
)

// Ready reasons of a Vault issuer, as upstream's.
const (
	reasonVaultVerified = "VaultVerified"
	reasonVaultError    = "VaultError"
)

// checkVaultIssuer asks Vault whether the issuer can be used: Ready=True when Vault is
// unsealed and takes the issuer's credentials, else Ready=False with Vault's words (or
// the bad reference). The activity reads the credentials; the history holds references.
func checkVaultIssuer(ctx workflow.Context, in IssuerInput) kube.Condition {
	ref := vault.IssuerRef{Kind: in.Kind, Name: in.Name, Namespace: issuerResourceNamespace(in)}
	err := step(ctx, accountStep, "check Vault at "+in.Spec.Vault.Server, actCheckVault,
		vault.CheckInput{Issuer: ref, Spec: *in.Spec.Vault}).Get(ctx, nil)
	if err != nil {
		return kube.Condition{Status: cmmeta.ConditionFalse, Reason: reasonVaultError,
			Message: "Failed to initialize Vault client: " + apperr.Message(err)}
	}
	return kube.Condition{Status: cmmeta.ConditionTrue, Reason: reasonVaultVerified, Message: "Vault verified"}
}

// signWithVault has a Vault issuer sign csr; ref is the issuerRef of the Certificate or
// CertificateRequest in namespace ns.
func signWithVault(ctx workflow.Context, issuer kube.IssuerInfo, ref cmmeta.IssuerReference, ns string, csr []byte, duration time.Duration) (pki.SignedCertificate, error) {
	spec := issuer.Spec.Vault
	in := vault.SignInput{Issuer: vault.IssuerRef{Kind: defaulted(ref.Kind, cmapi.IssuerKind), Name: ref.Name},
		Spec: *spec, CSRPEM: csr, Duration: duration}
	if in.Issuer.Kind != cmapi.ClusterIssuerKind {
		in.Issuer.Namespace = ns
	}
	var signed pki.SignedCertificate
	err := step(ctx, acmeStep, "sign with Vault at "+spec.Server+" ("+spec.Path+")", actSignWithVault, in).Get(ctx, &signed)
	return signed, err
}
