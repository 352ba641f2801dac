package dns01

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Provider names in DNS01Record.Provider.
const (
	ProviderCloudflare = "cloudflare"
	ProviderRFC2136    = "rfc2136"
	// ProviderDigitalOcean runs on the shared recordAPI skeleton (recordapi.go).
	ProviderDigitalOcean = "digitalocean"
	// ProviderRoute53 is Amazon Route 53 (route53.go).
	ProviderRoute53 = "route53"
	// ProviderCloudDNS runs on the shared recordAPI skeleton (clouddns.go).
	ProviderCloudDNS = "clouddns"
	// ProviderAzureDNS runs on the shared recordAPI skeleton (azuredns.go).
	ProviderAzureDNS = "azuredns"
	// ProviderAcmeDNS sets the value at an acme-dns account (acmedns.go).
	ProviderAcmeDNS = "acmeDNS"
	// ProviderAkamai runs on the shared recordAPI skeleton (akamai.go).
	ProviderAkamai = "akamai"
)

// Activities are the DNS-01 solver activities. Register them on a worker with
// worker.RegisterActivity(&dns01.Activities{...}); the activity names are the
// method names: PresentDNS01, CleanUpDNS01 and CheckDNS01Propagation.
//
// Credentials are read from Secrets on every call and never cached, logged or
// returned, so a rotated Secret takes effect at the next attempt.
type Activities struct {
	Kube kubernetes.Interface
	// ClusterResourceNamespace is where ClusterIssuers' Secrets live.
	ClusterResourceNamespace string
	// CloudflareAPIURL overrides Cloudflare's API base URL, including
	// "/client/v4" (the local stack's fake); "" means the real API.
	CloudflareAPIURL string
	// DigitalOceanAPIURL overrides DigitalOcean's API base URL, without "/v2"
	// (the local stack's fake); "" means the real API.
	DigitalOceanAPIURL string
	// Route53APIURL and STSAPIURL override the endpoints of Amazon Route 53 and STS
	// (the local stack's fake serves both); "" means AWS.
	Route53APIURL, STSAPIURL string
	// IssuerAmbientCredentials and ClusterIssuerAmbientCredentials let a route53
	// solver without static keys of an Issuer, or of a ClusterIssuer, use the worker's
	// own AWS credentials (upstream's --issuer-ambient-credentials and
	// --cluster-issuer-ambient-credentials).
	IssuerAmbientCredentials, ClusterIssuerAmbientCredentials bool
	// CloudDNSAPIURL overrides Google Cloud DNS's API base URL, before "/dns/v1"
	// (the local stack's fake); "" means the real API.
	CloudDNSAPIURL string
	// AzureEndpoints overrides Azure's Entra ID and Resource Manager endpoints and
	// the CAs trusted for them (the local stack's fake); empty means the
	// environment's.
	AzureEndpoints AzureEndpoints
	// ProviderCAFile, when set, is a PEM file of CA certificates that the DNS provider
	// API clients (Akamai, acme-dns, Azure DNS) trust besides the system's roots: a
	// private API endpoint, or the local stack's fakes. It is read at each call.
	ProviderCAFile string
	// RecursiveNameservers ("host" or "host:port"), when set, are asked in the
	// propagation check instead of the zone's authoritative nameservers
	// (upstream's --dns01-recursive-nameservers-only), and are used to follow
	// CNAMEs. When empty, /etc/resolv.conf's nameservers follow CNAMEs and the
	// check asks the authoritative nameservers.
	RecursiveNameservers []string
	// LoadChallenge, when set, returns the Challenge an input names, failing for good
	// when it is gone or has another UID. The solver, the issuer's namespace (whose
	// Secrets hold the credentials), the DNS name and the key are then the Challenge's,
	// whatever the input says: a workflow started by hand with forged input cannot
	// present records with another issuer's credentials. The worker sets it.
	LoadChallenge func(ctx context.Context, namespace, name, uid string) (*acmev1.Challenge, error)
	// ReportChallengeReason, when set, writes a reason on the Challenge now: a present
	// that fails and will be retried shows the provider's words at its first failure,
	// not only when its retries run out minutes later. The worker sets it.
	ReportChallengeReason func(ctx context.Context, namespace, name, uid, reason string) error
}

