package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/acme/webhook/apis/acme/v1alpha1"
)

// fakeChallTestSrv keeps TXT values per host as pebble-challtestsrv's management API
// does (/set-txt appends, /clear-txt removes all) and records every state it passed
// through.
type fakeChallTestSrv struct {
	mu     sync.Mutex
	txt    map[string][]string
	states [][]string // the values of the watched host after each call
}

func (f *fakeChallTestSrv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Host, Value string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/set-txt":
		f.txt[body.Host] = append(f.txt[body.Host], body.Value)
	case "/clear-txt":
		delete(f.txt, body.Host)
	default:
		http.NotFound(w, r)
		return
	}
	f.states = append(f.states, slices.Clone(f.txt[body.Host]))
}

// A wildcard and its apex share one name: while either value is wanted, the name never
// serves no value, and it is empty once both are cleaned up.
func TestSharedNameNeverServesNothingWhileAValueIsWanted(t *testing.T) {
	fake := &fakeChallTestSrv{txt: map[string][]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := &solver{api: srv.URL, hc: &http.Client{Timeout: 5 * time.Second},
		wanted: map[string][]string{}, served: map[string][]string{}}
	req := func(key string) *v1alpha1.ChallengeRequest {
		return &v1alpha1.ChallengeRequest{ResolvedFQDN: "_acme-challenge.Example.EDU.", Key: key}
	}
	const host = "_acme-challenge.example.edu."

	steps := []struct {
		present bool
		key     string
	}{{true, "apex"}, {true, "wildcard"}, {true, "apex"}, {false, "apex"}, {false, "apex"}, {false, "wildcard"}}
	var wanted []string
	for _, st := range steps {
		before := slices.Clone(wanted)
		calls := len(fake.states)
		var err error
		if st.present {
			err = s.Present(req(st.key))
			if !slices.Contains(wanted, st.key) {
				wanted = append(wanted, st.key)
			}
		} else {
			err = s.CleanUp(req(st.key))
			wanted = slices.DeleteFunc(wanted, func(v string) bool { return v == st.key })
		}
		if err != nil {
			t.Fatalf("present=%v %s: %v", st.present, st.key, err)
		}
		// Every value wanted before and after the step is served all through it.
		for _, state := range fake.states[calls:] {
			for _, v := range before {
				if slices.Contains(wanted, v) && !slices.Contains(state, v) {
					t.Errorf("present=%v %s: challtestsrv served %q for a moment, without %q", st.present, st.key, state, v)
				}
			}
		}
		for _, v := range wanted {
			if !slices.Contains(fake.txt[host], v) {
				t.Errorf("after present=%v %s: %q wanted but challtestsrv serves %q", st.present, st.key, v, fake.txt[host])
			}
		}
	}
	if left := fake.txt[host]; len(left) > 0 {
		t.Errorf("values left after both clean-ups: %q", left)
	}
}

// CleanUp of a value never presented (Present failed) changes nothing.
func TestCleanUpOfNothingIsANoOp(t *testing.T) {
	fake := &fakeChallTestSrv{txt: map[string][]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	s := &solver{api: srv.URL, hc: srv.Client(), wanted: map[string][]string{}, served: map[string][]string{}}
	if err := s.CleanUp(&v1alpha1.ChallengeRequest{ResolvedFQDN: "_acme-challenge.example.org.", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if len(fake.states) != 0 {
		t.Errorf("calls made: %q", fake.states)
	}
}
