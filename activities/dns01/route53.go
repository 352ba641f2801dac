package dns01

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Route53Config holds what the route53 solver needs: static AWS credentials (upstream's
// accessKeyID or accessKeyIDSecretRef, and secretAccessKeySecretRef), an optional role
// to assume, region and hosted zone, and the endpoints.
type Route53Config struct {
	AccessKeyID     string
	SecretAccessKey string
	// Ambient, with no static keys, takes the credentials from the worker's
	// environment through the AWS SDK's default chain (environment variables, shared
	// files, web identity token file, container or instance role), read on every call.
	Ambient bool
	// Role, when set, is an IAM role ARN assumed through STS AssumeRole with the static
	// credentials; the temporary credentials then make the Route 53 calls.
	Role string
	// Region signs the STS request (and picks its regional endpoint); Route 53 itself
	// is global and signed for us-east-1 (the SDK's choice for its partition). Empty
	// means us-east-1.
	Region string
	// HostedZoneID, when set, is the zone to write to: no zone lookup is made.
	HostedZoneID string
	// BaseURL and STSBaseURL override the endpoints (the local stack's fake); empty
	// means AWS.
	BaseURL    string
	STSBaseURL string
	// HTTPClient makes the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
}

// route53TTL is the TTL of record sets the provider creates (upstream's and lego's).
const route53TTL = 10

// route53DefaultRegion signs requests when no region is set.
const route53DefaultRegion = "us-east-1"

// route53MaxConflicts bounds the re-reads after a change lost a race with another
// writer of the same record set (a wildcard's and its apex's challenges, presented at
// once).
const route53MaxConflicts = 5

// NewRoute53 returns a Provider that manages TXT records through Amazon Route 53,
// statelessly: the hosted zone (unless given) and the record set are read on every
// call, and the role (if any) is assumed on every call.
//
// It uses the AWS SDK's route53 and sts clients directly rather than lego's route53
// provider: lego finds the zone with a DNS SOA lookup (which a local fake zone cannot
// answer), calls without a context, polls GetChange for up to two minutes inside
// Present, and writes a record set with UPSERT after reading it, which loses a value
// when the wildcard's and the apex's challenges write the same name at once. Route 53
// has no per-record ids, so the recordAPI skeleton does not fit either: here a change
// replaces the whole TXT set with DELETE (of exactly the values read) and CREATE in one
// atomic batch, which Route 53 refuses if the set changed since it was read; the
// provider then reads again.
func NewRoute53(cfg Route53Config) (Provider, error) {
	cfg.AccessKeyID, cfg.SecretAccessKey = strings.TrimSpace(cfg.AccessKeyID), strings.TrimSpace(cfg.SecretAccessKey)
	if (cfg.AccessKeyID == "" || cfg.SecretAccessKey == "") && !(cfg.Ambient && cfg.AccessKeyID == "" && cfg.SecretAccessKey == "") {
		return nil, errors.New("route53: an access key ID and a secret access key are required")
	}
	if cfg.Region == "" {
		cfg.Region = route53DefaultRegion
	}
	for _, u := range []string{cfg.BaseURL, cfg.STSBaseURL} {
		if u != "" {
			if _, err := apiBaseURL("route53", u, "https://route53.amazonaws.com"); err != nil {
				return nil, err
			}
		}
	}
	cfg.HostedZoneID = strings.TrimPrefix(strings.TrimSpace(cfg.HostedZoneID), "/hostedzone/")
	cfg.HTTPClient = apiHTTPClient(cfg.HTTPClient)
	return &route53Provider{cfg: cfg}, nil
}

type route53Provider struct {
	cfg Route53Config
}

func staticCredentials(c aws.Credentials) aws.CredentialsProviderFunc {
	return func(context.Context) (aws.Credentials, error) { return c, nil }
}

// client returns a Route 53 client with the static credentials, or with temporary
// credentials of the role assumed now.
func (p *route53Provider) client(ctx context.Context) (*route53.Client, error) {
	creds := aws.Credentials{AccessKeyID: p.cfg.AccessKeyID, SecretAccessKey: p.cfg.SecretAccessKey, Source: "certflow"}
	if p.cfg.AccessKeyID == "" {
		// The chain's own requests (instance metadata, SSO) use the SDK's client, which
		// honours AWS_CA_BUNDLE.
		env, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(p.cfg.Region))
		if err == nil {
			creds, err = env.Credentials.Retrieve(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("route53: ambient credentials: %w", err)
		}
	}
	if p.cfg.Role != "" {
		opts := sts.Options{Region: p.cfg.Region, Credentials: staticCredentials(creds), HTTPClient: p.cfg.HTTPClient, RetryMaxAttempts: 1}
		if p.cfg.STSBaseURL != "" {
			opts.BaseEndpoint = aws.String(p.cfg.STSBaseURL)
		}
		out, err := sts.New(opts).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String(p.cfg.Role),
			RoleSessionName: aws.String("certflow-" + strconv.FormatInt(time.Now().Unix(), 10)),
		})
		if err != nil {
			return nil, route53Err("assume role "+p.cfg.Role, err)
		}
		if out.Credentials == nil || out.Credentials.AccessKeyId == nil || out.Credentials.SecretAccessKey == nil {
			return nil, fmt.Errorf("route53: assume role %s: STS returned no credentials", p.cfg.Role)
		}
		creds = aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey,
			SessionToken: aws.ToString(out.Credentials.SessionToken), Source: "certflow-assume-role"}
	}
	opts := route53.Options{Region: route53DefaultRegion, Credentials: staticCredentials(creds), HTTPClient: p.cfg.HTTPClient, RetryMaxAttempts: 1}
	if strings.HasPrefix(p.cfg.Region, "cn-") || strings.HasPrefix(p.cfg.Region, "us-gov-") {
		opts.Region = p.cfg.Region // other partitions' Route 53 endpoints
	}
	if p.cfg.BaseURL != "" {
		opts.BaseEndpoint = aws.String(p.cfg.BaseURL)
	}
	return route53.New(opts), nil
}

