// Package venafi is the Venafi issuer (TPP and Venafi Cloud, also sold as CyberArk
// Certificate Manager), through Venafi's own client library, vcert: the issuer check
// (ping, authenticate, read the zone) and the signature of a CertificateRequest's CSR
// (request with the CSR as given, then pickup by ID).
//
// Credentials are read from the issuer's Secrets on every call and never returned,
// logged or written into an error: the connector's error words reach statuses with
// every credential value cut out.
//
// This file holds the pure parts (configuration, custom fields, chain, redaction);
// venafi.go the I/O.
package venafi

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	vcert "github.com/Venafi/vcert/v5"
	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/endpoint"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"
)

// Keys of the issuer's credential Secrets, as upstream reads them.
const (
	tppUsernameKey    = "username"
	tppPasswordKey    = "password"
	tppAccessTokenKey = "access-token"
	tppClientIDKey    = "client-id"
	// defaultTPPClientID is the OAuth client (API integration) upstream registers at TPP.
	defaultTPPClientID = "cert-manager.io"
	// tppScope is the OAuth scope asked of TPP for username/password credentials.
	tppScope = "certificate:manage"
	// defaultCloudAPIKeyKey is the key of apiTokenSecretRef when it names none.
	defaultCloudAPIKeyKey = "api-key"
	// defaultCABundleKey is the key of caBundleSecretRef when it names none.
	defaultCABundleKey = "ca.crt"
)

// SecretKey is one value the issuer's spec names in a Secret of its resource
// namespace. Key "" means the whole Secret (the TPP credentials, whose keys decide
// which kind of login is used).
type SecretKey struct {
	Secret, Key string
	// What says in an error message what the value is for.
	What string
}

// SecretsOf lists the Secret values an issuer's spec refers to, in the order they
// are read; an error for a spec that is neither TPP nor Cloud, or that names no
// Secret where it must.
func SecretsOf(spec *cmapi.VenafiIssuer) ([]SecretKey, error) {
	if err := validateSpec(spec); err != nil {
		return nil, err
	}
	if tpp := spec.TPP; tpp != nil {
		refs := []SecretKey{{Secret: tpp.CredentialsRef.Name, What: "TPP credentials (spec.venafi.tpp.credentialsRef)"}}
		if len(tpp.CABundle) == 0 && tpp.CABundleSecretRef != nil {
			refs = append(refs, SecretKey{Secret: tpp.CABundleSecretRef.Name, Key: keyOr(tpp.CABundleSecretRef.Key, defaultCABundleKey),
				What: "TPP CA bundle (spec.venafi.tpp.caBundleSecretRef)"})
		}
		return refs, nil
	}
	ref := spec.Cloud.APITokenSecretRef
	return []SecretKey{{Secret: ref.Name, Key: keyOr(ref.Key, defaultCloudAPIKeyKey), What: "Venafi Cloud API token (spec.venafi.cloud.apiTokenSecretRef)"}}, nil
}

func keyOr(k, def string) string {
	if k == "" {
		return def
	}
	return k
}

// validateSpec refuses what the CRD refuses too (an object from before a rule still
// gets a clear reason) and what no connector can work with.
func validateSpec(spec *cmapi.VenafiIssuer) error {
	switch {
	case spec == nil:
		return errors.New("the issuer has no venafi configuration")
	case spec.Zone == "":
		return errors.New("spec.venafi.zone must be set")
	case (spec.TPP == nil) == (spec.Cloud == nil):
		return errors.New("exactly one of spec.venafi.tpp and spec.venafi.cloud must be set")
	case spec.TPP != nil && spec.TPP.URL == "":
		return errors.New("spec.venafi.tpp.url must be set")
	case spec.TPP != nil && spec.TPP.CredentialsRef.Name == "":
		return errors.New("spec.venafi.tpp.credentialsRef.name must be set")
	case spec.TPP != nil && len(spec.TPP.CABundle) > 0 && spec.TPP.CABundleSecretRef != nil:
		return errors.New("at most one of spec.venafi.tpp.caBundle and spec.venafi.tpp.caBundleSecretRef may be set")
	case spec.TPP != nil && spec.TPP.CABundleSecretRef != nil && spec.TPP.CABundleSecretRef.Name == "":
		return errors.New("spec.venafi.tpp.caBundleSecretRef.name must be set")
	case spec.Cloud != nil && spec.Cloud.APITokenSecretRef.Name == "":
		return errors.New("spec.venafi.cloud.apiTokenSecretRef.name must be set")
	}
	return nil
}

