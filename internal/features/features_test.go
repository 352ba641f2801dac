package features

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		value      string
		wantErr    string
		overridden []string
	}{
		{"", "", nil},
		// The user's Helm line.
		{"ExperimentalGatewayAPISupport=true", "", nil},
		{"ACMEUseARI=true,ServerSideApply=false", "", []string{"ACMEUseARI=true"}},
		{"NoSuchGate=true", "unrecognized feature gate: NoSuchGate", nil},
		{"ACMEUseARI=maybe", "invalid value of ACMEUseARI=maybe", nil},
	} {
		g, err := Parse(c.value)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Parse(%q) error %v, want %q", c.value, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", c.value, err)
			continue
		}
		if got := Overridden(g); !slices.Equal(got, c.overridden) {
			t.Errorf("Overridden(%q) = %q, want %q", c.value, got, c.overridden)
		}
	}
}
