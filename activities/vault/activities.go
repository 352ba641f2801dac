// Package vault signs certificates with HashiCorp Vault's PKI secrets engine, as
// upstream's Vault issuer does: it logs in (a token, AppRole, Kubernetes or TLS
// certificate auth), posts the CSR to the issuer's sign or sign-verbatim path, and
// returns the chain and ca.crt. Credentials are read from Secrets on every call and
// never returned, logged or put in an error: the inputs hold references only.
package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Types of the non-retryable errors the activities return.
const (
	// ErrTypeConfig: the issuer cannot be used as it is: a Secret, key or
	// ServiceAccount that is missing, a value that does not parse, no auth method.
	ErrTypeConfig = "VaultConfig"
	// ErrTypeRefused: Vault refused the request for good (a wrong token or secret ID,
	// no permission, an unknown path or role, a CSR its role does not allow); the
	// message holds Vault's own words.
	ErrTypeRefused = "VaultRefused"
)

// Activities talk to Vault for Vault issuers. Register them with the names the
// workflows call (workflows/activities.go).
type Activities struct {
	Kube kubernetes.Interface
	// ClusterResourceNamespace holds the Secrets and ServiceAccounts of ClusterIssuers.
	ClusterResourceNamespace string
}

// IssuerRef names the Vault issuer an input acts for.
type IssuerRef struct {
	Kind string `json:"kind"` // Issuer or ClusterIssuer
	Name string `json:"name"`
	// Namespace is the Issuer's namespace, "" for a ClusterIssuer (its Secrets and
	// ServiceAccounts are then in the cluster resource namespace).
	Namespace string `json:"namespace,omitempty"`
}

// CheckInput asks whether a Vault issuer can be used.
type CheckInput struct {
	Issuer IssuerRef         `json:"issuer"`
	Spec   cmapi.VaultIssuer `json:"spec"`
}

// SignInput asks Vault to sign a CSR.
type SignInput struct {
	Issuer IssuerRef         `json:"issuer"`
	Spec   cmapi.VaultIssuer `json:"spec"`
	CSRPEM []byte            `json:"csrPEM"`
	// Duration is the requested validity (Vault's ttl).
	Duration time.Duration `json:"duration"`
}

// CheckVault verifies that Vault answers: initialized and unsealed (sys/health), and
// the issuer's credentials accepted (a login, or a token's lookup-self). The error
// carries Vault's words.
func (a *Activities) CheckVault(ctx context.Context, in CheckInput) error {
	c, err := a.connect(ctx, in.Issuer, in.Spec)
	if err != nil {
		return err
	}
	var health struct {
		Initialized bool `json:"initialized"`
		Sealed      bool `json:"sealed"`
	}
	// As Vault's own client asks: a standby answers 200 too, a sealed or uninitialized
	// server 299, so the body says which.
	q := url.Values{"standbyok": {"true"}, "perfstandbyok": {"true"}, "sealedcode": {"299"}, "uninitcode": {"299"}}
	if err := c.do(ctx, "vault health check", "GET", "/v1/sys/health", q, nil, &health); err != nil {
		return classify(err)
	}
	if !health.Initialized || health.Sealed {
		return temporal.NewNonRetryableApplicationError("Vault is not initialized or is sealed", ErrTypeRefused, nil)
	}
	if err := a.login(ctx, c, in.Issuer, in.Spec); err != nil {
		return err
	}
	if in.Spec.Auth.TokenSecretRef != nil {
		if err := c.do(ctx, "vault token lookup-self", "GET", "/v1/auth/token/lookup-self", nil, nil, nil); err != nil {
			return classify(err)
		}
	}
	return nil
}

