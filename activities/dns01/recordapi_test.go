package dns01

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// memAPI is a recordAPI in memory: zones, and TXT records by "zone|name".
type memAPI struct {
	zones   []string
	recs    map[string][]txtRecord
	next    int
	failOn  string // "hasZone", "list", "create" or "delete": that call fails
	creates int
}

var errMem = errors.New("memapi: boom")

func (m *memAPI) hasZone(_ context.Context, zone string) (bool, error) {
	if m.failOn == "hasZone" {
		return false, errMem
	}
	return slices.Contains(m.zones, zone), nil
}

func (m *memAPI) listTXT(_ context.Context, zone, name string) ([]txtRecord, error) {
	if m.failOn == "list" {
		return nil, errMem
	}
	return slices.Clone(m.recs[zone+"|"+name]), nil
}

func (m *memAPI) createTXT(_ context.Context, zone, name, value string) error {
	if m.failOn == "create" {
		return errMem
	}
	m.creates++
	m.next++
	m.recs[zone+"|"+name] = append(m.recs[zone+"|"+name], txtRecord{ID: strconv.Itoa(m.next), Value: value})
	return nil
}

func (m *memAPI) deleteTXT(_ context.Context, zone string, rec txtRecord) error {
	if m.failOn == "delete" {
		return errMem
	}
	for k, rs := range m.recs {
		if strings.HasPrefix(k, zone+"|") {
			m.recs[k] = slices.DeleteFunc(rs, func(r txtRecord) bool { return r.ID == rec.ID })
		}
	}
	return nil
}

func TestAPIProvider(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		zones    []string
		existing map[string][]txtRecord
		failOn   string
		op       string // "present" or "cleanup"
		fqdn     string
		wantErr  string
		want     map[string][]string // zone|name -> values after
		creates  int
	}{
		{name: "present in the most specific zone", zones: []string{"example.net", "sub.example.net"}, op: "present",
			fqdn: "_acme-challenge.a.sub.example.net.", want: map[string][]string{"sub.example.net|_acme-challenge.a.sub.example.net": {"v"}}, creates: 1},
		{name: "present is idempotent, quoted values match", zones: []string{"example.net"}, op: "present",
			existing: map[string][]txtRecord{"example.net|_acme-challenge.example.net": {{ID: "9", Value: `"v"`}}},
			fqdn:     "_acme-challenge.Example.net.", want: map[string][]string{"example.net|_acme-challenge.example.net": {`"v"`}}},
		{name: "present beside another value", zones: []string{"example.net"}, op: "present",
			existing: map[string][]txtRecord{"example.net|_acme-challenge.example.net": {{ID: "9", Value: "other"}}},
			fqdn:     "_acme-challenge.example.net.", want: map[string][]string{"example.net|_acme-challenge.example.net": {"other", "v"}}, creates: 1},
		{name: "clean up leaves other values", zones: []string{"example.net"}, op: "cleanup",
			existing: map[string][]txtRecord{"example.net|_acme-challenge.example.net": {{ID: "1", Value: "v"}, {ID: "2", Value: "other"}, {ID: "3", Value: "v"}}},
			fqdn:     "_acme-challenge.example.net.", want: map[string][]string{"example.net|_acme-challenge.example.net": {"other"}}},
		{name: "clean up of nothing", zones: []string{"example.net"}, op: "cleanup", fqdn: "_acme-challenge.example.net.", want: map[string][]string{}},
		{name: "no zone", zones: []string{"example.org"}, op: "present", fqdn: "_acme-challenge.example.net.",
			wantErr: "mem: no zone of the account holds _acme-challenge.example.net. (tried example.net, net)"},
		{name: "invalid name", zones: []string{"example.net"}, op: "present", fqdn: "a..example.net.", wantErr: `mem: invalid record name "a..example.net."`},
		{name: "zone lookup fails", zones: []string{"example.net"}, failOn: "hasZone", op: "present", fqdn: "_acme-challenge.example.net.", wantErr: "boom"},
		{name: "list fails", zones: []string{"example.net"}, failOn: "list", op: "cleanup", fqdn: "_acme-challenge.example.net.", wantErr: "boom"},
		{name: "create fails", zones: []string{"example.net"}, failOn: "create", op: "present", fqdn: "_acme-challenge.example.net.", wantErr: "boom"},
		{name: "delete fails", zones: []string{"example.net"}, failOn: "delete", op: "cleanup", fqdn: "_acme-challenge.example.net.",
			existing: map[string][]txtRecord{"example.net|_acme-challenge.example.net": {{ID: "1", Value: "v"}}}, wantErr: "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memAPI{zones: tc.zones, recs: map[string][]txtRecord{}, failOn: tc.failOn}
			for k, v := range tc.existing {
				m.recs[k] = slices.Clone(v)
			}
			p := &apiProvider{name: "mem", api: m}
			var err error
			if tc.op == "present" {
				err = p.Present(ctx, tc.fqdn, "v")
			} else {
				err = p.CleanUp(ctx, tc.fqdn, "v")
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for k, rs := range m.recs {
				for _, r := range rs {
					got[k] = append(got[k], r.Value)
				}
			}
			for k, v := range tc.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for k, v := range got {
				if _, ok := tc.want[k]; !ok && len(v) > 0 {
					t.Errorf("unexpected records %s = %q", k, v)
				}
			}
			if m.creates != tc.creates {
				t.Errorf("%d creates, want %d", m.creates, tc.creates)
			}
		})
	}
}
