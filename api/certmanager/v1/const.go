package v1

import "time"

// Kinds of this group.
const (
	CertificateKind        = "Certificate"
	CertificateRequestKind = "CertificateRequest"
	IssuerKind             = "Issuer"
	ClusterIssuerKind      = "ClusterIssuer"
)

// Durations that upstream's API fixes.
const (
	// DefaultCertificateDuration is the lifetime requested when
	// spec.duration is unset (90 days).
	DefaultCertificateDuration = 90 * 24 * time.Hour
	// MinimumCertificateDuration is the smallest accepted spec.duration.
	MinimumCertificateDuration = time.Hour
	// MinimumRenewBefore is the smallest accepted spec.renewBefore.
	MinimumRenewBefore = 5 * time.Minute
	// DefaultRevisionHistoryLimit is the number of CertificateRequests kept
	// per Certificate when spec.revisionHistoryLimit is unset (applied by the
	// controller, not by the schema, as upstream).
	DefaultRevisionHistoryLimit = 1
)

// Annotations and labels written on Secrets, CertificateRequests and other
// resources, or read from Ingresses and Gateways. Values are upstream's.
const (
	// CertificateNameKey (annotation on Secrets and CertificateRequests, label
	// on some resources) names the Certificate that owns the resource.
	CertificateNameKey = "cert-manager.io/certificate-name"

	// IssuerNameAnnotationKey, IssuerKindAnnotationKey and
	// IssuerGroupAnnotationKey record on a Secret the issuer that signed its
	// certificate. On an Ingress or Gateway, issuer-kind and issuer-group
	// select an external issuer together with cert-manager.io/issuer.
	IssuerNameAnnotationKey  = "cert-manager.io/issuer-name"
	IssuerKindAnnotationKey  = "cert-manager.io/issuer-kind"
	IssuerGroupAnnotationKey = "cert-manager.io/issuer-group"

	// CommonNameAnnotationKey records the certificate's common name on its
	// Secret; on an Ingress it sets the Certificate's commonName.
	CommonNameAnnotationKey = "cert-manager.io/common-name"
	// AltNamesAnnotationKey records the certificate's DNS names
	// (comma-separated) on its Secret.
	AltNamesAnnotationKey = "cert-manager.io/alt-names"
	// IPSANAnnotationKey records the certificate's IP SANs on its Secret.
	IPSANAnnotationKey = "cert-manager.io/ip-sans"
	// URISANAnnotationKey records the certificate's URI SANs on its Secret.
	URISANAnnotationKey = "cert-manager.io/uri-sans"
	// EmailsAnnotationKey records the certificate's email SANs on its Secret;
	// on an Ingress it sets the Certificate's emailAddresses.
	EmailsAnnotationKey = "cert-manager.io/email-sans"

	// Subject annotations on an Ingress or Gateway set the Certificate's
	// spec.subject fields (comma-separated values).
	SubjectOrganizationsAnnotationKey       = "cert-manager.io/subject-organizations"
	SubjectOrganizationalUnitsAnnotationKey = "cert-manager.io/subject-organizationalunits"
	SubjectCountriesAnnotationKey           = "cert-manager.io/subject-countries"
	SubjectProvincesAnnotationKey           = "cert-manager.io/subject-provinces"
	SubjectLocalitiesAnnotationKey          = "cert-manager.io/subject-localities"
	SubjectPostalCodesAnnotationKey         = "cert-manager.io/subject-postalcodes"
	SubjectStreetAddressesAnnotationKey     = "cert-manager.io/subject-streetaddresses"
	SubjectSerialNumberAnnotationKey        = "cert-manager.io/subject-serialnumber"

	// CertificateRequestRevisionAnnotationKey is the revision of the
	// Certificate a CertificateRequest was made for.
	CertificateRequestRevisionAnnotationKey = "cert-manager.io/certificate-revision"
	// CertificateRequestPrivateKeyAnnotationKey names the Secret holding the
	// private key of a CertificateRequest.
	CertificateRequestPrivateKeyAnnotationKey = "cert-manager.io/private-key-secret-name"
	// IsNextPrivateKeySecretLabelKey is set to "true" on the Secrets holding
	// a Certificate's next private key.
	IsNextPrivateKeySecretLabelKey = "cert-manager.io/next-private-key"
	// PartOfCertManagerControllerLabelKey ("for attention of") marks Secrets
	// the controller must watch even with a filtered Secret cache.
	PartOfCertManagerControllerLabelKey = "controller.cert-manager.io/fao"

	// IssueTemporaryCertificateAnnotation, set to "true" on a Certificate,
	// makes the controller put a temporary self-signed certificate in the
	// Secret while the real one is being issued.
	IssueTemporaryCertificateAnnotation = "cert-manager.io/issue-temporary-certificate"

	// IngressIssuerNameAnnotationKey on an Ingress or Gateway names an Issuer
	// in the same namespace to make Certificates with.
	IngressIssuerNameAnnotationKey = "cert-manager.io/issuer"
	// IngressClusterIssuerNameAnnotationKey on an Ingress or Gateway names a
	// ClusterIssuer to make Certificates with.
	IngressClusterIssuerNameAnnotationKey = "cert-manager.io/cluster-issuer"
	// IngressClassAnnotationKey is the legacy ingress class annotation.
	IngressClassAnnotationKey = "kubernetes.io/ingress.class"
	// IngressTLSACMEAnnotationKey ("true") on an Ingress asks for a
	// Certificate from the default issuer.
	IngressTLSACMEAnnotationKey = "kubernetes.io/tls-acme"
	// IngressSecretTemplate on an Ingress sets the Certificate's
	// spec.secretTemplate (JSON).
	IngressSecretTemplate = "cert-manager.io/secret-template"

	// Certificate field overrides read from an Ingress or Gateway.
	DurationAnnotationKey                 = "cert-manager.io/duration"
	RenewBeforeAnnotationKey              = "cert-manager.io/renew-before"
	RenewBeforePercentageAnnotationKey    = "cert-manager.io/renew-before-percentage"
	UsagesAnnotationKey                   = "cert-manager.io/usages"
	RevisionHistoryLimitAnnotationKey     = "cert-manager.io/revision-history-limit"
	PrivateKeyAlgorithmAnnotationKey      = "cert-manager.io/private-key-algorithm"
	PrivateKeyEncodingAnnotationKey       = "cert-manager.io/private-key-encoding"
	PrivateKeySizeAnnotationKey           = "cert-manager.io/private-key-size"
	PrivateKeyRotationPolicyAnnotationKey = "cert-manager.io/private-key-rotation-policy"

	// VenafiCustomFieldsAnnotationKey carries Venafi custom fields (JSON) on
	// a Certificate or CertificateRequest.
	VenafiCustomFieldsAnnotationKey = "venafi.cert-manager.io/custom-fields"
	// VenafiPickupIDAnnotationKey stores the Venafi pickup ID on a
	// CertificateRequest.
	VenafiPickupIDAnnotationKey = "venafi.cert-manager.io/pickup-id"
)

