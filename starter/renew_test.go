package starter

import "testing"

func TestCheckRenewTargets(t *testing.T) {
	for _, tc := range []struct {
		name       string
		names      []string
		all, allNS bool
		selector   string
		ok         bool
	}{
		{name: "names", names: []string{"a", "b"}, ok: true},
		{name: "all", all: true, ok: true},
		{name: "all namespaces", all: true, allNS: true, ok: true},
		{name: "selector in all namespaces", selector: "app=web", allNS: true, ok: true},
		{name: "nothing"},
		{name: "only -A", allNS: true},
		{name: "names and --all", names: []string{"a"}, all: true},
		{name: "names and -l", names: []string{"a"}, selector: "app=web"},
		{name: "names and -A", names: []string{"a"}, allNS: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRenewTargets(tc.names, tc.all, tc.allNS, tc.selector)
			if (err == nil) != tc.ok {
				t.Errorf("checkRenewTargets = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
