package dns01

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// ProviderWebhook is an external solver of cert-manager's DNS-01 webhook API (DNSPod,
// AliDNS, ...), called through kube-apiserver's aggregation layer.
const ProviderWebhook = "webhook"

// The webhook API: a ChallengePayload POSTed to /apis/<groupName>/v1alpha1/<solverName>,
// answered with the same object carrying a response (cert-manager's
// webhook.acme.cert-manager.io/v1alpha1, as its webhook library serves it).
const (
	WebhookAPIVersion     = "webhook.acme.cert-manager.io/v1alpha1"
	WebhookKind           = "ChallengePayload"
	webhookVersion        = "v1alpha1"
	WebhookActionPresent  = "Present"
	WebhookActionCleanUp  = "CleanUp"
	webhookChallengeType  = "dns-01"
	webhookMaxMessageSize = 1024
)

// ChallengePayload is the request and response body of a webhook solver call.
type ChallengePayload struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Request    *ChallengeRequest  `json:"request,omitempty"`
	Response   *ChallengeResponse `json:"response,omitempty"`
}

// ChallengeRequest asks a webhook solver to present or clean up one TXT record.
type ChallengeRequest struct {
	// UID identifies the call (certflow sends the Challenge's UID).
	UID string `json:"uid"`
	// Action is WebhookActionPresent or WebhookActionCleanUp.
	Action string `json:"action"`
	// Type is "dns-01".
	Type string `json:"type"`
	// DNSName is the Challenge's DNS name (without "*." for a wildcard, as upstream).
	DNSName string `json:"dnsName"`
	// Key is the TXT record's value.
	Key string `json:"key"`
	// ResourceNamespace is where the Secrets the config names live: the Issuer's
	// namespace, or the cluster resource namespace for a ClusterIssuer.
	ResourceNamespace string `json:"resourceNamespace"`
	// ResolvedFQDN is the record's name after CNAMEs (cnameStrategy Follow), with a
	// trailing dot.
	ResolvedFQDN string `json:"resolvedFQDN,omitempty"`
	// ResolvedZone is the zone of ResolvedFQDN (SOA lookups), with a trailing dot.
	ResolvedZone string `json:"resolvedZone,omitempty"`
	// AllowAmbientCredentials: the worker's --cluster-issuer-ambient-credentials for a
	// ClusterIssuer, --issuer-ambient-credentials for an Issuer, as upstream.
	AllowAmbientCredentials bool `json:"allowAmbientCredentials"`
	// Config is the solver's config, as the Issuer spells it.
	Config json.RawMessage `json:"config,omitempty"`
}

// ChallengeResponse is the webhook's answer.
type ChallengeResponse struct {
	UID     string `json:"uid"`
	Success bool   `json:"success"`
	// Result says why the call failed (ignored on success).
	Result *metav1.Status `json:"status,omitempty"`
}

// webhookRequest builds the ChallengeRequest of one call to solver w (pure).
func webhookRequest(action string, w *acmev1.ACMEIssuerDNS01ProviderWebhook, in DNS01Input, rec DNS01Record, zone, resourceNamespace string, ambient bool) ChallengeRequest {
	r := ChallengeRequest{
		UID:                     in.Challenge.UID,
		Action:                  action,
		Type:                    webhookChallengeType,
		DNSName:                 strings.TrimPrefix(strings.TrimSuffix(strings.TrimSpace(in.DNSName), "."), "*."),
		Key:                     rec.Value,
		ResourceNamespace:       resourceNamespace,
		ResolvedFQDN:            rec.FQDN,
		ResolvedZone:            zone,
		AllowAmbientCredentials: ambient,
	}
	if w != nil && w.Config != nil && len(w.Config.Raw) > 0 {
		r.Config = json.RawMessage(w.Config.Raw)
	}
	return r
}

// webhookPath is the solver's resource in the aggregated API.
func webhookPath(w *acmev1.ACMEIssuerDNS01ProviderWebhook) string {
	return "/apis/" + w.GroupName + "/" + webhookVersion + "/" + w.SolverName
}

