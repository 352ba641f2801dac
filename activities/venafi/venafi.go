package venafi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	vcert "github.com/Venafi/vcert/v5"
	"github.com/Venafi/vcert/v5/pkg/certificate"
	"github.com/Venafi/vcert/v5/pkg/endpoint"
	"github.com/Venafi/vcert/v5/pkg/util"
	"github.com/Venafi/vcert/v5/pkg/venafi/cloud"
	"github.com/Venafi/vcert/v5/pkg/venafi/tpp"
	"github.com/Venafi/vcert/v5/pkg/verror"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
)

// Activities are the Venafi issuer's activities: CheckVenafiIssuer,
// RequestVenafiCertificate and RetrieveVenafiCertificate. Every one reads the issuer
// (and the request) from the API server by the reference in its input, so the server
// the credentials go to is always the one the issuer's spec names.
type Activities struct {
	Kube     kubernetes.Interface
	CertFlow versioned.Interface
	// ClusterResourceNamespace is where ClusterIssuers' Secrets live.
	ClusterResourceNamespace string
	// UserAgent is sent to Venafi ("" means vcert's own).
	UserAgent string
	// TestOnlyFakeConnectorURL, for tests only, makes an issuer whose TPP or Cloud URL
	// is exactly this value use vcert's fake connector, which issues from its built-in
	// test CA without any network. Empty (always, outside tests): never. No Issuer
	// spec can select the fake connector on a worker without it; its credentials are
	// still read and required.
	TestOnlyFakeConnectorURL string
}

// IssuerRef names the Issuer (Namespace set) or ClusterIssuer to act for.
type IssuerRef struct {
	Kind      string `json:"kind,omitempty"` // Issuer (default) or ClusterIssuer
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// UID, when set, must be the issuer's: a replaced issuer is not checked for the old.
	UID string `json:"uid,omitempty"`
}

// Reasons of the issuer's Ready condition, and error types of the activities'
// application errors (recorded in histories: the values never change).
const (
	// ReasonVerified: the connector authenticated and read the zone.
	ReasonVerified = "Verified"
	// ReasonErrorSetup: the server could not be reached, or refused something other
	// than the credentials (upstream's reason).
	ReasonErrorSetup = "ErrorSetup"
	// ReasonAuthFailed: the server refused the credentials (upstream's reason).
	ReasonAuthFailed = "AuthFailed"
	// ReasonSecretMissing: a Secret the spec names, or its key, does not exist.
	ReasonSecretMissing = "SecretMissing"
	// ReasonInvalidConfig: the spec or the credentials cannot make a connector.
	ReasonInvalidConfig = "ErrInvalidConfig"
	// ErrTypeNotVenafi: the issuer is gone, replaced, or no longer a Venafi issuer.
	ErrTypeNotVenafi = "NotVenafiIssuer"
	// ErrTypeRequestGone: the CertificateRequest was deleted or replaced.
	ErrTypeRequestGone = "RequestGone"
	// ErrTypeCustomFields: the custom-fields annotation is invalid.
	ErrTypeCustomFields = "CustomFieldsError"
	// ErrTypeRequestFailed: Venafi refused the request.
	ErrTypeRequestFailed = "VenafiRequestFailed"
	// ErrTypeRetrieveFailed: Venafi refused the pickup.
	ErrTypeRetrieveFailed = "VenafiRetrieveFailed"
	// ErrTypePending: the certificate is not issued yet (retryable).
	ErrTypePending = "VenafiPending"
	// ErrTypeUnavailable: the server could not be reached (retryable).
	ErrTypeUnavailable = "VenafiUnavailable"
)

// CheckResult is the Ready condition an issuer's check found.
type CheckResult struct {
	Ready           bool
	Reason, Message string
}