// ChallengeRef names the Challenge object a DNS-01 input acts for.
type ChallengeRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// DNS01Input names one DNS-01 challenge and the solver that answers it. With
// Activities.LoadChallenge, Challenge decides and the other fields are what the
// workflow believes (shown in its history); see there.
type DNS01Input struct {
	// Challenge is the Challenge object (its UID included) the record is for.
	Challenge ChallengeRef `json:"challenge"`
	// IssuerNamespace is the Issuer's namespace, "" for a ClusterIssuer (then
	// ClusterResourceNamespace is used to read Secrets).
	IssuerNamespace string `json:"issuerNamespace,omitempty"`
	// Solver is the issuer's dns01 solver configuration.
	Solver acmev1.ACMEChallengeSolverDNS01 `json:"solver"`
	// DNSName is the identifier, without "*." (a wildcard's challenge is at the
	// apex name).
	DNSName string `json:"dnsName"`
	// KeyAuthorization is the challenge's key authorization; the TXT value is
	// TXTValue(KeyAuthorization).
	KeyAuthorization string `json:"keyAuthorization"`
}

// DNS01Record is the TXT record PresentDNS01 made sure of.
type DNS01Record struct {
	// FQDN is where the record is, with a trailing dot: ChallengeFQDN(DNSName),
	// or the end of its CNAME chain with cnameStrategy Follow.
	FQDN  string `json:"fqdn"`
	Value string `json:"value"`
	// Provider is ProviderCloudflare, ProviderRFC2136, ProviderDigitalOcean or ProviderRoute53.
	Provider string `json:"provider"`
}

// TXTValue returns the TXT record value of a DNS-01 challenge: the base64url
// (unpadded) SHA-256 digest of the key authorization, as RFC 8555 section 8.4
// says.
func TXTValue(keyAuthorization string) string {
	sum := sha256.Sum256([]byte(keyAuthorization))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ChallengeFQDN returns the name of the challenge's TXT record,
// "_acme-challenge.<dnsName>." (a leading "*." and a trailing dot on dnsName
// are dropped first).
func ChallengeFQDN(dnsName string) string {
	n := strings.TrimSuffix(strings.TrimSpace(dnsName), ".")
	n = strings.TrimPrefix(n, "*.")
	return "_acme-challenge." + n + "."
}

// PresentDNS01 makes the challenge's TXT record exist at the solver's DNS
// provider. With cnameStrategy Follow the record is written at the end of the
// CNAME chain of ChallengeFQDN(DNSName). It is idempotent.
func (a *Activities) PresentDNS01(ctx context.Context, in DNS01Input) (DNS01Record, error) {
	in, err := a.fromChallenge(ctx, in)
	if err != nil {
		return DNS01Record{}, err
	}
	rec, p, err := a.prepare(ctx, in)
	if err != nil {
		return DNS01Record{}, err
	}
	if err := p.Present(ctx, rec.FQDN, rec.Value); err != nil {
		err = refusedOrErr(fmt.Sprintf("dns01: present TXT %s via %s", rec.FQDN, rec.Provider), err)
		a.reportRetrying(ctx, in.Challenge, err)
		return DNS01Record{}, err
	}
	return rec, nil
}

// reportRetrying writes a present failure that Temporal will retry on the Challenge,
// with the attempt. A failure for good is left to the workflow, which writes it as the
// Challenge's final state. Best effort: the retry goes on if the write fails.
func (a *Activities) reportRetrying(ctx context.Context, ch ChallengeRef, err error) {
	var appErr *temporal.ApplicationError
	if a.ReportChallengeReason == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		return
	}
	reason := fmt.Sprintf("Error presenting challenge: %v (retrying)", err)
	if activity.IsActivity(ctx) {
		reason = fmt.Sprintf("Error presenting challenge: %v (attempt %d, retrying)", err, activity.GetInfo(ctx).Attempt)
	}
	if rerr := a.ReportChallengeReason(ctx, ch.Namespace, ch.Name, ch.UID, reason); rerr != nil && activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Warn("could not write the present failure on the Challenge", "challenge", ch.Namespace+"/"+ch.Name, "error", rerr)
	}
}

