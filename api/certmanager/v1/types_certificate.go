package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// A Certificate asks for an up to date, signed X.509 certificate to be kept
// in the Secret named by spec.secretName. It is renewed before it expires
// (see spec.renewBefore and spec.renewBeforePercentage).
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
// +kubebuilder:storageversion
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=certificates,scope=Namespaced,shortName={cert,certs},categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Secret",type="string",JSONPath=".spec.secretName"
// +kubebuilder:printcolumn:name="Issuer",type="string",JSONPath=".spec.issuerRef.name",priority=1
// +kubebuilder:printcolumn:name="Status",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].message",priority=1
// +kubebuilder:printcolumn:name="Expiration",type="string",JSONPath=".status.notAfter",priority=1,description="The certificate's notAfter, as RFC3339"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp",description="CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC."
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Specification of the desired state of the Certificate resource.
	Spec CertificateSpec `json:"spec"`

	// Status of the Certificate, set by the controller.
	// +optional
	Status CertificateStatus `json:"status"`
}

// CertificateList is a list of Certificates.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:object:root=true
type CertificateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`

	Items []Certificate `json:"items"`
}

// PrivateKeyAlgorithm is the algorithm of a private key.
// +kubebuilder:validation:Enum=RSA;ECDSA;Ed25519
type PrivateKeyAlgorithm string

const (
	// RSAKeyAlgorithm is RSA (sizes 2048 to 8192 bits, default 2048).
	RSAKeyAlgorithm PrivateKeyAlgorithm = "RSA"
	// ECDSAKeyAlgorithm is ECDSA on P-256, P-384 or P-521 (default 256).
	ECDSAKeyAlgorithm PrivateKeyAlgorithm = "ECDSA"
	// Ed25519KeyAlgorithm is Ed25519 (no size).
	Ed25519KeyAlgorithm PrivateKeyAlgorithm = "Ed25519"
)

// PrivateKeyEncoding is the PKCS encoding of a private key in tls.key.
// +kubebuilder:validation:Enum=PKCS1;PKCS8
type PrivateKeyEncoding string

const (
	// PKCS1 writes "RSA PRIVATE KEY" (RSA) or "EC PRIVATE KEY" (ECDSA) PEM
	// blocks. Ed25519 keys are always PKCS#8.
	PKCS1 PrivateKeyEncoding = "PKCS1"
	// PKCS8 writes "PRIVATE KEY" PEM blocks.
	PKCS8 PrivateKeyEncoding = "PKCS8"
)

// PrivateKeyRotationPolicy tells whether a new private key is generated on
// every issuance.
// +kubebuilder:validation:Enum=Never;Always
type PrivateKeyRotationPolicy string

const (
	// RotationPolicyNever reuses the private key in the target Secret when
	// it matches spec.privateKey, and generates one only when there is none.
	RotationPolicyNever PrivateKeyRotationPolicy = "Never"
	// RotationPolicyAlways generates a new private key for every issuance
	// (the default since upstream v1.18).
	RotationPolicyAlways PrivateKeyRotationPolicy = "Always"
)

// SignatureAlgorithm is the signature algorithm requested for a certificate.
// +kubebuilder:validation:Enum=SHA256WithRSA;SHA384WithRSA;SHA512WithRSA;ECDSAWithSHA256;ECDSAWithSHA384;ECDSAWithSHA512;PureEd25519
type SignatureAlgorithm string

// Signature algorithms.
const (
	SHA256WithRSA   SignatureAlgorithm = "SHA256WithRSA"
	SHA384WithRSA   SignatureAlgorithm = "SHA384WithRSA"
	SHA512WithRSA   SignatureAlgorithm = "SHA512WithRSA"
	ECDSAWithSHA256 SignatureAlgorithm = "ECDSAWithSHA256"
	ECDSAWithSHA384 SignatureAlgorithm = "ECDSAWithSHA384"
	ECDSAWithSHA512 SignatureAlgorithm = "ECDSAWithSHA512"
	PureEd25519     SignatureAlgorithm = "PureEd25519"
)

// CertificateSpec is the desired state of a Certificate.
//
// Validation done by upstream's admission webhook is expressed as CEL rules
// here. Durations must be Go duration strings (e.g. "2160h", "90m"); each
// rule that parses one first checks the format, so a malformed value is
// reported once, by the pattern, and never as a CEL evaluation error.
//
// +kubebuilder:validation:XValidation:rule="!has(self.literalSubject) || size(self.literalSubject) == 0 || ((!has(self.commonName) || size(self.commonName) == 0) && !has(self.subject))",message="spec.literalSubject cannot be set together with spec.subject or spec.commonName",fieldPath=".literalSubject"
// +kubebuilder:validation:XValidation:rule="(has(self.commonName) && size(self.commonName) > 0) || (has(self.literalSubject) && size(self.literalSubject) > 0) || (has(self.dnsNames) && size(self.dnsNames) > 0) || (has(self.uris) && size(self.uris) > 0) || (has(self.emailAddresses) && size(self.emailAddresses) > 0) || (has(self.ipAddresses) && size(self.ipAddresses) > 0) || (has(self.otherNames) && size(self.otherNames) > 0)",message="at least one of spec.commonName, spec.literalSubject, spec.dnsNames, spec.uris, spec.emailAddresses, spec.ipAddresses or spec.otherNames must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !has(self.renewBeforePercentage)",message="spec.renewBefore and spec.renewBeforePercentage are mutually exclusive",fieldPath=".renewBeforePercentage"
// +kubebuilder:validation:XValidation:rule=`!has(self.renewBefore) || !self.renewBefore.matches(r'^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$') || (has(self.duration) && !self.duration.matches(r'^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$')) || duration(self.renewBefore) < (has(self.duration) ? duration(self.duration) : duration('2160h'))`,message="spec.renewBefore must be less than spec.duration (2160h when unset)",fieldPath=".renewBefore"
// +kubebuilder:validation:XValidation:rule=`!has(self.renewBeforePercentage) || self.renewBeforePercentage <= 0 || (has(self.duration) && !self.duration.matches(r'^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$')) || (has(self.duration) ? duration(self.duration) : duration('2160h')).getSeconds() * self.renewBeforePercentage >= 30000`,message="spec.renewBeforePercentage must give a renewBefore of at least 5m for spec.duration",fieldPath=".renewBeforePercentage"
// +kubebuilder:validation:XValidation:rule="!has(self.nameConstraints) || (has(self.isCA) && self.isCA)",message="spec.nameConstraints can only be set when spec.isCA is true",fieldPath=".nameConstraints"
// +kubebuilder:validation:XValidation:rule="!has(self.issuerRef.kind) || size(self.issuerRef.kind) == 0 || self.issuerRef.kind in ['Issuer', 'ClusterIssuer'] || (has(self.issuerRef.group) && size(self.issuerRef.group) > 0 && self.issuerRef.group != 'cert-manager.io')",message="spec.issuerRef.kind must be Issuer or ClusterIssuer when spec.issuerRef.group is cert-manager.io",fieldPath=".issuerRef.kind"
type CertificateSpec struct {
	// Subject is the full X.509 distinguished name of the certificate,
	// except its common name (see CommonName). Cannot be set together with
	// LiteralSubject.
	// +optional
	Subject *X509Subject `json:"subject,omitempty"`

	// LiteralSubject is an RFC 4514 distinguished name used verbatim as the
	// certificate subject, for subjects that Subject cannot express (attribute
	// order, multi-valued RDNs, other attributes). Cannot be set together
	// with Subject or CommonName. At most 8 KiB (what the issuance parses).
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	LiteralSubject string `json:"literalSubject,omitempty"`

	// CommonName is the X.509 subject common name. TLS clients ignore it when
	// any subject alternative name is set. At most 64 characters.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	CommonName string `json:"commonName,omitempty"`

	// Duration is the requested lifetime of the certificate; issuers may
	// ignore it. Defaults to 90 days (2160h) when unset; the default is
	// applied by the controller, not the schema, as upstream. At least 1h.
	// Go duration format (e.g. "2160h", "90m").
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$') || duration(self) >= duration('1h')`,message="spec.duration must be at least 1h"
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`

	// RenewBefore is how long before expiry the certificate is renewed. At
	// least 5m and less than Duration. When neither this nor
	// RenewBeforePercentage is set the certificate is renewed 2/3 through its
	// lifetime. Mutually exclusive with RenewBeforePercentage.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule=`!self.matches(r'^([0-9]+([.][0-9]+)?(ns|us|µs|μs|ms|s|m|h))+$') || duration(self) >= duration('5m')`,message="spec.renewBefore must be at least 5m"
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// RenewBeforePercentage is like RenewBefore, as a percentage of the
	// issued certificate's lifetime; 0 < value < 100. Mutually exclusive with
	// RenewBefore.
	// +kubebuilder:validation:XValidation:rule="self > 0 && self < 100",message="spec.renewBeforePercentage must be greater than 0 and less than 100"
	// +optional
	RenewBeforePercentage *int32 `json:"renewBeforePercentage,omitempty"`

	// DNSNames are the requested DNS subject alternative names.
	// +optional
	DNSNames []string `json:"dnsNames,omitempty"`

	// IPAddresses are the requested IP address subject alternative names.
	// Each must be a valid IP address (as upstream's webhook checks;
	// IPv4-mapped IPv6 forms are refused). At most 1000 entries (not limited
	// upstream; the bound keeps the per-entry CEL rule within the
	// apiserver's cost budget).
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",message="spec.ipAddresses must contain valid IP addresses"
	// +optional
	IPAddresses []string `json:"ipAddresses,omitempty"`

	// URIs are the requested URI subject alternative names.
	// +optional
	URIs []string `json:"uris,omitempty"`

	// OtherNames are the requested otherName subject alternative names
	// (UTF-8 string values only).
	// +optional
	OtherNames []OtherName `json:"otherNames,omitempty"`

	// EmailAddresses are the requested email subject alternative names.
	// +optional
	EmailAddresses []string `json:"emailAddresses,omitempty"`

	// SecretName is the name of the Secret, in the Certificate's namespace,
	// that receives the private key (tls.key), the certificate chain
	// (tls.crt) and the CA (ca.crt). It is created and kept up to date.
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`

	// SecretTemplate holds labels and annotations copied onto the Secret.
	// +optional
	SecretTemplate *CertificateSecretTemplate `json:"secretTemplate,omitempty"`

	// Keystores adds JKS and/or PKCS#12 keystores to the Secret.
	// +optional
	Keystores *CertificateKeystores `json:"keystores,omitempty"`

	// IssuerRef is the issuer of the certificate. With no kind or kind
	// "Issuer", an Issuer in the Certificate's namespace; with kind
	// "ClusterIssuer", a ClusterIssuer; with another group, an external
	// issuer. Name is required.
	IssuerRef cmmeta.IssuerReference `json:"issuerRef"`

	// IsCA marks the certificate as a CA (basic constraints CA:TRUE) and adds
	// the "cert sign" usage.
	// +optional
	IsCA bool `json:"isCA,omitempty"`

	// Usages are the requested key usages and extended key usages. When unset
	// the controller requests "digital signature" and "key encipherment" (not
	// a schema default, as upstream).
	// +optional
	Usages []KeyUsage `json:"usages,omitempty"`

	// PrivateKey configures the private key of the certificate.
	// +optional
	PrivateKey *CertificatePrivateKey `json:"privateKey,omitempty"`

	// SignatureAlgorithm requested for the certificate. When unset it follows
	// the issuer's key: SHA256WithRSA, ECDSA with a matching hash, or
	// PureEd25519.
	// +optional
	SignatureAlgorithm SignatureAlgorithm `json:"signatureAlgorithm,omitempty"`

	// EncodeUsagesInRequest controls whether key usages are encoded in the
	// CSR.
	// +optional
	EncodeUsagesInRequest *bool `json:"encodeUsagesInRequest,omitempty"`

	// RevisionHistoryLimit is how many CertificateRequests (revisions) of
	// this Certificate are kept; older ones are deleted. At least 1. When
	// unset the controller keeps 1 (upstream's default since v1.18, applied
	// in the controller, not in the schema).
	// +kubebuilder:validation:Minimum=1
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// AdditionalOutputFormats adds more formats of the private key and
	// certificate to the Secret.
	// +optional
	AdditionalOutputFormats []CertificateAdditionalOutputFormat `json:"additionalOutputFormats,omitempty"`

	// NameConstraints (RFC 5280 section 4.2.1.10) of a CA certificate. Only
	// valid when IsCA is true.
	// +optional
	NameConstraints *NameConstraints `json:"nameConstraints,omitempty"`
}