// CheckVenafiIssuer verifies an issuer as upstream's setup does: the connector is
// built from the spec and the Secrets, pings the server, authenticates and reads the
// zone. Whatever Venafi or the spec says goes into the result (Ready=False with the
// connector's words); only an API server failure is an error.
func (a *Activities) CheckVenafiIssuer(ctx context.Context, ref IssuerRef) (CheckResult, error) {
	iss, err := a.issuer(ctx, ref)
	if err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == ErrTypeNotVenafi {
			return CheckResult{Reason: ReasonInvalidConfig, Message: appErr.Message()}, nil
		}
		return CheckResult{}, err
	}
	conn, creds, err := a.connect(ctx, iss)
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			return CheckResult{Reason: ce.reason, Message: ce.msg}, nil
		}
		return CheckResult{}, err
	}
	failed := func(reason, what string, err error) (CheckResult, error) {
		return CheckResult{Reason: reason, Message: fmt.Sprintf("Failed to setup Venafi issuer: %s: %s", what, redact(err.Error(), creds.secrets()))}, nil
	}
	if err := conn.Ping(); err != nil {
		return failed(ReasonErrorSetup, "error pinging Venafi", err)
	}
	if err := a.authenticate(conn, iss, creds); err != nil {
		reason := ReasonAuthFailed
		if networkError(err) {
			reason = ReasonErrorSetup
		}
		return failed(reason, "authentication failed", err)
	}
	if _, err := conn.ReadZoneConfiguration(); err != nil {
		return failed(ReasonErrorSetup, fmt.Sprintf("error reading zone %q", iss.spec.Zone), err)
	}
	return CheckResult{Ready: true, Reason: ReasonVerified, Message: "Verified issuer with the Venafi server"}, nil
}

// RequestRef names a CertificateRequest (with its UID).
type RequestRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// SignInput names the request to sign and its Venafi issuer.
type SignInput struct {
	Request RequestRef `json:"request"`
	Issuer  IssuerRef  `json:"issuer"`
}

// PickupInput picks up what RequestVenafiCertificate requested.
type PickupInput struct {
	SignInput
	PickupID string `json:"pickupID"`
}

// Requested is RequestVenafiCertificate's result.
type Requested struct {
	PickupID string `json:"pickupID"`
}

// pickupTimeout is how long one pickup waits for Venafi to issue (vcert polls).
const pickupTimeout = 30 * time.Second

// RequestVenafiCertificate sends the request's CSR, as it is, to the issuer's zone
// (with the zone's defaults and policy checked first, and the custom fields of the
// issuer's and the request's venafi.cert-manager.io/custom-fields annotations) and
// returns the pickup ID.
func (a *Activities) RequestVenafiCertificate(ctx context.Context, in SignInput) (Requested, error) {
	s, err := a.prepare(ctx, in)
	if err != nil {
		return Requested{}, err
	}
	if t, ok := s.conn.(*tpp.Connector); ok {
		// As upstream: a prior failed enrollment of the object is reset, so that a
		// retry is not stuck on it ("Fix any errors, and then click Retry.").
		var notFound *tpp.ErrCertNotFound
		if err := t.ResetCertificate(s.req, false); err != nil && !errors.As(err, &notFound) {
			return Requested{}, s.venafiError(ErrTypeRequestFailed, "Failed to request certificate from Venafi", err)
		}
	}
	id, err := s.conn.RequestCertificate(s.req)
	if err != nil {
		return Requested{}, s.venafiError(ErrTypeRequestFailed, "Failed to request certificate from Venafi", err)
	}
	return Requested{PickupID: id}, nil
}

// RetrieveVenafiCertificate picks up the certificate of a request by its pickup ID,
// waiting up to pickupTimeout. A certificate still pending is a retryable error with
// Venafi's words. The result is the certificate with its intermediates, and the root
// of the chain as the CA.
func (a *Activities) RetrieveVenafiCertificate(ctx context.Context, in PickupInput) (pki.SignedCertificate, error) {
	if in.PickupID == "" {
		return pki.SignedCertificate{}, temporal.NewNonRetryableApplicationError("no pickup ID", ErrTypeRetrieveFailed, nil)
	}
	s, err := a.prepare(ctx, in.SignInput)
	if err != nil {
		return pki.SignedCertificate{}, err
	}
	s.req.PickupID = in.PickupID
	s.req.Timeout = pickupTimeout
	pcc, err := s.conn.RetrieveCertificate(s.req)
	if err != nil {
		var pending endpoint.ErrCertificatePending
		var timeout endpoint.ErrRetrieveCertificateTimeout
		if errors.As(err, &pending) || errors.As(err, &timeout) {
			return pki.SignedCertificate{}, temporal.NewApplicationError(
				"certificate still in a pending state, the request will be retried: "+redact(err.Error(), s.creds.secrets()), ErrTypePending)
		}
		return pki.SignedCertificate{}, s.venafiError(ErrTypeRetrieveFailed, "Failed to obtain certificate from Venafi", err)
	}
	certs, ca, err := SplitChain(pcc.Certificate, pcc.Chain)
	if err != nil {
		return pki.SignedCertificate{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRetrieveFailed, nil)
	}
	return pki.SignedCertificate{CertificatePEM: certs, CAPEM: ca}, nil
}