// CleanUpDNS01 removes the challenge's TXT record (the value of this key
// authorization only) from the solver's DNS provider. A record that is already
// gone is not an error.
//
// A Challenge that is still there decides, as for PresentDNS01. One that is gone
// (deleted, or garbage-collected with its Order, before its workflow cleaned up) no
// longer can, and the input's solver removes the record: a cleanup only ever removes
// the one value of the input's key authorization, so the record is not left behind.
func (a *Activities) CleanUpDNS01(ctx context.Context, in DNS01Input) error {
	if from, err := a.fromChallenge(ctx, in); err == nil {
		in = from
	} else if !isObjectGone(err) {
		return err
	}
	rec, p, err := a.prepare(ctx, in)
	if err != nil {
		return err
	}
	if err := p.CleanUp(ctx, rec.FQDN, rec.Value); err != nil {
		return refusedOrErr(fmt.Sprintf("dns01: clean up TXT %s via %s", rec.FQDN, rec.Provider), err)
	}
	return nil
}

// CheckDNS01Propagation makes one pass of the propagation check of the
// challenge's TXT record: it asks RecursiveNameservers when set, else the
// zone's authoritative nameservers, and follows CNAMEs when the solver's
// cnameStrategy is Follow. It never waits: the workflow loops on durable
// timers. DNS trouble is a not-ready result, not an error.
func (a *Activities) CheckDNS01Propagation(ctx context.Context, in DNS01Input) (CheckResult, error) {
	if err := validateInput(in); err != nil {
		return CheckResult{}, err
	}
	for _, ns := range a.RecursiveNameservers {
		if _, err := dqHostPort(ns, 53); err != nil {
			return CheckResult{}, configError("dns01: recursive nameserver %q: %v", ns, err)
		}
	}
	res, err := CheckTXT(ctx, ChallengeFQDN(in.DNSName), TXTValue(in.KeyAuthorization), CheckOptions{
		Nameservers: a.RecursiveNameservers,
		// acme-dns is reached only through the _acme-challenge CNAME to an account's
		// fulldomain, whatever cnameStrategy says (it only decides where records are
		// written, and acme-dns writes at the fulldomain anyway).
		FollowCNAME: in.Solver.CNAMEStrategy == acmev1.FollowStrategy || in.Solver.AcmeDNS != nil,
	})
	if err != nil {
		return CheckResult{}, err
	}
	return res, nil
}

// fromChallenge returns the input with the solver, issuer namespace, DNS name and
// key of the Challenge it names, read now (with LoadChallenge; without, the input).
func (a *Activities) fromChallenge(ctx context.Context, in DNS01Input) (DNS01Input, error) {
	if a.LoadChallenge == nil {
		return in, nil
	}
	ref := in.Challenge
	if ref.Name == "" || ref.UID == "" {
		return in, objectGone("dns01: the input names no Challenge (namespace, name and UID): nothing is presented for it")
	}
	ch, err := a.LoadChallenge(ctx, ref.Namespace, ref.Name, ref.UID)
	if err != nil {
		return in, err
	}
	if ch.Spec.Solver.DNS01 == nil {
		return in, configError("dns01: Challenge %s/%s has no dns01 solver", ref.Namespace, ref.Name)
	}
	out := DNS01Input{Challenge: ref, IssuerNamespace: ch.Namespace, Solver: *ch.Spec.Solver.DNS01,
		DNSName: ch.Spec.DNSName, KeyAuthorization: ch.Spec.Key}
	if ch.Spec.IssuerRef.Kind == "ClusterIssuer" {
		out.IssuerNamespace = ""
	}
	return out, nil
}

// prepare validates the input, builds the provider with credentials read now,
// and works out the record (following CNAMEs when asked).
func (a *Activities) prepare(ctx context.Context, in DNS01Input) (DNS01Record, Provider, error) {
	if err := validateInput(in); err != nil {
		return DNS01Record{}, nil, err
	}
	if s := in.Solver.CNAMEStrategy; s != "" && s != acmev1.NoneStrategy && s != acmev1.FollowStrategy {
		return DNS01Record{}, nil, configError("dns01: unknown cnameStrategy %q: use None or Follow", s)
	}
	p, name, err := a.provider(ctx, in)
	if err != nil {
		return DNS01Record{}, nil, err
	}
	fqdn := ChallengeFQDN(in.DNSName)
	if in.Solver.CNAMEStrategy == acmev1.FollowStrategy {
		target, err := a.followCNAME(ctx, fqdn)
		if err != nil {
			return DNS01Record{}, nil, err
		}
		fqdn = target
	}
	return DNS01Record{FQDN: fqdn, Value: TXTValue(in.KeyAuthorization), Provider: name}, p, nil
}

