package fakedns

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// CloudDNS serves Google Cloud DNS's API (https://dns.googleapis.com/dns/v1) over a
// Store, in its wire format, so Google's client (google.golang.org/api/dns/v1) works
// against it, and the OAuth 2.0 token endpoint of service accounts:
//
//   - POST /token: a JWT-bearer grant (RFC 7523) whose assertion is signed (RS256) by
//     one of Accounts' keys, with that account's email as issuer and the token
//     endpoint as audience, gets an access token; else Google's invalid_grant.
//   - GET /dns/v1/projects/{project}/managedZones (filter dnsName),
//     GET .../managedZones/{zone}/rrsets (filters name, type) and POST
//     .../managedZones/{zone}/changes (deletions must be the sets as they are,
//     additions must not exist, applied at once), each with
//     "Authorization: Bearer <token>" from /token. Errors are Google's
//     {"error": {"code", "message", "errors": [{"reason"}], "status"}} bodies.
//
// A managed zone's name is its DNS name with dots as dashes ("example-info").
// Each TXT value of a set is one Store record (its Data unquoted), so the sink
// serves them; a change adds the new values before it removes the old ones.
type CloudDNS struct {
	Store *Store
	// Project is the one project ID that holds Store's zones.
	Project  string
	Accounts []CloudDNSAccount

	mu     sync.Mutex // serializes changes
	tokens sync.Map   // access token -> expiry time.Time
}

// CloudDNSAccount is a service account the token endpoint knows.
type CloudDNSAccount struct {
	Email string
	Key   *rsa.PublicKey
}

// NewServiceAccountKey returns a new service account JSON key (as Google's console
// makes them) for email, whose JWTs are exchanged at tokenURI, and the account to
// give the fake.
func NewServiceAccountKey(project, email, tokenURI string) ([]byte, CloudDNSAccount, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, CloudDNSAccount{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, CloudDNSAccount{}, err
	}
	id := make([]byte, 20)
	_, _ = rand.Read(id)
	raw, err := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              hex.EncodeToString(id),
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	return raw, CloudDNSAccount{Email: email, Key: &k.PublicKey}, err
}

// ManagedZoneName is the fake's managed zone name of a DNS zone.
func ManagedZoneName(zone string) string {
	return strings.ReplaceAll(Norm(zone), ".", "-")
}

type gRRSet struct {
	Kind    string   `json:"kind,omitempty"`
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	TTL     int      `json:"ttl,omitempty"`
	Rrdatas []string `json:"rrdatas"`
}

// Handler returns the API and token endpoint handler.
func (c *CloudDNS) Handler() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /dns/v1/projects/{project}/managedZones", c.listZones)
	api.HandleFunc("GET /dns/v1/projects/{project}/managedZones/{zone}/rrsets", c.listRRSets)
	api.HandleFunc("POST /dns/v1/projects/{project}/managedZones/{zone}/changes", c.change)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		gError(w, http.StatusNotFound, "notFound", "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.")
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", c.token)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.authorized(r) {
			gError(w, http.StatusUnauthorized, "unauthorized", "UNAUTHENTICATED",
				"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
			return
		}
		api.ServeHTTP(w, r)
	}))
	return mux
}

func (c *CloudDNS) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	exp, ok := c.tokens.Load(tok)
	return ok && time.Now().Before(exp.(time.Time))
}

func gError(w http.ResponseWriter, status int, reason, gstatus, msg string) {
	doJSON(w, status, map[string]any{"error": map[string]any{
		"code": status, "message": msg, "status": gstatus,
		"errors": []map[string]string{{"message": msg, "domain": "global", "reason": reason}},
	}})
}

