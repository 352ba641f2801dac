package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Extension OIDs (RFC 5280).
var (
	OIDExtensionSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	OIDExtensionKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	OIDExtensionExtendedKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	OIDExtensionBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	OIDExtensionNameConstraints  = asn1.ObjectIdentifier{2, 5, 29, 30}
)

// GeneralName tags (context-specific, RFC 5280 4.2.1.6).
const (
	tagOtherName = 0
	tagRFC822    = 1
	tagDNS       = 2
	tagURI       = 6
	tagIP        = 7
)

// OtherNameSAN is an otherName subject alternative name with a UTF8String
// value.
type OtherNameSAN struct {
	OID       string `json:"oid"`
	UTF8Value string `json:"utf8Value"`
}

// GeneralNames is the content of a subjectAltName extension.
type GeneralNames struct {
	DNSNames       []string
	EmailAddresses []string
	IPAddresses    []net.IP
	URIs           []string
	OtherNames     []OtherNameSAN
}

// Empty reports whether there is no name at all.
func (g GeneralNames) Empty() bool {
	return len(g.DNSNames) == 0 && len(g.EmailAddresses) == 0 && len(g.IPAddresses) == 0 &&
		len(g.URIs) == 0 && len(g.OtherNames) == 0
}

func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func contextString(tag int, s string) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: []byte(s)}
}

// marshalOtherName encodes otherName [0] { type-id OID, value [0] EXPLICIT UTF8String }.
func marshalOtherName(on OtherNameSAN) (asn1.RawValue, error) {
	oid, err := ParseOID(on.OID)
	if err != nil {
		return asn1.RawValue{}, specErrorf("otherName: invalid OID %q", on.OID)
	}
	if !utf8.ValidString(on.UTF8Value) {
		return asn1.RawValue{}, specErrorf("otherName %s: value is not valid UTF-8", on.OID)
	}
	oidDER, err := asn1.Marshal(oid)
	if err != nil {
		return asn1.RawValue{}, specErrorf("otherName: invalid OID %q", on.OID)
	}
	utf8DER, err := asn1.MarshalWithParams(on.UTF8Value, "utf8")
	if err != nil {
		return asn1.RawValue{}, specErrorf("otherName %s: %v", on.OID, err)
	}
	valueDER, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8DER})
	if err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{
		Class:      asn1.ClassContextSpecific,
		Tag:        tagOtherName,
		IsCompound: true,
		Bytes:      append(oidDER, valueDER...),
	}, nil
}

// MarshalSANs encodes names as a subjectAltName extension. As RFC 5280
// requires, the extension is critical when the subject is empty.
func MarshalSANs(names GeneralNames, subjectEmpty bool) (pkix.Extension, error) {
	var raw []asn1.RawValue
	for _, on := range names.OtherNames {
		rv, err := marshalOtherName(on)
		if err != nil {
			return pkix.Extension{}, err
		}
		raw = append(raw, rv)
	}
	for _, e := range names.EmailAddresses {
		if e == "" || !isIA5(e) {
			return pkix.Extension{}, specErrorf("invalid email address %q: must be non-empty ASCII", e)
		}
		raw = append(raw, contextString(tagRFC822, e))
	}
	for _, d := range names.DNSNames {
		if d == "" || !isIA5(d) {
			return pkix.Extension{}, specErrorf("invalid DNS name %q: must be non-empty ASCII (use punycode)", d)
		}
		raw = append(raw, contextString(tagDNS, d))
	}
	for _, u := range names.URIs {
		if u == "" || !isIA5(u) {
			return pkix.Extension{}, specErrorf("invalid URI %q: must be non-empty ASCII", u)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			return pkix.Extension{}, specErrorf("invalid URI %q: %v", u, err)
		}
		// Certificates carry a URI as crypto/x509 writes it back (a CA that parses the
		// CSR re-encodes it): one in another form would never match the spec, and the
		// Certificate would be re-issued at every check.
		if c := parsed.String(); c != u {
			return pkix.Extension{}, specErrorf("invalid URI %q: not in canonical form, write it as %q", u, c)
		}
		if parsed.Host != "" && !uriHostParses(parsed.Host) {
			return pkix.Extension{}, specErrorf("invalid URI %q: its host %q must be dot-separated non-empty labels of printable ASCII without a trailing dot", u, parsed.Host)
		}
		raw = append(raw, contextString(tagURI, u))
	}
	for _, ip := range names.IPAddresses {
		b := ip.To4()
		if b == nil {
			b = ip.To16()
		}
		if b == nil {
			return pkix.Extension{}, specErrorf("invalid IP address %v", ip)
		}
		raw = append(raw, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagIP, Bytes: b})
	}
	value, err := asn1.Marshal(raw)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encoding subjectAltName: %w", err)
	}
	return pkix.Extension{Id: OIDExtensionSubjectAltName, Critical: subjectEmpty, Value: value}, nil
}

