package dns01

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/auth"
	gdns "google.golang.org/api/dns/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// CloudDNSConfig configures Google Cloud DNS (upstream's cloudDNS solver).
type CloudDNSConfig struct {
	// Project is the Google Cloud project holding the managed zones.
	Project string
	// HostedZoneName, when set, is the managed zone's name: no zone is looked up.
	HostedZoneName string
	// ServiceAccountJSON is a service account JSON key; nil means the ambient
	// credentials (Application Default Credentials).
	ServiceAccountJSON []byte
	// Endpoint is the API base URL (before "dns/v1/"); empty means
	// https://dns.googleapis.com/.
	Endpoint string
}

// cloudDNSTTL is the TTL of presented record sets, as upstream's.
const cloudDNSTTL = 60

// NewCloudDNS returns a Provider that manages TXT record sets through Google's Cloud
// DNS API with Google's own client (google.golang.org/api/dns/v1), on the shared
// recordAPI skeleton. lego's gcloud provider is not used: it builds its client
// without an endpoint option (so it cannot be pointed at a local API), reads its
// settings from the environment and looks zones up through public DNS.
//
// A service account key's token_uri is where its signed JWT is exchanged for an
// access token; the key is validated here so that a bad key is a clear error that
// never quotes it.
func NewCloudDNS(ctx context.Context, cfg CloudDNSConfig) (Provider, error) {
	project := strings.TrimSpace(cfg.Project)
	if project == "" {
		return nil, fmt.Errorf("clouddns: no project set")
	}
	opts := []option.ClientOption{}
	if cfg.Endpoint != "" {
		u, err := apiBaseURL("clouddns", cfg.Endpoint, "https://dns.googleapis.com")
		if err != nil {
			return nil, err
		}
		opts = append(opts, option.WithEndpoint(u.String()+"/"))
	}
	if cfg.ServiceAccountJSON != nil {
		if err := checkServiceAccountKey(cfg.ServiceAccountJSON); err != nil {
			return nil, err
		}
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, cfg.ServiceAccountJSON))
	}
	svc, err := gdns.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("clouddns: %v", err)
	}
	return &apiProvider{name: "clouddns", api: &cloudDNSAPI{svc: svc, project: project,
		hostedZone: strings.TrimSpace(cfg.HostedZoneName), zones: map[string]string{}}}, nil
}

// checkServiceAccountKey says what is wrong with a service account JSON key, in
// words that never hold the key's content.
func checkServiceAccountKey(raw []byte) error {
	var k struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return errors.New("clouddns: the service account key is not JSON")
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"client_email", k.ClientEmail}, {"private_key", k.PrivateKey}, {"token_uri", k.TokenURI}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	switch {
	case k.Type != "service_account":
		return fmt.Errorf("clouddns: the key is of type %q, want a service account JSON key (type service_account)", k.Type)
	case len(missing) > 0:
		return fmt.Errorf("clouddns: the service account key has no %s", strings.Join(missing, ", "))
	}
	return nil
}

type cloudDNSAPI struct {
	svc        *gdns.Service
	project    string
	hostedZone string
	// zones maps a DNS zone name to its managed zone, learned by hasZone during
	// this one Present or CleanUp (the provider lives for one call).
	zones map[string]string
}

// apiErr turns the client's errors into *APIError with Google's words: an API
// answer (googleapi.Error) or the token endpoint's (auth.Error).
func (c *cloudDNSAPI) apiErr(op string, err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		msg := ge.Message
		if msg == "" {
			msg = strings.TrimSpace(ge.Body)
		}
		for _, e := range ge.Errors {
			if e.Reason != "" {
				msg += " (" + e.Reason + ")"
				break
			}
		}
		return &APIError{Provider: "clouddns", Op: op, StatusCode: ge.Code, Message: clip(msg)}
	}
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Response != nil {
		msg := strings.TrimSpace(string(ae.Body))
		var te struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(ae.Body, &te) == nil && te.Error != "" {
			msg = te.Error
			if te.Description != "" {
				msg += ": " + te.Description
			}
		}
		return &APIError{Provider: "clouddns", Op: op + ": get an access token", StatusCode: ae.Response.StatusCode, Message: clip(msg)}
	}
	return fmt.Errorf("clouddns: %s: %w", op, err)
}

func clip(s string) string {
	if len(s) > 512 {
		return s[:512] + "..."
	}
	return s
}

func (c *cloudDNSAPI) hasZone(ctx context.Context, zone string) (bool, error) {
	if c.hostedZone != "" {
		// As upstream: hostedZoneName skips the lookup; the first name tried
		// (the record's own) is taken for the zone, which the API places in
		// the managed zone.
		c.zones[zone] = c.hostedZone
		return true, nil
	}
	var found string
	err := c.svc.ManagedZones.List(c.project).DnsName(zone+".").Pages(ctx, func(l *gdns.ManagedZonesListResponse) error {
		for _, z := range l.ManagedZones {
			if found == "" && z.Visibility != "private" {
				found = z.Name
			}
		}
		return nil
	})
	if err != nil {
		return false, c.apiErr("list managed zones of project "+c.project+" for "+zone, err)
	}
	if found == "" {
		return false, nil
	}
	c.zones[zone] = found
	return true, nil
}

