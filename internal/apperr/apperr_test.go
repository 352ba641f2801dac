package apperr

import (
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/sdk/temporal"
)

func TestMessage(t *testing.T) {
	app := temporal.NewNonRetryableApplicationError("the CA Secret is gone", "CASecretNotFound", nil)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{app, "the CA Secret is gone"},
		{fmt.Errorf("activity error: %w", app), "the CA Secret is gone"},
		{errors.New("plain"), "plain"},
	} {
		if got := Message(tc.err); got != tc.want {
			t.Errorf("Message(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