func validateInput(in DNS01Input) error {
	n := strings.TrimSpace(in.DNSName)
	if n == "" || n == "*." {
		return configError("dns01: the challenge has no DNS name")
	}
	if _, ok := dns.IsDomainName(ChallengeFQDN(n)); !ok {
		return configError("dns01: invalid DNS name %q", in.DNSName)
	}
	if in.KeyAuthorization == "" {
		return configError("dns01: the challenge for %s has no key authorization", in.DNSName)
	}
	return nil
}

// followCNAME follows fqdn's CNAME chain through the recursive nameservers
// (or /etc/resolv.conf's) and returns its end. Lookup failures are retryable.
func (a *Activities) followCNAME(ctx context.Context, fqdn string) (string, error) {
	var resolvers []string
	if len(a.RecursiveNameservers) > 0 {
		for _, ns := range a.RecursiveNameservers {
			hp, err := dqHostPort(ns, 53)
			if err != nil {
				return "", configError("dns01: recursive nameserver %q: %v", ns, err)
			}
			resolvers = append(resolvers, hp)
		}
	} else {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return "", fmt.Errorf("dns01: following CNAMEs of %s: no recursive nameservers set and /etc/resolv.conf is unusable: %w", fqdn, err)
		}
		for _, s := range cc.Servers {
			resolvers = append(resolvers, net.JoinHostPort(s, cc.Port))
		}
		if len(resolvers) == 0 {
			return "", fmt.Errorf("dns01: following CNAMEs of %s: no recursive nameservers set and /etc/resolv.conf lists none", fqdn)
		}
	}
	target, err := dqFollowCNAME(ctx, resolvers, fqdn, DefaultCheckTimeout)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", ctxErr
		}
		return "", fmt.Errorf("dns01: following CNAMEs of %s through %s: %w", fqdn, strings.Join(resolvers, ", "), err)
	}
	return dns.Fqdn(target), nil
}

// provider builds the solver's Provider, reading its credentials from Secrets.
func (a *Activities) provider(ctx context.Context, in DNS01Input) (Provider, string, error) {
	s := in.Solver
	switch {
	case s.Cloudflare != nil:
		p, err := a.cloudflare(ctx, in.IssuerNamespace, s.Cloudflare)
		return p, ProviderCloudflare, err
	case s.RFC2136 != nil:
		p, err := a.rfc2136(ctx, in.IssuerNamespace, s.RFC2136)
		return p, ProviderRFC2136, err
	case s.DigitalOcean != nil:
		p, err := a.digitalOcean(ctx, in.IssuerNamespace, s.DigitalOcean)
		return p, ProviderDigitalOcean, err
	case s.Route53 != nil:
		p, err := a.route53(ctx, in.IssuerNamespace, s.Route53)
		return p, ProviderRoute53, err
	case s.Webhook != nil:
		p, err := a.webhook(in)
		return p, ProviderWebhook, err
	case s.CloudDNS != nil:
		p, err := a.cloudDNS(ctx, in.IssuerNamespace, s.CloudDNS)
		return p, ProviderCloudDNS, err
	case s.AzureDNS != nil:
		p, err := a.azureDNS(ctx, in.IssuerNamespace, s.AzureDNS)
		return p, ProviderAzureDNS, err
	case s.AcmeDNS != nil:
		p, err := a.acmeDNS(ctx, in.IssuerNamespace, s.AcmeDNS, in.DNSName)
		return p, ProviderAcmeDNS, err
	case s.Akamai != nil:
		p, err := a.akamai(ctx, in.IssuerNamespace, s.Akamai)
		return p, ProviderAkamai, err
	}
	return nil, "", temporal.NewNonRetryableApplicationError(
		"dns01: the solver sets no DNS provider: set one of cloudflare, route53, cloudDNS, azureDNS, digitalocean, acmeDNS, akamai, rfc2136 or webhook", ErrTypeUnsupported, nil)
}

