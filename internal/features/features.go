// Package features parses --feature-gates with cert-manager's controller gates, so that
// a Helm values file or an extraArgs line written for cert-manager (the user's has
// --feature-gates=ExperimentalGatewayAPISupport=true) starts certflow instead of failing
// on an unknown flag. Parsing, defaults and errors are Kubernetes' own (component-base).
package features

import (
	"fmt"
	"sort"

	"k8s.io/component-base/featuregate"
)

// cert-manager's controller feature gates, with upstream's defaults and stages.
const (
	ExperimentalCertificateSigningRequestControllers featuregate.Feature = "ExperimentalCertificateSigningRequestControllers"
	ExperimentalGatewayAPISupport                    featuregate.Feature = "ExperimentalGatewayAPISupport"
	AdditionalCertificateOutputFormats               featuregate.Feature = "AdditionalCertificateOutputFormats"
	ServerSideApply                                  featuregate.Feature = "ServerSideApply"
	LiteralCertificateSubject                        featuregate.Feature = "LiteralCertificateSubject"
	StableCertificateRequestName                     featuregate.Feature = "StableCertificateRequestName"
	UseCertificateRequestBasicConstraints            featuregate.Feature = "UseCertificateRequestBasicConstraints"
	SecretsFilteredCaching                           featuregate.Feature = "SecretsFilteredCaching"
	DisallowInsecureCSRUsageDefinition               featuregate.Feature = "DisallowInsecureCSRUsageDefinition"
	NameConstraints                                  featuregate.Feature = "NameConstraints"
	OtherNames                                       featuregate.Feature = "OtherNames"
	UseDomainQualifiedFinalizer                      featuregate.Feature = "UseDomainQualifiedFinalizer"
	ValidateCAA                                      featuregate.Feature = "ValidateCAA"
	DefaultPrivateKeyRotationPolicyAlways            featuregate.Feature = "DefaultPrivateKeyRotationPolicyAlways"
	ACMEHTTP01IngressPathTypeExact                   featuregate.Feature = "ACMEHTTP01IngressPathTypeExact"
	ListenerSets                                     featuregate.Feature = "ListenerSets"
	ACMEUseARI                                       featuregate.Feature = "ACMEUseARI"
)

var specs = map[featuregate.Feature]featuregate.FeatureSpec{
	DisallowInsecureCSRUsageDefinition:               {Default: true, PreRelease: featuregate.GA},
	StableCertificateRequestName:                     {Default: true, PreRelease: featuregate.Beta},
	SecretsFilteredCaching:                           {Default: true, PreRelease: featuregate.Beta},
	ExperimentalCertificateSigningRequestControllers: {Default: false, PreRelease: featuregate.Alpha},
	ExperimentalGatewayAPISupport:                    {Default: true, PreRelease: featuregate.Beta},
	ListenerSets:                                     {Default: false, PreRelease: featuregate.Alpha},
	AdditionalCertificateOutputFormats:               {Default: true, PreRelease: featuregate.GA},
	ServerSideApply:                                  {Default: false, PreRelease: featuregate.Alpha},
	LiteralCertificateSubject:                        {Default: true, PreRelease: featuregate.Beta},
	UseCertificateRequestBasicConstraints:            {Default: false, PreRelease: featuregate.Alpha},
	NameConstraints:                                  {Default: true, PreRelease: featuregate.Beta},
	OtherNames:                                       {Default: true, PreRelease: featuregate.Beta},
	UseDomainQualifiedFinalizer:                      {Default: true, PreRelease: featuregate.GA},
	DefaultPrivateKeyRotationPolicyAlways:            {Default: true, PreRelease: featuregate.GA},
	ACMEHTTP01IngressPathTypeExact:                   {Default: true, PreRelease: featuregate.Beta},
	ACMEUseARI:                                       {Default: false, PreRelease: featuregate.Alpha},
	ValidateCAA:                                      {Default: false, PreRelease: featuregate.Alpha},
}

// Parse reads a --feature-gates value (key=bool pairs, comma-separated). An unknown
// gate or a value that is not a bool is an error naming the known gates, as upstream's.
func Parse(value string) (featuregate.FeatureGate, error) {
	g := featuregate.NewFeatureGate()
	if err := g.Add(specs); err != nil {
		return nil, err
	}
	if value == "" {
		return g, nil
	}
	if err := g.Set(value); err != nil {
		return nil, fmt.Errorf("--feature-gates: %w", err)
	}
	return g, nil
}

// Overridden lists the gates set away from their default, by name: certflow behaves as
// each gate's default (GA and beta behaviour on, alpha off), so an override is reported.
func Overridden(g featuregate.FeatureGate) []string {
	var out []string
	for f, s := range specs {
		if g.Enabled(f) != s.Default {
			out = append(out, fmt.Sprintf("%s=%t", f, g.Enabled(f)))
		}
	}
	sort.Strings(out)
	return out
}
