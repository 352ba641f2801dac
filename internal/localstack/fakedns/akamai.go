package fakedns

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AkamaiCredentials are the EdgeGrid credentials of one API client.
type AkamaiCredentials struct {
	ClientToken, ClientSecret, AccessToken string
}

// Akamai serves Akamai Edge DNS's config-dns v2 API over a Store, in its wire format,
// so EdgeGrid clients work against it: GET /config-dns/v2/zones/{zone}, and GET, POST,
// PUT and DELETE of /config-dns/v2/zones/{zone}/names/{name}/types/TXT (a record set:
// {"name", "type", "ttl", "rdata": ["\"value\"", ...]}, TXT values quoted). Every
// request must carry an EdgeGrid "Authorization: EG1-HMAC-SHA256 client_token=...;
// access_token=...;timestamp=...;nonce=...;signature=..." header of one of Clients,
// whose signature is checked with its client secret (over the method, "https", the
// Host, the path and query, and the SHA-256 of a POST body) and whose timestamp is
// within five minutes. Errors are Akamai's problem bodies {"type", "title", "detail",
// "status"}.
type Akamai struct {
	Store   *Store
	Clients []AkamaiCredentials
	// Now is the clock for timestamps (nil: time.Now).
	Now func() time.Time
}

type akamaiSet struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	TTL   int      `json:"ttl"`
	RData []string `json:"rdata"`
}

// Handler returns the API handler.
func (a *Akamai) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config-dns/v2/zones/{zone}", a.getZone)
	const set = "/config-dns/v2/zones/{zone}/names/{name}/types/{type}"
	mux.HandleFunc("GET "+set, a.getSet)
	mux.HandleFunc("POST "+set, a.writeSet)
	mux.HandleFunc("PUT "+set, a.writeSet)
	mux.HandleFunc("DELETE "+set, a.deleteSet)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		akamaiProblem(w, http.StatusNotFound, "Not Found", "The requested resource "+r.URL.Path+" was not found")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			akamaiProblem(w, http.StatusBadRequest, "Bad Request", err.Error())
			return
		}
		if detail := a.authenticate(r, body); detail != "" {
			akamaiProblem(w, http.StatusUnauthorized, "Not authorized", detail)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		mux.ServeHTTP(w, r)
	})
}

// authenticate checks the EdgeGrid signature of r; it returns "" when it is good, else
// what Akamai would say.
func (a *Akamai) authenticate(r *http.Request, body []byte) string {
	h := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(h, "EG1-HMAC-SHA256 ")
	if !ok {
		return "Invalid authorization header"
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			fields[k] = v
		}
	}
	var cred *AkamaiCredentials
	for i, c := range a.Clients {
		if c.ClientToken == fields["client_token"] {
			cred = &a.Clients[i]
		}
	}
	if cred == nil || fields["client_token"] == "" {
		return "Invalid client token"
	}
	if cred.AccessToken != fields["access_token"] {
		return "Invalid access token"
	}
	ts, err := time.Parse("20060102T15:04:05-0700", fields["timestamp"])
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if err != nil || now().Sub(ts).Abs() > 5*time.Minute {
		return "Invalid timestamp"
	}
	if fields["nonce"] == "" || fields["signature"] == "" {
		return "Invalid authorization header"
	}
	contentHash := ""
	if r.Method == http.MethodPost && len(body) > 0 {
		sum := sha256.Sum256(body)
		contentHash = base64.StdEncoding.EncodeToString(sum[:])
	}
	path := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	authNoSig := h[:strings.Index(h, "signature=")]
	msg := strings.Join([]string{r.Method, "https", r.Host, path, "", contentHash, authNoSig}, "\t")
	key := akamaiHMAC(fields["timestamp"], cred.ClientSecret)
	if !hmac.Equal([]byte(akamaiHMAC(msg, key)), []byte(fields["signature"])) {
		return "The signature does not match"
	}
	return ""
}

func akamaiHMAC(msg, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func akamaiProblem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "https://problems.luna.akamaiapis.net/config-dns/" + strings.ToLower(strings.ReplaceAll(title, " ", "-")),
		"title":  title,
		"detail": detail,
		"status": status,
	})
}

func akamaiJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *Akamai) zone(w http.ResponseWriter, r *http.Request) (string, bool) {
	z := Norm(r.PathValue("zone"))
	if !a.Store.HasZone(z) {
		akamaiProblem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("Zone %q does not exist", z))
		return "", false
	}
	return z, true
}

func (a *Akamai) getZone(w http.ResponseWriter, r *http.Request) {
	z, ok := a.zone(w, r)
	if !ok {
		return
	}
	akamaiJSON(w, http.StatusOK, map[string]any{"zone": z, "type": "PRIMARY", "activationState": "ACTIVE"})
}

