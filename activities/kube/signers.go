package kube

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/keys"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/pki"
)

// IssuerTypeExternal is an issuer of another API group than cert-manager.io (AWS PCA,
// step-issuer, ...): its own controller signs the CertificateRequests that name it, and
// certflow only makes them and waits.
const IssuerTypeExternal = "External"

// ExternalIssuerGroup reports whether an issuerRef's group is another than
// cert-manager.io: that group's own controller signs the requests naming it.
func ExternalIssuerGroup(group string) bool {
	return group != "" && group != cmapi.SchemeGroupVersion.Group
}

// SignerName is the name under which a request's issuer is approved, as upstream's
// approval checks spell it: "<resource>.<group>/<namespace>.<name>" for a namespaced
// issuer, "<resource>.<group>/<name>" for a cluster-scoped one. The resource is the
// lower-case plural of the kind (Issuer -> issuers).
func SignerName(ref cmmeta.IssuerReference, namespace string) string {
	kind := ref.Kind
	if kind == "" {
		kind = cmapi.IssuerKind
	}
	group := ref.Group
	if group == "" {
		group = cmapi.SchemeGroupVersion.Group
	}
	resource := pluralize(strings.ToLower(kind))
	// Cluster-scoped kinds are ClusterIssuer and, by the convention external issuers
	// follow (StepClusterIssuer, AWSPCAClusterIssuer), those whose name says Cluster
	// (as the admission policy guesses too: neither can ask discovery).
	if strings.Contains(kind, "Cluster") {
		return fmt.Sprintf("%s.%s/%s", resource, group, ref.Name)
	}
	return fmt.Sprintf("%s.%s/%s.%s", resource, group, namespace, ref.Name)
}

// pluralize is Kubernetes' usual guess of a kind's resource, as the admission policy
// guesses it too: issuer issuers, policy policies, class classes.
func pluralize(kind string) string {
	switch {
	case strings.HasSuffix(kind, "s"):
		return kind + "es"
	case strings.HasSuffix(kind, "y"):
		return kind[:len(kind)-1] + "ies"
	}
	return kind + "s"
}

// signerWildcard is the name that grants approval for every issuer of a signer's
// resource and group ("issuers.example.com/*").
func signerWildcard(signer string) string {
	if i := strings.IndexByte(signer, '/'); i >= 0 {
		return signer[:i] + "/*"
	}
	return signer
}

// mayApprove asks the API server whether certflow's own identity holds the approve verb
// on the signer (as the RBAC of upstream's internal approver decides which signers it
// approves): for issuers of other groups the cluster admin grants it, or someone else
// approves.
func (a *Activities) mayApprove(ctx context.Context, signer string) (bool, error) {
	for _, name := range []string{signerWildcard(signer), signer} {
		review, err := a.Kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: cmapi.SchemeGroupVersion.Group, Resource: "signers", Verb: "approve", Name: name,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return false, fmt.Errorf("ask whether certflow may approve for %s: %w", name, err)
		}
		if review.Status.Allowed {
			return true, nil
		}
	}
	return false, nil
}

// RequestFacts is what a CertificateRequest made by someone else than a Certificate's
// workflow asks for, read from the object itself: the workflow's input names the
// request only, so a forged input cannot make certflow sign anything else.
type RequestFacts struct {
	UID       string
	IssuerRef cmmeta.IssuerReference
	CSRPEM    []byte
	Duration  *metav1.Duration `json:",omitempty"`
	IsCA      bool             `json:",omitempty"`
	Usages    []cmapi.KeyUsage `json:",omitempty"`
	// The identities the CSR asks for (an ACME order names them).
	CommonName  string   `json:",omitempty"`
	DNSNames    []string `json:",omitempty"`
	IPAddresses []string `json:",omitempty"`
	// PublicKeySHA256 identifies the CSR's key.
	PublicKeySHA256 string
	// PrivateKeySecretName is the cert-manager.io/private-key-secret-name annotation,
	// the key a SelfSigned issuer signs with.
	PrivateKeySecretName string            `json:",omitempty"`
	Labels               map[string]string `json:",omitempty"`
	Approval             Approval
	// Finished: the request is Ready, or failed or was denied for good; nothing to do.
	Finished bool `json:",omitempty"`
	// Invalid says why the CSR cannot be signed (InvalidRequest), when it cannot.
	Invalid string `json:",omitempty"`
}