// SignWithVault logs in and has Vault sign the CSR at the issuer's path; the chain
// (leaf first, no self-signed root) and ca.crt (the top of Vault's chain) come back.
func (a *Activities) SignWithVault(ctx context.Context, in SignInput) (pki.SignedCertificate, error) {
	params, err := SignParameters(in.Spec.Path, in.CSRPEM, in.Duration)
	if err != nil {
		return pki.SignedCertificate{}, configError("%s", err)
	}
	c, err := a.connect(ctx, in.Issuer, in.Spec)
	if err != nil {
		return pki.SignedCertificate{}, err
	}
	if err := a.login(ctx, c, in.Issuer, in.Spec); err != nil {
		return pki.SignedCertificate{}, err
	}
	var res struct {
		Data struct {
			Certificate string   `json:"certificate"`
			IssuingCA   string   `json:"issuing_ca"`
			CAChain     []string `json:"ca_chain"`
		} `json:"data"`
	}
	p := "/v1/" + strings.TrimPrefix(in.Spec.Path, "/")
	if err := c.do(ctx, "vault sign at "+in.Spec.Path, "POST", p, nil, params, &res); err != nil {
		return pki.SignedCertificate{}, classify(err)
	}
	chain, ca, err := SplitChain(res.Data.Certificate, res.Data.CAChain, res.Data.IssuingCA)
	if err != nil {
		return pki.SignedCertificate{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeRefused, nil)
	}
	return pki.SignedCertificate{CertificatePEM: chain, CAPEM: ca}, nil
}

// SignParameters are the fields posted to a sign path, as upstream sends them: the
// CSR, the ttl and, for sign/ROLE, the CSR's names (the CN kept out of the SANs); a
// sign-verbatim path takes everything from the CSR itself. Pure.
func SignParameters(path string, csrPEM []byte, duration time.Duration) (map[string]string, error) {
	csr, err := pki.ParseCSRPEM(csrPEM)
	if err != nil {
		return nil, fmt.Errorf("vault: the CSR does not parse: %w", err)
	}
	p := map[string]string{"csr": string(csrPEM)}
	if duration > 0 {
		p["ttl"] = duration.String()
	}
	if isSignVerbatim(path) {
		return p, nil
	}
	ips := make([]string, 0, len(csr.IPAddresses))
	for _, ip := range csr.IPAddresses {
		ips = append(ips, ip.String())
	}
	uris := make([]string, 0, len(csr.URIs))
	for _, u := range csr.URIs {
		uris = append(uris, u.String())
	}
	p["common_name"] = csr.Subject.CommonName
	p["alt_names"] = strings.Join(csr.DNSNames, ",")
	p["ip_sans"] = strings.Join(ips, ",")
	p["uri_sans"] = strings.Join(uris, ",")
	p["exclude_cn_from_sans"] = "true"
	return p, nil
}

// isSignVerbatim reports whether a Vault path is a PKI mount's sign-verbatim endpoint.
func isSignVerbatim(path string) bool {
	for _, seg := range strings.Split(strings.Trim(path, "/"), "/") {
		if seg == "sign-verbatim" {
			return true
		}
	}
	return false
}

// LoginPath is the login endpoint of an auth method mounted at mount (upstream's
// mountPath, with "/v1/auth/..." in it), or at def when mount is empty. Pure.
func LoginPath(mount, def string) string {
	m := strings.TrimSuffix(strings.TrimSpace(mount), "/")
	if m == "" {
		m = def
	}
	if !strings.HasPrefix(m, "/") {
		m = "/" + m
	}
	return m + "/login"
}

// ServiceAccountAudiences are the audiences of a token requested for an issuer's
// serviceAccountRef, as upstream asks for them: the user's, then
// "vault://<namespace>/<issuer>" (an Issuer) or "vault://<issuer>" (a ClusterIssuer),
// which the Vault role must name. Pure.
func ServiceAccountAudiences(issuer IssuerRef, extra []string) []string {
	def := "vault://"
	if issuer.Kind != cmapi.ClusterIssuerKind && issuer.Namespace != "" {
		def += issuer.Namespace + "/"
	}
	return append(append([]string{}, extra...), def+issuer.Name)
}

// tokenRequestSeconds is the life of a requested ServiceAccount token: the API's
// minimum, as it is used for one login at once.
const tokenRequestSeconds = 600