// UnmarshalSANs decodes a subjectAltName extension value, including
// otherNames with UTF8String values (other otherName values are skipped).
func UnmarshalSANs(value []byte) (GeneralNames, error) {
	var names GeneralNames
	err := forEachGeneralName(value, func(rv asn1.RawValue) error {
		switch rv.Tag {
		case tagOtherName:
			on, ok, err := unmarshalOtherName(rv.Bytes)
			if err != nil {
				return err
			}
			if ok {
				names.OtherNames = append(names.OtherNames, on)
			}
		case tagRFC822:
			names.EmailAddresses = append(names.EmailAddresses, string(rv.Bytes))
		case tagDNS:
			names.DNSNames = append(names.DNSNames, string(rv.Bytes))
		case tagURI:
			names.URIs = append(names.URIs, string(rv.Bytes))
		case tagIP:
			if len(rv.Bytes) != net.IPv4len && len(rv.Bytes) != net.IPv6len {
				return fmt.Errorf("bad IP address length %d", len(rv.Bytes))
			}
			names.IPAddresses = append(names.IPAddresses, net.IP(slices.Clone(rv.Bytes)))
		}
		return nil
	})
	return names, err
}

// forEachGeneralName walks a DER SEQUENCE OF GeneralName.
func forEachGeneralName(der []byte, fn func(asn1.RawValue) error) error {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return fmt.Errorf("decoding GeneralNames: %w", err)
	}
	if len(rest) != 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return errors.New("decoding GeneralNames: not a single SEQUENCE")
	}
	inner := seq.Bytes
	for len(inner) > 0 {
		var rv asn1.RawValue
		inner, err = asn1.Unmarshal(inner, &rv)
		if err != nil {
			return fmt.Errorf("decoding GeneralName: %w", err)
		}
		if rv.Class != asn1.ClassContextSpecific {
			return errors.New("decoding GeneralName: not context-specific")
		}
		if err := fn(rv); err != nil {
			return err
		}
	}
	return nil
}

func unmarshalOtherName(b []byte) (OtherNameSAN, bool, error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(b, &oid)
	if err != nil {
		return OtherNameSAN{}, false, fmt.Errorf("decoding otherName type-id: %w", err)
	}
	var explicit asn1.RawValue
	if rest, err = asn1.Unmarshal(rest, &explicit); err != nil || len(rest) != 0 {
		return OtherNameSAN{}, false, errors.New("decoding otherName value")
	}
	if explicit.Class != asn1.ClassContextSpecific || explicit.Tag != 0 || !explicit.IsCompound {
		return OtherNameSAN{}, false, errors.New("decoding otherName value: want [0] EXPLICIT")
	}
	var inner asn1.RawValue
	if rest, err = asn1.Unmarshal(explicit.Bytes, &inner); err != nil || len(rest) != 0 {
		return OtherNameSAN{}, false, errors.New("decoding otherName inner value")
	}
	if inner.Class != asn1.ClassUniversal || inner.Tag != asn1.TagUTF8String {
		return OtherNameSAN{}, false, nil // not a UTF8String: not representable here
	}
	return OtherNameSAN{OID: oid.String(), UTF8Value: string(inner.Bytes)}, true, nil
}

