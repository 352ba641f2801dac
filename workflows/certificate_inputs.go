package workflows

import (
	"fmt"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// The inputs of the CertificateWorkflow's activities, built from the carried state.

func (c *certificateRun) issuerRef() kube.IssuerRef {
	ref := c.st.Spec.IssuerRef
	return kube.IssuerRef{Namespace: c.st.Namespace, Name: ref.Name, Kind: ref.Kind, Group: ref.Group}
}

func (c *certificateRun) inspectSecretInput() kube.InspectSecretInput {
	spec := c.st.Spec
	return kube.InspectSecretInput{
		Namespace: c.st.Namespace, SecretName: spec.SecretName, CertificateName: c.st.Name, CertificateGeneration: c.st.Generation,
		SecretTemplate: spec.SecretTemplate, Keystores: spec.Keystores, AdditionalOutputFormats: spec.AdditionalOutputFormats,
	}
}

func (c *certificateRun) refreshOutputsInput() kube.RefreshOutputsInput {
	spec := c.st.Spec
	return kube.RefreshOutputsInput{
		Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateUID: c.st.UID, CertificateGeneration: c.st.Generation, SecretName: spec.SecretName,
		SecretTemplate: spec.SecretTemplate, Keystores: spec.Keystores, AdditionalOutputFormats: spec.AdditionalOutputFormats,
	}
}

// generateKeyInput asks for a new key in the next-key Secret secretName, owned by the
// Certificate so that it goes away with it.
func (c *certificateRun) generateKeyInput(secretName string) keys.GenerateKeyInput {
	alg, size, enc := privateKeySpec(c.st.Spec)
	return keys.GenerateKeyInput{
		Namespace: c.st.Namespace, SecretName: secretName, Algorithm: alg, Size: size, Encoding: enc,
		OwnerReference: certificateOwner(c.st.Name, c.st.UID), Labels: map[string]string{cmapi.IsNextPrivateKeySecretLabelKey: "true"},
	}
}

func (c *certificateRun) createRequestInput(revision int, csr []byte, key keys.KeyRef) kube.CreateRequestInput {
	spec := c.st.Spec
	return kube.CreateRequestInput{
		Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateUID: c.st.UID, Revision: revision, CSRPEM: csr,
		IssuerRef: spec.IssuerRef, Duration: spec.Duration, IsCA: spec.IsCA, Usages: spec.Usages, PrivateKeySecretName: key.SecretName,
	}
}

func waitingForApprovalStatus(req kube.RequestRef) kube.RequestStatusInput {
	msg := fmt.Sprintf("Waiting for approval of CertificateRequest %q: run `kubectl cert-manager approve %s -n %s` or set its Approved condition", req.Name, req.Name, req.Namespace)
	return kube.RequestStatusInput{Request: req, Ready: kube.Condition{Status: cmmeta.ConditionFalse, Reason: cmapi.ReasonWaitingForApproval, Message: msg}}
}

func (c *certificateRun) selfSignInput(issuer kube.IssuerInfo, csr []byte, key keys.KeyRef) pki.SelfSignInput {
	spec := c.st.Spec
	in := pki.SelfSignInput{CSRPEM: csr, Key: key, Duration: certDuration(spec), IsCA: spec.IsCA, Usages: spec.Usages}
	if issuer.Spec.SelfSigned != nil {
		in.CRLDistributionPoints = issuer.Spec.SelfSigned.CRLDistributionPoints
	}
	return in
}

func (c *certificateRun) caSignInput(issuer kube.IssuerInfo, csr []byte) pki.SignWithCAInput {
	spec, ca := c.st.Spec, issuer.Spec.CA
	return pki.SignWithCAInput{
		CSRPEM: csr, CA: pki.CAKeyPairRef{Namespace: issuer.ResourceNamespace, SecretName: ca.SecretName},
		Duration: certDuration(spec), IsCA: spec.IsCA, Usages: spec.Usages,
		CRLDistributionPoints: ca.CRLDistributionPoints, OCSPServers: ca.OCSPServers, IssuingCertificateURLs: ca.IssuingCertificateURLs,
	}
}

func (c *certificateRun) writeSecretInput(key keys.KeyRef, signed pki.SignedCertificate, revision int) kube.WriteSecretInput {
	spec := c.st.Spec
	return kube.WriteSecretInput{
		Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateUID: c.st.UID, CertificateGeneration: c.st.Generation, SecretName: spec.SecretName, Key: key,
		CertificatePEM: signed.CertificatePEM, CAPEM: signed.CAPEM, Revision: revision,
		IssuerName: spec.IssuerRef.Name, IssuerKind: defaulted(spec.IssuerRef.Kind, cmapi.IssuerKind), IssuerGroup: defaulted(spec.IssuerRef.Group, cmapi.SchemeGroupVersion.Group),
		SecretTemplate: spec.SecretTemplate, Keystores: spec.Keystores, AdditionalOutputFormats: spec.AdditionalOutputFormats,
	}
}

func (c *certificateRun) cleanupRequestsInput(from, to int, issuer kube.IssuerInfo) kube.CleanupRequestsInput {
	return kube.CleanupRequestsInput{
		Namespace: c.st.Namespace, CertificateName: c.st.Name, CertificateUID: c.st.UID, FromRevision: from, ToRevision: to,
		WithOrders: issuer.Type == kube.IssuerTypeACME,
	}
}

// statusInput is the status the workflow owns: conditions plus the carried state, and
// the events queued since the last write.
func (c *certificateRun) statusInput(ready kube.Condition, issuing *kube.Condition) kube.CertificateStatusInput {
	in := kube.CertificateStatusInput{
		Namespace: c.st.Namespace, Name: c.st.Name, UID: c.st.UID, ObservedGeneration: c.st.Generation,
		Ready: ready, Issuing: issuing, Events: c.pendingEvents,
		NotBefore: c.st.NotBefore, NotAfter: c.st.NotAfter,
		LastFailureTime: c.st.LastFailureTime, RenewalTime: c.currentRenewalTime(),
	}
	if c.st.Revision > 0 {
		rev := c.st.Revision
		in.Revision = &rev
	}
	if c.st.FailedAttempts > 0 {
		n := c.st.FailedAttempts
		in.FailedIssuanceAttempts = &n
	}
	if issuing != nil && issuing.Status == cmmeta.ConditionTrue && !rotationNever(c.st.Spec) {
		// Recorded before the key is made: whatever interrupts the issuance, the next
		// status write that clears it also deletes that Secret.
		next := conventions.NextPrivateKeySecretName(c.st.Name)
		in.NextPrivateKeySecretName = &next
	}
	return in
}