// CertificatePrivateKey configures a Certificate's private key. Size is
// checked against the algorithm: RSA 2048 to 8192 (upstream's webhook range),
// ECDSA 256, 384 or 521; ignored for Ed25519.
//
// Schema defaults (upstream applies the same ones in code): algorithm RSA,
// encoding PKCS1, rotationPolicy Always. They apply only when spec.privateKey
// is present; the controller applies the same values when it is absent.
//
// +kubebuilder:validation:XValidation:rule="(has(self.algorithm) && self.algorithm != 'RSA') || !has(self.size) || self.size == 0 || (self.size >= 2048 && self.size <= 8192)",message="spec.privateKey.size must be between 2048 and 8192 for RSA",fieldPath=".size"
// +kubebuilder:validation:XValidation:rule="!has(self.algorithm) || self.algorithm != 'ECDSA' || !has(self.size) || self.size in [0, 256, 384, 521]",message="spec.privateKey.size must be 256, 384 or 521 for ECDSA",fieldPath=".size"
type CertificatePrivateKey struct {
	// RotationPolicy: Always (default) generates a new key for every
	// issuance; Never reuses the key in the Secret when it matches.
	// +kubebuilder:default=Always
	// +optional
	RotationPolicy PrivateKeyRotationPolicy `json:"rotationPolicy,omitempty"`

	// Encoding of tls.key: PKCS1 (default) or PKCS8.
	// +kubebuilder:default=PKCS1
	// +optional
	Encoding PrivateKeyEncoding `json:"encoding,omitempty"`

	// Algorithm of the key: RSA (default), ECDSA or Ed25519.
	// +kubebuilder:default=RSA
	// +optional
	Algorithm PrivateKeyAlgorithm `json:"algorithm,omitempty"`

	// Size of the key in bits: RSA 2048 (default) to 8192; ECDSA 256
	// (default), 384 or 521; ignored for Ed25519.
	// +optional
	Size int `json:"size,omitempty"`
}

