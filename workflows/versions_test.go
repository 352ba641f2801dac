package workflows

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The change tables only grow at their end: testdata/changes.txt holds every row ever
// made, in order, and a table must list exactly those. Reordering rows, or inserting
// one in the middle, would change which changes running chains have in effect (they
// carry a count of rows), so it fails here; so does a row whose "since" is older than
// the row before it.
func TestChangeTablesAreAppendOnly(t *testing.T) {
	data, err := os.ReadFile("testdata/changes.txt")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && !strings.HasPrefix(line, "#") {
			recorded[f[0]] = append(recorded[f[0]], f[1])
		}
	}
	for typ, table := range changeTables() {
		var ids []string
		for i, ch := range table {
			ids = append(ids, ch.id)
			if ch.what == "" || len(ch.since) < len("2006-01-02") {
				t.Errorf("%s change %s: say what it changes and since when", typ, ch.id)
			}
			if i > 0 && ch.since[:10] < table[i-1].since[:10] {
				t.Errorf("%s change %s (since %s) stands after %s (since %s): rows are appended in the order they are made",
					typ, ch.id, ch.since, table[i-1].id, table[i-1].since)
			}
			if slices.Index(ids, ch.id) != i {
				t.Errorf("%s change %s appears twice", typ, ch.id)
			}
		}
		if want := recorded[typ]; !slices.Equal(ids, want) {
			t.Errorf("%s's change table is %v, testdata/changes.txt has %v: append new rows at the end of both, never reorder or delete (retire instead)", typ, ids, want)
		}
	}
}

// has is a pure read of what resolveChanges decided; a retired or unknown change is a
// programming error that must not pass silently.
func TestHasRefusesRetiredAndUnknownChanges(t *testing.T) {
	s := changeSet{table: certificateChanges, fixed: make([]bool, len(certificateChanges))}
	for i := range s.fixed {
		s.fixed[i] = true
	}
	if !s.has(changeSecretFirst) || !s.has(changeRequestTrigger) {
		t.Errorf("has() does not read carried changes as in effect")
	}
	for _, id := range []string{"lazy-issuing-status", "no-such-change"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("has(%q) did not panic", id)
				}
			}()
			s.has(id)
		}()
	}
}
