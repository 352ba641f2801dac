// Package fakecloudflare is a local stand-in for the few Cloudflare v4 API endpoints
// the DNS-01 solver uses (zone lookup, TXT record list/create/delete, token verify).
// It speaks Cloudflare's JSON wire format: the {success, errors, messages, result,
// result_info} envelope, zone and DNS record objects, and Cloudflare's HTTP status
// codes and error codes, so the real github.com/cloudflare/cloudflare-go client works
// against it unchanged.
//
// Every change to a TXT record is mirrored to an optional TXTSink with the full set
// of values now at that name, so a real DNS server (pebble-challtestsrv, through
// ChallTestSrvSink) can answer the ACME server's lookups:
//
//	fake := fakecloudflare.New(fakecloudflare.Options{
//		Zones:  []string{"example.test"},
//		Tokens: []string{"local-token"},
//		Sink:   &fakecloudflare.ChallTestSrvSink{BaseURL: "http://127.0.0.1:8055"},
//	})
//	apiURL, err := fake.Start("127.0.0.1:0") // e.g. http://127.0.0.1:40123/client/v4
//	defer fake.Close()
//
// The server keeps everything in memory and is safe for concurrent use.
package fakecloudflare

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIPath is the path prefix of the Cloudflare v4 API; the URL Start returns ends in it.
const APIPath = "/client/v4"

// Cloudflare error codes the fake returns.
const (
	CodeAuthError          = 10000 // "Authentication error" (bad or missing token)
	CodeUnknownKeyOrEmail  = 9103  // "Unknown X-Auth-Key or X-Auth-Email"
	CodeNoRoute            = 7000  // "No route for that URI"
	CodeInvalidIdentifier  = 7003  // "Could not route to ..., perhaps your object identifier is invalid?"
	CodeMethodNotAllowed   = 10405 // "Method not allowed"
	CodeDNSValidation      = 1004  // "DNS Validation Error" (details in error_chain)
	CodeInvalidRequestBody = 9207  // request body is not valid JSON
	CodeRecordNotFound     = 81044 // "Record does not exist."
	CodeIdenticalRecord    = 81058 // "An identical record already exists."
	CodeBackendFailure     = 10001 // the fake's TXTSink failed; the change was rolled back
)

// TXTSink receives the TXT records the fake serves. SetTXT is called after every TXT
// change with the full current set of values at fqdn (with trailing dot); an empty
// slice means the name has no TXT records left.
type TXTSink interface {
	SetTXT(ctx context.Context, fqdn string, values []string) error
}

// Options configures a Server.
type Options struct {
	// Zones the account holds, e.g. "example.com" (a trailing dot is ignored).
	Zones []string
	// Tokens are accepted as "Authorization: Bearer <token>".
	Tokens []string
	// Keys maps an email to its global API key, accepted as X-Auth-Email + X-Auth-Key.
	Keys map[string]string
	// Sink, if set, is told about every TXT change.
	Sink TXTSink
}

// Record is a DNS record held by the fake.
type Record struct {
	ID         string
	ZoneID     string
	ZoneName   string
	Name       string // lower case, no trailing dot
	Type       string
	Content    string
	TTL        int
	Proxied    bool
	CreatedOn  time.Time
	ModifiedOn time.Time
}

// Zone is a zone held by the fake.
type Zone struct {
	ID   string
	Name string
}

type zone struct {
	id      string
	name    string
	created time.Time
	records []*Record // in creation order
}

// Server is the fake Cloudflare API.
type Server struct {
	tokens map[string]string // token -> token id
	keys   map[string]string // email (lower case) -> key
	sink   TXTSink

	mu        sync.Mutex
	zones     map[string]*zone  // by id
	zoneNames map[string]string // name -> id

	// sinkMu serializes mutations together with their sink calls, so the sink sees
	// the changes in the order they were made.
	sinkMu sync.Mutex

	srvMu sync.Mutex
	srv   *http.Server
}