// signing is a request ready to go to Venafi, on an authenticated connector.
type signing struct {
	conn  endpoint.Connector
	creds Credentials
	req   *certificate.Request
}

// venafiError is a failure of Venafi in its own words: retryable when the server
// could not be reached, else for good.
func (s *signing) venafiError(errType, what string, err error) error {
	msg := what + ": " + redact(err.Error(), s.creds.secrets())
	if networkError(err) {
		return temporal.NewApplicationError(msg, ErrTypeUnavailable)
	}
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}

// prepare reads the request and its issuer, connects and builds vcert's request.
func (a *Activities) prepare(ctx context.Context, in SignInput) (*signing, error) {
	cr, err := a.CertFlow.CertmanagerV1().CertificateRequests(in.Request.Namespace).Get(ctx, in.Request.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("CertificateRequest %s/%s is gone", in.Request.Namespace, in.Request.Name), ErrTypeRequestGone, nil)
	case err != nil:
		return nil, fmt.Errorf("get CertificateRequest %s/%s: %w", in.Request.Namespace, in.Request.Name, err)
	case string(cr.UID) != in.Request.UID:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("CertificateRequest %s/%s was replaced", in.Request.Namespace, in.Request.Name), ErrTypeRequestGone, nil)
	}
	iss, err := a.issuer(ctx, in.Issuer)
	if err != nil {
		return nil, err
	}
	issuerFields, err := ParseCustomFields(iss.annotations[cmapi.VenafiCustomFieldsAnnotationKey])
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("Failed to parse the %s annotation of issuer %s: %v", cmapi.VenafiCustomFieldsAnnotationKey, iss.name, err), ErrTypeCustomFields, nil)
	}
	requestFields, err := ParseCustomFields(cr.Annotations[cmapi.VenafiCustomFieldsAnnotationKey])
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("Failed to parse the %s annotation of CertificateRequest %s: %v", cmapi.VenafiCustomFieldsAnnotationKey, cr.Name, err), ErrTypeCustomFields, nil)
	}
	conn, creds, err := a.connect(ctx, iss)
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			return nil, temporal.NewNonRetryableApplicationError(ce.msg, ce.reason, nil)
		}
		return nil, err
	}
	s := &signing{conn: conn, creds: creds}
	if err := a.authenticate(conn, iss, creds); err != nil {
		return nil, s.venafiError(ReasonAuthFailed, "Venafi authentication failed", err)
	}
	zone, err := conn.ReadZoneConfiguration()
	if err != nil {
		return nil, s.venafiError(ErrTypeRequestFailed, fmt.Sprintf("Failed to read Venafi zone %q", iss.spec.Zone), err)
	}
	duration := cmapi.DefaultCertificateDuration
	if cr.Spec.Duration != nil && cr.Spec.Duration.Duration > 0 {
		duration = cr.Spec.Duration.Duration
	}
	req, err := buildRequest(zone, cr.Spec.Request, duration, MergeCustomFields(issuerFields, requestFields))
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("Failed to build the Venafi request: "+redact(err.Error(), creds.secrets()), ErrTypeRequestFailed, nil)
	}
	s.req = req
	return s, nil
}