// connect reads the TLS settings of the issuer (CA bundle, client certificate) and
// returns a client of its server.
func (a *Activities) connect(ctx context.Context, issuer IssuerRef, spec cmapi.VaultIssuer) (*client, error) {
	ns, err := a.resourceNamespace(issuer)
	if err != nil {
		return nil, err
	}
	t := tlsSettings{serverName: spec.ServerName}
	bundle := spec.CABundle
	if len(bundle) == 0 && spec.CABundleSecretRef != nil {
		v, err := a.secretValue(ctx, ns, "caBundleSecretRef", *spec.CABundleSecretRef, "ca.crt")
		if err != nil {
			return nil, err
		}
		bundle = v
	}
	if len(bundle) > 0 {
		t.roots = x509.NewCertPool()
		if !t.roots.AppendCertsFromPEM(bundle) {
			return nil, configError("vault: the CA bundle holds no PEM certificate")
		}
	}
	switch {
	case spec.ClientCertSecretRef != nil && spec.ClientKeySecretRef != nil:
		cert, err := a.secretValue(ctx, ns, "clientCertSecretRef", *spec.ClientCertSecretRef, corev1.TLSCertKey)
		if err != nil {
			return nil, err
		}
		key, err := a.secretValue(ctx, ns, "clientKeySecretRef", *spec.ClientKeySecretRef, corev1.TLSPrivateKeyKey)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, configError("vault: clientCertSecretRef and clientKeySecretRef are no key pair: %s", safeTLSError(err))
		}
		t.clientCert = &pair
	case spec.ClientCertSecretRef != nil || spec.ClientKeySecretRef != nil:
		return nil, configError("vault: clientCertSecretRef and clientKeySecretRef must be set together")
	}
	if cc := spec.Auth.ClientCertificate; cc != nil && cc.SecretName != "" {
		pair, err := a.tlsSecret(ctx, ns, cc.SecretName)
		if err != nil {
			return nil, err
		}
		t.clientCert = &pair
	}
	return newClient(spec.Server, spec.Namespace, t)
}

// login gives c a token by the issuer's auth method.
func (a *Activities) login(ctx context.Context, c *client, issuer IssuerRef, spec cmapi.VaultIssuer) error {
	ns, err := a.resourceNamespace(issuer)
	if err != nil {
		return err
	}
	auth := spec.Auth
	var (
		path, op string
		body     map[string]string
	)
	switch {
	case auth.TokenSecretRef != nil:
		tok, err := a.secretValue(ctx, ns, "tokenSecretRef", *auth.TokenSecretRef, "token")
		if err != nil {
			return err
		}
		c.token = strings.TrimSpace(string(tok))
		return nil
	case auth.AppRole != nil:
		secretID, err := a.secretValue(ctx, ns, "appRole.secretRef", auth.AppRole.SecretRef, "secretId")
		if err != nil {
			return err
		}
		mount := strings.Trim(auth.AppRole.Path, "/")
		if mount == "" {
			mount = "approle"
		}
		path = "/v1/auth/" + mount + "/login"
		op, body = "vault AppRole login", map[string]string{"role_id": auth.AppRole.RoleId, "secret_id": strings.TrimSpace(string(secretID))}
	case auth.ClientCertificate != nil:
		if !c.clientCert {
			return configError("vault: clientCertificate auth: no client certificate: set clientCertificate.secretName, or clientCertSecretRef and clientKeySecretRef")
		}
		path, op = LoginPath(auth.ClientCertificate.MountPath, "/v1/auth/cert"), "vault certificate login"
		body = map[string]string{}
		if auth.ClientCertificate.Name != "" {
			body["name"] = auth.ClientCertificate.Name
		}
	case auth.Kubernetes != nil:
		k := auth.Kubernetes
		jwt, err := a.kubernetesJWT(ctx, ns, issuer, k)
		if err != nil {
			return err
		}
		path, op = LoginPath(k.Path, "/v1/auth/kubernetes"), "vault Kubernetes login"
		body = map[string]string{"role": k.Role, "jwt": jwt}
	default:
		return configError("vault: no auth method: set one of tokenSecretRef, appRole, clientCertificate or kubernetes")
	}
	var res struct {
		Auth *struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	if err := c.do(ctx, op, "POST", path, nil, body, &res); err != nil {
		return classify(err)
	}
	if res.Auth == nil || res.Auth.ClientToken == "" {
		return temporal.NewNonRetryableApplicationError(op+": Vault answered without a client token", ErrTypeRefused, nil)
	}
	c.token = res.Auth.ClientToken
	return nil
}

// kubernetesJWT is the ServiceAccount token of a Kubernetes login: from secretRef, or
// requested for serviceAccountRef through the TokenRequest API (which takes create on
// serviceaccounts/token, granted per ServiceAccount with a Role, as upstream asks).
func (a *Activities) kubernetesJWT(ctx context.Context, ns string, issuer IssuerRef, k *cmapi.VaultKubernetesAuth) (string, error) {
	switch {
	case k.SecretRef != nil:
		v, err := a.secretValue(ctx, ns, "kubernetes.secretRef", *k.SecretRef, corev1.ServiceAccountTokenKey)
		return strings.TrimSpace(string(v)), err
	case k.ServiceAccountRef != nil:
		if a.Kube == nil {
			return "", configError("vault: the worker has no Kubernetes client to request a token")
		}
		seconds := int64(tokenRequestSeconds)
		tr, err := a.Kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, k.ServiceAccountRef.Name, &authv1.TokenRequest{
			Spec: authv1.TokenRequestSpec{Audiences: ServiceAccountAudiences(issuer, k.ServiceAccountRef.TokenAudiences), ExpirationSeconds: &seconds},
		}, metav1.CreateOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return "", configError("vault: kubernetes.serviceAccountRef: ServiceAccount %s/%s not found", ns, k.ServiceAccountRef.Name)
		case apierrors.IsForbidden(err):
			return "", configError("vault: kubernetes.serviceAccountRef: a token for ServiceAccount %s/%s may not be requested: grant certflow's worker create on serviceaccounts/token for it with a Role (%s)",
				ns, k.ServiceAccountRef.Name, err.Error())
		case err != nil:
			return "", fmt.Errorf("vault: request a token for ServiceAccount %s/%s: %w", ns, k.ServiceAccountRef.Name, err)
		}
		return tr.Status.Token, nil
	}
	return "", configError("vault: kubernetes auth: set secretRef or serviceAccountRef")
}

