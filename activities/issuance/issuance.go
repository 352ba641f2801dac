// Package issuance runs a whole CA or SelfSigned issuance as one activity: the key,
// the CSR, the CertificateRequest, the internal approver's decision, the signature, the
// request's final status and the target Secret. The workflow runs it as one local
// activity, so the issuance is one marker in its history and one workflow task; the
// steps it took come back in the result (and the activity's summary) for the UI.
//
// The private key is made in memory (keys.GenerateHeld) and written once, into the
// target Secret with its certificate: no next-key Secret is created and deleted, two
// API writes fewer per issuance. A key dies unused with an activity that dies before
// the Secret write; the retry makes a new one and replaces the request that named the
// old one (kube.CreateCertificateRequest replaces a request holding another key), so
// a revision still has one request and one Secret.
package issuance

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/apperr"
	"github.com/certflow/certflow/policy"
)

// Activities composes the steps of the key, PKI and Kubernetes activities.
type Activities struct {
	Kube *kube.Activities
	PKI  *pki.Activities
}

// Input is each step's input as the workflow builds it for a step-by-step issuance,
// without what the steps before it make: the key (Key names the algorithm and the
// target Secret), the CSR, the request, the signature.
type Input struct {
	Key     keys.GenerateKeyInput
	CSR     pki.CreateCSRInput
	Request kube.CreateRequestInput
	// One of SelfSign and CA: the issuer that signs.
	SelfSign *pki.SelfSignInput   `json:",omitempty"`
	CA       *pki.SignWithCAInput `json:",omitempty"`
	Secret   kube.WriteSecretInput
	// Status is the Certificate's status once issued, written last, with the new
	// certificate's validity and its renewal time (from RenewBefore and
	// RenewBeforePercentage, as the workflow computes it) filled in.
	Status                *kube.CertificateStatusInput `json:",omitempty"`
	RenewBefore           *time.Duration               `json:",omitempty"`
	RenewBeforePercentage *int32                       `json:",omitempty"`
	// Cleanup names the requests that fall out of the revision history once this one
	// is issued (a renewal's predecessor): deleted last, best effort.
	Cleanup *kube.CleanupRequestsInput `json:",omitempty"`
}

// Result is what the issuance made; none of it is secret (the key is a reference with
// Held set: public facts only).
type Result struct {
	// ApproverOff says that nothing was done: the internal approver is disabled, so
	// the request waits for a person, and its key must live in a Secret meanwhile.
	// The workflow issues step by step instead.
	ApproverOff bool `json:",omitempty"`
	Key         keys.KeyRef
	Request     kube.CreatedRequest
	Approval    kube.Approval
	Signed      pki.SignedCertificate
	Facts       policy.IssuedFacts
	// Status is what the status write left behind (Input.Status given).
	Status kube.CertificateStatusResult
	// CleanedUp says that the requests of Input.Cleanup are gone. When the deletion
	// failed, the issuance stands all the same, and the workflow deletes them in a step
	// of its own, with its retries: running the whole issuance again for them would
	// replace a certificate just written.
	CleanedUp bool `json:",omitempty"`
	// Steps are the steps taken, in order, for people.
	Steps []string
}

