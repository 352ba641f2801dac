package dns01

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/dns/armdns"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

// AzureDNSConfig configures Azure DNS (upstream's azureDNS solver).
type AzureDNSConfig struct {
	SubscriptionID    string
	ResourceGroupName string
	// HostedZoneName, when set, is the zone; else the zone is the most specific
	// parent name that the resource group holds as a DNS zone.
	HostedZoneName string
	// Credential authenticates to Azure Resource Manager.
	Credential azcore.TokenCredential
	// Cloud is the Azure cloud's endpoints.
	Cloud cloud.Configuration
	// Transport sends the requests; nil means the SDK's.
	Transport policy.Transporter
}

// azureDNSTTL is the TTL of presented record sets, as upstream's.
const azureDNSTTL = 60

// NewAzureDNS returns a Provider that manages TXT record sets through Azure DNS with
// the Azure SDK's client (armdns), on the shared recordAPI skeleton: the record set
// is read, the value added or removed and the set written back with its ETag as
// precondition, so other values of the set are kept and a concurrent change is
// retried rather than lost.
func NewAzureDNS(cfg AzureDNSConfig) (Provider, error) {
	switch {
	case strings.TrimSpace(cfg.SubscriptionID) == "":
		return nil, errors.New("azuredns: subscriptionID is required")
	case strings.TrimSpace(cfg.ResourceGroupName) == "":
		return nil, errors.New("azuredns: resourceGroupName is required")
	case cfg.Credential == nil:
		return nil, errors.New("azuredns: no credential")
	}
	opts := &arm.ClientOptions{ClientOptions: azcore.ClientOptions{Cloud: cfg.Cloud, Transport: cfg.Transport,
		Retry: policy.RetryOptions{MaxRetries: 2, MaxRetryDelay: 5 * time.Second}}}
	f, err := armdns.NewClientFactory(cfg.SubscriptionID, cfg.Credential, opts)
	if err != nil {
		return nil, fmt.Errorf("azuredns: %v", err)
	}
	return &apiProvider{name: "azuredns", api: &azureDNSAPI{rs: f.NewRecordSetsClient(), zones: f.NewZonesClient(),
		rg: cfg.ResourceGroupName, hostedZone: strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.HostedZoneName)), ".")}}, nil
}

type azureDNSAPI struct {
	rs         *armdns.RecordSetsClient
	zones      *armdns.ZonesClient
	rg         string
	hostedZone string
}

// azureErr turns the SDK's errors into *APIError with Azure's words: an ARM answer
// ({"error": {"code", "message"}}) or the token endpoint's (error_description).
func azureErr(op string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if re.RawResponse != nil && re.RawResponse.Body != nil {
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			raw, _ := io.ReadAll(io.LimitReader(re.RawResponse.Body, 1<<20))
			if json.Unmarshal(raw, &body) == nil && body.Error.Message != "" {
				msg = body.Error.Message
				if body.Error.Code != "" {
					msg += " (" + body.Error.Code + ")"
				}
			}
		}
		return &APIError{Provider: "azuredns", Op: op, StatusCode: re.StatusCode, Message: clip(msg)}
	}
	var ae *azidentity.AuthenticationFailedError
	if errors.As(err, &ae) && ae.RawResponse != nil {
		msg := ""
		if ae.RawResponse.Body != nil {
			var te struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			raw, _ := io.ReadAll(io.LimitReader(ae.RawResponse.Body, 1<<20))
			if json.Unmarshal(raw, &te) == nil && te.Error != "" {
				msg = te.Error + ": " + firstLine(te.Description)
			} else {
				msg = strings.TrimSpace(string(raw))
			}
		}
		return &APIError{Provider: "azuredns", Op: op + ": get an access token", StatusCode: ae.RawResponse.StatusCode, Message: clip(msg)}
	}
	return fmt.Errorf("azuredns: %s: %w", op, err)
}

// firstLine drops Azure AD's "\r\nTrace ID: ..." lines, which change on every call.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\r\n")
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func isAzureNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

func (a *azureDNSAPI) hasZone(ctx context.Context, zone string) (bool, error) {
	if a.hostedZone != "" {
		return zone == a.hostedZone, nil
	}
	if _, err := a.zones.Get(ctx, a.rg, zone, nil); err != nil {
		if isAzureNotFound(err) {
			return false, nil
		}
		return false, azureErr("get DNS zone "+zone+" of resource group "+a.rg, err)
	}
	return true, nil
}

// relative is name relative to zone ("@" for the apex).
func relative(zone, name string) string {
	if name == zone {
		return "@"
	}
	return strings.TrimSuffix(name, "."+zone)
}

