package conventions

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	long := strings.Repeat("a", 260)
	for _, tc := range []struct{ got, want string }{
		{CertificateRequestName("web", 3), "web-3"},
		{CertificateRequestName(long, 12), strings.Repeat("a", 250) + "-12"},
		{NextPrivateKeySecretName("web"), "web-next-key"},
		{NextPrivateKeySecretName(long), strings.Repeat("a", 244) + "-next-key"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