func tokenError(w http.ResponseWriter, code, desc string) {
	doJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

// token is the JWT-bearer grant of Google's token endpoint.
func (c *CloudDNS) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "Invalid request body.")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		tokenError(w, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		tokenError(w, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
		return
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Iat int64  `json:"iat"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		tokenError(w, "invalid_grant", "Invalid JWT: cannot be decoded.")
		return
	}
	i := slices.IndexFunc(c.Accounts, func(a CloudDNSAccount) bool { return a.Email == claims.Iss })
	if i < 0 {
		tokenError(w, "invalid_grant", "Invalid grant: account not found")
		return
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(c.Accounts[i].Key, crypto.SHA256, sum[:], sig) != nil {
		tokenError(w, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	now := time.Now().Unix()
	if claims.Exp < now || claims.Iat > now+300 || claims.Exp-claims.Iat > 3600 {
		tokenError(w, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	if want := "http://" + r.Host + "/token"; claims.Aud != want && claims.Aud != "https://"+r.Host+"/token" {
		tokenError(w, "invalid_grant", "Invalid JWT: Failed audience check. The right audience is "+want)
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.fake-" + hex.EncodeToString(b)
	c.tokens.Store(tok, time.Now().Add(time.Hour))
	doJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

// zone returns the DNS zone of the request's project and managed zone.
func (c *CloudDNS) zone(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !c.project(w, r) {
		return "", false
	}
	mz := r.PathValue("zone")
	for _, z := range c.Store.Zones() {
		if ManagedZoneName(z) == mz {
			return z, true
		}
	}
	gError(w, http.StatusNotFound, "notFound", "NOT_FOUND", fmt.Sprintf("The 'parameters.managedZone' resource named '%s' does not exist.", mz))
	return "", false
}

func (c *CloudDNS) project(w http.ResponseWriter, r *http.Request) bool {
	if p := r.PathValue("project"); p != c.Project {
		gError(w, http.StatusNotFound, "notFound", "NOT_FOUND", fmt.Sprintf("The 'parameters.project' resource named '%s' does not exist.", p))
		return false
	}
	return true
}

func (c *CloudDNS) listZones(w http.ResponseWriter, r *http.Request) {
	if !c.project(w, r) {
		return
	}
	filter := r.URL.Query().Get("dnsName")
	out := []map[string]any{}
	for _, z := range c.Store.Zones() {
		if filter != "" && Norm(filter) != z {
			continue
		}
		out = append(out, map[string]any{"kind": "dns#managedZone", "name": ManagedZoneName(z), "dnsName": z + ".",
			"visibility": "public", "id": "1", "nameServers": []string{"ns-cloud-a1.googledomains.com."}})
	}
	doJSON(w, http.StatusOK, map[string]any{"kind": "dns#managedZonesListResponse", "managedZones": out})
}

// sets returns zone's record sets (name, type), TXT values quoted, in order.
func (c *CloudDNS) sets(zone string) []gRRSet {
	var out []gRRSet
	for _, rec := range c.Store.Records(zone) {
		data := rec.Data
		if rec.Type == "TXT" {
			data = `"` + data + `"`
		}
		i := slices.IndexFunc(out, func(s gRRSet) bool { return s.Name == rec.Name+"." && s.Type == rec.Type })
		if i < 0 {
			out = append(out, gRRSet{Kind: "dns#resourceRecordSet", Name: rec.Name + ".", Type: rec.Type, TTL: rec.TTL})
			i = len(out) - 1
		}
		out[i].Rrdatas = append(out[i].Rrdatas, data)
	}
	return out
}

func (c *CloudDNS) listRRSets(w http.ResponseWriter, r *http.Request) {
	z, ok := c.zone(w, r)
	if !ok {
		return
	}
	name, typ := r.URL.Query().Get("name"), r.URL.Query().Get("type")
	if typ != "" && name == "" {
		gError(w, http.StatusBadRequest, "invalid", "INVALID_ARGUMENT", "Invalid value for 'parameters.type': type requires name.")
		return
	}
	out := []gRRSet{}
	for _, s := range c.sets(z) {
		if (name == "" || Norm(name) == Norm(s.Name)) && (typ == "" || typ == s.Type) {
			out = append(out, s)
		}
	}
	doJSON(w, http.StatusOK, map[string]any{"kind": "dns#resourceRecordSetsListResponse", "rrsets": out})
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

func (c *CloudDNS) change(w http.ResponseWriter, r *http.Request) {
	z, ok := c.zone(w, r)
	if !ok {
		return
	}
	var ch struct {
		Additions []gRRSet `json:"additions"`
		Deletions []gRRSet `json:"deletions"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ch); err != nil {
		gError(w, http.StatusBadRequest, "parseError", "INVALID_ARGUMENT", "Parse Error")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sets := c.sets(z)
	find := func(s gRRSet) int {
		return slices.IndexFunc(sets, func(x gRRSet) bool { return Norm(x.Name) == Norm(s.Name) && x.Type == s.Type })
	}
	deleted := map[int]bool{}
	for i, d := range ch.Deletions {
		j := find(d)
		if j < 0 || sets[j].TTL != d.TTL || !slices.Equal(sets[j].Rrdatas, d.Rrdatas) {
			gError(w, http.StatusPreconditionFailed, "conditionNotMet", "FAILED_PRECONDITION", fmt.Sprintf("Precondition not met for 'entity.change.deletions[%d]'", i))
			return
		}
		deleted[j] = true
	}
	for i, a := range ch.Additions {
		n := Norm(a.Name)
		switch {
		case a.Type == "" || len(a.Rrdatas) == 0 || !strings.HasSuffix(a.Name, "."):
			gError(w, http.StatusBadRequest, "invalid", "INVALID_ARGUMENT", fmt.Sprintf("Invalid value for 'entity.change.additions[%d]'", i))
			return
		case n != z && !strings.HasSuffix(n, "."+z):
			gError(w, http.StatusBadRequest, "invalid", "INVALID_ARGUMENT", fmt.Sprintf("Invalid value for 'entity.change.additions[%d].name': '%s'", i, a.Name))
			return
		}
		if j := find(a); j >= 0 && !deleted[j] {
			gError(w, http.StatusConflict, "alreadyExists", "ALREADY_EXISTS", fmt.Sprintf("The resource 'entity.change.additions[%d]' named '%s (%s)' already exists", i, a.Name, a.Type))
			return
		}
	}
	// Apply: values new to a name first, then the ones it loses, so that a name
	// keeping some values is never empty in between.
	type key struct{ name, typ, data string }
	before, after := map[key]bool{}, map[key]int{}
	for _, d := range ch.Deletions {
		for _, v := range d.Rrdatas {
			before[key{Norm(d.Name), d.Type, v}] = true
		}
	}
	for _, a := range ch.Additions {
		for _, v := range a.Rrdatas {
			after[key{Norm(a.Name), a.Type, v}] = a.TTL
		}
	}
	for _, a := range ch.Additions {
		for _, v := range a.Rrdatas {
			k := key{Norm(a.Name), a.Type, v}
			if before[k] {
				continue
			}
			data := v
			if a.Type == "TXT" {
				data = unquote(v)
			}
			if _, err := c.Store.Add(r.Context(), Record{Zone: z, Type: a.Type, Name: k.name, Data: data, TTL: a.TTL}); err != nil {
				gError(w, http.StatusInternalServerError, "backendError", "INTERNAL", err.Error())
				return
			}
		}
	}
	for _, rec := range c.Store.Records(z) {
		data := rec.Data
		if rec.Type == "TXT" {
			data = `"` + data + `"`
		}
		k := key{rec.Name, rec.Type, data}
		if _, keep := after[k]; before[k] && !keep {
			if err := c.Store.Delete(r.Context(), z, rec.ID); err != nil {
				gError(w, http.StatusInternalServerError, "backendError", "INTERNAL", err.Error())
				return
			}
		}
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	doJSON(w, http.StatusOK, map[string]any{"kind": "dns#change", "id": hex.EncodeToString(id), "status": "done",
		"startTime": time.Now().UTC().Format(time.RFC3339), "additions": nonNil(ch.Additions), "deletions": nonNil(ch.Deletions)})
}

func nonNil(s []gRRSet) []gRRSet {
	if s == nil {
		return []gRRSet{}
	}
	return s
}
