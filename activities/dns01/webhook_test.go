package dns01

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/miekg/dns"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
)

func whSolver(config string) *acmev1.ACMEIssuerDNS01ProviderWebhook {
	w := &acmev1.ACMEIssuerDNS01ProviderWebhook{GroupName: "acme.example.org", SolverName: "dnspod"}
	if config != "" {
		w.Config = &apiextensionsv1.JSON{Raw: []byte(config)}
	}
	return w
}

func TestWebhookRequest(t *testing.T) {
	rec := DNS01Record{FQDN: "_acme-challenge.example.com.", Value: "txt-value"}
	for name, c := range map[string]struct {
		in      DNS01Input
		ns      string
		ambient bool
		want    ChallengeRequest
	}{
		"issuer": {
			in: DNS01Input{Challenge: ChallengeRef{UID: "uid-1"}, IssuerNamespace: "team-a", DNSName: "example.com",
				Solver: acmev1.ACMEChallengeSolverDNS01{Webhook: whSolver(`{"secretId":"s"}`)}},
			ns: "team-a",
			want: ChallengeRequest{UID: "uid-1", Action: WebhookActionPresent, Type: "dns-01", DNSName: "example.com", Key: "txt-value",
				ResourceNamespace: "team-a", ResolvedFQDN: "_acme-challenge.example.com.", ResolvedZone: "example.com.",
				Config: json.RawMessage(`{"secretId":"s"}`)},
		},
		"cluster issuer, wildcard name, no config": {
			in: DNS01Input{Challenge: ChallengeRef{UID: "uid-2"}, DNSName: "*.example.com.",
				Solver: acmev1.ACMEChallengeSolverDNS01{Webhook: whSolver("")}},
			ns: "cert-manager", ambient: true,
			want: ChallengeRequest{UID: "uid-2", Action: WebhookActionPresent, Type: "dns-01", DNSName: "example.com", Key: "txt-value",
				ResourceNamespace: "cert-manager", ResolvedFQDN: "_acme-challenge.example.com.", ResolvedZone: "example.com.",
				AllowAmbientCredentials: true},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := webhookRequest(WebhookActionPresent, c.in.Solver.Webhook, c.in, rec, "example.com.", c.ns, c.ambient)
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(c.want)
			if string(gb) != string(wb) {
				t.Fatalf("request\n got %s\nwant %s", gb, wb)
			}
		})
	}
}

