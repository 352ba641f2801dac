package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/certflow/certflow/internal/bounded"
)

// Bounds of a literalSubject: real subjects are a few attributes and well under a
// kilobyte; the spec is the tenant's, and the parsed subject goes into every CSR and
// certificate.
const (
	// MaxLiteralSubjectLen is the longest literalSubject accepted, in bytes; the CRD
	// refuses longer ones at apply time (maxLength on spec.literalSubject).
	MaxLiteralSubjectLen = 8 << 10
	// MaxLiteralSubjectAttributes is the most attributes (over all RDNs) accepted.
	MaxLiteralSubjectAttributes = 128
)

// attributeTypes maps RFC 4514 / common attribute type names (upper case) to
// their OIDs.
var attributeTypes = map[string]asn1.ObjectIdentifier{
	"CN":                  {2, 5, 4, 3},
	"COMMONNAME":          {2, 5, 4, 3},
	"SURNAME":             {2, 5, 4, 4},
	"SERIALNUMBER":        {2, 5, 4, 5},
	"C":                   {2, 5, 4, 6},
	"L":                   {2, 5, 4, 7},
	"ST":                  {2, 5, 4, 8},
	"STREET":              {2, 5, 4, 9},
	"O":                   {2, 5, 4, 10},
	"OU":                  {2, 5, 4, 11},
	"TITLE":               {2, 5, 4, 12},
	"POSTALCODE":          {2, 5, 4, 17},
	"GIVENNAME":           {2, 5, 4, 42},
	"GN":                  {2, 5, 4, 42},
	"INITIALS":            {2, 5, 4, 43},
	"GENERATIONQUALIFIER": {2, 5, 4, 44},
	"DNQUALIFIER":         {2, 5, 4, 46},
	"PSEUDONYM":           {2, 5, 4, 65},
	"UID":                 {0, 9, 2342, 19200300, 100, 1, 1},
	"DC":                  {0, 9, 2342, 19200300, 100, 1, 25},
	"EMAILADDRESS":        {1, 2, 840, 113549, 1, 9, 1},
	"E":                   {1, 2, 840, 113549, 1, 9, 1},
}

var (
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidCountry      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidDC           = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// ParseLiteralSubject parses an RFC 4514 distinguished name string into the
// RDN sequence it denotes. RFC 4514 strings list the most specific RDN
// first, the reverse of the DER order, so "CN=foo,O=bar" gives the sequence
// [O=bar][CN=foo]. Multi-valued RDNs ("+"), escapes ("\,", "\2C"), hex
// values ("#0403..." holding BER, kept verbatim), well-known attribute names
// (case-insensitive) and dotted OIDs are supported; ";" is accepted as an
// RDN separator as in RFC 2253. Values of C and SERIALNUMBER are encoded as
// PrintableString, DC and emailAddress as IA5String, others as
// PrintableString when possible and UTF8String otherwise. A string longer than
// MaxLiteralSubjectLen or with more than MaxLiteralSubjectAttributes attributes is an
// error.
func ParseLiteralSubject(s string) (pkix.RDNSequence, error) {
	if len(s) > MaxLiteralSubjectLen {
		return nil, specErrorf("invalid literalSubject %s: %d bytes, at most %d accepted", quoteExcerpt(s), len(s), MaxLiteralSubjectLen)
	}
	return parseLiteralSubject(s, MaxLiteralSubjectAttributes)
}

// parseLiteralSubject parses s with at most maxATVs attributes (0: no bound).
func parseLiteralSubject(s string, maxATVs int) (pkix.RDNSequence, error) {
	p := &dnParser{s: s, maxATVs: maxATVs}
	rdns, err := p.parse()
	if err != nil {
		return nil, err
	}
	seq := make(pkix.RDNSequence, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		seq = append(seq, rdns[i])
	}
	return seq, nil
}

// MarshalLiteralSubject parses an RFC 4514 string (see ParseLiteralSubject)
// and returns the DER Name, suitable for RawSubject.
func MarshalLiteralSubject(s string) ([]byte, error) {
	seq, err := ParseLiteralSubject(s)
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, specErrorf("literalSubject %s cannot be encoded: %v", quoteExcerpt(s), err)
	}
	return der, nil
}

