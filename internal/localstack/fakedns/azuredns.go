package fakedns

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// AzureDNS serves Azure DNS's Resource Manager API (api-version 2018-05-01, what
// the Azure SDK's armdns sends) over a Store, in its wire format, and Microsoft
// Entra ID's client-credentials token endpoint, so the Azure SDK (azidentity,
// armdns) works against it when pointed at it as both authority host and Resource
// Manager endpoint (over TLS: the SDK sends credentials over https only):
//
//   - GET /{tenant}/v2.0/.well-known/openid-configuration and POST
//     /{tenant}/oauth2/v2.0/token (grant_type client_credentials, client_id,
//     client_secret): an access token for one of Apps, else Entra ID's
//     invalid_client / unauthorized_client answers with their AADSTS codes.
//   - GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/
//     dnsZones/{zone}, and GET, PUT (If-Match / If-None-Match) and DELETE
//     (If-Match) of .../dnsZones/{zone}/TXT/{relative name} ("@" for the apex),
//     each with "Authorization: Bearer <token>". Errors are ARM's
//     {"error": {"code", "message"}} bodies.
//
// Each TXT value of a set is one Store record, so the sink serves them; a write adds
// the new values before it removes the old ones.
type AzureDNS struct {
	Store          *Store
	SubscriptionID string
	ResourceGroup  string
	Apps           []AzureApp

	mu     sync.Mutex // serializes writes
	tokens sync.Map   // access token -> expiry time.Time
}

// AzureApp is a service principal (app registration) the token endpoint knows.
type AzureApp struct {
	TenantID, ClientID, ClientSecret string
}

// Handler returns the API and token endpoint handler.
func (a *AzureDNS) Handler() http.Handler {
	const zones = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones/{zone}"
	api := http.NewServeMux()
	api.HandleFunc("GET "+zones, a.getZone)
	api.HandleFunc("GET "+zones+"/TXT/{name}", a.getSet)
	api.HandleFunc("PUT "+zones+"/TXT/{name}", a.putSet)
	api.HandleFunc("DELETE "+zones+"/TXT/{name}", a.deleteSet)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		armError(w, http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace for api version.")
	})
	login := http.NewServeMux()
	login.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", a.openIDConfig)
	login.HandleFunc("POST /{tenant}/oauth2/v2.0/token", a.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/subscriptions/") {
			login.ServeHTTP(w, r)
			return
		}
		if !a.authorized(r) {
			armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
			return
		}
		if v := r.URL.Query().Get("api-version"); v == "" {
			armError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
			return
		}
		api.ServeHTTP(w, r)
	})
}

func (a *AzureDNS) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	exp, ok := a.tokens.Load(tok)
	return ok && time.Now().Before(exp.(time.Time))
}

func armError(w http.ResponseWriter, status int, code, msg string) {
	doJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (a *AzureDNS) openIDConfig(w http.ResponseWriter, r *http.Request) {
	base := "https://" + r.Host + "/" + r.PathValue("tenant")
	doJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
	})
}

func aadError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	traceID := make([]byte, 16)
	_, _ = rand.Read(traceID)
	doJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %x\r\nTimestamp: %s", aadsts, desc, traceID, time.Now().UTC().Format("2006-01-02 15:04:05Z")),
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
	})
}

func (a *AzureDNS) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+f.Get("grant_type")+"'.")
		return
	}
	tenant, id := r.PathValue("tenant"), f.Get("client_id")
	i := slices.IndexFunc(a.Apps, func(p AzureApp) bool { return p.TenantID == tenant && p.ClientID == id })
	if i < 0 {
		aadError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", id, tenant))
		return
	}
	if f.Get("client_secret") != a.Apps[i].ClientSecret {
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+id+"'.")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJ0eXAiOiJKV1QifQ.fake-" + hex.EncodeToString(b)
	a.tokens.Store(tok, time.Now().Add(time.Hour))
	doJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// zone returns the DNS zone the request names, after its subscription and
// resource group.
func (a *AzureDNS) zone(w http.ResponseWriter, r *http.Request) (string, bool) {
	sub, rg, z := r.PathValue("sub"), r.PathValue("rg"), Norm(r.PathValue("zone"))
	switch {
	case sub != a.SubscriptionID:
		armError(w, http.StatusNotFound, "SubscriptionNotFound", fmt.Sprintf("The subscription '%s' could not be found.", sub))
	case !strings.EqualFold(rg, a.ResourceGroup):
		armError(w, http.StatusNotFound, "ResourceGroupNotFound", fmt.Sprintf("Resource group '%s' could not be found.", rg))
	case !a.Store.HasZone(z):
		armError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The Resource 'Microsoft.Network/dnszones/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", z, rg))
	default:
		return z, true
	}
	return "", false
}

func (a *AzureDNS) id(z string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/dnszones/%s", a.SubscriptionID, a.ResourceGroup, z)
}

func (a *AzureDNS) getZone(w http.ResponseWriter, r *http.Request) {
	z, ok := a.zone(w, r)
	if !ok {
		return
	}
	doJSON(w, http.StatusOK, map[string]any{"id": a.id(z), "name": z, "type": "Microsoft.Network/dnszones", "location": "global",
		"etag": "00000000-0000-0000-0000-000000000000", "properties": map[string]any{"maxNumberOfRecordSets": 10000,
			"nameServers": []string{"ns1-01.azure-dns.com."}, "numberOfRecordSets": len(a.Store.Records(z)), "zoneType": "Public"}})
}