// X509Subject is an X.509 distinguished name, without the common name.
type X509Subject struct {
	// Organizations (O).
	// +optional
	Organizations []string `json:"organizations,omitempty"`
	// Countries (C).
	// +optional
	Countries []string `json:"countries,omitempty"`
	// OrganizationalUnits (OU).
	// +optional
	OrganizationalUnits []string `json:"organizationalUnits,omitempty"`
	// Localities (L), i.e. cities.
	// +optional
	Localities []string `json:"localities,omitempty"`
	// Provinces (ST), i.e. states or provinces.
	// +optional
	Provinces []string `json:"provinces,omitempty"`
	// StreetAddresses (STREET).
	// +optional
	StreetAddresses []string `json:"streetAddresses,omitempty"`
	// PostalCodes (POSTALCODE).
	// +optional
	PostalCodes []string `json:"postalCodes,omitempty"`
	// SerialNumber (SERIALNUMBER) of the subject.
	// +optional
	SerialNumber string `json:"serialNumber,omitempty"`
}

// OtherName is an otherName subject alternative name with a UTF8String value.
type OtherName struct {
	// OID is the object identifier of the otherName, e.g.
	// "1.3.6.1.4.1.311.20.2.3" (UPN).
	// +kubebuilder:validation:Pattern=`^([0-2])([.](0|[1-9][0-9]*))+$`
	// +optional
	OID string `json:"oid,omitempty"`

	// UTF8Value is the value, encoded as an ASN.1 UTF8String.
	// +optional
	UTF8Value string `json:"utf8Value,omitempty"`
}