// Credentials are the values read from the issuer's Secrets.
type Credentials struct {
	// TPP is the credentialsRef Secret's data (TPP only).
	TPP map[string][]byte
	// CABundle is the TPP CA bundle, inline or from caBundleSecretRef.
	CABundle []byte
	// APIKey is the Venafi Cloud API token.
	APIKey string
}

// secrets are the credential values, for redaction.
func (c Credentials) secrets() []string {
	var out []string
	for _, k := range []string{tppPasswordKey, tppAccessTokenKey} {
		if v := string(c.TPP[k]); v != "" {
			out = append(out, v)
		}
	}
	if c.APIKey != "" {
		out = append(out, c.APIKey)
	}
	return out
}

// Config builds the vcert configuration of an issuer from its spec and the
// credentials read for it. fake selects vcert's fake connector, which issues from a
// built-in test CA without any network (tests only: see Activities).
func Config(spec *cmapi.VenafiIssuer, creds Credentials, fake bool) (*vcert.Config, error) {
	if err := validateSpec(spec); err != nil {
		return nil, err
	}
	cfg := &vcert.Config{Zone: spec.Zone}
	if tpp := spec.TPP; tpp != nil {
		auth := &endpoint.Authentication{
			User:        string(creds.TPP[tppUsernameKey]),
			Password:    string(creds.TPP[tppPasswordKey]),
			AccessToken: string(creds.TPP[tppAccessTokenKey]),
			ClientId:    keyOr(string(creds.TPP[tppClientIDKey]), defaultTPPClientID),
			Scope:       tppScope,
		}
		if auth.AccessToken == "" && (auth.User == "" || auth.Password == "") {
			return nil, fmt.Errorf("the TPP credentials Secret %q has neither %q nor both %q and %q",
				tpp.CredentialsRef.Name, tppAccessTokenKey, tppUsernameKey, tppPasswordKey)
		}
		if len(creds.CABundle) > 0 {
			if ok := x509.NewCertPool().AppendCertsFromPEM(creds.CABundle); !ok {
				return nil, errors.New("the TPP CA bundle holds no PEM certificate")
			}
		}
		cfg.ConnectorType, cfg.BaseUrl, cfg.Credentials = endpoint.ConnectorTypeTPP, tpp.URL, auth
	} else {
		if creds.APIKey == "" {
			return nil, fmt.Errorf("the Venafi Cloud API token (Secret %q, key %q) is empty",
				spec.Cloud.APITokenSecretRef.Name, keyOr(spec.Cloud.APITokenSecretRef.Key, defaultCloudAPIKeyKey))
		}
		cfg.ConnectorType, cfg.BaseUrl = endpoint.ConnectorTypeCloud, spec.Cloud.URL
		cfg.Credentials = &endpoint.Authentication{APIKey: creds.APIKey}
	}
	if fake {
		cfg.ConnectorType = endpoint.ConnectorTypeFake
	}
	return cfg, nil
}

// URL is the server an issuer's spec names ("" for Venafi Cloud's default).
func URL(spec *cmapi.VenafiIssuer) string {
	switch {
	case spec == nil:
		return ""
	case spec.TPP != nil:
		return spec.TPP.URL
	case spec.Cloud != nil:
		return spec.Cloud.URL
	}
	return ""
}