// set returns the TXT record set at name, nil when there is none.
func (a *azureDNSAPI) set(ctx context.Context, zone, name string) (*armdns.RecordSet, error) {
	res, err := a.rs.Get(ctx, a.rg, zone, relative(zone, name), armdns.RecordTypeTXT, nil)
	if err != nil {
		if isAzureNotFound(err) {
			return nil, nil
		}
		return nil, azureErr("get TXT record set "+name, err)
	}
	return &res.RecordSet, nil
}

func txtJoin(r *armdns.TxtRecord) string {
	var b strings.Builder
	for _, v := range r.Value {
		if v != nil {
			b.WriteString(*v)
		}
	}
	return b.String()
}

func txtRecords(s *armdns.RecordSet) []*armdns.TxtRecord {
	if s == nil || s.Properties == nil {
		return nil
	}
	return s.Properties.TxtRecords
}

func (a *azureDNSAPI) listTXT(ctx context.Context, zone, name string) ([]txtRecord, error) {
	s, err := a.set(ctx, zone, name)
	if err != nil {
		return nil, err
	}
	var out []txtRecord
	for _, r := range txtRecords(s) {
		if r != nil {
			// The set's name is the ID, for deleteTXT.
			out = append(out, txtRecord{ID: name, Value: txtJoin(r)})
		}
	}
	return out, nil
}

// put writes the set at name holding recs, with old's ETag (or, without old, only
// if there is none) as precondition.
func (a *azureDNSAPI) put(ctx context.Context, op, zone, name string, old *armdns.RecordSet, recs []*armdns.TxtRecord) error {
	ttl := int64(azureDNSTTL)
	o := &armdns.RecordSetsClientCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")}
	if old != nil {
		o = &armdns.RecordSetsClientCreateOrUpdateOptions{IfMatch: old.Etag}
		if old.Properties != nil && old.Properties.TTL != nil {
			ttl = *old.Properties.TTL
		}
	}
	set := armdns.RecordSet{Properties: &armdns.RecordSetProperties{TTL: &ttl, TxtRecords: recs}}
	if old != nil && old.Properties != nil {
		set.Properties.Metadata = old.Properties.Metadata
	}
	if _, err := a.rs.CreateOrUpdate(ctx, a.rg, zone, relative(zone, name), armdns.RecordTypeTXT, set, o); err != nil {
		return azureErr(op, err)
	}
	return nil
}

func (a *azureDNSAPI) createTXT(ctx context.Context, zone, name, value string) error {
	old, err := a.set(ctx, zone, name)
	if err != nil {
		return err
	}
	recs := append(slices.Clone(txtRecords(old)), &armdns.TxtRecord{Value: []*string{to.Ptr(value)}})
	return a.put(ctx, "add TXT value to record set "+name, zone, name, old, recs)
}

func (a *azureDNSAPI) deleteTXT(ctx context.Context, zone string, rec txtRecord) error {
	name := rec.ID
	old, err := a.set(ctx, zone, name)
	if err != nil || old == nil {
		return err
	}
	all := txtRecords(old)
	rest := slices.DeleteFunc(slices.Clone(all), func(r *armdns.TxtRecord) bool { return r == nil || txtJoin(r) == rec.Value })
	switch {
	case len(rest) == len(all):
		return nil
	case len(rest) > 0:
		return a.put(ctx, "remove TXT value from record set "+name, zone, name, old, rest)
	}
	if _, err := a.rs.Delete(ctx, a.rg, zone, relative(zone, name), armdns.RecordTypeTXT, &armdns.RecordSetsClientDeleteOptions{IfMatch: old.Etag}); err != nil && !isAzureNotFound(err) {
		return azureErr("delete TXT record set "+name, err)
	}
	return nil
}

// azureClouds are upstream's environment names.
var azureClouds = map[acmev1.AzureDNSEnvironment]cloud.Configuration{
	"":                            cloud.AzurePublic,
	acmev1.AzurePublicCloud:       cloud.AzurePublic,
	acmev1.AzureChinaCloud:        cloud.AzureChina,
	acmev1.AzureUSGovernmentCloud: cloud.AzureGovernment,
}

// AzureEndpoints overrides the Azure cloud's endpoints (the local stack's fake).
type AzureEndpoints struct {
	// AuthorityHost is Microsoft Entra ID's base URL (https); "" means the
	// environment's.
	AuthorityHost string
	// ResourceManager is Azure Resource Manager's base URL (https); "" means the
	// environment's.
	ResourceManager string
}