// checkWebhookSolver refuses a groupName or solverName that cannot name an API
// resource (pure).
func checkWebhookSolver(w *acmev1.ACMEIssuerDNS01ProviderWebhook) error {
	if strings.TrimSpace(w.GroupName) == "" || strings.TrimSpace(w.SolverName) == "" {
		return configError("dns01: webhook: groupName and solverName are required")
	}
	if _, ok := dns.IsDomainName(w.GroupName); !ok || strings.ContainsAny(w.GroupName, "/ ") || !strings.Contains(w.GroupName, ".") {
		return configError("dns01: webhook: groupName %q is not an API group (a DNS name such as acme.example.com)", w.GroupName)
	}
	if strings.ContainsAny(w.SolverName, "/ ?#%") {
		return configError("dns01: webhook: solverName %q cannot name an API resource", w.SolverName)
	}
	if w.Config != nil && len(w.Config.Raw) > 0 && !json.Valid(w.Config.Raw) {
		return configError("dns01: webhook: config is not valid JSON")
	}
	return nil
}

// webhookOutcome reads a webhook call's answer (pure): status is the HTTP status
// (0 when no answer came), body what came back, err the REST client's error.
// A response with success=false is a retryable error with the webhook's own message,
// as upstream treats it. A solver resource that kube-apiserver does not serve, and a
// refusal of certflow's identity, are non-retryable DNS01Config errors that say what
// to install or grant; an unavailable APIService and other failures are retryable.
func webhookOutcome(w *acmev1.ACMEIssuerDNS01ProviderWebhook, action string, status int, body []byte, err error) error {
	op := fmt.Sprintf("dns01: webhook %s %s", strings.ToLower(action), webhookPath(w))
	var p ChallengePayload
	decoded := len(body) > 0 && json.Unmarshal(body, &p) == nil && p.Response != nil
	if decoded && (p.Kind == "" || p.Kind == WebhookKind) {
		if p.Response.Success && err == nil {
			return nil
		}
		if !p.Response.Success {
			if p.Response.Result != nil && p.Response.Result.Message != "" {
				return fmt.Errorf("%s: the webhook failed: %s", op, excerpt(p.Response.Result.Message))
			}
			if err == nil {
				return fmt.Errorf("%s: the webhook answered success=false without a status", op)
			}
		}
	}
	apiVersion := w.GroupName + "/" + webhookVersion
	service := webhookVersion + "." + w.GroupName
	switch {
	case err == nil && status >= 200 && status < 300:
		return fmt.Errorf("%s: HTTP %d without a ChallengePayload response: %s", op, status, excerpt(string(body)))
	case err == nil:
		return fmt.Errorf("%s: HTTP %d: %s", op, status, excerpt(string(body)))
	case apierrors.IsNotFound(err):
		return configError("%s: kube-apiserver serves no resource %q in %s: install the webhook and its APIService %s, and check groupName and solverName (%s)",
			op, w.SolverName, apiVersion, service, excerpt(err.Error()))
	case apierrors.IsForbidden(err):
		return configError("%s: certflow's ServiceAccount may not create %s in %s: bind it to a ClusterRole granting create on that resource, as the webhook's chart does for cert-manager's (%s)",
			op, w.SolverName, w.GroupName, excerpt(err.Error()))
	case apierrors.IsServiceUnavailable(err) || status == http.StatusServiceUnavailable || status == http.StatusBadGateway:
		return fmt.Errorf("%s: the APIService %s is unavailable (is the webhook running?): %s", op, service, excerpt(err.Error()))
	}
	return fmt.Errorf("%s: %s", op, excerpt(err.Error()))
}

// excerpt bounds a message that reaches a Challenge's status.
func excerpt(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > webhookMaxMessageSize {
		return s[:webhookMaxMessageSize] + "..."
	}
	return s
}

// webhookProvider calls a webhook solver through kube-apiserver.
type webhookProvider struct {
	rc                rest.Interface
	solver            *acmev1.ACMEIssuerDNS01ProviderWebhook
	in                DNS01Input
	resourceNamespace string
	ambient           bool
	// zone finds the zone of an FQDN (findZone through the recursive nameservers).
	zone func(ctx context.Context, fqdn string) (string, error)
}

// Present implements Provider.
func (p *webhookProvider) Present(ctx context.Context, fqdn, value string) error {
	return p.call(ctx, WebhookActionPresent, fqdn, value)
}

// CleanUp implements Provider.
func (p *webhookProvider) CleanUp(ctx context.Context, fqdn, value string) error {
	return p.call(ctx, WebhookActionCleanUp, fqdn, value)
}

func (p *webhookProvider) call(ctx context.Context, action, fqdn, value string) error {
	zone, err := p.zone(ctx, fqdn)
	if err != nil {
		return err
	}
	req := webhookRequest(action, p.solver, p.in, DNS01Record{FQDN: fqdn, Value: value}, zone, p.resourceNamespace, p.ambient)
	body, err := json.Marshal(ChallengePayload{APIVersion: WebhookAPIVersion, Kind: WebhookKind, Request: &req})
	if err != nil {
		return err
	}
	var status int
	res := p.rc.Post().AbsPath(webhookPath(p.solver)).
		SetHeader("Content-Type", "application/json").SetHeader("Accept", "application/json").
		Body(body).Do(ctx).StatusCode(&status)
	raw, rerr := res.Raw()
	if rerr != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return webhookOutcome(p.solver, action, status, raw, rerr)
}