func (a *Activities) cloudflare(ctx context.Context, issuerNS string, cf *acmev1.ACMEIssuerDNS01ProviderCloudflare) (Provider, error) {
	cfg := CloudflareConfig{BaseURL: a.CloudflareAPIURL}
	switch {
	case cf.APIToken != nil && cf.APIKey != nil:
		return nil, configError("dns01: cloudflare: set only one of apiTokenSecretRef and apiKeySecretRef")
	case cf.APIToken != nil:
		tok, err := a.secretValue(ctx, issuerNS, "cloudflare apiTokenSecretRef", *cf.APIToken)
		if err != nil {
			return nil, err
		}
		cfg.APIToken = tok // the email, if any, is not needed with a token
	case cf.APIKey != nil:
		if strings.TrimSpace(cf.Email) == "" {
			return nil, configError("dns01: cloudflare: email is required with apiKeySecretRef")
		}
		key, err := a.secretValue(ctx, issuerNS, "cloudflare apiKeySecretRef", *cf.APIKey)
		if err != nil {
			return nil, err
		}
		cfg.Email, cfg.APIKey = cf.Email, key
	default:
		return nil, configError("dns01: cloudflare: set apiTokenSecretRef, or email and apiKeySecretRef")
	}
	p, err := NewCloudflare(cfg)
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}

func (a *Activities) digitalOcean(ctx context.Context, issuerNS string, do *acmev1.ACMEIssuerDNS01ProviderDigitalOcean) (Provider, error) {
	tok, err := a.secretValue(ctx, issuerNS, "digitalocean tokenSecretRef", do.Token)
	if err != nil {
		return nil, err
	}
	p, err := NewDigitalOcean(DigitalOceanConfig{Token: tok, BaseURL: a.DigitalOceanAPIURL})
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}

// route53 reads the solver's static credentials (the access key ID inline or from a
// Secret, the secret access key from a Secret). Without them, as upstream, the worker's
// ambient credentials are used only when allowed for the issuer's kind; auth.kubernetes
// is not supported yet: a DNS01Config error says so.
func (a *Activities) route53(ctx context.Context, issuerNS string, r *acmev1.ACMEIssuerDNS01ProviderRoute53) (Provider, error) {
	if r.Auth != nil && r.Auth.Kubernetes != nil {
		return nil, configError("dns01: route53: auth.kubernetes (a ServiceAccount token for AssumeRoleWithWebIdentity) is not supported by certflow: use accessKeyID or accessKeyIDSecretRef with secretAccessKeySecretRef")
	}
	cfg := Route53Config{AccessKeyID: strings.TrimSpace(r.AccessKeyID), Role: strings.TrimSpace(r.Role), Region: strings.TrimSpace(r.Region),
		HostedZoneID: r.HostedZoneID, BaseURL: a.Route53APIURL, STSBaseURL: a.STSAPIURL}
	switch {
	case cfg.AccessKeyID != "" && r.SecretAccessKeyID != nil:
		return nil, configError("dns01: route53: set only one of accessKeyID and accessKeyIDSecretRef")
	case cfg.AccessKeyID == "" && r.SecretAccessKeyID == nil && r.SecretAccessKey.Name == "":
		kind, allowed, flag := "Issuers", a.IssuerAmbientCredentials, "--issuer-ambient-credentials"
		if issuerNS == "" {
			kind, allowed, flag = "ClusterIssuers", a.ClusterIssuerAmbientCredentials, "--cluster-issuer-ambient-credentials"
		}
		if !allowed {
			return nil, configError("dns01: route53: no credentials: set accessKeyID (or accessKeyIDSecretRef) and secretAccessKeySecretRef; ambient credentials (the worker's own) are not allowed for %s (worker flag %s)", kind, flag)
		}
		cfg.Ambient = true
		p, err := NewRoute53(cfg)
		if err != nil {
			return nil, configError("dns01: %v", err)
		}
		return p, nil
	case r.SecretAccessKey.Name == "":
		return nil, configError("dns01: route53: secretAccessKeySecretRef is required with accessKeyID or accessKeyIDSecretRef")
	}
	if r.SecretAccessKeyID != nil {
		id, err := a.secretValue(ctx, issuerNS, "route53 accessKeyIDSecretRef", *r.SecretAccessKeyID)
		if err != nil {
			return nil, err
		}
		cfg.AccessKeyID = strings.TrimSpace(id)
	}
	if cfg.AccessKeyID == "" {
		return nil, configError("dns01: route53: no access key ID: set accessKeyID or accessKeyIDSecretRef with secretAccessKeySecretRef")
	}
	secret, err := a.secretValue(ctx, issuerNS, "route53 secretAccessKeySecretRef", r.SecretAccessKey)
	if err != nil {
		return nil, err
	}
	cfg.SecretAccessKey = secret
	p, err := NewRoute53(cfg)
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}