// set returns the TXT record set at the request's name (nil when it has no value).
func (a *Akamai) set(zone, name string) *akamaiSet {
	var s *akamaiSet
	for _, rec := range a.Store.Records(zone) {
		if rec.Type == "TXT" && rec.Name == name {
			if s == nil {
				s = &akamaiSet{Name: name, Type: "TXT", TTL: rec.TTL, RData: []string{}}
			}
			s.RData = append(s.RData, strconv.Quote(rec.Data))
		}
	}
	return s
}

func (a *Akamai) target(w http.ResponseWriter, r *http.Request) (zone, name string, ok bool) {
	zone, ok = a.zone(w, r)
	if !ok {
		return "", "", false
	}
	name = Norm(r.PathValue("name"))
	if !strings.EqualFold(r.PathValue("type"), "TXT") {
		akamaiProblem(w, http.StatusBadRequest, "Bad Request", "this fake serves TXT record sets only")
		return "", "", false
	}
	if name != zone && !strings.HasSuffix(name, "."+zone) {
		akamaiProblem(w, http.StatusBadRequest, "Bad Request", fmt.Sprintf("Name %q is not in zone %q", name, zone))
		return "", "", false
	}
	return zone, name, true
}

func (a *Akamai) getSet(w http.ResponseWriter, r *http.Request) {
	zone, name, ok := a.target(w, r)
	if !ok {
		return
	}
	s := a.set(zone, name)
	if s == nil {
		akamaiProblem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("Recordset %s TXT does not exist in zone %s", name, zone))
		return
	}
	akamaiJSON(w, http.StatusOK, s)
}

func (a *Akamai) writeSet(w http.ResponseWriter, r *http.Request) {
	zone, name, ok := a.target(w, r)
	if !ok {
		return
	}
	var in akamaiSet
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		akamaiProblem(w, http.StatusBadRequest, "Bad Request", "Unable to parse the request body: "+err.Error())
		return
	}
	if Norm(in.Name) != name || !strings.EqualFold(in.Type, "TXT") || len(in.RData) == 0 || in.TTL <= 0 {
		akamaiProblem(w, http.StatusBadRequest, "Bad Request", "The record set must have the name and type of its path, a ttl and rdata")
		return
	}
	exists := a.set(zone, name) != nil
	switch {
	case r.Method == http.MethodPost && exists:
		akamaiProblem(w, http.StatusConflict, "Conflict", fmt.Sprintf("Recordset %s TXT already exists in zone %s", name, zone))
		return
	case r.Method == http.MethodPut && !exists:
		akamaiProblem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("Recordset %s TXT does not exist in zone %s", name, zone))
		return
	}
	var values []string
	for _, v := range in.RData {
		u, err := strconv.Unquote(v)
		if err != nil {
			u = v
		}
		values = append(values, u)
	}
	if err := a.Store.replaceTXT(r.Context(), zone, name, values, in.TTL); err != nil {
		akamaiProblem(w, http.StatusInternalServerError, "Internal Server Error", err.Error())
		return
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	akamaiJSON(w, status, a.set(zone, name))
}

func (a *Akamai) deleteSet(w http.ResponseWriter, r *http.Request) {
	zone, name, ok := a.target(w, r)
	if !ok {
		return
	}
	if a.set(zone, name) == nil {
		akamaiProblem(w, http.StatusNotFound, "Not Found", fmt.Sprintf("Recordset %s TXT does not exist in zone %s", name, zone))
		return
	}
	if err := a.Store.replaceTXT(r.Context(), zone, name, nil, 0); err != nil {
		akamaiProblem(w, http.StatusInternalServerError, "Internal Server Error", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// replaceTXT makes values the TXT records at name (none: the name has no TXT left),
// keeping the records of values that stay, and publishes the name once.
func (s *Store) replaceTXT(ctx context.Context, zone, name string, values []string, ttl int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	zone, name = Norm(zone), Norm(name)
	if !s.zones[zone] {
		return ErrNoZone
	}
	prev := slices.Clone(s.records)
	want := slices.Clone(values)
	kept := s.records[:0:0]
	for _, r := range s.records {
		if r.Type == "TXT" && r.Name == name {
			i := slices.Index(want, r.Data)
			if i < 0 {
				continue
			}
			want = slices.Delete(want, i, i+1)
			r.TTL = ttl
		}
		kept = append(kept, r)
	}
	for _, v := range want {
		kept = append(kept, Record{ID: s.nextID, Zone: zone, Type: "TXT", Name: name, Data: v, TTL: ttl})
		s.nextID++
	}
	s.records = kept
	if err := s.publish(ctx, Record{Zone: zone, Type: "TXT", Name: name}); err != nil {
		s.records = prev
		return err
	}
	return nil
}
