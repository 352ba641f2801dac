package policy

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// RequestSpec is what a Certificate's spec puts into the CertificateRequest it issues
// with, defaults applied. Upstream re-issues when the spec no longer matches the
// current CertificateRequest, which catches what the certificate in the Secret cannot
// show reliably (subject, duration, usages, signature algorithm, name constraints, key
// encoding); the workflow keeps the RequestSpec of its last issuance to compare.
type RequestSpec struct {
	IssuerRef             cmmeta.IssuerReference
	CommonName            string                   `json:",omitempty"`
	LiteralSubject        string                   `json:",omitempty"`
	Subject               *cmapi.X509Subject       `json:",omitempty"`
	DNSNames              []string                 `json:",omitempty"`
	IPAddresses           []string                 `json:",omitempty"`
	URIs                  []string                 `json:",omitempty"`
	EmailAddresses        []string                 `json:",omitempty"`
	OtherNames            []cmapi.OtherName        `json:",omitempty"`
	Duration              time.Duration            `json:",omitempty"`
	IsCA                  bool                     `json:",omitempty"`
	Usages                []cmapi.KeyUsage         `json:",omitempty"`
	EncodeUsagesInRequest bool                     `json:",omitempty"`
	SignatureAlgorithm    cmapi.SignatureAlgorithm `json:",omitempty"`
	NameConstraints       *cmapi.NameConstraints   `json:",omitempty"`
	KeyAlgorithm          string                   `json:",omitempty"`
	KeySize               int                      `json:",omitempty"`
	KeyEncoding           string                   `json:",omitempty"`
}

// ChangedFields names the fields of the spec (as upstream does: "spec.duration") in
// which want differs from r. Lists of names and usages compare as sets; an empty list
// equals a missing one, and an empty subject no subject.
//
// equality.Semantic is pure; workflowcheck flags it only for the map iteration of its
// reflection, which cannot change the answer.
//
//workflowcheck:ignore
func (r RequestSpec) ChangedFields(want RequestSpec) []string {
	var changed []string
	add := func(differ bool, field string) {
		if differ {
			changed = append(changed, field)
		}
	}
	add(issuerString(r.IssuerRef.Kind, r.IssuerRef.Group, r.IssuerRef.Name) != issuerString(want.IssuerRef.Kind, want.IssuerRef.Group, want.IssuerRef.Name), "spec.issuerRef")
	add(r.CommonName != want.CommonName, "spec.commonName")
	add(r.LiteralSubject != want.LiteralSubject, "spec.literalSubject")
	add(!equality.Semantic.DeepEqual(subjectOrNil(r.Subject), subjectOrNil(want.Subject)), "spec.subject")
	add(!sameSet(r.DNSNames, want.DNSNames), "spec.dnsNames")
	add(!sameSet(canonicalIPs(r.IPAddresses), canonicalIPs(want.IPAddresses)), "spec.ipAddresses")
	add(!sameSet(r.URIs, want.URIs), "spec.uris")
	add(!sameSet(r.EmailAddresses, want.EmailAddresses), "spec.emailAddresses")
	add(!sameOtherNames(r.OtherNames, want.OtherNames), "spec.otherNames")
	add(r.Duration != want.Duration, "spec.duration")
	add(r.IsCA != want.IsCA, "spec.isCA")
	add(!sameSet(usageStrings(r.Usages), usageStrings(want.Usages)), "spec.usages")
	add(r.EncodeUsagesInRequest != want.EncodeUsagesInRequest, "spec.encodeUsagesInRequest")
	add(r.SignatureAlgorithm != want.SignatureAlgorithm, "spec.signatureAlgorithm")
	add(!equality.Semantic.DeepEqual(r.NameConstraints, want.NameConstraints), "spec.nameConstraints")
	add(r.KeyAlgorithm != want.KeyAlgorithm || r.KeySize != want.KeySize || r.KeyEncoding != want.KeyEncoding, "spec.privateKey")
	return changed
}

func subjectOrNil(s *cmapi.X509Subject) *cmapi.X509Subject {
	if s == nil || equality.Semantic.DeepEqual(*s, cmapi.X509Subject{}) {
		return nil
	}
	return s
}

func usageStrings(u []cmapi.KeyUsage) []string {
	out := make([]string, len(u))
	for i, v := range u {
		out[i] = string(v)
	}
	return out
}

func sameOtherNames(a, b []cmapi.OtherName) bool {
	key := func(o cmapi.OtherName) string { return o.OID + "\x00" + o.UTF8Value }
	x, y := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		x[i] = key(a[i])
	}
	for i := range b {
		y[i] = key(b[i])
	}
	return sameSet(x, y)
}

// RequestChangedMessage is upstream's message for a spec that no longer matches the
// request the current certificate was issued with.
func RequestChangedMessage(fields []string) string {
	return "Fields on existing CertificateRequest resource not up to date: [" + strings.Join(fields, " ") + "]"
}
