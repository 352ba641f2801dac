package keys

import (
	"context"
	"crypto"
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// A held key is a private key that only the activity that generated it has, in memory:
// an issuance that runs start to end in one activity (a CA or SelfSigned signature)
// needs no Secret for its key before the target Secret takes key and certificate
// together. If the activity dies, the key dies with it, unused: nothing was issued to
// anyone for it. The key travels in the activity's context, never in an input or a
// result, so it cannot reach Temporal.

type heldKeyCtx struct{}

type heldKey struct {
	ref    KeyRef
	signer crypto.Signer
	pem    []byte
}

// GenerateHeld generates a key for the Certificate whose target Secret is
// namespace/secretName and holds it in the returned context, where LoadSigner and
// LoadKeyPEM find it by the returned KeyRef (Held).
func GenerateHeld(ctx context.Context, namespace, secretName string, spec KeySpec) (context.Context, KeyRef, error) {
	signer, err := GenerateKey(spec)
	if err != nil {
		return ctx, KeyRef{}, err
	}
	pemBytes, err := EncodePrivateKey(signer, spec.Encoding)
	if err != nil {
		return ctx, KeyRef{}, err
	}
	ref := refFor(namespace, secretName, DefaultDataKey, signer, spec.Encoding)
	ref.Held = true
	return context.WithValue(ctx, heldKeyCtx{}, &heldKey{ref: ref, signer: signer, pem: pemBytes}), ref, nil
}

// held is the key ref names, from ctx.
func held(ctx context.Context, ref KeyRef) (crypto.Signer, []byte, error) {
	k, _ := ctx.Value(heldKeyCtx{}).(*heldKey)
	if k == nil || k.ref.PublicKeySHA256 != ref.PublicKeySHA256 {
		// Only a bug gets here: a held key's reference left the activity holding it.
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("private key %s for Secret %s/%s is not held by this activity", ref.PublicKeySHA256, ref.Namespace, ref.SecretName),
			ErrTypeInvalidInput, nil)
	}
	return k.signer, k.pem, nil
}