// fullName is the record name of the request's relative name in zone z.
func fullName(r *http.Request, z string) string {
	rel := Norm(r.PathValue("name"))
	if rel == "@" {
		return z
	}
	return rel + "." + z
}

type azTXT struct {
	Value []string `json:"value"`
}

// set returns the TXT values at name, their TTL and the set's ETag ("" when none).
func (a *AzureDNS) set(z, name string) ([]Record, string) {
	var recs []Record
	for _, rec := range a.Store.Records(z) {
		if rec.Type == "TXT" && rec.Name == name {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return nil, ""
	}
	// The ETag changes with every change of the set: the ids of its records.
	var ids []string
	for _, rec := range recs {
		ids = append(ids, fmt.Sprint(rec.ID))
	}
	return recs, "etag-" + strings.Join(ids, "-")
}

func (a *AzureDNS) writeSet(w http.ResponseWriter, r *http.Request, z, name string, status int) {
	recs, etag := a.set(z, name)
	txt := []azTXT{}
	ttl := 0
	for _, rec := range recs {
		txt = append(txt, azTXT{Value: []string{rec.Data}})
		ttl = rec.TTL
	}
	rel := r.PathValue("name")
	w.Header().Set("ETag", etag)
	doJSON(w, status, map[string]any{"id": a.id(z) + "/TXT/" + rel, "name": rel, "type": "Microsoft.Network/dnszones/TXT", "etag": etag,
		"properties": map[string]any{"TTL": ttl, "fqdn": name + ".", "provisioningState": "Succeeded", "TXTRecords": txt}})
}

func (a *AzureDNS) getSet(w http.ResponseWriter, r *http.Request) {
	z, ok := a.zone(w, r)
	if !ok {
		return
	}
	name := fullName(r, z)
	if recs, _ := a.set(z, name); len(recs) == 0 {
		armError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("The resource record '%s' does not exist in resource group '%s' of subscription '%s'.", r.PathValue("name"), a.ResourceGroup, a.SubscriptionID))
		return
	}
	a.writeSet(w, r, z, name, http.StatusOK)
}

// precondition checks If-Match / If-None-Match against the set's ETag.
func precondition(w http.ResponseWriter, r *http.Request, etag string) bool {
	m := r.Header.Get("If-Match")
	if (m == "*" && etag == "") || (m != "" && m != "*" && m != etag) {
		armError(w, http.StatusPreconditionFailed, "PreconditionFailed", "The condition '"+m+"' in the If-Match header was not satisfied. The current was '"+etag+"'.")
		return false
	}
	if r.Header.Get("If-None-Match") == "*" && etag != "" {
		armError(w, http.StatusPreconditionFailed, "PreconditionFailed", "The condition '*' in the If-None-Match header was not satisfied. The current was '"+etag+"'.")
		return false
	}
	return true
}

func (a *AzureDNS) putSet(w http.ResponseWriter, r *http.Request) {
	z, ok := a.zone(w, r)
	if !ok {
		return
	}
	var in struct {
		Properties *struct {
			TTL        int     `json:"TTL"`
			TXTRecords []azTXT `json:"TXTRecords"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || in.Properties == nil {
		armError(w, http.StatusBadRequest, "BadRequest", "The request body is not a record set.")
		return
	}
	if len(in.Properties.TXTRecords) == 0 {
		armError(w, http.StatusBadRequest, "BadRequest", "The record set must have at least one TXT record.")
		return
	}
	name := fullName(r, z)
	a.mu.Lock()
	defer a.mu.Unlock()
	old, etag := a.set(z, name)
	if !precondition(w, r, etag) {
		return
	}
	var want []string
	for _, t := range in.Properties.TXTRecords {
		want = append(want, strings.Join(t.Value, ""))
	}
	if err := a.replace(r, z, name, old, want, in.Properties.TTL); err != nil {
		armError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	status := http.StatusOK
	if etag == "" {
		status = http.StatusCreated
	}
	a.writeSet(w, r, z, name, status)
}

// replace makes the TXT values at name want: the new ones added first.
func (a *AzureDNS) replace(r *http.Request, z, name string, old []Record, want []string, ttl int) error {
	has := func(v string) bool { return slices.ContainsFunc(old, func(rec Record) bool { return rec.Data == v }) }
	for _, v := range want {
		if !has(v) {
			if _, err := a.Store.Add(r.Context(), Record{Zone: z, Type: "TXT", Name: name, Data: v, TTL: ttl}); err != nil {
				return err
			}
		}
	}
	for _, rec := range old {
		if !slices.Contains(want, rec.Data) {
			if err := a.Store.Delete(r.Context(), z, rec.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

func (a *AzureDNS) deleteSet(w http.ResponseWriter, r *http.Request) {
	z, ok := a.zone(w, r)
	if !ok {
		return
	}
	name := fullName(r, z)
	a.mu.Lock()
	defer a.mu.Unlock()
	old, etag := a.set(z, name)
	if len(old) == 0 {
		w.WriteHeader(http.StatusNoContent) // ARM: deleting what is not there is fine
		return
	}
	if !precondition(w, r, etag) {
		return
	}
	if err := a.replace(r, z, name, old, nil, 0); err != nil {
		armError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// StartTLS serves h over TLS with cert on addr (e.g. "127.0.0.1:0") and returns
// "https://<host:port>".
func (s *Server) StartTLS(addr string, h http.Handler, cert tls.Certificate) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("fakedns: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("fakedns: listen %s: %w", addr, err)
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func(srv *http.Server) { _ = srv.ServeTLS(ln, "", "") }(s.srv)
	return "https://" + ln.Addr().String(), nil
}
