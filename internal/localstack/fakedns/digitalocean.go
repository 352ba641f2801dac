package fakedns

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DigitalOcean serves DigitalOcean's DNS API (https://api.digitalocean.com/v2) over a
// Store, in its wire format, so godo, lego's provider and certflow's client work
// against it: GET /v2/domains/{zone}, GET and POST /v2/domains/{zone}/records
// (filters type and name, the full record name), DELETE
// /v2/domains/{zone}/records/{id}. Record names in answers are relative to the zone
// ("@" for the apex); a created name ending in "." is absolute. Every request needs
// "Authorization: Bearer <token>" with one of Tokens; errors are DigitalOcean's
// {"id", "message"} bodies.
type DigitalOcean struct {
	Store  *Store
	Tokens []string
}

type doRecord struct {
	ID   int    `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
	Data string `json:"data"`
	TTL  int    `json:"ttl"`
}

// Handler returns the API handler.
func (d *DigitalOcean) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/domains/{zone}", d.getDomain)
	mux.HandleFunc("GET /v2/domains/{zone}/records", d.list)
	mux.HandleFunc("POST /v2/domains/{zone}/records", d.create)
	mux.HandleFunc("DELETE /v2/domains/{zone}/records/{id}", d.delete)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		doError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.authorized(r) {
			doError(w, http.StatusUnauthorized, "unauthorized", "Unable to authenticate you")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (d *DigitalOcean) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	for _, t := range d.Tokens {
		if t == tok {
			return true
		}
	}
	return false
}

func doError(w http.ResponseWriter, status int, id, msg string) {
	doJSON(w, status, map[string]string{"id": id, "message": msg})
}

func doJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (d *DigitalOcean) zone(w http.ResponseWriter, r *http.Request) (string, bool) {
	z := Norm(r.PathValue("zone"))
	if !d.Store.HasZone(z) {
		doError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
		return "", false
	}
	return z, true
}

func (d *DigitalOcean) getDomain(w http.ResponseWriter, r *http.Request) {
	z, ok := d.zone(w, r)
	if !ok {
		return
	}
	doJSON(w, http.StatusOK, map[string]any{"domain": map[string]any{"name": z, "ttl": 1800, "zone_file": ""}})
}

func relName(name, zone string) string {
	if name == zone {
		return "@"
	}
	return strings.TrimSuffix(name, "."+zone)
}

func (d *DigitalOcean) list(w http.ResponseWriter, r *http.Request) {
	z, ok := d.zone(w, r)
	if !ok {
		return
	}
	typ, name := r.URL.Query().Get("type"), Norm(r.URL.Query().Get("name"))
	out := []doRecord{}
	for _, rec := range d.Store.Records(z) {
		if (typ != "" && !strings.EqualFold(typ, rec.Type)) || (name != "" && name != rec.Name) {
			continue
		}
		out = append(out, doRecord{ID: rec.ID, Type: rec.Type, Name: relName(rec.Name, z), Data: rec.Data, TTL: rec.TTL})
	}
	doJSON(w, http.StatusOK, map[string]any{"domain_records": out, "links": map[string]any{}, "meta": map[string]int{"total": len(out)}})
}

func (d *DigitalOcean) create(w http.ResponseWriter, r *http.Request) {
	z, ok := d.zone(w, r)
	if !ok {
		return
	}
	var in doRecord
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		doError(w, http.StatusBadRequest, "bad_request", "Unable to parse request body: "+err.Error())
		return
	}
	if in.Type == "" || in.Name == "" || in.Data == "" {
		doError(w, http.StatusUnprocessableEntity, "unprocessable_entity", "Type, name and data are required.")
		return
	}
	var full string
	switch {
	case strings.HasSuffix(in.Name, "."):
		full = Norm(in.Name)
	case in.Name == "@":
		full = z
	default:
		full = Norm(in.Name) + "." + z
	}
	if in.TTL == 0 {
		in.TTL = 1800
	}
	rec, err := d.Store.Add(r.Context(), Record{Zone: z, Type: strings.ToUpper(in.Type), Name: full, Data: in.Data, TTL: in.TTL})
	if err != nil {
		doError(w, http.StatusUnprocessableEntity, "unprocessable_entity", err.Error())
		return
	}
	doJSON(w, http.StatusCreated, map[string]any{"domain_record": doRecord{ID: rec.ID, Type: rec.Type, Name: relName(rec.Name, z), Data: rec.Data, TTL: rec.TTL}})
}

func (d *DigitalOcean) delete(w http.ResponseWriter, r *http.Request) {
	z, ok := d.zone(w, r)
	if !ok {
		return
	}
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		doError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
		return
	}
	switch err := d.Store.Delete(r.Context(), z, id); {
	case err == ErrNotFound || err == ErrNoZone:
		doError(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
	case err != nil:
		doError(w, http.StatusInternalServerError, "server_error", err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