// rrset returns the TXT record set at name, nil when there is none.
func (c *cloudDNSAPI) rrset(ctx context.Context, zone, name string) (*gdns.ResourceRecordSet, error) {
	var out *gdns.ResourceRecordSet
	err := c.svc.ResourceRecordSets.List(c.project, c.zones[zone]).Name(name+".").Type("TXT").Pages(ctx, func(l *gdns.ResourceRecordSetsListResponse) error {
		for _, s := range l.Rrsets {
			if strings.EqualFold(strings.TrimSuffix(s.Name, "."), name) && s.Type == "TXT" {
				out = s
			}
		}
		return nil
	})
	if err != nil {
		return nil, c.apiErr("list TXT record sets "+name+" of managed zone "+c.zones[zone], err)
	}
	return out, nil
}

func (c *cloudDNSAPI) listTXT(ctx context.Context, zone, name string) ([]txtRecord, error) {
	s, err := c.rrset(ctx, zone, name)
	if err != nil || s == nil {
		return nil, err
	}
	// A set holds its values; the record's ID is the set's name, for deleteTXT.
	out := make([]txtRecord, 0, len(s.Rrdatas))
	for _, v := range s.Rrdatas {
		out = append(out, txtRecord{ID: name, Value: v})
	}
	return out, nil
}

// change replaces the record set at name (old, nil when none) by one holding
// rrdatas (none: the set is deleted) in one atomic change. A concurrent change of
// the same set makes the API refuse with 409 or 412, which are retried.
func (c *cloudDNSAPI) change(ctx context.Context, op, zone, name string, old *gdns.ResourceRecordSet, rrdatas []string) error {
	ch := &gdns.Change{}
	if old != nil {
		ch.Deletions = []*gdns.ResourceRecordSet{old}
	}
	if len(rrdatas) > 0 {
		ttl := int64(cloudDNSTTL)
		if old != nil && old.Ttl > 0 {
			ttl = old.Ttl
		}
		ch.Additions = []*gdns.ResourceRecordSet{{Name: name + ".", Type: "TXT", Ttl: ttl, Rrdatas: rrdatas}}
	}
	if _, err := c.svc.Changes.Create(c.project, c.zones[zone], ch).Context(ctx).Do(); err != nil {
		return c.apiErr(op, err)
	}
	return nil
}

func (c *cloudDNSAPI) createTXT(ctx context.Context, zone, name, value string) error {
	old, err := c.rrset(ctx, zone, name)
	if err != nil {
		return err
	}
	var rrdatas []string
	if old != nil {
		rrdatas = slices.Clone(old.Rrdatas)
	}
	rrdatas = append(rrdatas, `"`+value+`"`)
	return c.change(ctx, "add TXT value to "+name+" in managed zone "+c.zones[zone], zone, name, old, rrdatas)
}

func (c *cloudDNSAPI) deleteTXT(ctx context.Context, zone string, rec txtRecord) error {
	name := rec.ID
	old, err := c.rrset(ctx, zone, name)
	if err != nil || old == nil {
		return err
	}
	rest := slices.DeleteFunc(slices.Clone(old.Rrdatas), func(v string) bool { return v == rec.Value })
	if len(rest) == len(old.Rrdatas) {
		return nil
	}
	return c.change(ctx, "remove TXT value from "+name+" in managed zone "+c.zones[zone], zone, name, old, rest)
}

// ambientError is nil when the worker's own credentials may be used for the issuer
// (Issuers: IssuerAmbientCredentials, ClusterIssuers: ClusterIssuerAmbientCredentials,
// upstream's flags), else a DNS01Config error saying what to set instead.
func (a *Activities) ambientError(issuerNS, provider, instead string) error {
	kind, allowed, flag := "Issuers", a.IssuerAmbientCredentials, "--issuer-ambient-credentials"
	if issuerNS == "" {
		kind, allowed, flag = "ClusterIssuers", a.ClusterIssuerAmbientCredentials, "--cluster-issuer-ambient-credentials"
	}
	if allowed {
		return nil
	}
	return configError("dns01: %s: no credentials: set %s; ambient credentials (the worker's own) are not allowed for %s (worker flag %s)", provider, instead, kind, flag)
}

// cloudDNS builds the cloudDNS solver's provider. Without serviceAccountSecretRef
// the ambient credentials (Application Default Credentials) are used where the
// worker's ambient-credentials flags allow them for the issuer's kind.
func (a *Activities) cloudDNS(ctx context.Context, issuerNS string, c *acmev1.ACMEIssuerDNS01ProviderCloudDNS) (Provider, error) {
	cfg := CloudDNSConfig{Project: c.Project, HostedZoneName: c.HostedZoneName, Endpoint: a.CloudDNSAPIURL}
	if strings.TrimSpace(c.Project) == "" {
		return nil, configError("dns01: clouddns: project is required")
	}
	switch {
	case c.ServiceAccount != nil:
		key, err := a.secretValue(ctx, issuerNS, "clouddns serviceAccountSecretRef", *c.ServiceAccount)
		if err != nil {
			return nil, err
		}
		cfg.ServiceAccountJSON = []byte(key)
	default:
		if err := a.ambientError(issuerNS, "clouddns", "serviceAccountSecretRef"); err != nil {
			return nil, err
		}
	}
	p, err := NewCloudDNS(ctx, cfg)
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}
