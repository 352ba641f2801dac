package dns01

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

const (
	r53KeyID     = "AKIAIOSFODNN7EXAMPLE"
	r53Secret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	r53RoleKeyID = "AKIAROLEUSEREXAMPLE1"
	r53RoleSec   = "role-user-secret-access-key-example-000"
	r53Role      = "arn:aws:iam::000000000000:role/dns-manager"
)

// r53Fixture runs the fake Route 53 (zones example.net, deep.example.net,
// example.org) and returns Activities using it, whose Secret "aws" in the issuer's
// namespace holds secret-access-key=secret and access-key-id=r53KeyID. paths records
// the request paths the fake served.
func r53Fixture(t *testing.T, secret string) (*Activities, *fakedns.Store, *[]string) {
	t.Helper()
	store := fakedns.NewStore([]string{"example.net", "deep.example.net", "example.org"}, nil)
	fake := &fakedns.Route53{Store: store,
		Keys:  map[string]string{r53KeyID: r53Secret, r53RoleKeyID: r53RoleSec},
		Roles: map[string][]string{r53Role: {r53RoleKeyID}}}
	var mu sync.Mutex
	paths := &[]string{}
	h := fake.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*paths = append(*paths, r.URL.Path)
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	kube := kubefake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: actIssuerNS, Name: "aws"},
		Data: map[string][]byte{"secret-access-key": []byte(secret), "access-key-id": []byte(r53KeyID + "\n"),
			"role-user-secret": []byte(r53RoleSec)},
	})
	return &Activities{Kube: kube, ClusterResourceNamespace: actClusterNS, Route53APIURL: hs.URL, STSAPIURL: hs.URL}, store, paths
}

func r53Input(name, keyAuth string) DNS01Input {
	return DNS01Input{
		IssuerNamespace: actIssuerNS,
		Solver: acmev1.ACMEChallengeSolverDNS01{Route53: &acmev1.ACMEIssuerDNS01ProviderRoute53{
			AccessKeyID: r53KeyID, SecretAccessKey: actSel("aws", "secret-access-key"), Region: "eu-west-1"}},
		DNSName:          name,
		KeyAuthorization: keyAuth,
	}
}

func TestRoute53RoundTrip(t *testing.T) {
	a, store, _ := r53Fixture(t, r53Secret)
	ctx := actCtx(t)
	apex, wild := r53Input("sub.example.net", "ka-apex"), r53Input("*.sub.example.net", "ka-wild")
	// The access key ID from a Secret (trimmed) works as well as inline.
	wild.Solver.Route53.AccessKeyID = ""
	wild.Solver.Route53.SecretAccessKeyID = actSelPtr("aws", "access-key-id")
	const fqdn = "_acme-challenge.sub.example.net"
	for range 2 { // presenting again (a retried activity) leaves one value each
		for _, in := range []DNS01Input{apex, wild} {
			rec, err := a.PresentDNS01(ctx, in)
			if err != nil {
				t.Fatalf("present %s: %v", in.DNSName, err)
			}
			if rec.Provider != ProviderRoute53 || rec.FQDN != fqdn+"." {
				t.Fatalf("present = %+v", rec)
			}
		}
	}
	want := []string{TXTValue("ka-apex"), TXTValue("ka-wild")}
	if got := store.TXT(fqdn); !slices.Equal(got, want) {
		t.Fatalf("TXT %s = %q, want %q", fqdn, got, want)
	}
	if recs := store.Records("example.net"); len(recs) != 2 || recs[0].TTL != route53TTL {
		t.Fatalf("records = %+v", recs)
	}
	// Another process (nothing shared but the API) cleans up one value; the other stays.
	other := *a
	if err := other.CleanUpDNS01(ctx, apex); err != nil {
		t.Fatalf("clean up: %v", err)
	}
	if got := store.TXT(fqdn); !slices.Equal(got, want[1:]) {
		t.Fatalf("TXT after clean up = %q, want %q", got, want[1:])
	}
	if err := other.CleanUpDNS01(ctx, apex); err != nil {
		t.Fatalf("clean up again: %v", err)
	}
	if err := a.CleanUpDNS01(ctx, wild); err != nil {
		t.Fatalf("clean up wildcard: %v", err)
	}
	if got := store.TXT(fqdn); len(got) != 0 {
		t.Fatalf("TXT left: %q", got)
	}
}