// IssueWithinTask issues a certificate start to end. A signature that fails marks the
// request Failed (as the step-by-step issuance does) and returns the signer's error.
func (a *Activities) IssueWithinTask(ctx context.Context, in Input) (Result, error) {
	var res Result
	if a.Kube.DisableApprover {
		res.ApproverOff = true
		return res, nil
	}
	if (in.SelfSign == nil) == (in.CA == nil) {
		return res, temporal.NewNonRetryableApplicationError("an issuance within the task needs exactly one of SelfSign and CA", "InvalidInput", nil)
	}
	spec, err := keys.NormalizeKeySpec(in.Key.Algorithm, in.Key.Size, in.Key.Encoding)
	if err != nil {
		return res, err
	}
	ctx = kube.WithConfirmedCertificate(ctx)
	ctx, key, err := keys.GenerateHeld(ctx, in.Key.Namespace, in.Key.SecretName, spec)
	if err != nil {
		return res, err
	}
	res.Key = key
	res.Steps = append(res.Steps, fmt.Sprintf("generate %s %d private key (in memory)", key.Algorithm, key.Size))

	in.CSR.Key = key
	csr, err := a.PKI.CreateCSR(ctx, in.CSR)
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "build CSR")

	in.Request.CSRPEM, in.Request.PrivateKeySecretName = csr, key.SecretName
	if res.Request, err = a.Kube.CreateCertificateRequest(ctx, in.Request); err != nil {
		return res, err
	}
	req := res.Request.RequestRef
	res.Steps = append(res.Steps, "create CertificateRequest "+req.Name)

	if res.Approval, err = a.Kube.ApproveCertificateRequest(ctx, kube.ApproveInput{Request: req}); err != nil {
		return res, err
	}
	if !res.Approval.Approved {
		// The approver was turned off since the check above: a request that needs a
		// person must not hold a key that dies with this activity.
		res.ApproverOff = true
		return res, nil
	}
	res.Steps = append(res.Steps, "approve "+req.Name)

	if in.SelfSign != nil {
		in.SelfSign.CSRPEM, in.SelfSign.Key = csr, key
		res.Signed, err = a.PKI.SignSelfSigned(ctx, *in.SelfSign)
		res.Steps = append(res.Steps, "self-sign certificate")
	} else {
		in.CA.CSRPEM = csr
		res.Signed, err = a.PKI.SignWithCA(ctx, *in.CA)
		res.Steps = append(res.Steps, fmt.Sprintf("sign with CA %s/%s", in.CA.CA.Namespace, in.CA.CA.SecretName))
	}
	if err != nil {
		if ferr := a.Kube.SetCertificateRequestStatus(ctx, FailedRequestStatus(req, cmapi.CertificateRequestReasonFailed, apperr.Message(err))); ferr != nil {
			return res, ferr
		}
		return res, err
	}

	if err := a.Kube.SetCertificateRequestStatus(ctx, IssuedRequestStatus(req, res.Signed, res.Approval)); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "record certificate on "+req.Name)

	in.Secret.Key, in.Secret.CertificatePEM, in.Secret.CAPEM = key, res.Signed.CertificatePEM, res.Signed.CAPEM
	if res.Facts, err = a.Kube.WriteCertificateSecret(ctx, in.Secret); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, "write Secret "+in.Secret.SecretName)

	if in.Status != nil {
		st := *in.Status
		nb, na := res.Facts.NotBefore, res.Facts.NotAfter
		renewal := policy.RenewalTime(nb, na, in.RenewBefore, in.RenewBeforePercentage)
		st.NotBefore, st.NotAfter, st.RenewalTime = &nb, &na, &renewal
		if res.Status, err = a.Kube.UpdateCertificateStatus(ctx, st); err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, "update Certificate status: "+st.Ready.Reason)
	}
	if c := in.Cleanup; c != nil {
		if err := a.Kube.CleanupCertificateRequests(ctx, *c); err != nil {
			res.Steps = append(res.Steps, "delete CertificateRequests of the revision history: "+err.Error())
			return res, nil
		}
		res.CleanedUp = true
		res.Steps = append(res.Steps, fmt.Sprintf("delete CertificateRequests of revisions %d to %d", c.FromRevision, c.ToRevision))
	}
	return res, nil
}

// IssuedRequestStatus is the final status of a request that was signed.
func IssuedRequestStatus(req kube.RequestRef, signed pki.SignedCertificate, approval kube.Approval) kube.RequestStatusInput {
	return kube.RequestStatusInput{
		Request: req, CertificatePEM: signed.CertificatePEM, CAPEM: signed.CAPEM, RecordApproval: approval.Record,
		Ready: kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.CertificateRequestReasonIssued, Message: "Certificate fetched from issuer successfully"},
	}
}

// FailedRequestStatus marks a request Failed or Denied, with a failure time, as
// upstream does.
func FailedRequestStatus(req kube.RequestRef, reason, msg string) kube.RequestStatusInput {
	return kube.RequestStatusInput{Request: req, Failed: true, Ready: kube.Condition{Status: cmmeta.ConditionFalse, Reason: reason, Message: msg}}
}