// MarshalKeyUsage encodes the keyUsage extension (critical, as is usual).
func MarshalKeyUsage(ku x509.KeyUsage) (pkix.Extension, error) {
	var b [2]byte
	bitLen := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<uint(i)) != 0 {
			b[i/8] |= 0x80 >> uint(i%8)
			bitLen = i + 1
		}
	}
	bs := asn1.BitString{Bytes: b[:(bitLen+7)/8], BitLength: bitLen}
	value, err := asn1.Marshal(bs)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDExtensionKeyUsage, Critical: true, Value: value}, nil
}

// UnmarshalKeyUsage decodes a keyUsage extension value.
func UnmarshalKeyUsage(value []byte) (x509.KeyUsage, error) {
	var bs asn1.BitString
	rest, err := asn1.Unmarshal(value, &bs)
	if err != nil || len(rest) != 0 {
		return 0, errors.New("decoding keyUsage")
	}
	var ku x509.KeyUsage
	for i := 0; i < 9; i++ {
		if bs.At(i) != 0 {
			ku |= 1 << uint(i)
		}
	}
	return ku, nil
}

var extKeyUsageOIDs = []struct {
	eku x509.ExtKeyUsage
	oid asn1.ObjectIdentifier
}{
	{x509.ExtKeyUsageAny, asn1.ObjectIdentifier{2, 5, 29, 37, 0}},
	{x509.ExtKeyUsageServerAuth, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}},
	{x509.ExtKeyUsageClientAuth, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}},
	{x509.ExtKeyUsageCodeSigning, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}},
	{x509.ExtKeyUsageEmailProtection, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}},
	{x509.ExtKeyUsageIPSECEndSystem, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 5}},
	{x509.ExtKeyUsageIPSECTunnel, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 6}},
	{x509.ExtKeyUsageIPSECUser, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 7}},
	{x509.ExtKeyUsageTimeStamping, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}},
	{x509.ExtKeyUsageOCSPSigning, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 9}},
	{x509.ExtKeyUsageMicrosoftServerGatedCrypto, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 10, 3, 3}},
	{x509.ExtKeyUsageNetscapeServerGatedCrypto, asn1.ObjectIdentifier{2, 16, 840, 1, 113730, 4, 1}},
	{x509.ExtKeyUsageMicrosoftCommercialCodeSigning, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 22}},
	{x509.ExtKeyUsageMicrosoftKernelCodeSigning, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 61, 1, 1}},
}

func oidForExtKeyUsage(eku x509.ExtKeyUsage) (asn1.ObjectIdentifier, bool) {
	for _, p := range extKeyUsageOIDs {
		if p.eku == eku {
			return p.oid, true
		}
	}
	return nil, false
}

func extKeyUsageForOID(oid asn1.ObjectIdentifier) (x509.ExtKeyUsage, bool) {
	for _, p := range extKeyUsageOIDs {
		if p.oid.Equal(oid) {
			return p.eku, true
		}
	}
	return 0, false
}

// MarshalExtKeyUsage encodes the extKeyUsage extension (not critical).
func MarshalExtKeyUsage(ekus []x509.ExtKeyUsage) (pkix.Extension, error) {
	oids := make([]asn1.ObjectIdentifier, 0, len(ekus))
	for _, eku := range ekus {
		oid, ok := oidForExtKeyUsage(eku)
		if !ok {
			return pkix.Extension{}, fmt.Errorf("unknown extended key usage %d", eku)
		}
		oids = append(oids, oid)
	}
	value, err := asn1.Marshal(oids)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDExtensionExtendedKeyUsage, Value: value}, nil
}