// azureDNS builds the azureDNS solver's provider. With clientID, the service
// principal's secret (clientSecretSecretRef) and tenantID are required; without,
// the ambient identity (workload identity when the worker has its federated token,
// else managedIdentity through the instance metadata service) is used where the
// worker's ambient-credentials flags allow it for the issuer's kind.
func (a *Activities) azureDNS(ctx context.Context, issuerNS string, z *acmev1.ACMEIssuerDNS01ProviderAzureDNS) (Provider, error) {
	env, ok := azureClouds[z.Environment]
	if !ok {
		return nil, configError("dns01: azuredns: environment %q has no endpoints in the Azure SDK (AzureGermanCloud was closed in 2021): use AzurePublicCloud, AzureChinaCloud or AzureUSGovernmentCloud", z.Environment)
	}
	ep := a.AzureEndpoints
	env.Services = map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: env.Services[cloud.ResourceManager]}
	if ep.AuthorityHost != "" {
		env.ActiveDirectoryAuthorityHost = strings.TrimSuffix(ep.AuthorityHost, "/") + "/"
	}
	if ep.ResourceManager != "" {
		rm := env.Services[cloud.ResourceManager]
		rm.Endpoint = strings.TrimSuffix(ep.ResourceManager, "/")
		env.Services[cloud.ResourceManager] = rm
	}
	// Entra ID's and Resource Manager's answers are read through the same bounded client
	// as the other providers' (the SDK's own reads whole bodies).
	hc, err := a.providerHTTPClient()
	if err != nil {
		return nil, err
	}
	var transport policy.Transporter = apiHTTPClient(hc)
	copts := azcore.ClientOptions{Cloud: env, Transport: transport}

	var cred azcore.TokenCredential
	switch {
	case z.ClientID != "":
		if z.ManagedIdentity != nil {
			return nil, configError("dns01: azuredns: set either clientID (with clientSecretSecretRef and tenantID) or managedIdentity, not both")
		}
		if z.TenantID == "" || z.ClientSecret == nil {
			return nil, configError("dns01: azuredns: clientID needs tenantID and clientSecretSecretRef")
		}
		secret, err := a.secretValue(ctx, issuerNS, "azuredns clientSecretSecretRef", *z.ClientSecret)
		if err != nil {
			return nil, err
		}
		c, err := azidentity.NewClientSecretCredential(z.TenantID, z.ClientID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: true})
		if err != nil {
			return nil, configError("dns01: azuredns: %v", err)
		}
		cred = c
	case z.ClientSecret != nil || z.TenantID != "":
		return nil, configError("dns01: azuredns: clientSecretSecretRef and tenantID need clientID")
	default:
		if err := a.ambientError(issuerNS, "azuredns", "clientID, tenantID and clientSecretSecretRef (managedIdentity and workload identity are ambient)"); err != nil {
			return nil, err
		}
		c, err := azureAmbient(copts, z.ManagedIdentity)
		if err != nil {
			return nil, configError("dns01: azuredns: %v", err)
		}
		cred = c
	}
	p, err := NewAzureDNS(AzureDNSConfig{SubscriptionID: z.SubscriptionID, ResourceGroupName: z.ResourceGroupName,
		HostedZoneName: z.HostedZoneName, Credential: cred, Cloud: env, Transport: transport})
	if err != nil {
		return nil, configError("dns01: %v", err)
	}
	return p, nil
}

// azureAmbient is the worker's own Azure identity: workload identity when its pod
// has a federated token (AZURE_FEDERATED_TOKEN_FILE), else the managed identity of
// the machine (Azure's instance metadata service, which only an Azure VM has).
func azureAmbient(copts azcore.ClientOptions, mi *acmev1.AzureManagedIdentity) (azcore.TokenCredential, error) {
	if os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "" {
		o := &azidentity.WorkloadIdentityCredentialOptions{ClientOptions: copts, DisableInstanceDiscovery: true}
		if mi != nil {
			o.ClientID, o.TenantID = mi.ClientID, mi.TenantID
		}
		return azidentity.NewWorkloadIdentityCredential(o)
	}
	o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: copts}
	if mi != nil {
		switch {
		case mi.ClientID != "" && mi.ResourceID != "":
			return nil, errors.New("managedIdentity: set clientID or resourceID, not both")
		case mi.ClientID != "":
			o.ID = azidentity.ClientID(mi.ClientID)
		case mi.ResourceID != "":
			o.ID = azidentity.ResourceID(mi.ResourceID)
		}
	}
	return azidentity.NewManagedIdentityCredential(o)
}
