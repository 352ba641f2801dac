package kube

import (
	"context"

	"github.com/certflow/certflow/policy"
)

// EvaluationInput is what an evaluation that will likely issue reads: the target Secret
// and the issuer.
type EvaluationInput struct {
	Secret InspectSecretInput
	Issuer IssuerRef
}

// Evaluation is what InspectSecretAndIssuer read.
type Evaluation struct {
	Secret policy.SecretState
	Issuer IssuerInfo
}

// InspectSecretAndIssuer is InspectSecret and ResolveIssuer in one step: a workflow that
// expects to issue reads both at once, so that the issuance costs one history event
// (a local activity's marker) less. The issuer comes from the watch cache, so reading
// it for an evaluation that then does not issue costs little.
func (a *Activities) InspectSecretAndIssuer(ctx context.Context, in EvaluationInput) (Evaluation, error) {
	secret, err := a.InspectSecret(ctx, in.Secret)
	if err != nil {
		return Evaluation{}, err
	}
	issuer, err := a.ResolveIssuer(ctx, in.Issuer)
	if err != nil {
		return Evaluation{}, err
	}
	return Evaluation{Secret: secret, Issuer: issuer}, nil
}