func (a *Activities) resourceNamespace(issuer IssuerRef) (string, error) {
	if issuer.Namespace != "" && issuer.Kind != cmapi.ClusterIssuerKind {
		return issuer.Namespace, nil
	}
	if a.ClusterResourceNamespace == "" {
		return "", configError("vault: the worker has no cluster resource namespace for ClusterIssuer %s", issuer.Name)
	}
	return a.ClusterResourceNamespace, nil
}

// secretValue reads one key of a Secret (key def when the selector names none). A
// missing Secret, key or value is a non-retryable VaultConfig error; other API errors
// are retryable. The value never appears in errors.
func (a *Activities) secretValue(ctx context.Context, ns, field string, sel cmmeta.SecretKeySelector, def string) ([]byte, error) {
	key := sel.Key
	if key == "" {
		key = def
	}
	if sel.Name == "" {
		return nil, configError("vault: %s: no Secret name set", field)
	}
	s, err := a.getSecret(ctx, ns, field, sel.Name)
	if err != nil {
		return nil, err
	}
	v, ok := s.Data[key]
	if !ok {
		return nil, configError("vault: %s: Secret %s/%s has no key %q", field, ns, sel.Name, key)
	}
	if strings.TrimSpace(string(v)) == "" {
		return nil, configError("vault: %s: key %q of Secret %s/%s is empty", field, key, ns, sel.Name)
	}
	return v, nil
}

func (a *Activities) getSecret(ctx context.Context, ns, field, name string) (*corev1.Secret, error) {
	if a.Kube == nil {
		return nil, configError("vault: %s: the worker has no Kubernetes client to read Secret %s/%s", field, ns, name)
	}
	s, err := a.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, configError("vault: %s: Secret %s/%s not found", field, ns, name)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: %s: get Secret %s/%s: %w", field, ns, name, err)
	}
	return s, nil
}

// tlsSecret reads the key pair of a kubernetes.io/tls Secret (clientCertificate auth).
func (a *Activities) tlsSecret(ctx context.Context, ns, name string) (tls.Certificate, error) {
	const field = "clientCertificate.secretName"
	s, err := a.getSecret(ctx, ns, field, name)
	if err != nil {
		return tls.Certificate{}, err
	}
	pair, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return tls.Certificate{}, configError("vault: %s: Secret %s/%s holds no key pair in tls.crt and tls.key: %s", field, ns, name, safeTLSError(err))
	}
	return pair, nil
}

// safeTLSError is crypto/tls's description of a bad key pair, which never quotes the
// key, cut short anyway.
func safeTLSError(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

// classify makes Vault's refusals non-retryable, with its words; network errors and
// 5xx answers stay retryable.
func classify(err error) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.refusal() {
		return temporal.NewNonRetryableApplicationError(ae.Error(), ErrTypeRefused, nil)
	}
	return err
}

func configError(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrTypeConfig, nil)
}