func (a *Activities) acmeDNS(ctx context.Context, issuerNS string, ad *acmev1.ACMEIssuerDNS01ProviderAcmeDNS, dnsName string) (Provider, error) {
	accounts, err := a.secretValue(ctx, issuerNS, "acmeDNS accountSecretRef", ad.AccountSecret)
	if err != nil {
		return nil, err
	}
	hc, err := a.providerHTTPClient()
	if err != nil {
		return nil, err
	}
	p, err := NewAcmeDNS(AcmeDNSConfig{Host: ad.Host, AccountsJSON: []byte(accounts), Domain: dnsName, HTTPClient: hc})
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}

func (a *Activities) akamai(ctx context.Context, issuerNS string, ak *acmev1.ACMEIssuerDNS01ProviderAkamai) (Provider, error) {
	var cfg AkamaiConfig
	for _, c := range []struct {
		field string
		sel   cmmeta.SecretKeySelector
		into  *string
	}{
		{"akamai clientTokenSecretRef", ak.ClientToken, &cfg.ClientToken},
		{"akamai clientSecretSecretRef", ak.ClientSecret, &cfg.ClientSecret},
		{"akamai accessTokenSecretRef", ak.AccessToken, &cfg.AccessToken},
	} {
		v, err := a.secretValue(ctx, issuerNS, c.field, c.sel)
		if err != nil {
			return nil, err
		}
		*c.into = v
	}
	hc, err := a.providerHTTPClient()
	if err != nil {
		return nil, err
	}
	cfg.ServiceConsumerDomain, cfg.HTTPClient = ak.ServiceConsumerDomain, hc
	p, err := NewAkamai(cfg)
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}

func (a *Activities) rfc2136(ctx context.Context, issuerNS string, r *acmev1.ACMEIssuerDNS01ProviderRFC2136) (Provider, error) {
	cfg := RFC2136Config{
		Nameserver:    r.Nameserver,
		TSIGKeyName:   strings.TrimSpace(r.TSIGKeyName),
		TSIGAlgorithm: r.TSIGAlgorithm,
	}
	// As upstream, the secret is read (and needed) only when a key name is set.
	if cfg.TSIGKeyName != "" {
		secret, err := a.secretValue(ctx, issuerNS, "rfc2136 tsigSecretSecretRef", r.TSIGSecret)
		if err != nil {
			return nil, err
		}
		cfg.TSIGSecret = secret
	}
	p, err := NewRFC2136(cfg)
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}

// secretValue reads one key of a Secret in the issuer's resource namespace.
// A missing Secret, key or value is a non-retryable DNS01Config error; other
// API errors are retryable. The value never appears in errors.
func (a *Activities) secretValue(ctx context.Context, issuerNS, field string, sel cmmeta.SecretKeySelector) (string, error) {
	ns := issuerNS
	if ns == "" {
		ns = a.ClusterResourceNamespace
	}
	switch {
	case ns == "":
		return "", configError("dns01: %s: no namespace to read Secret %q from: the worker has no cluster resource namespace for ClusterIssuers", field, sel.Name)
	case sel.Name == "":
		return "", configError("dns01: %s: no Secret name set", field)
	case sel.Key == "":
		return "", configError("dns01: %s: no key set for Secret %s/%s", field, ns, sel.Name)
	case a.Kube == nil:
		return "", configError("dns01: %s: the worker has no Kubernetes client to read Secret %s/%s", field, ns, sel.Name)
	}
	s, err := a.Kube.CoreV1().Secrets(ns).Get(ctx, sel.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", configError("dns01: %s: Secret %s/%s (key %q) not found", field, ns, sel.Name, sel.Key)
	}
	if err != nil {
		return "", fmt.Errorf("dns01: %s: get Secret %s/%s: %w", field, ns, sel.Name, err)
	}
	v, ok := s.Data[sel.Key]
	if !ok {
		return "", configError("dns01: %s: Secret %s/%s has no key %q", field, ns, sel.Name, sel.Key)
	}
	if strings.TrimSpace(string(v)) == "" {
		return "", configError("dns01: %s: key %q of Secret %s/%s is empty", field, sel.Key, ns, sel.Name)
	}
	return string(v), nil
}