// CommonNameFromRDNSequence returns the first common name in seq, or "".
func CommonNameFromRDNSequence(seq pkix.RDNSequence) string {
	for _, rdn := range seq {
		for _, atv := range rdn {
			if atv.Type.Equal(oidCommonName) {
				if v, ok := attributeText(atv.Value); ok {
					return v
				}
			}
		}
	}
	return ""
}

// LiteralSubjectCommonName is the common name a certificate with literalSubject s
// carries: its last CN, as crypto/x509 reads a subject ("" when there is none). ok is
// false when s does not parse or a CN is not text.
//
// Workflows decide with it, so its answer for a given s never changes: it applies no
// bound of ParseLiteralSubject (the parse is linear in s, which the API server bounds),
// and a subject past them fails when its CSR is built.
func LiteralSubjectCommonName(s string) (cn string, ok bool) {
	seq, err := parseLiteralSubject(s, 0)
	if err != nil {
		return "", false
	}
	for _, rdn := range seq {
		for _, atv := range rdn {
			if !atv.Type.Equal(oidCommonName) {
				continue
			}
			if cn, ok = attributeText(atv.Value); !ok {
				return "", false
			}
		}
	}
	return cn, true
}

// attributeText is an attribute value as text: a string, or hex-encoded BER of a
// string type.
func attributeText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case asn1.RawValue:
		var str string
		if _, err := asn1.Unmarshal(v.FullBytes, &str); err == nil {
			return str, true
		}
	}
	return "", false
}

type dnParser struct {
	s       string
	pos     int
	atvs    int
	maxATVs int // 0: no bound
}

// quoteExcerpt quotes s, or its start when it is long: an error message goes into the
// Certificate's status.
func quoteExcerpt(s string) string {
	if len(s) <= bounded.ExcerptLen {
		return strconv.Quote(s)
	}
	return strconv.Quote(bounded.Excerpt(s, bounded.ExcerptLen))
}

func (p *dnParser) errorf(format string, args ...any) error {
	args = append([]any{quoteExcerpt(p.s)}, args...)
	return specErrorf("invalid literalSubject %s: "+format, args...)
}

func (p *dnParser) skipSpaces() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *dnParser) parse() ([]pkix.RelativeDistinguishedNameSET, error) {
	if strings.TrimSpace(p.s) == "" {
		return nil, p.errorf("empty")
	}
	if !utf8.ValidString(p.s) {
		return nil, specErrorf("invalid literalSubject: not valid UTF-8")
	}
	var rdns []pkix.RelativeDistinguishedNameSET
	var rdn pkix.RelativeDistinguishedNameSET
	for {
		if p.atvs++; p.maxATVs > 0 && p.atvs > p.maxATVs {
			return nil, p.errorf("more than %d attributes", p.maxATVs)
		}
		atv, err := p.parseATV()
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, atv)
		if p.pos >= len(p.s) {
			rdns = append(rdns, rdn)
			return rdns, nil
		}
		switch p.s[p.pos] {
		case '+':
			p.pos++
		case ',', ';':
			p.pos++
			rdns = append(rdns, rdn)
			rdn = nil
		default:
			return nil, p.errorf("unexpected %q at offset %d", p.s[p.pos], p.pos)
		}
	}
}

func (p *dnParser) parseATV() (pkix.AttributeTypeAndValue, error) {
	p.skipSpaces()
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != '=' && p.s[p.pos] != ',' && p.s[p.pos] != '+' && p.s[p.pos] != ';' {
		p.pos++
	}
	if p.pos >= len(p.s) || p.s[p.pos] != '=' {
		return pkix.AttributeTypeAndValue{}, p.errorf("attribute at offset %d has no '='", start)
	}
	typeName := strings.TrimSpace(p.s[start:p.pos])
	p.pos++ // '='
	oid, err := p.attributeType(typeName)
	if err != nil {
		return pkix.AttributeTypeAndValue{}, err
	}
	p.skipSpaces()
	if p.pos < len(p.s) && p.s[p.pos] == '#' {
		raw, err := p.parseHexValue()
		if err != nil {
			return pkix.AttributeTypeAndValue{}, err
		}
		return pkix.AttributeTypeAndValue{Type: oid, Value: asn1.RawValue{FullBytes: raw}}, nil
	}
	value, err := p.parseStringValue()
	if err != nil {
		return pkix.AttributeTypeAndValue{}, err
	}
	encoded, err := encodeAttributeValue(oid, value)
	if err != nil {
		return pkix.AttributeTypeAndValue{}, p.errorf("value %s of %s: %v", quoteExcerpt(value), bounded.Excerpt(typeName, bounded.ExcerptLen), err)
	}
	return pkix.AttributeTypeAndValue{Type: oid, Value: encoded}, nil
}

