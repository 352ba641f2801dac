package fakedns

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const (
	r53TestKey    = "AKIDEXAMPLE"
	r53TestSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	r53TestRole   = "arn:aws:iam::000000000000:role/dns"
)

func startRoute53(t *testing.T) (string, *Store, *sinkLog) {
	t.Helper()
	sink := &sinkLog{sets: map[string][]string{}}
	store := NewStore([]string{"example.net", "sub.example.net", "example.org"}, sink)
	srv := &Server{}
	u, err := srv.Start("127.0.0.1:0", (&Route53{Store: store, Keys: map[string]string{r53TestKey: r53TestSecret},
		Roles: map[string][]string{r53TestRole: {r53TestKey}}}).Handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return u, store, sink
}

func r53Client(u string, creds aws.Credentials) *route53.Client {
	return route53.New(route53.Options{Region: "us-east-1", BaseEndpoint: aws.String(u), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an AWS API error", err)
	}
	return ae.ErrorCode()
}

func txtChange(action r53types.ChangeAction, name string, ttl int64, values ...string) r53types.Change {
	s := &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeTxt, TTL: aws.Int64(ttl)}
	for _, v := range values {
		s.ResourceRecords = append(s.ResourceRecords, r53types.ResourceRecord{Value: aws.String(v)})
	}
	return r53types.Change{Action: action, ResourceRecordSet: s}
}

func TestRoute53WireFormat(t *testing.T) {
	u, store, sink := startRoute53(t)
	ctx := context.Background()
	c := r53Client(u, aws.Credentials{AccessKeyID: r53TestKey, SecretAccessKey: r53TestSecret})

	zones, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("example.net"), MaxItems: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by reversed labels from the name: example.net, sub.example.net; truncated.
	if len(zones.HostedZones) != 2 || aws.ToString(zones.HostedZones[0].Name) != "example.net." ||
		aws.ToString(zones.HostedZones[1].Name) != "sub.example.net." || !zones.IsTruncated ||
		aws.ToString(zones.HostedZones[0].Id) != "/hostedzone/"+Route53ZoneID("example.net") {
		t.Fatalf("zones = %+v", zones)
	}
	zoneID := Route53ZoneID("example.net")
	const name = "_acme-challenge.a.example.net."
	change := func(changes ...r53types.Change) error {
		_, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(zoneID),
			ChangeBatch: &r53types.ChangeBatch{Changes: changes}})
		return err
	}
	if err := change(txtChange(r53types.ChangeActionCreate, name, 10, `"one"`, `"two"`)); err != nil {
		t.Fatal(err)
	}
	if got := sink.sets[name]; !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("published %q", got)
	}
	// A batch is atomic: a DELETE of values that are not the current ones fails it all.
	err = change(txtChange(r53types.ChangeActionDelete, name, 10, `"one"`), txtChange(r53types.ChangeActionCreate, name, 10, `"three"`))
	var icb *r53types.InvalidChangeBatch
	if !errors.As(err, &icb) || len(icb.Messages) != 2 || !strings.Contains(icb.Messages[0], "do not match the current values") {
		t.Fatalf("mismatched DELETE: %v", err)
	}
	if err := change(txtChange(r53types.ChangeActionCreate, name, 10, `"x"`)); !errors.As(err, &icb) || !strings.Contains(icb.Messages[0], "but it already exists") {
		t.Fatalf("CREATE of an existing set: %v", err)
	}
	if err := change(txtChange(r53types.ChangeActionUpsert, name, 10, `unquoted`)); !errors.As(err, &icb) || !strings.Contains(icb.Messages[0], "enclosed in quotation marks") {
		t.Fatalf("unquoted TXT: %v", err)
	}
	if err := change(txtChange(r53types.ChangeActionDelete, name, 10, `"two"`, `"one"`), txtChange(r53types.ChangeActionCreate, name, 10, `"two"`)); err != nil {
		t.Fatal(err)
	}
	if got := store.TXT(name); !slices.Equal(got, []string{"two"}) {
		t.Fatalf("TXT = %q", got)
	}
	sets, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String(zoneID),
		StartRecordName: aws.String(name), StartRecordType: r53types.RRTypeTxt})
	if err != nil || len(sets.ResourceRecordSets) != 1 || aws.ToString(sets.ResourceRecordSets[0].ResourceRecords[0].Value) != `"two"` {
		t.Fatalf("list = %+v, %v", sets, err)
	}
	if _, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: aws.String("ZNOPE")}); apiCode(t, err) != "NoSuchHostedZone" {
		t.Fatalf("unknown zone: %v", err)
	}
	out, err := c.GetChange(ctx, &route53.GetChangeInput{Id: aws.String("C000000000001")})
	if err != nil || out.ChangeInfo.Status != r53types.ChangeStatusInsync {
		t.Fatalf("GetChange = %+v, %v", out, err)
	}

	// Credentials are checked.
	for _, tc := range []struct {
		creds aws.Credentials
		code  string
	}{
		{aws.Credentials{AccessKeyID: r53TestKey, SecretAccessKey: "wrong"}, "SignatureDoesNotMatch"},
		{aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: r53TestSecret}, "InvalidClientTokenId"},
	} {
		_, err := r53Client(u, tc.creds).ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{})
		if apiCode(t, err) != tc.code {
			t.Fatalf("%s: %v, want %s", tc.creds.AccessKeyID, err, tc.code)
		}
	}
}