// Keys of the Secret written for a Certificate, besides corev1.TLSCertKey
// ("tls.crt") and corev1.TLSPrivateKeyKey ("tls.key").
const (
	// TLSCAKey holds the CA certificate.
	TLSCAKey = "ca.crt"
	// JKSSecretKey and JKSTruststoreKey hold the JKS keystore and truststore.
	JKSSecretKey     = "keystore.jks"
	JKSTruststoreKey = "truststore.jks"
	// PKCS12SecretKey and PKCS12TruststoreKey hold the PKCS#12 keystore and
	// truststore.
	PKCS12SecretKey     = "keystore.p12"
	PKCS12TruststoreKey = "truststore.p12"
	// CertificateOutputFormatDERKey holds the DER private key
	// (additionalOutputFormats type DER).
	CertificateOutputFormatDERKey = "key.der"
	// CertificateOutputFormatCombinedPEMKey holds the private key followed by
	// the certificate chain (additionalOutputFormats type CombinedPEM).
	CertificateOutputFormatCombinedPEMKey = "tls-combined.pem"
	// DefaultKeystoreAlias is the JKS alias used when jks.alias is unset.
	DefaultKeystoreAlias = "certificate"
)

// Condition reasons used on Certificates, Issuers and CertificateRequests.
// Values are upstream's.
const (
	// Reasons for Certificate Issuing=True / Ready=False (issuance triggers).
	ReasonDoesNotExist         = "DoesNotExist"
	ReasonMissingData          = "MissingData"
	ReasonInvalidKeyPair       = "InvalidKeyPair"
	ReasonIncorrectIssuer      = "IncorrectIssuer"
	ReasonIncorrectCertificate = "IncorrectCertificate"
	ReasonSecretMismatch       = "SecretMismatch"
	ReasonRenewing             = "Renewing"
	ReasonExpired              = "Expired"
	ReasonManuallyTriggered    = "ManuallyTriggered"

	// ReasonReady is the reason of Certificate Ready=True.
	ReasonReady = "Ready"
	// ReasonIssuing is a generic reason for Issuing conditions.
	ReasonIssuing = "Issuing"
	// ReasonFailed is the reason of Issuing=False after a failed request.
	ReasonFailed = "Failed"
	// ReasonIssued is the reason of a successful issuance.
	ReasonIssued = "Issued"
	// ReasonPending is a generic in-progress reason.
	ReasonPending = "Pending"
	// ReasonDenied is used when a request was denied.
	ReasonDenied = "Denied"

	// ReasonWaitingForApproval is set on a CertificateRequest's Ready
	// condition while it is neither Approved nor Denied.
	ReasonWaitingForApproval = "WaitingForApproval"
	// ApprovedReasonCertManager is the reason the internal approver puts on
	// Approved=True.
	ApprovedReasonCertManager = "cert-manager.io"

	// Issuer Ready reasons.
	IssuerReasonKeyPairVerified       = "KeyPairVerified"
	IssuerReasonIsReady               = "IsReady"
	IssuerReasonACMEAccountRegistered = "ACMEAccountRegistered"
	IssuerReasonErrorGetKeyPair       = "ErrGetKeyPair"
	IssuerReasonErrorInvalidKeyPair   = "ErrInvalidKeyPair"
	IssuerReasonErrorRegisterAccount  = "ErrRegisterACMEAccount"
	IssuerReasonErrorInitIssuer       = "ErrInitIssuer"
)
