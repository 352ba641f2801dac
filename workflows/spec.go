package workflows

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/certflow/certflow/activities/kube"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/policy"
)

// Pure helpers that turn a Certificate spec into the inputs of policies and activities.

// defaultDuration is upstream's certificate lifetime when spec.duration is unset (90d).
const defaultDuration = 2160 * time.Hour

func certDuration(spec cmapi.CertificateSpec) time.Duration {
	if spec.Duration != nil && spec.Duration.Duration > 0 {
		return spec.Duration.Duration
	}
	return defaultDuration
}

func durationPtr(d *metav1.Duration) *time.Duration {
	if d == nil {
		return nil
	}
	v := d.Duration
	return &v
}

func defaulted(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// privateKeySpec applies upstream's defaults: RSA 2048 PKCS1, ECDSA P-256.
func privateKeySpec(spec cmapi.CertificateSpec) (cmapi.PrivateKeyAlgorithm, int, cmapi.PrivateKeyEncoding) {
	alg, size, enc := cmapi.RSAKeyAlgorithm, 0, cmapi.PKCS1
	if pk := spec.PrivateKey; pk != nil {
		if pk.Algorithm != "" {
			alg = pk.Algorithm
		}
		size = pk.Size
		if pk.Encoding != "" {
			enc = pk.Encoding
		}
	}
	if size == 0 {
		switch alg {
		case cmapi.RSAKeyAlgorithm:
			size = 2048
		case cmapi.ECDSAKeyAlgorithm:
			size = 256
		}
	}
	if alg == cmapi.Ed25519KeyAlgorithm {
		size = 0
	}
	return alg, size, enc
}

// desiredOf is the part of the spec an issued certificate must match, and the request
// it is issued with. issued is the request of the current certificate (nil: unknown).
func desiredOf(spec cmapi.CertificateSpec, renewal time.Time, issued *policy.RequestSpec) policy.Desired {
	alg, size, _ := privateKeySpec(spec)
	cn, anyCN := wantCommonName(spec)
	return policy.Desired{
		CommonName: cn, AnyCommonName: anyCN, DNSNames: spec.DNSNames, IPAddresses: spec.IPAddresses,
		URIs: spec.URIs, EmailAddresses: spec.EmailAddresses, IsCA: spec.IsCA,
		KeyAlgorithm: string(alg), KeySize: size,
		IssuerName: spec.IssuerRef.Name, IssuerKind: spec.IssuerRef.Kind, IssuerGroup: spec.IssuerRef.Group,
		RenewalTime:   renewal,
		Request:       requestSpecOf(spec),
		IssuedRequest: issued,
	}
}

// desiredBefore is desiredOf as it was before changeRequestTrigger: spec.commonName as
// the common name, no request comparison.
func desiredBefore(spec cmapi.CertificateSpec, renewal time.Time) policy.Desired {
	d := desiredOf(spec, renewal, nil)
	d.CommonName, d.AnyCommonName = spec.CommonName, false
	return d
}

// wantCommonName is the common name the certificate must carry: spec.commonName, or
// the CN of spec.literalSubject, which replaces the whole subject. A literalSubject
// that does not parse, or whose CN cannot be read as text, is left to the request
// comparison (any=true): the issuance reports a bad literalSubject itself.
//
// Parsing is pure; workflowcheck flags encoding/asn1 only for its use of reflection.
//
//workflowcheck:ignore
func wantCommonName(spec cmapi.CertificateSpec) (cn string, any bool) {
	if spec.LiteralSubject == "" {
		return spec.CommonName, false
	}
	cn, ok := pki.LiteralSubjectCommonName(spec.LiteralSubject)
	return cn, !ok
}

// requestSpecOf is what the spec puts into a CertificateRequest, defaults applied.
func requestSpecOf(spec cmapi.CertificateSpec) policy.RequestSpec {
	alg, size, enc := privateKeySpec(spec)
	return policy.RequestSpec{
		IssuerRef: spec.IssuerRef, CommonName: spec.CommonName, LiteralSubject: spec.LiteralSubject, Subject: spec.Subject,
		DNSNames: spec.DNSNames, IPAddresses: spec.IPAddresses, URIs: spec.URIs, EmailAddresses: spec.EmailAddresses, OtherNames: spec.OtherNames,
		Duration: certDuration(spec), IsCA: spec.IsCA, Usages: requestUsages(spec),
		EncodeUsagesInRequest: spec.EncodeUsagesInRequest == nil || *spec.EncodeUsagesInRequest,
		SignatureAlgorithm:    spec.SignatureAlgorithm, NameConstraints: spec.NameConstraints,
		KeyAlgorithm: string(alg), KeySize: size, KeyEncoding: string(enc),
	}
}

// requestUsages applies upstream's default usages (digital signature, key
// encipherment) to an empty list.
func requestUsages(spec cmapi.CertificateSpec) []cmapi.KeyUsage {
	if len(spec.Usages) == 0 {
		return []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment}
	}
	return spec.Usages
}

// upToDate is upstream's Ready condition for a certificate that needs nothing.
var upToDate = kube.Condition{Status: cmmeta.ConditionTrue, Reason: cmapi.ReasonReady, Message: "Certificate is up to date and has not expired"}

// readyCondition is the Ready condition the trigger result implies: a certificate that
// is only due for renewal (or manually renewed) is still Ready.
func readyCondition(trig policy.Trigger) kube.Condition {
	if !trig.Issue || trig.Reason == policy.ReasonRenewing || trig.Reason == policy.ReasonManuallyTriggered {
		return upToDate
	}
	return kube.Condition{Status: cmmeta.ConditionFalse, Reason: trig.Reason, Message: trig.Message}
}

// certificateOwner makes the next-key Secret go away with its Certificate.
func certificateOwner(name, uid string) *metav1.OwnerReference {
	if uid == "" {
		return nil
	}
	t := true
	return &metav1.OwnerReference{
		APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateKind,
		Name: name, UID: types.UID(uid), BlockOwnerDeletion: &t, Controller: &t,
	}
}

// revisionHistoryLimit is how many CertificateRequests to keep (upstream default 1).
func revisionHistoryLimit(spec cmapi.CertificateSpec) int {
	if spec.RevisionHistoryLimit != nil && *spec.RevisionHistoryLimit > 0 {
		return int(*spec.RevisionHistoryLimit)
	}
	return 1
}

// requestsToDelete is the range of revisions whose CertificateRequests fall out of the
// history once revision is issued: just revision-keep, or more when the limit shrank
// since the last issuance (prevKeep). An empty range has to < from.
func requestsToDelete(revision, keep, prevKeep int) (from, to int) {
	to = revision - keep
	from = to
	if prevKeep > keep {
		from = revision - prevKeep
	}
	return max(from, 1), to
}

func rotationNever(spec cmapi.CertificateSpec) bool {
	return spec.PrivateKey != nil && spec.PrivateKey.RotationPolicy == cmapi.RotationPolicyNever
}