// A signed request whose body was changed afterwards is refused, as is one unsigned.
func TestRoute53SignatureCoversBody(t *testing.T) {
	u, store, _ := startRoute53(t)
	body := `<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>CREATE</Action><ResourceRecordSet><Name>x.example.net.</Name><Type>TXT</Type><TTL>10</TTL><ResourceRecords><ResourceRecord><Value>"v"</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`
	send := func(signed, sent string, sign bool) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, u+"/2013-04-01/hostedzone/"+Route53ZoneID("example.net")+"/rrset", strings.NewReader(sent))
		if sign {
			sum := sha256.Sum256([]byte(signed))
			req.ContentLength = int64(len(signed))
			if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: r53TestKey, SecretAccessKey: r53TestSecret},
				req, hex.EncodeToString(sum[:]), "route53", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(len(sent))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := send("", body, false); code != http.StatusForbidden || !strings.Contains(b, "<Code>MissingAuthenticationToken</Code>") {
		t.Fatalf("unsigned: %d %s", code, b)
	}
	tampered := strings.Replace(body, `"v"`, `"w"`, 1)
	if code, b := send(body, tampered, true); code != http.StatusForbidden || !strings.Contains(b, "<ErrorResponse") || !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered: %d %s", code, b)
	}
	if len(store.Records("example.net")) != 0 {
		t.Fatal("a tampered request changed the zone")
	}
	if code, b := send(body, body, true); code != http.StatusOK || !strings.Contains(b, "<Status>PENDING</Status>") {
		t.Fatalf("signed: %d %s", code, b)
	}
}

func TestRoute53AssumeRole(t *testing.T) {
	u, _, _ := startRoute53(t)
	ctx := context.Background()
	stsc := sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(u), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: r53TestKey, SecretAccessKey: r53TestSecret}, nil
		})})
	out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(r53TestRole), RoleSessionName: aws.String("test")})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	if !strings.HasPrefix(aws.ToString(cr.AccessKeyId), "ASIA") || aws.ToString(cr.SessionToken) == "" || cr.Expiration == nil ||
		!strings.HasSuffix(aws.ToString(out.AssumedRoleUser.Arn), "assumed-role/dns/test") {
		t.Fatalf("AssumeRole = %+v", out)
	}
	temp := aws.Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}
	if _, err := r53Client(u, temp).ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{}); err != nil {
		t.Fatalf("temporary credentials: %v", err)
	}
	temp.SessionToken = "forged"
	if _, err := r53Client(u, temp).ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{}); apiCode(t, err) != "InvalidClientTokenId" {
		t.Fatalf("wrong session token: %v", err)
	}
	_, err = stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/other"), RoleSessionName: aws.String("test")})
	if apiCode(t, err) != "AccessDenied" || !strings.Contains(err.Error(), "is not authorized to perform: sts:AssumeRole") {
		t.Fatalf("other role: %v", err)
	}
}
