package fakedns

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// AcmeDNS serves acme-dns's HTTP API (github.com/joohoi/acme-dns, whose Go module the
// module proxy does not serve) over a Store, in its wire format:
//
//   - POST /register (an optional {"allowfrom": [...]} body) answers 201 with a new
//     account {"username", "password", "fulldomain", "subdomain", "allowfrom"}; the
//     fulldomain is <subdomain>.<Domain>.
//   - POST /update with headers X-Api-User (the username, a UUID) and X-Api-Key (the
//     40-character password) and body {"subdomain", "txt"} sets a TXT value of the
//     account's fulldomain and answers 200 {"txt": value}. acme-dns keeps the two
//     newest values of a subdomain (an update replaces the older one) and has no way
//     to delete one.
//   - GET /health answers 200.
//
// Errors are acme-dns's {"error": "..."} bodies: a wrong user, key or subdomain is 401
// {"error": "forbidden"}, a bad TXT value 400 {"error": "bad_txt"}, an unreadable
// register body 400 {"error": "malformed_json_payload"}.
type AcmeDNS struct {
	Store *Store
	// Domain is the zone acme-dns is authoritative for (a zone of Store).
	Domain string

	mu       sync.Mutex
	accounts map[string]AcmeDNSAccount // by username
}

// AcmeDNSAccount is an acme-dns account as /register returns it, and as an entry of
// cert-manager's acmeDNS accountSecretRef JSON holds it.
type AcmeDNSAccount struct {
	Username   string   `json:"username"`
	Password   string   `json:"password"`
	FullDomain string   `json:"fulldomain"`
	SubDomain  string   `json:"subdomain"`
	AllowFrom  []string `json:"allowfrom"`
}

// acmeDNSKeep is how many values acme-dns keeps per subdomain.
const acmeDNSKeep = 2

var (
	acmeDNSUUID   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	acmeDNSKeyRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{40}$`)
	acmeDNSTXTRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	acmeDNSSubRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	acmeDNSLetter = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz1234567890-_"
)

// Register makes a new account, as POST /register does.
func (a *AcmeDNS) Register() (AcmeDNSAccount, error) {
	user, err := newUUID()
	if err != nil {
		return AcmeDNSAccount{}, err
	}
	sub, err := newUUID()
	if err != nil {
		return AcmeDNSAccount{}, err
	}
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		return AcmeDNSAccount{}, err
	}
	for i := range b {
		b[i] = acmeDNSLetter[int(b[i])%len(acmeDNSLetter)]
	}
	acct := AcmeDNSAccount{Username: user, Password: string(b), SubDomain: sub,
		FullDomain: sub + "." + Norm(a.Domain), AllowFrom: []string{}}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.accounts == nil {
		a.accounts = map[string]AcmeDNSAccount{}
	}
	a.accounts[user] = acct
	return acct, nil
}

func newUUID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}

// Handler returns the API handler.
func (a *AcmeDNS) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", a.register)
	mux.HandleFunc("POST /update", a.update)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux
}

func acmeDNSError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error": %q}`, msg)
}

func (a *AcmeDNS) register(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if len(body) > 0 {
		var in struct {
			AllowFrom []string `json:"allowfrom"`
		}
		if json.Unmarshal(body, &in) != nil {
			acmeDNSError(w, http.StatusBadRequest, "malformed_json_payload")
			return
		}
	}
	acct, err := a.Register()
	if err != nil {
		acmeDNSError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(acct)
}

func (a *AcmeDNS) update(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SubDomain string `json:"subdomain"`
		TXT       string `json:"txt"`
	}
	user, key := r.Header.Get("X-Api-User"), r.Header.Get("X-Api-Key")
	a.mu.Lock()
	acct, ok := a.accounts[strings.ToLower(user)]
	a.mu.Unlock()
	ok = ok && acmeDNSUUID.MatchString(strings.ToLower(user)) && acmeDNSKeyRE.MatchString(key) &&
		subtle.ConstantTimeCompare([]byte(key), []byte(acct.Password)) == 1
	// acme-dns reads the body only for a known user, and refuses every mismatch alike.
	if !ok || json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in) != nil || in.SubDomain != acct.SubDomain {
		acmeDNSError(w, http.StatusUnauthorized, "forbidden")
		return
	}
	switch {
	case !acmeDNSSubRE.MatchString(in.SubDomain):
		acmeDNSError(w, http.StatusBadRequest, "bad_subdomain")
		return
	case !acmeDNSTXTRE.MatchString(in.TXT):
		acmeDNSError(w, http.StatusBadRequest, "bad_txt")
		return
	}
	if err := a.Store.addKeepNewest(r.Context(), Record{Zone: a.Domain, Type: "TXT", Name: acct.FullDomain, Data: in.TXT, TTL: 1}, acmeDNSKeep); err != nil {
		acmeDNSError(w, http.StatusInternalServerError, "db_error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, `{"txt": %q}`, in.TXT)
}

// addKeepNewest adds the TXT record r and removes the oldest TXT records at its name
// beyond keep, publishing the name's values once.
func (s *Store) addKeepNewest(ctx context.Context, r Record, keep int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Zone, r.Name = Norm(r.Zone), Norm(r.Name)
	if !s.zones[r.Zone] {
		return ErrNoZone
	}
	if !strings.HasSuffix(r.Name, "."+r.Zone) {
		return fmt.Errorf("name %s is not in zone %s", r.Name, r.Zone)
	}
	prev := append([]Record(nil), s.records...)
	r.ID = s.nextID
	s.nextID++
	s.records = append(s.records, r)
	n := 0
	for i := len(s.records) - 1; i >= 0; i-- {
		if rec := s.records[i]; rec.Type == "TXT" && rec.Name == r.Name {
			if n++; n > keep {
				s.records = append(s.records[:i], s.records[i+1:]...)
			}
		}
	}
	if err := s.publish(ctx, r); err != nil {
		s.records = prev
		return err
	}
	return nil
}