// buildRequest is vcert's request for a CSR, as upstream builds it: the zone's
// defaults applied and its policy checked locally, the CSR itself sent as it is.
func buildRequest(zone *endpoint.ZoneConfiguration, csrPEM []byte, duration time.Duration, fields []CustomField) (*certificate.Request, error) {
	csr, err := pki.ParseCSRPEM(csrPEM)
	if err != nil {
		return nil, err
	}
	if csr.Subject.String() == "" {
		return nil, errors.New("certificate requests submitted to Venafi issuers must have the 'commonName' field or at least one other subject field set")
	}
	name, err := friendlyName(csr)
	if err != nil {
		return nil, err
	}
	req := certificate.NewRequest(&x509.Certificate{
		Subject: csr.Subject, DNSNames: csr.DNSNames, EmailAddresses: csr.EmailAddresses, IPAddresses: csr.IPAddresses, URIs: csr.URIs,
		Extensions: csr.Extensions, PublicKey: csr.PublicKey, SignatureAlgorithm: csr.SignatureAlgorithm,
	})
	req.ValidityDuration = &duration
	req.IssuerHint = util.IssuerHintAllIssuers
	req.ChainOption = certificate.ChainOptionRootLast
	req.CustomFields = vcertCustomFields(fields)
	zone.UpdateCertificateRequest(req)
	if err := zone.ValidateCertificateRequest(req); err != nil {
		return nil, err
	}
	req.FriendlyName = name
	req.CsrOrigin = certificate.UserProvidedCSR
	if err := req.SetCSR(csrPEM); err != nil {
		return nil, err
	}
	return req, nil
}

// issuerObject is what the activities read of an issuer.
type issuerObject struct {
	name        string // for messages: "Issuer ns/name" or "ClusterIssuer name"
	spec        *cmapi.VenafiIssuer
	annotations map[string]string
	// namespace holds its Secrets.
	namespace string
}

// issuer reads the issuer ref names (from etcd: a check must see the spec it was
// signaled for).
func (a *Activities) issuer(ctx context.Context, ref IssuerRef) (*issuerObject, error) {
	var (
		meta metav1.ObjectMeta
		spec cmapi.IssuerSpec
		out  issuerObject
		err  error
	)
	switch ref.Kind {
	case cmapi.ClusterIssuerKind:
		out.name, out.namespace = "ClusterIssuer "+ref.Name, a.ClusterResourceNamespace
		var iss *cmapi.ClusterIssuer
		if iss, err = a.CertFlow.CertmanagerV1().ClusterIssuers().Get(ctx, ref.Name, metav1.GetOptions{}); err == nil {
			meta, spec = iss.ObjectMeta, iss.Spec
		}
	case "", cmapi.IssuerKind:
		out.name, out.namespace = fmt.Sprintf("Issuer %s/%s", ref.Namespace, ref.Name), ref.Namespace
		var iss *cmapi.Issuer
		if iss, err = a.CertFlow.CertmanagerV1().Issuers(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{}); err == nil {
			meta, spec = iss.ObjectMeta, iss.Spec
		}
	default:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("issuer kind %q is not supported", ref.Kind), ErrTypeNotVenafi, nil)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, temporal.NewNonRetryableApplicationError(out.name+" not found", ErrTypeNotVenafi, nil)
	case err != nil:
		return nil, fmt.Errorf("get %s: %w", out.name, err)
	case ref.UID != "" && string(meta.UID) != ref.UID:
		return nil, temporal.NewNonRetryableApplicationError(out.name+" was replaced", ErrTypeNotVenafi, nil)
	case spec.Venafi == nil:
		return nil, temporal.NewNonRetryableApplicationError(out.name+" is not a Venafi issuer", ErrTypeNotVenafi, nil)
	}
	out.spec, out.annotations = spec.Venafi, meta.Annotations
	return &out, nil
}

// configError is a spec or Secret problem: a Ready=False reason, never retried.
type configError struct{ reason, msg string }

func (e *configError) Error() string { return e.msg }