// CertificateSecretTemplate holds labels and annotations copied onto the
// Certificate's Secret.
type CertificateSecretTemplate struct {
	// Annotations copied onto the Secret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels copied onto the Secret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// CertificateKeystores configures keystores added to the Secret.
type CertificateKeystores struct {
	// JKS adds keystore.jks and truststore.jks.
	// +optional
	JKS *JKSKeystore `json:"jks,omitempty"`

	// PKCS12 adds keystore.p12 and truststore.p12.
	// +optional
	PKCS12 *PKCS12Keystore `json:"pkcs12,omitempty"`
}

// JKSKeystore configures a JKS keystore (keystore.jks) and truststore
// (truststore.jks) in the Secret. Exactly one of Password or
// PasswordSecretRef must be set.
//
// +kubebuilder:validation:XValidation:rule="has(self.password) != (has(self.passwordSecretRef) && size(self.passwordSecretRef.name) > 0)",message="spec.keystores.jks: exactly one of password or passwordSecretRef must be set"
type JKSKeystore struct {
	// Create enables the keystore. Changing the keystore settings rewrites it from the
	// current key pair, without a new certificate.
	Create bool `json:"create"`

	// Alias of the key and certificate in the keystore (default
	// "certificate").
	// +optional
	Alias *string `json:"alias,omitempty"`

	// PasswordSecretRef selects a Secret key holding the keystore password.
	// +optional
	PasswordSecretRef cmmeta.SecretKeySelector `json:"passwordSecretRef,omitempty"`

	// Password of the keystore, inline. Prefer PasswordSecretRef.
	// +optional
	Password *string `json:"password,omitempty"`
}

// PKCS12Profile is the algorithm set used to encrypt a PKCS#12 keystore.
// +kubebuilder:validation:Enum=LegacyRC2;LegacyDES;Modern2023
type PKCS12Profile string

const (
	// LegacyRC2PKCS12Profile uses RC2 (compatible with old clients; default).
	LegacyRC2PKCS12Profile PKCS12Profile = "LegacyRC2"
	// LegacyDESPKCS12Profile uses 3DES.
	LegacyDESPKCS12Profile PKCS12Profile = "LegacyDES"
	// Modern2023PKCS12Profile uses AES-256-CBC with PBKDF2 and SHA-256 MAC.
	Modern2023PKCS12Profile PKCS12Profile = "Modern2023"
)

// PKCS12Keystore configures a PKCS#12 keystore (keystore.p12) and truststore
// (truststore.p12) in the Secret. Exactly one of Password or
// PasswordSecretRef must be set.
//
// +kubebuilder:validation:XValidation:rule="has(self.password) != (has(self.passwordSecretRef) && size(self.passwordSecretRef.name) > 0)",message="spec.keystores.pkcs12: exactly one of password or passwordSecretRef must be set"
type PKCS12Keystore struct {
	// Create enables the keystore. Changing the keystore settings rewrites it from the
	// current key pair, without a new certificate.
	Create bool `json:"create"`

	// Profile is the encryption profile (default LegacyRC2).
	// +optional
	Profile PKCS12Profile `json:"profile,omitempty"`

	// PasswordSecretRef selects a Secret key holding the keystore password.
	// +optional
	PasswordSecretRef cmmeta.SecretKeySelector `json:"passwordSecretRef,omitempty"`

	// Password of the keystore, inline. Prefer PasswordSecretRef.
	// +optional
	Password *string `json:"password,omitempty"`
}

// CertificateOutputFormatType is an additional output format.
// +kubebuilder:validation:Enum=DER;CombinedPEM
type CertificateOutputFormatType string

const (
	// CertificateOutputFormatDER writes the DER private key to key.der.
	CertificateOutputFormatDER CertificateOutputFormatType = "DER"
	// CertificateOutputFormatCombinedPEM writes the PEM private key followed
	// by the certificate chain to tls-combined.pem.
	CertificateOutputFormatCombinedPEM CertificateOutputFormatType = "CombinedPEM"
)

// CertificateAdditionalOutputFormat is an additional format written to the
// Secret.
type CertificateAdditionalOutputFormat struct {
	// Type of the format.
	Type CertificateOutputFormatType `json:"type"`
}

// NameConstraints are X.509 name constraints of a CA certificate.
type NameConstraints struct {
	// Critical marks the extension critical.
	// +optional
	Critical bool `json:"critical,omitempty"`

	// Permitted names.
	// +optional
	Permitted *NameConstraintItem `json:"permitted,omitempty"`

	// Excluded names.
	// +optional
	Excluded *NameConstraintItem `json:"excluded,omitempty"`
}

// NameConstraintItem lists names of each kind for NameConstraints.
type NameConstraintItem struct {
	// DNSDomains are DNS domains (and their subdomains).
	// +optional
	DNSDomains []string `json:"dnsDomains,omitempty"`
	// IPRanges are IP ranges in CIDR notation.
	// +optional
	IPRanges []string `json:"ipRanges,omitempty"`
	// EmailAddresses are email addresses or domains.
	// +optional
	EmailAddresses []string `json:"emailAddresses,omitempty"`
	// URIDomains are URI domains.
	// +optional
	URIDomains []string `json:"uriDomains,omitempty"`
}

// CertificateStatus is the observed state of a Certificate.
type CertificateStatus struct {
	// Conditions: Ready and Issuing.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []CertificateCondition `json:"conditions,omitempty"`

	// LastFailureTime is when the last issuance failed. The next attempt
	// waits min(1h * 2^(failedIssuanceAttempts-1), 32h) from then.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`

	// NotBefore of the certificate in the Secret.
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`

	// NotAfter (expiry) of the certificate in the Secret.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// RenewalTime is when the certificate will next be renewed.
	// +optional
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`

	// Revision of the issued certificate. A CertificateRequest is created
	// with the cert-manager.io/certificate-revision annotation set to one
	// more than this; on issuance this is set to that value.
	// +optional
	Revision *int `json:"revision,omitempty"`

	// NextPrivateKeySecretName names the Secret holding the private key for
	// the next issuance, while Issuing is True.
	// +optional
	NextPrivateKeySecretName *string `json:"nextPrivateKeySecretName,omitempty"`

	// FailedIssuanceAttempts counts consecutive failed issuances; reset on
	// success. Drives the backoff.
	// +optional
	FailedIssuanceAttempts *int `json:"failedIssuanceAttempts,omitempty"`
}

// CertificateCondition is a condition of a Certificate.
type CertificateCondition struct {
	// Type of the condition: Ready or Issuing.
	Type CertificateConditionType `json:"type"`

	// Status of the condition: True, False or Unknown.
	Status cmmeta.ConditionStatus `json:"status"`

	// LastTransitionTime is when the condition last changed status.
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`

	// Reason is a CamelCase reason for the last transition.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Message is a human readable explanation of the last transition.
	// +optional
	Message string `json:"message,omitempty"`

	// ObservedGeneration is the .metadata.generation the condition was set
	// for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// CertificateConditionType is a condition type of a Certificate.
type CertificateConditionType string

const (
	// CertificateConditionReady is True when the Secret holds a valid,
	// unexpired certificate matching the spec.
	CertificateConditionReady CertificateConditionType = "Ready"
	// CertificateConditionIssuing is True while a (re)issuance is in
	// progress; False with reason Failed after a failed attempt.
	CertificateConditionIssuing CertificateConditionType = "Issuing"
)