// InspectRequest reads a CertificateRequest (from etcd: its conditions decide what the
// workflow does next) and the CSR it carries.
func (a *Activities) InspectRequest(ctx context.Context, ref RequestRef) (RequestFacts, error) {
	cr, err := a.getRequest(ctx, ref, metav1.GetOptions{})
	if err != nil {
		return RequestFacts{}, err
	}
	f := RequestFacts{
		UID: string(cr.UID), IssuerRef: cr.Spec.IssuerRef, CSRPEM: cr.Spec.Request, Duration: cr.Spec.Duration,
		IsCA: cr.Spec.IsCA, Usages: cr.Spec.Usages, Labels: cr.Labels,
		PrivateKeySecretName: cr.Annotations[cmapi.CertificateRequestPrivateKeyAnnotationKey],
		Approval:             approvalOf(cr), Finished: RequestFinished(cr),
	}
	csr, err := parseRequestCSR(cr.Spec.Request)
	if err != nil {
		f.Invalid = "Failed to decode CSR in spec.request: " + err.Error()
		f.CSRPEM = nil
		return f, nil
	}
	f.CommonName, f.DNSNames = csr.Subject.CommonName, csr.DNSNames
	f.IPAddresses = ipStrings(csr.IPAddresses)
	f.PublicKeySHA256 = keys.PublicKeySHA256(csr.PublicKey)
	return f, nil
}

// RequestFinished reports whether a request needs nothing more from its signer: Ready,
// Ready=False Failed or Denied, or InvalidRequest. A Denied condition alone is not the
// end: the signer still marks the request Ready=False Denied, as upstream's do.
func RequestFinished(cr *cmapi.CertificateRequest) bool {
	for _, c := range cr.Status.Conditions {
		switch {
		case c.Type == cmapi.CertificateRequestConditionReady && c.Status == cmmeta.ConditionTrue:
			return true
		case c.Type == cmapi.CertificateRequestConditionReady && c.Status == cmmeta.ConditionFalse &&
			(c.Reason == cmapi.CertificateRequestReasonFailed || c.Reason == cmapi.CertificateRequestReasonDenied):
			return true
		case c.Type == cmapi.CertificateRequestConditionInvalidRequest && c.Status == cmmeta.ConditionTrue:
			return true
		}
	}
	return false
}

// parseRequestCSR parses a request's CSR within the size limits and checks its
// signature (the requester holds the key).
func parseRequestCSR(csrPEM []byte) (*x509.CertificateRequest, error) {
	if err := pki.CheckSize("certificate request", csrPEM); err != nil {
		return nil, err
	}
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("no CERTIFICATE REQUEST PEM block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	return csr, nil
}

// RequestResult is where the signer of a request stands.
type RequestResult struct {
	// Ready: signed; CertificatePEM and CAPEM hold the result.
	Ready          bool   `json:",omitempty"`
	CertificatePEM []byte `json:",omitempty"`
	CAPEM          []byte `json:",omitempty"`
	// Failed: the signer gave up (Ready=False Failed); Denied: someone denied it.
	Failed, Denied bool `json:",omitempty"`
	// Reason and Message of the request's Ready condition, if any: the signer's words.
	Reason, Message string `json:",omitempty"`
}

// ReadRequestResult reads what the signer of a request wrote (from etcd: the watch
// cache may not have the signer's write yet when its signal arrives).
func (a *Activities) ReadRequestResult(ctx context.Context, ref RequestRef) (RequestResult, error) {
	cr, err := a.getRequest(ctx, ref, metav1.GetOptions{})
	if err != nil {
		return RequestResult{}, err
	}
	var out RequestResult
	out.Denied = approvalOf(cr).Denied
	for _, c := range cr.Status.Conditions {
		if c.Type != cmapi.CertificateRequestConditionReady {
			continue
		}
		out.Reason, out.Message = c.Reason, c.Message
		switch {
		case c.Status == cmmeta.ConditionTrue && len(cr.Status.Certificate) > 0:
			// Another controller wrote these: bounded before they enter history.
			if err := pki.CheckSize("certificate of "+cr.Name, cr.Status.Certificate); err != nil {
				return RequestResult{}, nonRetryable(ErrTypeInvalidCertificate, "%v", err)
			}
			if err := pki.CheckSize("CA of "+cr.Name, cr.Status.CA); err != nil {
				return RequestResult{}, nonRetryable(ErrTypeInvalidCertificate, "%v", err)
			}
			out.Ready, out.CertificatePEM, out.CAPEM = true, cr.Status.Certificate, cr.Status.CA
		case c.Status == cmmeta.ConditionFalse && c.Reason == cmapi.CertificateRequestReasonFailed:
			out.Failed = true
		case c.Status == cmmeta.ConditionFalse && c.Reason == cmapi.CertificateRequestReasonDenied:
			out.Denied = true
		}
	}
	return out, nil
}

// ipStrings are the IPs of a CSR as RequestFacts and Orders spell them.
func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// DeleteOrdersOfRequest deletes the ACME Orders a request owns, once the request's
// workflow is done with them (their Challenges are gone already): certflow does not
// leave its own objects to a garbage collector. What each Order did stays in the
// OrderWorkflow's history.
func (a *Activities) DeleteOrdersOfRequest(ctx context.Context, ref RequestRef) error {
	a.deleteOrdersOf(ctx, ref.Namespace, map[string]bool{ref.UID: true})
	return nil
}