// CustomField is one Venafi custom field of the venafi.cert-manager.io/custom-fields
// annotation (a JSON list), with upstream's field names.
type CustomField struct {
	Type  string `json:"type,omitempty"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// customFieldTypePlain is the only type upstream accepts ("" means it too).
const customFieldTypePlain = "Plain"

// maxCustomFieldsSize bounds the annotation parsed.
const maxCustomFieldsSize = 64 << 10

// ParseCustomFields parses a venafi.cert-manager.io/custom-fields annotation; "" is
// none. A field of a type other than Plain is an error, as upstream's.
func ParseCustomFields(annotation string) ([]CustomField, error) {
	if strings.TrimSpace(annotation) == "" {
		return nil, nil
	}
	if len(annotation) > maxCustomFieldsSize {
		return nil, fmt.Errorf("annotation %s is longer than %d bytes", cmapi.VenafiCustomFieldsAnnotationKey, maxCustomFieldsSize)
	}
	var fields []CustomField
	if err := json.Unmarshal([]byte(annotation), &fields); err != nil {
		return nil, fmt.Errorf("annotation %s is not a JSON list of custom fields: %v", cmapi.VenafiCustomFieldsAnnotationKey, err)
	}
	for _, f := range fields {
		if f.Type != "" && f.Type != customFieldTypePlain {
			return nil, fmt.Errorf("certificate request contains an invalid custom fields type: %q", f.Type)
		}
	}
	return fields, nil
}

// MergeCustomFields puts the request's fields over the issuer's, by name, sorted by
// name, as upstream merges them.
func MergeCustomFields(issuer, request []CustomField) []CustomField {
	byName := map[string]CustomField{}
	for _, f := range issuer {
		byName[f.Name] = f
	}
	for _, f := range request {
		byName[f.Name] = f
	}
	out := make([]CustomField, 0, len(byName))
	for _, f := range byName {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b CustomField) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// vcertCustomFields are the fields as vcert sends them, after upstream's origin tag.
func vcertCustomFields(fields []CustomField) []certificate.CustomField {
	out := []certificate.CustomField{{Type: certificate.CustomFieldOrigin, Value: "cert-manager"}}
	for _, f := range fields {
		out = append(out, certificate.CustomField{Type: certificate.CustomFieldPlain, Name: f.Name, Value: f.Value})
	}
	return out
}

// friendlyName is the object name a request gets at Venafi: the CSR's common name,
// else its first DNS name, URI, email address or IP address, as upstream names it.
func friendlyName(csr *x509.CertificateRequest) (string, error) {
	switch {
	case csr.Subject.CommonName != "":
		return csr.Subject.CommonName, nil
	case len(csr.DNSNames) > 0:
		return csr.DNSNames[0], nil
	case len(csr.URIs) > 0:
		return csr.URIs[0].String(), nil
	case len(csr.EmailAddresses) > 0:
		return csr.EmailAddresses[0], nil
	case len(csr.IPAddresses) > 0:
		return csr.IPAddresses[0].String(), nil
	}
	return "", errors.New("certificate request contains no Common Name, DNS Name, nor URI SAN, at least one must be supplied to be used as the certificate objects name")
}

// SplitChain turns what Venafi returned (the certificate, then its chain, root last)
// into the certificate with its intermediates and, when the chain ends in a
// self-signed root, that root as the CA, as upstream does.
func SplitChain(certPEM string, chain []string) (certs, ca []byte, err error) {
	all := []byte(strings.Join(append([]string{certPEM}, chain...), "\n"))
	parsed, err := pki.ParseCertificates(all)
	if err != nil {
		return nil, nil, fmt.Errorf("the certificate Venafi returned does not parse: %v", err)
	}
	if len(parsed) == 0 {
		return nil, nil, errors.New("Venafi returned no certificate")
	}
	var out bytes.Buffer
	last := parsed[len(parsed)-1]
	for i, c := range parsed {
		if i > 0 && i == len(parsed)-1 && selfSigned(c) {
			break
		}
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if len(parsed) > 1 && selfSigned(last) {
		ca = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: last.Raw})
	}
	return out.Bytes(), ca, nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// redact cuts every credential value out of a message, and caps its length: the
// connector's words reach statuses and histories.
func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	const maxLen = 1024
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "..."
	}
	return msg
}