func TestRoute53KeepsOtherValuesAndZones(t *testing.T) {
	a, store, paths := r53Fixture(t, r53Secret)
	ctx := actCtx(t)
	const fqdn = "_acme-challenge.x.deep.example.net"
	if _, err := store.Add(ctx, fakedns.Record{Zone: "deep.example.net", Type: "TXT", Name: fqdn, Data: "someone else's", TTL: 300}); err != nil {
		t.Fatal(err)
	}
	in := r53Input("x.deep.example.net", actKeyAuth)
	if _, err := a.PresentDNS01(ctx, in); err != nil {
		t.Fatalf("present: %v", err)
	}
	// The most specific zone is used; the set keeps its TTL and the other value.
	recs := store.Records("deep.example.net")
	if len(recs) != 2 || recs[0].TTL != 300 || recs[1].TTL != 300 || len(store.Records("example.net")) != 0 {
		t.Fatalf("records = %+v", recs)
	}
	if err := a.CleanUpDNS01(ctx, in); err != nil {
		t.Fatalf("clean up: %v", err)
	}
	if got := store.TXT(fqdn); !slices.Equal(got, []string{"someone else's"}) {
		t.Fatalf("TXT after clean up = %q", got)
	}
	// hostedZoneID skips the zone lookup.
	*paths = nil
	in = r53Input("y.example.org", actKeyAuth)
	in.Solver.Route53.HostedZoneID = "/hostedzone/" + fakedns.Route53ZoneID("example.org")
	if _, err := a.PresentDNS01(ctx, in); err != nil {
		t.Fatalf("present with hostedZoneID: %v", err)
	}
	for _, p := range *paths {
		if strings.Contains(p, "hostedzonesbyname") {
			t.Fatalf("zone lookup made with hostedZoneID: %q", *paths)
		}
	}
	if got := store.TXT("_acme-challenge.y.example.org"); !slices.Equal(got, []string{TXTValue(actKeyAuth)}) {
		t.Fatalf("TXT = %q", got)
	}
}

func TestRoute53ConcurrentWriters(t *testing.T) {
	a, store, _ := r53Fixture(t, r53Secret)
	ctx := actCtx(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	var want []string
	for i := range n {
		ka := "ka-" + string(rune('a'+i))
		want = append(want, TXTValue(ka))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = a.PresentDNS01(ctx, r53Input("race.example.net", ka))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("present: %v", err)
		}
	}
	got := store.TXT("_acme-challenge.race.example.net")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("TXT = %q, want all of %q", got, want)
	}
}

func TestRoute53AssumeRole(t *testing.T) {
	a, store, paths := r53Fixture(t, r53Secret)
	ctx := actCtx(t)
	in := r53Input("role.example.net", actKeyAuth)
	in.Solver.Route53.AccessKeyID = r53RoleKeyID
	in.Solver.Route53.SecretAccessKey = actSel("aws", "role-user-secret")
	in.Solver.Route53.Role = r53Role
	if _, err := a.PresentDNS01(ctx, in); err != nil {
		t.Fatalf("present with role: %v", err)
	}
	if got := store.TXT("_acme-challenge.role.example.net"); len(got) != 1 {
		t.Fatalf("TXT = %q", got)
	}
	if (*paths)[0] != "/" {
		t.Fatalf("first request %q, want STS AssumeRole", (*paths)[0])
	}
	// A key not allowed to assume the role gets STS's words.
	in.Solver.Route53.AccessKeyID = r53KeyID
	in.Solver.Route53.SecretAccessKey = actSel("aws", "secret-access-key")
	_, err := a.PresentDNS01(ctx, in)
	actWantNonRetryable(t, err, ErrTypeRefused, "assume role "+r53Role, "HTTP 403: AccessDenied", "is not authorized to perform: sts:AssumeRole")
}

