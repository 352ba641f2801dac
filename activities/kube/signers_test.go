package kube

import (
	"testing"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

func TestSignerName(t *testing.T) {
	for _, tc := range []struct {
		ref            cmmeta.IssuerReference
		want, wildcard string
	}{
		{cmmeta.IssuerReference{Name: "ca"}, "issuers.cert-manager.io/ns.ca", "issuers.cert-manager.io/*"},
		{cmmeta.IssuerReference{Name: "le", Kind: "ClusterIssuer", Group: "cert-manager.io"}, "clusterissuers.cert-manager.io/le", "clusterissuers.cert-manager.io/*"},
		{cmmeta.IssuerReference{Name: "pca", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"}, "awspcaissuers.awspca.cert-manager.io/ns.pca", "awspcaissuers.awspca.cert-manager.io/*"},
		{cmmeta.IssuerReference{Name: "step", Kind: "StepClusterIssuer", Group: "certmanager.step.sm"}, "stepclusterissuers.certmanager.step.sm/step", "stepclusterissuers.certmanager.step.sm/*"},
		{cmmeta.IssuerReference{Name: "p", Kind: "Policy", Group: "x.io"}, "policies.x.io/ns.p", "policies.x.io/*"},
		{cmmeta.IssuerReference{Name: "k", Kind: "KMS", Group: "x.io"}, "kmses.x.io/ns.k", "kmses.x.io/*"},
	} {
		got := SignerName(tc.ref, "ns")
		if got != tc.want || signerWildcard(got) != tc.wildcard {
			t.Errorf("SignerName(%+v) = %q (wildcard %q), want %q (%q)", tc.ref, got, signerWildcard(got), tc.want, tc.wildcard)
		}
	}
}