// webhook builds the webhook Provider of a solver.
func (a *Activities) webhook(in DNS01Input) (Provider, error) {
	w := in.Solver.Webhook
	if err := checkWebhookSolver(w); err != nil {
		return nil, err
	}
	ns, ambient := in.IssuerNamespace, a.IssuerAmbientCredentials
	if ns == "" {
		ns, ambient = a.ClusterResourceNamespace, a.ClusterIssuerAmbientCredentials
	}
	if a.Kube == nil {
		return nil, configError("dns01: webhook: the worker has no Kubernetes client to call %s", webhookPath(w))
	}
	rc := a.Kube.Discovery().RESTClient()
	if rc == nil {
		return nil, configError("dns01: webhook: the worker's Kubernetes client cannot make REST calls")
	}
	return &webhookProvider{rc: rc, solver: w, in: in, resourceNamespace: ns, ambient: ambient, zone: a.findZone}, nil
}

// findZone finds the zone of fqdn as upstream does: SOA queries (recursion desired)
// through the recursive nameservers (or /etc/resolv.conf's), from fqdn up.
func (a *Activities) findZone(ctx context.Context, fqdn string) (string, error) {
	resolvers, err := a.recursiveResolvers()
	if err != nil {
		return "", err
	}
	zone, err := findZoneSOA(ctx, fqdn, func(ctx context.Context, name string) (*dns.Msg, error) {
		return dqAsk(ctx, resolvers, name, dns.TypeSOA, true, DefaultCheckTimeout)
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", ctxErr
		}
		return "", fmt.Errorf("dns01: webhook: find the zone of %s through %s: %w", fqdn, strings.Join(resolvers, ", "), err)
	}
	return zone, nil
}

// recursiveResolvers are RecursiveNameservers as host:port, else /etc/resolv.conf's.
func (a *Activities) recursiveResolvers() ([]string, error) {
	var out []string
	for _, ns := range a.RecursiveNameservers {
		hp, err := dqHostPort(ns, 53)
		if err != nil {
			return nil, configError("dns01: recursive nameserver %q: %v", ns, err)
		}
		out = append(out, hp)
	}
	if len(out) > 0 {
		return out, nil
	}
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("dns01: no recursive nameservers set and /etc/resolv.conf is unusable: %w", err)
	}
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	if len(out) == 0 {
		return nil, errors.New("dns01: no recursive nameservers set and /etc/resolv.conf lists none")
	}
	return out, nil
}

// findZoneSOA climbs from fqdn to the root asking ask for SOA records, as upstream's
// FindZoneByFqdn: NXDOMAIN, a CNAME or an answer without SOA climbs on; an SOA in
// the answer names the zone; any other rcode ends the search with an error.
func findZoneSOA(ctx context.Context, fqdn string, ask func(context.Context, string) (*dns.Msg, error)) (string, error) {
	name, err := dqName(fqdn)
	if err != nil {
		return "", err
	}
	for _, off := range dns.Split(name) {
		cand := name[off:]
		m, err := ask(ctx, cand)
		if err != nil {
			return "", err
		}
		zone, climb, err := soaZone(cand, m)
		if err != nil {
			return "", err
		}
		if !climb {
			return zone, nil
		}
	}
	return "", fmt.Errorf("no SOA record in the DNS tree of %s", name)
}

// soaZone reads the answer to an SOA query for name (pure): the zone it names, or
// climb to go on with the parent name.
func soaZone(name string, m *dns.Msg) (zone string, climb bool, err error) {
	switch m.Rcode {
	case dns.RcodeNameError:
		return "", true, nil
	case dns.RcodeSuccess:
	default:
		return "", false, fmt.Errorf("SOA %s answered %s, not NOERROR or NXDOMAIN", name, dqRcode(m.Rcode))
	}
	for _, rr := range m.Answer {
		if _, ok := rr.(*dns.CNAME); ok {
			// No zone starts at a CNAME (RFC 2181).
			return "", true, nil
		}
	}
	for _, rr := range m.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return dns.Fqdn(strings.ToLower(soa.Hdr.Name)), false, nil
		}
	}
	return "", true, nil
}