// TestWebhookPayloadWire pins the wire format of upstream's
// webhook.acme.cert-manager.io/v1alpha1 ChallengePayload.
func TestWebhookPayloadWire(t *testing.T) {
	req := ChallengeRequest{UID: "u", Action: WebhookActionCleanUp, Type: "dns-01", DNSName: "example.com", Key: "k",
		ResourceNamespace: "ns", ResolvedFQDN: "_acme-challenge.example.com.", ResolvedZone: "example.com.", Config: json.RawMessage(`{"a":1}`)}
	b, err := json.Marshal(ChallengePayload{APIVersion: WebhookAPIVersion, Kind: WebhookKind, Request: &req})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"webhook.acme.cert-manager.io/v1alpha1","kind":"ChallengePayload","request":{"uid":"u","action":"CleanUp","type":"dns-01",` +
		`"dnsName":"example.com","key":"k","resourceNamespace":"ns","resolvedFQDN":"_acme-challenge.example.com.","resolvedZone":"example.com.",` +
		`"allowAmbientCredentials":false,"config":{"a":1}}}`
	if string(b) != want {
		t.Fatalf("payload\n got %s\nwant %s", b, want)
	}
	var p ChallengePayload
	answer := `{"kind":"ChallengePayload","apiVersion":"webhook.acme.cert-manager.io/v1alpha1","response":{"uid":"u","success":false,` +
		`"status":{"metadata":{},"status":"Failure","message":"record quota exceeded","reason":"InternalError","code":500}}}`
	if err := json.Unmarshal([]byte(answer), &p); err != nil {
		t.Fatal(err)
	}
	if p.Response == nil || p.Response.Success || p.Response.Result == nil || p.Response.Result.Message != "record quota exceeded" {
		t.Fatalf("response decoded as %+v", p.Response)
	}
}

func TestCheckWebhookSolver(t *testing.T) {
	for name, c := range map[string]struct {
		w  *acmev1.ACMEIssuerDNS01ProviderWebhook
		ok bool
	}{
		"good":              {whSolver(`{"x":"y"}`), true},
		"no group":          {&acmev1.ACMEIssuerDNS01ProviderWebhook{SolverName: "s"}, false},
		"no solver":         {&acmev1.ACMEIssuerDNS01ProviderWebhook{GroupName: "acme.example.org"}, false},
		"group with slash":  {&acmev1.ACMEIssuerDNS01ProviderWebhook{GroupName: "acme.example.org/x", SolverName: "s"}, false},
		"group not dotted":  {&acmev1.ACMEIssuerDNS01ProviderWebhook{GroupName: "acme", SolverName: "s"}, false},
		"solver with slash": {&acmev1.ACMEIssuerDNS01ProviderWebhook{GroupName: "acme.example.org", SolverName: "a/b"}, false},
		"bad config":        {whSolver(`{"x":`), false},
	} {
		t.Run(name, func(t *testing.T) {
			err := checkWebhookSolver(c.w)
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			actWantNonRetryable(t, err, ErrTypeConfig)
		})
	}
}

func soaMsg(rcode int, answer ...dns.RR) *dns.Msg {
	m := new(dns.Msg)
	m.Rcode = rcode
	m.Answer = answer
	return m
}

func soaRR(name string) dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: "ns." + name, Mbox: "h." + name}
}

func TestSOAZone(t *testing.T) {
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: "a.example.com.", Rrtype: dns.TypeCNAME, Class: dns.ClassINET}, Target: "b.example.net."}
	for name, c := range map[string]struct {
		m       *dns.Msg
		zone    string
		climb   bool
		wantErr bool
	}{
		"SOA in the answer":        {m: soaMsg(dns.RcodeSuccess, soaRR("Example.COM.")), zone: "example.com."},
		"NXDOMAIN":                 {m: soaMsg(dns.RcodeNameError), climb: true},
		"NODATA":                   {m: soaMsg(dns.RcodeSuccess), climb: true},
		"CNAME":                    {m: soaMsg(dns.RcodeSuccess, cname, soaRR("example.net.")), climb: true},
		"SERVFAIL":                 {m: soaMsg(dns.RcodeServerFailure), wantErr: true},
		"NOTIMP (a test DNS)":      {m: soaMsg(dns.RcodeNotImplemented), wantErr: true},
		"REFUSED, as upstream too": {m: soaMsg(dns.RcodeRefused), wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			zone, climb, err := soaZone("a.example.com.", c.m)
			if (err != nil) != c.wantErr || zone != c.zone || climb != c.climb {
				t.Fatalf("soaZone = %q, %v, %v; want %q, %v, error %v", zone, climb, err, c.zone, c.climb, c.wantErr)
			}
		})
	}
}

func TestFindZoneSOA(t *testing.T) {
	zones := map[string]bool{"example.com.": true}
	var asked []string
	ask := func(_ context.Context, name string) (*dns.Msg, error) {
		asked = append(asked, name)
		if zones[name] {
			return soaMsg(dns.RcodeSuccess, soaRR(name)), nil
		}
		if name == "sub.example.com." {
			return soaMsg(dns.RcodeSuccess), nil // an empty non-terminal
		}
		return soaMsg(dns.RcodeNameError), nil
	}
	zone, err := findZoneSOA(context.Background(), "_acme-challenge.sub.example.com", ask)
	if err != nil || zone != "example.com." {
		t.Fatalf("zone %q, %v", zone, err)
	}
	if got := strings.Join(asked, " "); got != "_acme-challenge.sub.example.com. sub.example.com. example.com." {
		t.Fatalf("asked %s", got)
	}
	if _, err := findZoneSOA(context.Background(), "_acme-challenge.example.org.", ask); err == nil || !strings.Contains(err.Error(), "no SOA") {
		t.Fatalf("want no SOA, got %v", err)
	}
	boom := errors.New("timeout")
	if _, err := findZoneSOA(context.Background(), "a.example.org.", func(context.Context, string) (*dns.Msg, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("want the lookup's error, got %v", err)
	}
}

func TestWebhookOutcome(t *testing.T) {
	w := whSolver("")
	gr := schema.GroupResource{Group: w.GroupName, Resource: w.SolverName}
	payload := func(success bool, msg string) []byte {
		r := `{"apiVersion":"webhook.acme.cert-manager.io/v1alpha1","kind":"ChallengePayload","response":{"uid":"u","success":` +
			map[bool]string{true: "true", false: "false"}[success]
		if msg != "" {
			r += `,"status":{"message":"` + msg + `"}`
		}
		return []byte(r + "}}")
	}
	for name, c := range map[string]struct {
		status  int
		body    []byte
		err     error
		ok      bool
		errType string // "" retryable
		want    string
	}{
		"success":                 {status: 201, body: payload(true, ""), ok: true},
		"failure with a message":  {status: 201, body: payload(false, "DNSPod: invalid secretId"), want: "the webhook failed: DNSPod: invalid secretId"},
		"failure without message": {status: 201, body: payload(false, ""), want: "success=false without a status"},
		"failure in an error status": {status: 500, body: payload(false, "zone locked"), err: apierrors.NewInternalError(errors.New("x")),
			want: "zone locked"},
		"no payload":             {status: 200, body: []byte(`{}`), want: "without a ChallengePayload response"},
		"no APIService":          {status: 404, err: apierrors.NewNotFound(gr, ""), errType: ErrTypeConfig, want: "install the webhook and its APIService v1alpha1.acme.example.org"},
		"forbidden":              {status: 403, err: apierrors.NewForbidden(gr, "", errors.New("RBAC")), errType: ErrTypeConfig, want: "may not create dnspod in acme.example.org"},
		"APIService unavailable": {status: 503, err: apierrors.NewServiceUnavailable("service unavailable"), want: "APIService v1alpha1.acme.example.org is unavailable"},
		"connection failure":     {err: errors.New("dial tcp: connection refused"), want: "connection refused"},
	} {
		t.Run(name, func(t *testing.T) {
			err := webhookOutcome(w, WebhookActionPresent, c.status, c.body, c.err)
			switch {
			case c.ok:
				if err != nil {
					t.Fatal(err)
				}
			case c.errType != "":
				actWantNonRetryable(t, err, c.errType, c.want)
			default:
				actWantRetryable(t, err, c.want, "/apis/acme.example.org/v1alpha1/dnspod")
			}
		})
	}
}

// TestWebhookProvider drives the provider against a stand-in for kube-apiserver.
func TestWebhookProvider(t *testing.T) {
	var got []ChallengePayload
	answer := func(w http.ResponseWriter, p ChallengePayload) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(p)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/acme.example.org/v1alpha1/dnspod" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}`)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		var p ChallengePayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("decode: %v", err)
		}
		got = append(got, p)
		p.Response = &ChallengeResponse{UID: p.Request.UID, Success: true}
		if strings.Contains(string(p.Request.Config), "fail") {
			p.Response = &ChallengeResponse{UID: p.Request.UID, Result: &metav1.Status{Message: "the provider refused"}}
		}
		p.Request = nil
		answer(w, p)
	}))
	defer srv.Close()
	rc, err := rest.UnversionedRESTClientFor(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{NegotiatedSerializer: scheme.Codecs.WithoutConversion()}})
	if err != nil {
		t.Fatal(err)
	}
	provider := func(w *acmev1.ACMEIssuerDNS01ProviderWebhook) *webhookProvider {
		return &webhookProvider{rc: rc, solver: w, resourceNamespace: "team-a",
			in:   DNS01Input{Challenge: ChallengeRef{UID: "ch-uid"}, IssuerNamespace: "team-a", DNSName: "example.com"},
			zone: func(context.Context, string) (string, error) { return "example.com.", nil }}
	}
	ctx := actCtx(t)
	if err := provider(whSolver(`{"k":"v"}`)).Present(ctx, "_acme-challenge.example.com.", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := provider(whSolver(`{"k":"v"}`)).CleanUp(ctx, "_acme-challenge.example.com.", "v1"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Request.Action != "Present" || got[1].Request.Action != "CleanUp" ||
		got[0].APIVersion != WebhookAPIVersion || got[0].Kind != WebhookKind || got[0].Request.Key != "v1" ||
		got[0].Request.ResolvedZone != "example.com." || got[0].Request.UID != "ch-uid" || string(got[0].Request.Config) != `{"k":"v"}` {
		for _, p := range got {
			t.Logf("%+v", *p.Request)
		}
		t.Fatal("unexpected payloads")
	}
	err = provider(whSolver(`{"fail":true}`)).Present(ctx, "_acme-challenge.example.com.", "v1")
	actWantRetryable(t, err, "the provider refused")
	other := whSolver("")
	other.SolverName = "alidns"
	err = provider(other).Present(ctx, "_acme-challenge.example.com.", "v1")
	actWantNonRetryable(t, err, ErrTypeConfig, `no resource "alidns"`)
	zoneErr := provider(whSolver(""))
	zoneErr.zone = func(context.Context, string) (string, error) { return "", errors.New("no SOA") }
	actWantRetryable(t, zoneErr.Present(ctx, "_acme-challenge.example.com.", "v1"), "no SOA")
}