// Present implements Provider.
func (p *route53Provider) Present(ctx context.Context, fqdn, value string) error {
	return p.change(ctx, fqdn, value, true)
}

// CleanUp implements Provider.
func (p *route53Provider) CleanUp(ctx context.Context, fqdn, value string) error {
	return p.change(ctx, fqdn, value, false)
}

func (p *route53Provider) change(ctx context.Context, fqdn, value string, present bool) error {
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(fqdn), "."))
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("route53: invalid record name %q", fqdn)
	}
	c, err := p.client(ctx)
	if err != nil {
		return err
	}
	zoneID, err := p.zoneID(ctx, c, name)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		cur, err := route53TXTSet(ctx, c, zoneID, name)
		if err != nil {
			return err
		}
		changes := route53Changes(name, cur, value, present)
		if len(changes) == 0 {
			return nil
		}
		_, err = c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID),
			ChangeBatch:  &r53types.ChangeBatch{Comment: aws.String("certflow ACME DNS-01"), Changes: changes},
		})
		if err == nil {
			return nil
		}
		if !route53IsConflict(err) || attempt >= route53MaxConflicts {
			return route53Err("change TXT record set "+name+" in hosted zone "+zoneID, err)
		}
		select { // another writer changed the set since it was read: read it again
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// zoneID is the configured hosted zone, or the public hosted zone of the most specific
// parent name of name that the account holds (ListHostedZonesByName).
func (p *route53Provider) zoneID(ctx context.Context, c *route53.Client, name string) (string, error) {
	if p.cfg.HostedZoneID != "" {
		return p.cfg.HostedZoneID, nil
	}
	var tried []string
	for _, cand := range cfParentNames(name) {
		tried = append(tried, cand)
		out, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(cand), MaxItems: aws.Int32(10)})
		if err != nil {
			return "", route53Err("list hosted zones by name "+cand, err)
		}
		if id := route53PickZone(out.HostedZones, cand); id != "" {
			return id, nil
		}
	}
	return "", fmt.Errorf("route53: no public hosted zone of the account holds %s (tried %s)", name, strings.Join(tried, ", "))
}

// route53PickZone returns the ID (without "/hostedzone/") of the first public zone
// named zone (no trailing dot) among zones, or "".
func route53PickZone(zones []r53types.HostedZone, zone string) string {
	for _, z := range zones {
		if !strings.EqualFold(strings.TrimSuffix(aws.ToString(z.Name), "."), zone) {
			continue
		}
		if z.Config != nil && z.Config.PrivateZone {
			continue
		}
		return strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
	}
	return ""
}