// UnmarshalExtKeyUsage decodes an extKeyUsage extension value into known
// usages and unknown OIDs.
func UnmarshalExtKeyUsage(value []byte) ([]x509.ExtKeyUsage, []asn1.ObjectIdentifier, error) {
	var oids []asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(value, &oids)
	if err != nil || len(rest) != 0 {
		return nil, nil, errors.New("decoding extKeyUsage")
	}
	var ekus []x509.ExtKeyUsage
	var unknown []asn1.ObjectIdentifier
	for _, oid := range oids {
		if eku, ok := extKeyUsageForOID(oid); ok {
			ekus = append(ekus, eku)
		} else {
			unknown = append(unknown, oid)
		}
	}
	return ekus, unknown, nil
}

type basicConstraints struct {
	IsCA       bool `asn1:"optional"`
	MaxPathLen int  `asn1:"optional,default:-1"`
}

// MarshalBasicConstraints encodes a critical basicConstraints extension
// without a path length constraint.
func MarshalBasicConstraints(isCA bool) (pkix.Extension, error) {
	value, err := asn1.Marshal(basicConstraints{IsCA: isCA, MaxPathLen: -1})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDExtensionBasicConstraints, Critical: true, Value: value}, nil
}

// UnmarshalBasicConstraints decodes a basicConstraints extension value;
// maxPathLen is -1 when absent.
func UnmarshalBasicConstraints(value []byte) (isCA bool, maxPathLen int, err error) {
	bc := basicConstraints{MaxPathLen: -1}
	rest, err := asn1.Unmarshal(value, &bc)
	if err != nil || len(rest) != 0 {
		return false, 0, errors.New("decoding basicConstraints")
	}
	return bc.IsCA, bc.MaxPathLen, nil
}

// NameConstraintSet is one side (permitted or excluded) of name
// constraints.
type NameConstraintSet struct {
	DNSDomains     []string
	IPRanges       []*net.IPNet
	EmailAddresses []string
	URIDomains     []string
}

func (s NameConstraintSet) empty() bool {
	return len(s.DNSDomains) == 0 && len(s.IPRanges) == 0 && len(s.EmailAddresses) == 0 && len(s.URIDomains) == 0
}

// ParseCIDRs parses IP ranges in CIDR notation.
func ParseCIDRs(cidrs []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, c := range cidrs {
		prefix, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, specErrorf("invalid IP range %q: %v", c, err)
		}
		prefix = prefix.Masked()
		addr := prefix.Addr()
		bits := addr.BitLen()
		out = append(out, &net.IPNet{IP: net.IP(addr.AsSlice()), Mask: net.CIDRMask(prefix.Bits(), bits)})
	}
	return out, nil
}

func marshalSubtrees(tag int, s NameConstraintSet) (asn1.RawValue, error) {
	var subtrees []byte
	add := func(gn asn1.RawValue) error {
		gnDER, err := asn1.Marshal(gn)
		if err != nil {
			return err
		}
		st, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: gnDER})
		if err != nil {
			return err
		}
		subtrees = append(subtrees, st...)
		return nil
	}
	addStrings := func(tag int, what string, values []string) error {
		for _, v := range values {
			if !isIA5(v) {
				return specErrorf("invalid name constraint %s %q", what, v)
			}
			if err := add(contextString(tag, v)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := addStrings(tagDNS, "DNS domain", s.DNSDomains); err != nil {
		return asn1.RawValue{}, err
	}
	for _, n := range s.IPRanges {
		ip := n.IP
		if len(n.Mask) == net.IPv4len {
			ip = ip.To4()
		} else {
			ip = ip.To16()
		}
		if ip == nil || len(ip) != len(n.Mask) {
			return asn1.RawValue{}, specErrorf("invalid name constraint IP range %v", n)
		}
		if err := add(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagIP, Bytes: append(slices.Clone([]byte(ip)), n.Mask...)}); err != nil {
			return asn1.RawValue{}, err
		}
	}
	if err := addStrings(tagRFC822, "email", s.EmailAddresses); err != nil {
		return asn1.RawValue{}, err
	}
	if err := addStrings(tagURI, "URI domain", s.URIDomains); err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: subtrees}, nil
}