func (p *dnParser) attributeType(name string) (asn1.ObjectIdentifier, error) {
	if name == "" {
		return nil, p.errorf("empty attribute type")
	}
	if oid, ok := attributeTypes[strings.ToUpper(name)]; ok {
		return oid, nil
	}
	numeric := name
	if len(numeric) > 4 && strings.EqualFold(numeric[:4], "OID.") {
		numeric = numeric[4:]
	}
	oid, err := ParseOID(numeric)
	if err != nil {
		return nil, p.errorf("unknown attribute type %s", quoteExcerpt(name))
	}
	return oid, nil
}

func (p *dnParser) parseHexValue() ([]byte, error) {
	p.pos++ // '#'
	start := p.pos
	for p.pos < len(p.s) && isHexDigit(p.s[p.pos]) {
		p.pos++
	}
	hexStr := p.s[start:p.pos]
	p.skipSpaces()
	if p.pos < len(p.s) && p.s[p.pos] != ',' && p.s[p.pos] != '+' && p.s[p.pos] != ';' {
		return nil, p.errorf("bad character %q in hex value at offset %d", p.s[p.pos], p.pos)
	}
	raw, err := hex.DecodeString(hexStr)
	if err != nil || len(raw) == 0 {
		return nil, p.errorf("bad hex value #%s", bounded.Excerpt(hexStr, bounded.ExcerptLen))
	}
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(raw, &rv)
	if err != nil || len(rest) != 0 {
		return nil, p.errorf("hex value #%s is not a single BER/DER value", bounded.Excerpt(hexStr, bounded.ExcerptLen))
	}
	return raw, nil
}

// parseStringValue reads an RFC 4514 string value up to the next unescaped
// separator, resolving escapes and dropping unescaped trailing spaces.
func (p *dnParser) parseStringValue() (string, error) {
	var b []byte
	keep := 0 // length of b that must be kept (up to the last escaped or non-space byte)
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch c {
		case ',', '+', ';':
			return p.finishValue(b[:keep])
		case '\\':
			p.pos++
			if p.pos >= len(p.s) {
				return "", p.errorf("dangling escape at end")
			}
			if p.pos+1 < len(p.s) && isHexDigit(p.s[p.pos]) && isHexDigit(p.s[p.pos+1]) {
				v, _ := strconv.ParseUint(p.s[p.pos:p.pos+2], 16, 8)
				b = append(b, byte(v))
				p.pos += 2
			} else {
				b = append(b, p.s[p.pos])
				p.pos++
			}
			keep = len(b)
			continue
		default:
			b = append(b, c)
			if c != ' ' {
				keep = len(b)
			}
		}
		p.pos++
	}
	return p.finishValue(b[:keep])
}

func (p *dnParser) finishValue(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", p.errorf("escaped value is not valid UTF-8")
	}
	return string(b), nil
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// encodeAttributeValue returns the value to put in an AttributeTypeAndValue,
// choosing the ASN.1 string type by attribute.
func encodeAttributeValue(oid asn1.ObjectIdentifier, value string) (any, error) {
	var params string
	switch {
	case oid.Equal(oidCountry), oid.Equal(oidSerialNumber):
		params = "printable"
	case oid.Equal(oidDC), oid.Equal(oidEmailAddress):
		params = "ia5"
	default:
		return value, nil // encoding/asn1 picks PrintableString or UTF8String
	}
	der, err := asn1.MarshalWithParams(value, params)
	if err != nil {
		return nil, err
	}
	return asn1.RawValue{FullBytes: der}, nil
}

// ParseOID parses a dotted-decimal object identifier such as "1.2.3.4".
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, specErrorf("invalid OID %q", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		if part == "" || (len(part) > 1 && part[0] == '0') {
			return nil, specErrorf("invalid OID %q", s)
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return nil, specErrorf("invalid OID %q", s)
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, specErrorf("invalid OID %q", s)
	}
	// Go's DER decoder (and so every certificate parser of this worker) reads each
	// sub-identifier into 31 bits; the first one is 40*first + second.
	if 40*oid[0]+oid[1] > math.MaxInt32 {
		return nil, specErrorf("invalid OID %q: arcs too large", s)
	}
	return oid, nil
}
