package keys

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"
)

func TestHeldKey(t *testing.T) {
	spec, err := NormalizeKeySpec("ECDSA", 256, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, ref, err := GenerateHeld(context.Background(), "ns", "web-tls", spec)
	if err != nil {
		t.Fatal(err)
	}
	if !ref.Held || ref.Namespace != "ns" || ref.SecretName != "web-tls" || ref.PublicKeySHA256 == "" || ref.Algorithm != "ECDSA" {
		t.Fatalf("ref %+v", ref)
	}
	// No API server: a held key is never read from a Secret.
	signer, err := LoadSigner(ctx, nil, ref)
	if err != nil || PublicKeySHA256(signer.Public()) != ref.PublicKeySHA256 {
		t.Fatalf("LoadSigner: %v", err)
	}
	pemBytes, err := LoadKeyPEM(ctx, nil, ref)
	if err != nil {
		t.Fatal(err)
	}
	if parsed, err := ParsePrivateKeyPEM(pemBytes); err != nil || PublicKeySHA256(parsed.Public()) != ref.PublicKeySHA256 {
		t.Fatalf("PEM of the held key: %v", err)
	}

	// Outside the activity holding it, or for another key, it is a non-retryable error.
	var appErr *temporal.ApplicationError
	if _, err := LoadSigner(context.Background(), nil, ref); err == nil || !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Errorf("LoadSigner without the holding context: %v", err)
	}
	other := ref
	other.PublicKeySHA256 = "00"
	if _, err := LoadSigner(ctx, nil, other); err == nil {
		t.Error("LoadSigner of a key not held: no error")
	}
}