// MarshalNameConstraints encodes a nameConstraints extension. It returns
// ok=false when both sets are empty.
func MarshalNameConstraints(permitted, excluded NameConstraintSet, critical bool) (ext pkix.Extension, ok bool, err error) {
	var parts []asn1.RawValue
	if !permitted.empty() {
		rv, err := marshalSubtrees(0, permitted)
		if err != nil {
			return pkix.Extension{}, false, err
		}
		parts = append(parts, rv)
	}
	if !excluded.empty() {
		rv, err := marshalSubtrees(1, excluded)
		if err != nil {
			return pkix.Extension{}, false, err
		}
		parts = append(parts, rv)
	}
	if len(parts) == 0 {
		return pkix.Extension{}, false, nil
	}
	value, err := asn1.Marshal(parts)
	if err != nil {
		return pkix.Extension{}, false, err
	}
	return pkix.Extension{Id: OIDExtensionNameConstraints, Critical: critical, Value: value}, true, nil
}

// UnmarshalNameConstraints decodes a nameConstraints extension value.
func UnmarshalNameConstraints(value []byte) (permitted, excluded NameConstraintSet, err error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(value, &seq)
	if err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
		return permitted, excluded, errors.New("decoding nameConstraints")
	}
	inner := seq.Bytes
	for len(inner) > 0 {
		var part asn1.RawValue
		if inner, err = asn1.Unmarshal(inner, &part); err != nil {
			return permitted, excluded, errors.New("decoding nameConstraints subtrees")
		}
		var set *NameConstraintSet
		switch {
		case part.Class == asn1.ClassContextSpecific && part.Tag == 0:
			set = &permitted
		case part.Class == asn1.ClassContextSpecific && part.Tag == 1:
			set = &excluded
		default:
			return permitted, excluded, errors.New("decoding nameConstraints: unexpected element")
		}
		subtrees := part.Bytes
		for len(subtrees) > 0 {
			var st asn1.RawValue
			if subtrees, err = asn1.Unmarshal(subtrees, &st); err != nil || st.Tag != asn1.TagSequence {
				return permitted, excluded, errors.New("decoding GeneralSubtree")
			}
			var gn asn1.RawValue
			if _, err = asn1.Unmarshal(st.Bytes, &gn); err != nil || gn.Class != asn1.ClassContextSpecific {
				return permitted, excluded, errors.New("decoding GeneralSubtree base")
			}
			switch gn.Tag {
			case tagDNS:
				set.DNSDomains = append(set.DNSDomains, string(gn.Bytes))
			case tagRFC822:
				set.EmailAddresses = append(set.EmailAddresses, string(gn.Bytes))
			case tagURI:
				set.URIDomains = append(set.URIDomains, string(gn.Bytes))
			case tagIP:
				n := len(gn.Bytes) / 2
				if (n != net.IPv4len && n != net.IPv6len) || len(gn.Bytes) != 2*n {
					return permitted, excluded, errors.New("decoding name constraint IP range")
				}
				set.IPRanges = append(set.IPRanges, &net.IPNet{IP: net.IP(slices.Clone(gn.Bytes[:n])), Mask: net.IPMask(slices.Clone(gn.Bytes[n:]))})
			default:
				return permitted, excluded, fmt.Errorf("unsupported name constraint type %d", gn.Tag)
			}
		}
	}
	return permitted, excluded, nil
}

// isSubjectEmpty reports whether a DER Name is the empty SEQUENCE.
func isSubjectEmpty(der []byte) bool {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(der, &seq)
	return err == nil && len(rest) == 0 && len(seq) == 0
}

// uriHostParses reports whether crypto/x509, and so a Go CA that parses the CSR,
// accepts host as a URI SAN's host: non-empty labels (no trailing dot) of printable
// ASCII. A CSR with another host would be refused by the signer for good.
func uriHostParses(host string) bool {
	for label := range strings.SplitSeq(host, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			if label[i] < 33 || label[i] > 126 {
				return false
			}
		}
	}
	return true
}