// credentials reads the values the issuer's spec names in its Secrets.
func (a *Activities) credentials(ctx context.Context, iss *issuerObject) (Credentials, error) {
	refs, err := SecretsOf(iss.spec)
	if err != nil {
		return Credentials{}, &configError{ReasonInvalidConfig, err.Error()}
	}
	var c Credentials
	if iss.spec.TPP != nil {
		c.CABundle = iss.spec.TPP.CABundle
	}
	for _, r := range refs {
		sec, err := a.Kube.CoreV1().Secrets(iss.namespace).Get(ctx, r.Secret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return Credentials{}, &configError{ReasonSecretMissing, fmt.Sprintf("Secret %s/%s, the %s, not found", iss.namespace, r.Secret, r.What)}
		}
		if err != nil {
			return Credentials{}, fmt.Errorf("get Secret %s/%s: %w", iss.namespace, r.Secret, err)
		}
		if r.Key == "" {
			c.TPP = sec.Data
			continue
		}
		v, ok := sec.Data[r.Key]
		if !ok {
			return Credentials{}, &configError{ReasonSecretMissing, fmt.Sprintf("Secret %s/%s, the %s, has no key %q", iss.namespace, r.Secret, r.What, r.Key)}
		}
		if iss.spec.TPP != nil {
			c.CABundle = v
		} else {
			c.APIKey = string(v)
		}
	}
	return c, nil
}

// connect builds the issuer's connector (not authenticated yet).
func (a *Activities) connect(ctx context.Context, iss *issuerObject) (endpoint.Connector, Credentials, error) {
	creds, err := a.credentials(ctx, iss)
	if err != nil {
		return nil, Credentials{}, err
	}
	fake := a.TestOnlyFakeConnectorURL != "" && URL(iss.spec) == a.TestOnlyFakeConnectorURL
	cfg, err := Config(iss.spec, creds, fake)
	if err != nil {
		return nil, creds, &configError{ReasonInvalidConfig, redact(err.Error(), creds.secrets())}
	}
	cfg.Client = a.httpClient(creds.CABundle)
	if a.UserAgent != "" {
		ua := a.UserAgent
		cfg.UserAgent = &ua
	}
	conn, err := vcert.NewClient(cfg, false)
	if err != nil {
		return nil, creds, &configError{ReasonInvalidConfig, "Failed to build the Venafi connector: " + redact(err.Error(), creds.secrets())}
	}
	return conn, creds, nil
}

// authenticate logs the connector in as upstream does: TPP with its access token, or
// username and password exchanged for an OAuth token (not the API key endpoint, gone
// from TPP 22.4); Cloud with its API key.
func (a *Activities) authenticate(conn endpoint.Connector, iss *issuerObject, creds Credentials) error {
	cfg, err := Config(iss.spec, creds, false)
	if err != nil {
		return err
	}
	auth := cfg.Credentials
	switch c := conn.(type) {
	case *tpp.Connector:
		if auth.AccessToken != "" {
			_, err := c.VerifyAccessToken(&endpoint.Authentication{AccessToken: auth.AccessToken})
			return err
		}
		tok, err := c.GetRefreshToken(&endpoint.Authentication{User: auth.User, Password: auth.Password, ClientId: auth.ClientId, Scope: auth.Scope})
		if err != nil {
			return err
		}
		return c.Authenticate(&endpoint.Authentication{AccessToken: tok.Access_token})
	case *cloud.Connector:
		return c.Authenticate(&endpoint.Authentication{APIKey: auth.APIKey})
	default: // the fake connector
		return conn.Authenticate(auth)
	}
}

// httpClient is vcert's default client with the TPP CA bundle (nil: the system's
// roots), TLS renegotiation once (IIS asks for client certificates that way), and a
// timeout, as upstream builds it.
func (a *Activities) httpClient(caBundle []byte) *http.Client {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, Renegotiation: tls.RenegotiateOnceAsClient}
	if len(caBundle) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caBundle)
		tlsConfig.RootCAs = pool
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          10,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       tlsConfig,
		},
	}
}

// networkError reports whether err is the server not being reached (DNS, TCP, TLS)
// rather than its answer.
func networkError(err error) bool {
	var netErr *net.OpError
	var urlErr *url.Error
	return errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.Is(err, verror.ServerUnavailableError)
}