// New returns a Server holding the zones in o (with no records).
func New(o Options) *Server {
	s := &Server{
		tokens:    map[string]string{},
		keys:      map[string]string{},
		sink:      o.Sink,
		zones:     map[string]*zone{},
		zoneNames: map[string]string{},
	}
	for _, t := range o.Tokens {
		s.tokens[t] = stableID("token", t)
	}
	for e, k := range o.Keys {
		s.keys[strings.ToLower(e)] = k
	}
	for _, z := range o.Zones {
		s.AddZone(z)
	}
	return s
}

// AddZone adds a zone (if it is not there yet) and returns its id. Zone ids are
// derived from the name, so they are the same in every run.
func (s *Server) AddZone(name string) string {
	name = normName(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.zoneNames[name]; ok {
		return id
	}
	z := &zone{id: stableID("zone", name), name: name, created: time.Now().UTC()}
	s.zones[z.id] = z
	s.zoneNames[name] = z.id
	return z.id
}

// Zones returns the zones, sorted by name.
func (s *Server) Zones() []Zone {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Zone
	for _, z := range s.sortedZones() {
		out = append(out, Zone{ID: z.id, Name: z.name})
	}
	return out
}

// Records returns a copy of the records of the named zone in creation order (nil if
// the zone does not exist).
func (s *Server) Records(zoneName string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.zoneNames[normName(zoneName)]
	if !ok {
		return nil
	}
	out := []Record{}
	for _, r := range s.zones[id].records {
		out = append(out, *r)
	}
	return out
}

// TXT returns the TXT values at fqdn across all zones, in creation order.
func (s *Server) TXT(fqdn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.txtValues(normName(fqdn))
}

// Handler serves the API under APIPath.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// Start serves the API on addr (e.g. "127.0.0.1:0") and returns the API base URL,
// including APIPath (e.g. "http://127.0.0.1:40123/client/v4"): what cloudflare-go's
// BaseURL option and dns01.CloudflareConfig.BaseURL expect.
func (s *Server) Start(addr string) (string, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return "", errors.New("fakecloudflare: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("fakecloudflare: listen %s: %w", addr, err)
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(s.srv)
	return "http://" + ln.Addr().String() + APIPath, nil
}

// Close stops the server started by Start. It is safe to call more than once.
func (s *Server) Close() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	s.srv = nil
	return err
}

// ---- wire format ----

type apiError struct {
	Code       int        `json:"code"`
	Message    string     `json:"message"`
	ErrorChain []apiError `json:"error_chain,omitempty"`
}

type apiMessage struct {
	Code    int     `json:"code"`
	Message string  `json:"message"`
	Type    *string `json:"type"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type envelope struct {
	Success    bool         `json:"success"`
	Errors     []apiError   `json:"errors"`
	Messages   []apiMessage `json:"messages"`
	Result     any          `json:"result"`
	ResultInfo *resultInfo  `json:"result_info,omitempty"`
}

type wireOwner struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Email string `json:"email"`
}

type wireAccount struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type wirePlan struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Price             int    `json:"price"`
	Currency          string `json:"currency"`
	Frequency         string `json:"frequency"`
	IsSubscribed      bool   `json:"is_subscribed"`
	CanSubscribe      bool   `json:"can_subscribe"`
	LegacyID          string `json:"legacy_id"`
	LegacyDiscount    bool   `json:"legacy_discount"`
	ExternallyManaged bool   `json:"externally_managed"`
}

type wireZoneMeta struct {
	Step                   int  `json:"step"`
	CustomCertificateQuota int  `json:"custom_certificate_quota"`
	PageRuleQuota          int  `json:"page_rule_quota"`
	PhishingDetected       bool `json:"phishing_detected"`
}

type wireZone struct {
	ID                  string       `json:"id"`
	Name                string       `json:"name"`
	Status              string       `json:"status"`
	Paused              bool         `json:"paused"`
	Type                string       `json:"type"`
	DevelopmentMode     int          `json:"development_mode"`
	NameServers         []string     `json:"name_servers"`
	OriginalNameServers []string     `json:"original_name_servers"`
	OriginalRegistrar   *string      `json:"original_registrar"`
	OriginalDNSHost     *string      `json:"original_dnshost"`
	CreatedOn           time.Time    `json:"created_on"`
	ModifiedOn          time.Time    `json:"modified_on"`
	ActivatedOn         time.Time    `json:"activated_on"`
	Meta                wireZoneMeta `json:"meta"`
	Owner               wireOwner    `json:"owner"`
	Account             wireAccount  `json:"account"`
	Permissions         []string     `json:"permissions"`
	Plan                wirePlan     `json:"plan"`
}

type wireRecordMeta struct {
	AutoAdded           bool `json:"auto_added"`
	ManagedByApps       bool `json:"managed_by_apps"`
	ManagedByArgoTunnel bool `json:"managed_by_argo_tunnel"`
}

type wireRecord struct {
	ID         string         `json:"id"`
	ZoneID     string         `json:"zone_id"`
	ZoneName   string         `json:"zone_name"`
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Content    string         `json:"content"`
	Proxiable  bool           `json:"proxiable"`
	Proxied    bool           `json:"proxied"`
	TTL        int            `json:"ttl"`
	Settings   struct{}       `json:"settings"`
	Meta       wireRecordMeta `json:"meta"`
	Comment    *string        `json:"comment"`
	Tags       []string       `json:"tags"`
	CreatedOn  time.Time      `json:"created_on"`
	ModifiedOn time.Time      `json:"modified_on"`
}

const (
	accountID   = "0123456789abcdef0123456789abcdef"
	accountName = "certflow fake account"
)

func toWireZone(z *zone) wireZone {
	return wireZone{
		ID:                  z.id,
		Name:                z.name,
		Status:              "active",
		Type:                "full",
		NameServers:         []string{"ns1.fakecloudflare.invalid", "ns2.fakecloudflare.invalid"},
		OriginalNameServers: []string{},
		CreatedOn:           z.created,
		ModifiedOn:          z.created,
		ActivatedOn:         z.created,
		Meta:                wireZoneMeta{Step: 4, CustomCertificateQuota: 0, PageRuleQuota: 3},
		Owner:               wireOwner{ID: accountID, Type: "user", Email: "owner@fakecloudflare.invalid"},
		Account:             wireAccount{ID: accountID, Name: accountName},
		Permissions:         []string{"#dns_records:edit", "#dns_records:read", "#zone:read"},
		Plan: wirePlan{
			ID: "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", Name: "Free Website", Currency: "USD",
			CanSubscribe: false, LegacyID: "free",
		},
	}
}

func toWireRecord(r *Record) wireRecord {
	return wireRecord{
		ID: r.ID, ZoneID: r.ZoneID, ZoneName: r.ZoneName, Name: r.Name, Type: r.Type,
		Content: r.Content, Proxiable: proxiable(r.Type), Proxied: r.Proxied, TTL: r.TTL,
		Tags: []string{}, CreatedOn: r.CreatedOn, ModifiedOn: r.ModifiedOn,
	}
}

func proxiable(typ string) bool {
	return typ == "A" || typ == "AAAA" || typ == "CNAME"
}

func writeJSON(w http.ResponseWriter, status int, e envelope) {
	if e.Errors == nil {
		e.Errors = []apiError{}
	}
	if e.Messages == nil {
		e.Messages = []apiMessage{}
	}
	b, err := json.Marshal(e)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("cf-ray", randomHex(8)+"-FAK")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOK(w http.ResponseWriter, result any, info *resultInfo, msgs ...apiMessage) {
	writeJSON(w, http.StatusOK, envelope{Success: true, Result: result, ResultInfo: info, Messages: msgs})
}

func writeErr(w http.ResponseWriter, status int, errs ...apiError) {
	writeJSON(w, status, envelope{Success: false, Errors: errs})
}

// ---- routing ----

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, APIPath+"/")
	if !ok {
		writeErr(w, http.StatusBadRequest, apiError{Code: CodeNoRoute, Message: "No route for that URI"})
		return
	}
	if aerr, status := s.authenticate(r); aerr != nil {
		writeErr(w, status, *aerr)
		return
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case len(seg) == 3 && seg[0] == "user" && seg[1] == "tokens" && seg[2] == "verify":
		if allow(w, r, http.MethodGet) {
			s.verifyToken(w, r)
		}
	case len(seg) == 1 && seg[0] == "zones":
		if allow(w, r, http.MethodGet) {
			s.listZones(w, r)
		}
	case len(seg) >= 2 && seg[0] == "zones":
		z := s.zone(seg[1])
		if z == nil {
			writeErr(w, http.StatusNotFound, apiError{Code: CodeInvalidIdentifier,
				Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", "/"+rest)})
			return
		}
		switch {
		case len(seg) == 2:
			if allow(w, r, http.MethodGet) {
				s.mu.Lock()
				wz := toWireZone(z)
				s.mu.Unlock()
				writeOK(w, wz, nil)
			}
		case len(seg) == 3 && seg[2] == "dns_records":
			if allow(w, r, http.MethodGet, http.MethodPost) {
				if r.Method == http.MethodGet {
					s.listRecords(w, r, z)
				} else {
					s.createRecord(w, r, z)
				}
			}
		case len(seg) == 4 && seg[2] == "dns_records":
			if allow(w, r, http.MethodGet, http.MethodDelete) {
				if r.Method == http.MethodGet {
					s.getRecord(w, z, seg[3])
				} else {
					s.deleteRecord(w, r, z, seg[3])
				}
			}
		default:
			writeErr(w, http.StatusBadRequest, apiError{Code: CodeNoRoute, Message: "No route for that URI"})
		}
	default:
		writeErr(w, http.StatusBadRequest, apiError{Code: CodeNoRoute, Message: "No route for that URI"})
	}
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeErr(w, http.StatusMethodNotAllowed, apiError{Code: CodeMethodNotAllowed, Message: "Method not allowed"})
	return false
}

// authenticate returns nil if r carries a configured token or email+key pair, else
// the error to send and its HTTP status.
func (s *Server) authenticate(r *http.Request) (*apiError, int) {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			if _, known := s.tokens[strings.TrimSpace(tok)]; known {
				return nil, 0
			}
		}
		return &apiError{Code: CodeAuthError, Message: "Authentication error"}, http.StatusForbidden
	}
	email, key := r.Header.Get("X-Auth-Email"), r.Header.Get("X-Auth-Key")
	if email != "" || key != "" {
		if want, ok := s.keys[strings.ToLower(email)]; ok && key != "" && key == want {
			return nil, 0
		}
		return &apiError{Code: CodeUnknownKeyOrEmail, Message: "Unknown X-Auth-Key or X-Auth-Email"}, http.StatusForbidden
	}
	return &apiError{Code: CodeAuthError, Message: "Authentication error"}, http.StatusForbidden
}

// ---- handlers ----

func (s *Server) verifyToken(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	id, known := s.tokens[strings.TrimSpace(tok)]
	if !ok || !known {
		// Authenticated with email+key: there is no token to verify.
		writeErr(w, http.StatusBadRequest, apiError{Code: 1000, Message: "Invalid API Token"})
		return
	}
	writeOK(w, map[string]string{"id": id, "status": "active"}, nil,
		apiMessage{Code: 10000, Message: "This API Token is valid and active"})
}

func (s *Server) listZones(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, perPage := pagination(q, 20, 5, 50)
	name := q.Get("name")
	status := q.Get("status")
	s.mu.Lock()
	var matched []wireZone
	for _, z := range s.sortedZones() {
		if name != "" && normName(name) != z.name {
			continue
		}
		if status != "" && status != "active" {
			continue
		}
		matched = append(matched, toWireZone(z))
	}
	s.mu.Unlock()
	items, info := paginate(matched, page, perPage)
	writeOK(w, items, info)
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request, z *zone) {
	q := r.URL.Query()
	page, perPage := pagination(q, 100, 5, 50000)
	type filter struct {
		value string
		match func(*Record, string) bool
	}
	var filters []filter
	add := func(keys []string, match func(*Record, string) bool) {
		for _, k := range keys {
			if q.Has(k) {
				filters = append(filters, filter{q.Get(k), match})
				return
			}
		}
	}
	add([]string{"name", "name.exact"}, func(rec *Record, v string) bool { return rec.Name == s.recordName(z, v) })
	add([]string{"type"}, func(rec *Record, v string) bool { return strings.EqualFold(rec.Type, v) })
	add([]string{"content", "content.exact"}, func(rec *Record, v string) bool { return rec.Content == v })
	add([]string{"proxied"}, func(rec *Record, v string) bool { return strconv.FormatBool(rec.Proxied) == v })
	matchAny := q.Get("match") == "any"

	s.mu.Lock()
	var matched []wireRecord
	for _, rec := range z.records {
		ok := len(filters) == 0 || !matchAny
		for _, f := range filters {
			m := f.match(rec, f.value)
			if matchAny && m {
				ok = true
				break
			}
			if !matchAny && !m {
				ok = false
				break
			}
		}
		if ok {
			matched = append(matched, toWireRecord(rec))
		}
	}
	s.mu.Unlock()
	items, info := paginate(matched, page, perPage)
	writeOK(w, items, info)
}

func (s *Server) getRecord(w http.ResponseWriter, z *zone, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range z.records {
		if rec.ID == id {
			writeOK(w, toWireRecord(rec), nil)
			return
		}
	}
	writeErr(w, http.StatusNotFound, apiError{Code: CodeRecordNotFound, Message: "Record does not exist."})
}

type createRequest struct {
	Type    string  `json:"type"`
	Name    string  `json:"name"`
	Content string  `json:"content"`
	TTL     *int    `json:"ttl"`
	Proxied *bool   `json:"proxied"`
	Comment *string `json:"comment"`
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request, z *zone) {
	var req createRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, apiError{Code: CodeInvalidRequestBody, Message: "Request body is invalid."})
		return
	}
	var chain []apiError
	typ := strings.ToUpper(strings.TrimSpace(req.Type))
	if typ == "" {
		chain = append(chain, apiError{Code: 9020, Message: "Invalid DNS record type"})
	}
	if strings.TrimSpace(req.Name) == "" {
		chain = append(chain, apiError{Code: 9000, Message: "DNS name is invalid."})
	}
	if req.Content == "" {
		chain = append(chain, apiError{Code: 9005, Message: "Content for " + typ + " record is invalid."})
	}
	ttl := 1
	if req.TTL != nil && *req.TTL != 0 {
		ttl = *req.TTL
	}
	if ttl != 1 && (ttl < 60 || ttl > 86400) {
		chain = append(chain, apiError{Code: 9021, Message: "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic."})
	}
	proxied := req.Proxied != nil && *req.Proxied
	if proxied && !proxiable(typ) {
		chain = append(chain, apiError{Code: 9004, Message: "This record type cannot be proxied."})
	}
	if len(chain) > 0 {
		writeErr(w, http.StatusBadRequest, apiError{Code: CodeDNSValidation, Message: "DNS Validation Error", ErrorChain: chain})
		return
	}

	s.sinkMu.Lock()
	defer s.sinkMu.Unlock()
	s.mu.Lock()
	name := s.recordName(z, req.Name)
	for _, rec := range z.records {
		if rec.Type == typ && rec.Name == name && rec.Content == req.Content {
			s.mu.Unlock()
			writeErr(w, http.StatusBadRequest, apiError{Code: CodeIdenticalRecord, Message: "An identical record already exists."})
			return
		}
	}
	now := time.Now().UTC()
	rec := &Record{
		ID: randomHex(16), ZoneID: z.id, ZoneName: z.name, Name: name, Type: typ,
		Content: req.Content, TTL: ttl, Proxied: proxied, CreatedOn: now, ModifiedOn: now,
	}
	z.records = append(z.records, rec)
	values := s.txtValues(name)
	wr := toWireRecord(rec)
	s.mu.Unlock()

	if typ == "TXT" {
		if err := s.notify(r.Context(), name, values); err != nil {
			s.mu.Lock()
			z.records = slices.DeleteFunc(z.records, func(x *Record) bool { return x == rec })
			s.mu.Unlock()
			writeErr(w, http.StatusInternalServerError, apiError{Code: CodeBackendFailure, Message: "DNS backend update failed: " + err.Error()})
			return
		}
	}
	writeOK(w, wr, nil)
}

func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request, z *zone, id string) {
	s.sinkMu.Lock()
	defer s.sinkMu.Unlock()
	s.mu.Lock()
	idx := slices.IndexFunc(z.records, func(x *Record) bool { return x.ID == id })
	if idx < 0 {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, apiError{Code: CodeRecordNotFound, Message: "Record does not exist."})
		return
	}
	rec := z.records[idx]
	z.records = slices.Delete(z.records, idx, idx+1)
	values := s.txtValues(rec.Name)
	s.mu.Unlock()

	if rec.Type == "TXT" {
		if err := s.notify(r.Context(), rec.Name, values); err != nil {
			s.mu.Lock()
			z.records = slices.Insert(z.records, min(idx, len(z.records)), rec)
			s.mu.Unlock()
			writeErr(w, http.StatusInternalServerError, apiError{Code: CodeBackendFailure, Message: "DNS backend update failed: " + err.Error()})
			return
		}
	}
	writeOK(w, map[string]string{"id": rec.ID}, nil)
}

// notify tells the sink (if any) the values now at name. Callers hold sinkMu.
func (s *Server) notify(ctx context.Context, name string, values []string) error {
	if s.sink == nil {
		return nil
	}
	return s.sink.SetTXT(ctx, name+".", values)
}

// ---- helpers ----

func (s *Server) zone(id string) *zone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zones[id]
}

// sortedZones returns the zones by name. Callers hold mu.
func (s *Server) sortedZones() []*zone {
	out := make([]*zone, 0, len(s.zones))
	for _, z := range s.zones {
		out = append(out, z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// txtValues returns the TXT contents at name (normalized) in all zones. Callers hold mu.
func (s *Server) txtValues(name string) []string {
	values := []string{}
	for _, z := range s.sortedZones() {
		for _, rec := range z.records {
			if rec.Type == "TXT" && rec.Name == name {
				values = append(values, rec.Content)
			}
		}
	}
	return values
}

// recordName turns a record name as a client sends it into the stored form: lower
// case, no trailing dot, "@" meaning the apex, and names outside the zone taken as
// relative to it (as Cloudflare does).
func (s *Server) recordName(z *zone, name string) string {
	n := normName(name)
	switch {
	case n == "@" || n == "":
		return z.name
	case n == z.name || strings.HasSuffix(n, "."+z.name):
		return n
	default:
		return n + "." + z.name
	}
}

func normName(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}

// pagination reads page and per_page (invalid or missing values take the defaults;
// per_page is clamped to [lo, hi]).
func pagination(q url.Values, def, lo, hi int) (page, perPage int) {
	page, perPage = 1, def
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil {
		perPage = min(max(v, lo), hi)
	}
	return page, perPage
}

func paginate[T any](all []T, page, perPage int) ([]T, *resultInfo) {
	total := len(all)
	totalPages := max(1, (total+perPage-1)/perPage)
	start := min((page-1)*perPage, total)
	end := min(start+perPage, total)
	items := append([]T{}, all[start:end]...)
	return items, &resultInfo{Page: page, PerPage: perPage, Count: len(items), TotalCount: total, TotalPages: totalPages}
}

func stableID(kind, s string) string {
	h := sha256.Sum256([]byte("fakecloudflare/" + kind + "/" + s))
	return hex.EncodeToString(h[:16])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