func TestRoute53Errors(t *testing.T) {
	ctx := actCtx(t)
	t.Run("wrong secret key: AWS's words, refused for good, no secret", func(t *testing.T) {
		a, store, _ := r53Fixture(t, "not-the-secret-key")
		_, err := a.PresentDNS01(ctx, r53Input("example.net", actKeyAuth))
		actWantNonRetryable(t, err, ErrTypeRefused, "via route53", "HTTP 403: SignatureDoesNotMatch: The request signature we calculated does not match")
		if strings.Contains(err.Error(), "not-the-secret-key") {
			t.Errorf("error %q shows the secret", err)
		}
		if len(store.Records("example.net")) != 0 {
			t.Error("a record was created")
		}
		actWantNonRetryable(t, a.CleanUpDNS01(ctx, r53Input("example.net", actKeyAuth)), ErrTypeRefused, "SignatureDoesNotMatch")
	})
	t.Run("unknown access key", func(t *testing.T) {
		a, _, _ := r53Fixture(t, r53Secret)
		in := r53Input("example.net", actKeyAuth)
		in.Solver.Route53.AccessKeyID = "AKIAUNKNOWNEXAMPLE00"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeRefused, "HTTP 403: InvalidClientTokenId: The security token included in the request is invalid.")
	})
	t.Run("unknown hosted zone ID", func(t *testing.T) {
		a, _, _ := r53Fixture(t, r53Secret)
		in := r53Input("example.net", actKeyAuth)
		in.Solver.Route53.HostedZoneID = "ZNOSUCHZONE"
		_, err := a.PresentDNS01(ctx, in)
		actWantNonRetryable(t, err, ErrTypeRefused, "HTTP 404: NoSuchHostedZone: No hosted zone found with ID: ZNOSUCHZONE")
	})
	t.Run("no zone", func(t *testing.T) {
		a, _, _ := r53Fixture(t, r53Secret)
		_, err := a.PresentDNS01(ctx, r53Input("example.com", actKeyAuth))
		actWantRetryable(t, err, "route53: no public hosted zone of the account holds _acme-challenge.example.com", "tried example.com, com")
	})
	t.Run("server error and throttling: retryable", func(t *testing.T) {
		a, _, _ := r53Fixture(t, r53Secret)
		for _, tc := range []struct {
			status int
			body   string
			want   string
		}{
			{503, `<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Service is unavailable</Message></Error></ErrorResponse>`, "HTTP 503: ServiceUnavailable: Service is unavailable"},
			{400, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>`, "HTTP 400: Throttling: Rate exceeded"},
		} {
			hs := httptest.NewServer(httpHandlerStatus(tc.status, tc.body))
			a.Route53APIURL = hs.URL
			in := r53Input("example.net", actKeyAuth)
			_, err := a.PresentDNS01(ctx, in)
			actWantRetryable(t, err, tc.want)
			actWantRetryable(t, a.CleanUpDNS01(ctx, in), tc.want)
			hs.Close()
		}
	})
	for name, tc := range map[string]struct {
		edit func(*acmev1.ACMEIssuerDNS01ProviderRoute53)
		want []string
	}{
		"missing Secret": {func(r *acmev1.ACMEIssuerDNS01ProviderRoute53) { r.SecretAccessKey.Name = "nope" },
			[]string{"route53 secretAccessKeySecretRef", "Secret team-a/nope", "not found"}},
		"missing key": {func(r *acmev1.ACMEIssuerDNS01ProviderRoute53) { r.SecretAccessKey.Key = "nope" },
			[]string{"Secret team-a/aws has no key \"nope\""}},
		"missing access key ID Secret": {func(r *acmev1.ACMEIssuerDNS01ProviderRoute53) {
			r.AccessKeyID, r.SecretAccessKeyID = "", actSelPtr("gone", "id")
		}, []string{"route53 accessKeyIDSecretRef", "Secret team-a/gone"}},
		"both access key ID fields": {func(r *acmev1.ACMEIssuerDNS01ProviderRoute53) {
			r.SecretAccessKeyID = actSelPtr("aws", "access-key-id")
		},
			[]string{"set only one of accessKeyID and accessKeyIDSecretRef"}},
		"no credentials (ambient)": {func(r *acmev1.ACMEIssuerDNS01ProviderRoute53) {
			*r = acmev1.ACMEIssuerDNS01ProviderRoute53{Region: "eu-west-1"}
		},
			[]string{"no credentials", "ambient credentials"}},
		"access key ID without secret": {func(r *acmev1.ACMEIssuerDNS01ProviderRoute53) { r.SecretAccessKey.Name = "" },
			[]string{"secretAccessKeySecretRef is required"}},
		"auth.kubernetes": {func(r *acmev1.ACMEIssuerDNS01ProviderRoute53) {
			r.Auth = &acmev1.Route53Auth{Kubernetes: &acmev1.Route53KubernetesAuth{ServiceAccountRef: &acmev1.ServiceAccountRef{Name: "sa"}}}
		}, []string{"auth.kubernetes", "not supported"}},
	} {
		t.Run(name, func(t *testing.T) {
			a, _, _ := r53Fixture(t, r53Secret)
			in := r53Input("example.net", actKeyAuth)
			tc.edit(in.Solver.Route53)
			_, err := a.PresentDNS01(ctx, in)
			actWantNonRetryable(t, err, ErrTypeConfig, tc.want...)
			actWantNonRetryable(t, a.CleanUpDNS01(ctx, in), ErrTypeConfig)
		})
	}
}

func TestRoute53Changes(t *testing.T) {
	const name = "_acme-challenge.example.net"
	type change struct {
		action string
		ttl    int64
		values []string
	}
	for _, tc := range []struct {
		name    string
		cur     txtSet
		present bool
		want    []change
	}{
		{"present, no set", txtSet{}, true, []change{{"CREATE", route53TTL, []string{`"v"`}}}},
		{"present, already there", txtSet{Exists: true, TTL: 60, Values: []string{`"x"`, `"v"`}}, true, nil},
		{"present, other values kept with their TTL", txtSet{Exists: true, TTL: 60, Values: []string{`"x"`}}, true,
			[]change{{"DELETE", 60, []string{`"x"`}}, {"CREATE", 60, []string{`"x"`, `"v"`}}}},
		{"clean up, no set", txtSet{}, false, nil},
		{"clean up, value not there", txtSet{Exists: true, TTL: 10, Values: []string{`"x"`}}, false, nil},
		{"clean up, last value", txtSet{Exists: true, TTL: 10, Values: []string{`"v"`}}, false, []change{{"DELETE", 10, []string{`"v"`}}}},
		{"clean up, others kept", txtSet{Exists: true, TTL: 10, Values: []string{`"x"`, `"v"`, `"y"`}}, false,
			[]change{{"DELETE", 10, []string{`"x"`, `"v"`, `"y"`}}, {"CREATE", 10, []string{`"x"`, `"y"`}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []change
			for _, c := range route53Changes(name, tc.cur, "v", tc.present) {
				s := c.ResourceRecordSet
				if aws.ToString(s.Name) != name+"." || s.Type != r53types.RRTypeTxt {
					t.Fatalf("set %s %s", aws.ToString(s.Name), s.Type)
				}
				var vals []string
				for _, r := range s.ResourceRecords {
					vals = append(vals, aws.ToString(r.Value))
				}
				got = append(got, change{string(c.Action), aws.ToInt64(s.TTL), vals})
			}
			if !slices.EqualFunc(got, tc.want, func(a, b change) bool {
				return a.action == b.action && a.ttl == b.ttl && slices.Equal(a.values, b.values)
			}) {
				t.Fatalf("changes = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRoute53PickZone(t *testing.T) {
	z := func(id, name string, private bool) r53types.HostedZone {
		return r53types.HostedZone{Id: aws.String("/hostedzone/" + id), Name: aws.String(name), Config: &r53types.HostedZoneConfig{PrivateZone: private}}
	}
	zones := []r53types.HostedZone{z("ZPRIV", "example.net.", true), z("ZPUB", "Example.net.", false), z("ZSUB", "sub.example.net.", false)}
	for _, tc := range []struct{ zone, want string }{
		{"example.net", "ZPUB"}, {"sub.example.net", "ZSUB"}, {"other.net", ""},
	} {
		if got := route53PickZone(zones, tc.zone); got != tc.want {
			t.Errorf("zone %s: %q, want %q", tc.zone, got, tc.want)
		}
	}
	if got := route53PickZone(zones[:1], "example.net"); got != "" {
		t.Errorf("a private zone was picked: %q", got)
	}
}

// r53Env sets the AWS SDK's environment credentials and keeps the rest of its default
// chain (shared files, instance metadata) from being consulted.
func r53Env(t *testing.T, keyID, secret string) {
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
}

func TestRoute53AmbientCredentials(t *testing.T) {
	ctx := actCtx(t)
	ambient := func(name string, cluster bool) DNS01Input {
		in := r53Input(name, actKeyAuth)
		in.Solver.Route53 = &acmev1.ACMEIssuerDNS01ProviderRoute53{Region: "eu-west-1"}
		if cluster {
			in.IssuerNamespace = ""
		}
		return in
	}
	t.Run("not allowed: a config error naming the flag, the environment unread", func(t *testing.T) {
		r53Env(t, r53KeyID, r53Secret)
		a, store, paths := r53Fixture(t, r53Secret)
		_, err := a.PresentDNS01(ctx, ambient("example.net", false))
		actWantNonRetryable(t, err, ErrTypeConfig, "not allowed for Issuers", "--issuer-ambient-credentials")
		_, err = a.PresentDNS01(ctx, ambient("example.net", true))
		actWantNonRetryable(t, err, ErrTypeConfig, "not allowed for ClusterIssuers", "--cluster-issuer-ambient-credentials")
		if len(*paths) != 0 || len(store.Records("example.net")) != 0 {
			t.Fatalf("requests made: %q", *paths)
		}
	})
	t.Run("allowed for ClusterIssuers", func(t *testing.T) {
		r53Env(t, r53KeyID, r53Secret)
		a, store, _ := r53Fixture(t, r53Secret)
		a.ClusterIssuerAmbientCredentials = true
		in := ambient("cluster.example.net", true)
		if _, err := a.PresentDNS01(ctx, in); err != nil {
			t.Fatalf("present: %v", err)
		}
		if got := store.TXT("_acme-challenge.cluster.example.net"); len(got) != 1 {
			t.Fatalf("TXT = %q", got)
		}
		_, err := a.PresentDNS01(ctx, ambient("issuer.example.net", false))
		actWantNonRetryable(t, err, ErrTypeConfig, "not allowed for Issuers")
		// With a role, the ambient credentials assume it.
		r53Env(t, r53RoleKeyID, r53RoleSec)
		in.Solver.Route53.Role = r53Role
		if err := a.CleanUpDNS01(ctx, in); err != nil {
			t.Fatalf("clean up through the role: %v", err)
		}
		if got := store.TXT("_acme-challenge.cluster.example.net"); len(got) != 0 {
			t.Fatalf("TXT left: %q", got)
		}
	})
	t.Run("allowed, wrong ambient secret: AWS's words", func(t *testing.T) {
		r53Env(t, r53KeyID, "wrong-ambient-secret")
		a, _, _ := r53Fixture(t, r53Secret)
		a.IssuerAmbientCredentials = true
		_, err := a.PresentDNS01(ctx, ambient("example.net", false))
		actWantNonRetryable(t, err, ErrTypeRefused, "SignatureDoesNotMatch")
	})
}