// txtSet is the simple (no routing policy) TXT record set at a name, as read.
type txtSet struct {
	Exists bool
	TTL    int64
	Values []string // as Route 53 shows them, quoted
}

// route53TXTSet reads the TXT record set at name.
func route53TXTSet(ctx context.Context, c *route53.Client, zoneID, name string) (txtSet, error) {
	out, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(name + "."),
		StartRecordType: r53types.RRTypeTxt, MaxItems: aws.Int32(10),
	})
	if err != nil {
		return txtSet{}, route53Err("list TXT record sets "+name+" in hosted zone "+zoneID, err)
	}
	for _, s := range out.ResourceRecordSets {
		if s.Type != r53types.RRTypeTxt || s.SetIdentifier != nil ||
			!strings.EqualFold(strings.TrimSuffix(aws.ToString(s.Name), "."), name) {
			continue
		}
		set := txtSet{Exists: true, TTL: aws.ToInt64(s.TTL)}
		for _, r := range s.ResourceRecords {
			set.Values = append(set.Values, aws.ToString(r.Value))
		}
		return set, nil
	}
	return txtSet{}, nil
}

// route53Changes is the change batch that makes the TXT set cur at name hold value
// (present) or not hold it (clean up), keeping its other values; nil when nothing is
// to change. A set that exists is replaced by DELETE of exactly its current TTL and
// values and CREATE of the new ones, in one batch: Route 53 applies both or refuses
// both, and refuses the DELETE when the set is not as read.
func route53Changes(name string, cur txtSet, value string, present bool) []r53types.Change {
	has := slices.ContainsFunc(cur.Values, func(v string) bool { return cfUnquoteTXT(v) == value })
	if has == present {
		return nil
	}
	var next []string
	if present {
		next = append(slices.Clone(cur.Values), `"`+value+`"`)
	} else {
		for _, v := range cur.Values {
			if cfUnquoteTXT(v) != value {
				next = append(next, v)
			}
		}
	}
	set := func(ttl int64, values []string) *r53types.ResourceRecordSet {
		s := &r53types.ResourceRecordSet{Name: aws.String(name + "."), Type: r53types.RRTypeTxt, TTL: aws.Int64(ttl)}
		for _, v := range values {
			s.ResourceRecords = append(s.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
		}
		return s
	}
	var out []r53types.Change
	ttl := int64(route53TTL)
	if cur.Exists {
		out = append(out, r53types.Change{Action: r53types.ChangeActionDelete, ResourceRecordSet: set(cur.TTL, cur.Values)})
		ttl = cur.TTL
	}
	if len(next) > 0 {
		out = append(out, r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: set(ttl, next)})
	}
	return out
}

// route53IsConflict reports whether a change was refused because the record set
// changed since it was read (or another change of the zone is still being applied).
func route53IsConflict(err error) bool {
	var icb *r53types.InvalidChangeBatch
	if errors.As(err, &icb) {
		for _, m := range icb.Messages {
			if strings.Contains(m, "but it already exists") || strings.Contains(m, "but it was not found") ||
				strings.Contains(m, "do not match the current values") {
				return true
			}
		}
		return false
	}
	var pr *r53types.PriorRequestNotComplete
	return errors.As(err, &pr)
}

// route53Err is err in AWS's own words: an *APIError with the HTTP status, the error
// code and message, or, for throttling (which AWS answers with 400), a retryable error.
// The SDK's errors name the operation and request ID, never the credentials.
func route53Err(op string, err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("route53: %s: %w", op, err)
	}
	msg := ae.ErrorCode()
	if m := ae.ErrorMessage(); m != "" {
		msg += ": " + m
	}
	var icb *r53types.InvalidChangeBatch
	if errors.As(err, &icb) && len(icb.Messages) > 0 {
		msg = "InvalidChangeBatch: " + strings.Join(icb.Messages, "; ")
	}
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch ae.ErrorCode() {
	case "Throttling", "ThrottlingException", "PriorRequestNotComplete", "RequestLimitExceeded", "TooManyRequestsException":
		return fmt.Errorf("route53: %s: HTTP %d: %s", op, status, msg)
	}
	return &APIError{Provider: "route53", Op: op, StatusCode: status, Message: msg}
}
