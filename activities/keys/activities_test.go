package keys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"
)

const ns = "default"

type harness struct {
	kube *fake.Clientset
	acts *Activities
	env  *testsuite.TestActivityEnvironment
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	kube := fake.NewClientset(objs...)
	acts := &Activities{Kube: kube}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return &harness{kube: kube, acts: acts, env: env}
}

func (h *harness) generate(t *testing.T, in GenerateKeyInput) (KeyRef, error) {
	t.Helper()
	val, err := h.env.ExecuteActivity(h.acts.GeneratePrivateKey, in)
	if err != nil {
		return KeyRef{}, err
	}
	var ref KeyRef
	if err := val.Get(&ref); err != nil {
		t.Fatal(err)
	}
	return ref, nil
}

func (h *harness) secret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	s, err := h.kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertNoKeyMaterial fails if v (serialised to JSON) contains any part of
// the PEM private key.
func assertNoKeyMaterial(t *testing.T, v any, keyPEM []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("no key PEM")
	}
	b64 := base64.StdEncoding.EncodeToString(block.Bytes)
	s := string(b)
	if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, b64[10:40]) {
		t.Fatalf("key material leaked: %s", s)
	}
}

func TestGeneratePrivateKeyCreates(t *testing.T) {
	h := newHarness(t)
	owner := metav1.OwnerReference{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "c", UID: types.UID("uid-1")}
	in := GenerateKeyInput{
		Namespace: ns, SecretName: "c-next",
		Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 384, Encoding: cmapi.PKCS8,
		OwnerReference: &owner,
		Labels:         map[string]string{cmapi.IsNextPrivateKeySecretLabelKey: "true"},
	}
	ref, err := h.generate(t, in)
	if err != nil {
		t.Fatal(err)
	}
	s := h.secret(t, "c-next")
	if s.Type != corev1.SecretTypeOpaque {
		t.Fatalf("type %q", s.Type)
	}
	if s.Labels[cmapi.IsNextPrivateKeySecretLabelKey] != "true" {
		t.Fatalf("labels %v", s.Labels)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "uid-1" {
		t.Fatalf("owner refs %v", s.OwnerReferences)
	}
	signer, err := ParsePrivateKeyPEM(s.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	want := KeyRef{
		Namespace: ns, SecretName: "c-next", DataKey: "tls.key",
		Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 384, Encoding: cmapi.PKCS8,
		PublicKeySHA256: PublicKeySHA256(signer.Public()),
	}
	if ref != want {
		t.Fatalf("ref %+v, want %+v", ref, want)
	}
	assertNoKeyMaterial(t, ref, s.Data["tls.key"])

	// LoadSigner finds the same key.
	loaded, err := LoadSigner(context.Background(), h.kube, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !pki.PublicKeysEqual(loaded.Public(), signer.Public()) {
		t.Fatal("LoadSigner returned another key")
	}
}

func TestGeneratePrivateKeyIdempotent(t *testing.T) {
	for _, tc := range []struct {
		alg  cmapi.PrivateKeyAlgorithm
		size int
		enc  cmapi.PrivateKeyEncoding
	}{
		{"", 0, ""},
		{cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS8},
		{cmapi.ECDSAKeyAlgorithm, 0, cmapi.PKCS1},
		{cmapi.ECDSAKeyAlgorithm, 521, cmapi.PKCS8},
		{cmapi.Ed25519KeyAlgorithm, 0, cmapi.PKCS1},
	} {
		t.Run(string(tc.alg)+string(tc.enc), func(t *testing.T) {
			h := newHarness(t)
			in := GenerateKeyInput{Namespace: ns, SecretName: "k", Algorithm: tc.alg, Size: tc.size, Encoding: tc.enc}
			first, err := h.generate(t, in)
			if err != nil {
				t.Fatal(err)
			}
			before := h.secret(t, "k")
			second, err := h.generate(t, in)
			if err != nil {
				t.Fatal(err)
			}
			after := h.secret(t, "k")
			if first != second {
				t.Fatalf("refs differ: %+v vs %+v", first, second)
			}
			if string(before.Data["tls.key"]) != string(after.Data["tls.key"]) || before.ResourceVersion != after.ResourceVersion {
				t.Fatal("idempotent call rewrote the Secret")
			}
		})
	}
}

func existingKeySecret(t *testing.T, name string, typ corev1.SecretType, alg cmapi.PrivateKeyAlgorithm, size int, enc cmapi.PrivateKeyEncoding) *corev1.Secret {
	t.Helper()
	k := mustKey(t, alg, size)
	p, err := EncodePrivateKey(k, enc)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: "old-uid", ResourceVersion: "1"},
		Type:       typ,
		Data:       map[string][]byte{"tls.key": p, "extra": []byte("kept")},
	}
}

func TestGeneratePrivateKeyReplaces(t *testing.T) {
	tests := []struct {
		name     string
		existing *corev1.Secret
		in       GenerateKeyInput
		keepsExt bool
	}{
		{
			name:     "different algorithm",
			existing: existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS1),
			in:       GenerateKeyInput{Algorithm: cmapi.ECDSAKeyAlgorithm},
			keepsExt: true,
		},
		{
			name:     "different size",
			existing: existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1),
			in:       GenerateKeyInput{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 384},
			keepsExt: true,
		},
		{
			name:     "different encoding",
			existing: existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1),
			in:       GenerateKeyInput{Algorithm: cmapi.ECDSAKeyAlgorithm, Encoding: cmapi.PKCS8},
			keepsExt: true,
		},
		{
			name: "garbage",
			existing: &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: ns},
				Type:       corev1.SecretTypeOpaque,
				Data:       map[string][]byte{"tls.key": []byte("garbage"), "extra": []byte("kept")},
			},
			in:       GenerateKeyInput{Algorithm: cmapi.Ed25519KeyAlgorithm},
			keepsExt: true,
		},
		{
			name:     "no data",
			existing: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "k", Namespace: ns}, Type: corev1.SecretTypeOpaque},
			in:       GenerateKeyInput{},
		},
		{
			name:     "wrong secret type is recreated as Opaque",
			existing: existingKeySecret(t, "k", corev1.SecretTypeTLS, cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS1),
			in:       GenerateKeyInput{Algorithm: cmapi.ECDSAKeyAlgorithm},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.existing)
			in := tc.in
			in.Namespace, in.SecretName = ns, "k"
			ref, err := h.generate(t, in)
			if err != nil {
				t.Fatal(err)
			}
			s := h.secret(t, "k")
			if s.Type != corev1.SecretTypeOpaque {
				t.Fatalf("type %q", s.Type)
			}
			signer, enc, err := parsePrivateKeyPEM(s.Data["tls.key"])
			if err != nil {
				t.Fatal(err)
			}
			spec, _ := NormalizeKeySpec(in.Algorithm, in.Size, in.Encoding)
			if !KeyMatchesSpec(signer, spec.Algorithm, spec.Size) || enc != spec.Encoding {
				t.Fatalf("stored key does not match the spec %+v", spec)
			}
			if ref.PublicKeySHA256 != PublicKeySHA256(signer.Public()) {
				t.Fatal("ref does not describe the stored key")
			}
			if tc.keepsExt && string(s.Data["extra"]) != "kept" {
				t.Fatal("unrelated data was dropped")
			}
		})
	}
}

// A next-key Secret a Certificate of the same name left (deleted and created again:
// the owner's UID differs) is taken over: key reused, the old owner reference replaced.
func TestGeneratePrivateKeyUpdatesMetadataOnReuse(t *testing.T) {
	existing := existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1)
	existing.Labels = map[string]string{"a": "b"}
	existing.OwnerReferences = []metav1.OwnerReference{{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "c", UID: "earlier"}}
	h := newHarness(t, existing)
	owner := metav1.OwnerReference{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "c", UID: "u"}
	ref, err := h.generate(t, GenerateKeyInput{
		Namespace: ns, SecretName: "k", Algorithm: cmapi.ECDSAKeyAlgorithm,
		OwnerReference: &owner, Labels: map[string]string{"a": "b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := h.secret(t, "k")
	if string(s.Data["tls.key"]) != string(existing.Data["tls.key"]) {
		t.Fatal("matching key was replaced")
	}
	if s.Labels["a"] != "b" || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "u" {
		t.Fatalf("metadata not updated: %v %v", s.Labels, s.OwnerReferences)
	}
	if ref.SecretUID != string(existing.UID) {
		t.Errorf("ref names Secret UID %q, want %q", ref.SecretUID, existing.UID)
	}
	signer, _ := ParsePrivateKeyPEM(existing.Data["tls.key"])
	if ref.PublicKeySHA256 != PublicKeySHA256(signer.Public()) {
		t.Fatal("ref does not describe the existing key")
	}
}

func TestGeneratePrivateKeyCreateRace(t *testing.T) {
	// The first Create fails with AlreadyExists because another attempt
	// created the Secret in between; the activity must then reuse it.
	h := newHarness(t)
	other := existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1)
	raced := false
	h.kube.PrependReactor("create", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if raced {
			return false, nil, nil
		}
		raced = true
		if err := h.kube.Tracker().Add(other); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, "k")
	})
	ref, err := h.generate(t, GenerateKeyInput{Namespace: ns, SecretName: "k", Algorithm: cmapi.ECDSAKeyAlgorithm})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ParsePrivateKeyPEM(other.Data["tls.key"])
	if ref.PublicKeySHA256 != PublicKeySHA256(signer.Public()) {
		t.Fatal("expected the concurrently created key to be reused")
	}
}

func TestGeneratePrivateKeyUpdateConflictRetries(t *testing.T) {
	existing := existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS1)
	h := newHarness(t, existing)
	conflicts := 0
	h.kube.PrependReactor("update", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts < 2 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "k", errors.New("changed"))
		}
		return false, nil, nil
	})
	ref, err := h.generate(t, GenerateKeyInput{Namespace: ns, SecretName: "k", Algorithm: cmapi.Ed25519KeyAlgorithm})
	if err != nil {
		t.Fatal(err)
	}
	if conflicts != 2 || ref.Algorithm != cmapi.Ed25519KeyAlgorithm {
		t.Fatalf("conflicts=%d ref=%+v", conflicts, ref)
	}
}

func TestGeneratePrivateKeyInvalidInput(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name     string
		in       GenerateKeyInput
		wantType string
	}{
		{"unknown algorithm", GenerateKeyInput{Namespace: ns, SecretName: "k", Algorithm: "DSA"}, ErrTypeInvalidPrivateKeySpec},
		{"bad rsa size", GenerateKeyInput{Namespace: ns, SecretName: "k", Size: 1024}, ErrTypeInvalidPrivateKeySpec},
		{"bad ecdsa size", GenerateKeyInput{Namespace: ns, SecretName: "k", Algorithm: "ECDSA", Size: 128}, ErrTypeInvalidPrivateKeySpec},
		{"bad encoding", GenerateKeyInput{Namespace: ns, SecretName: "k", Encoding: "DER"}, ErrTypeInvalidPrivateKeySpec},
		{"no namespace", GenerateKeyInput{SecretName: "k"}, ErrTypeInvalidInput},
		{"no name", GenerateKeyInput{Namespace: ns}, ErrTypeInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.generate(t, tc.in)
			assertErrType(t, err, tc.wantType)
		})
	}
	if l, _ := h.kube.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatal("invalid input wrote a Secret")
	}
}

func TestGeneratePrivateKeyAPIErrorIsRetryable(t *testing.T) {
	h := newHarness(t)
	for _, verb := range []string{"get", "create"} { // the activity creates first, reads on conflict
		h.kube.PrependReactor(verb, "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewServiceUnavailable("down")
		})
	}
	_, err := h.generate(t, GenerateKeyInput{Namespace: ns, SecretName: "k"})
	if err == nil {
		t.Fatal("expected error")
	}
	if IsErrorType(err, ErrTypeInvalidPrivateKeySpec) {
		t.Fatal("API error must not be typed as a spec error")
	}
}

// A Secret that happens to have the key Secret's name but is not this owner's (a
// user's TLS Secret, another Certificate's next key) is neither used nor replaced.
func TestGeneratePrivateKeyLeavesOthersSecrets(t *testing.T) {
	owner := metav1.OwnerReference{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "c", UID: "u"}
	in := GenerateKeyInput{Namespace: ns, SecretName: "k", Algorithm: cmapi.ECDSAKeyAlgorithm, OwnerReference: &owner, Labels: map[string]string{"next": "true"}}
	users := existingKeySecret(t, "k", corev1.SecretTypeTLS, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1)
	others := existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1)
	others.Labels = map[string]string{"next": "true"}
	others.OwnerReferences = []metav1.OwnerReference{{APIVersion: "cert-manager.io/v1", Kind: "Certificate", Name: "other", UID: "o"}}
	for name, existing := range map[string]*corev1.Secret{"user's TLS Secret": users, "another Certificate's": others} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, existing)
			_, err := h.generate(t, in)
			assertErrType(t, err, ErrTypeSecretInTheWay)
			s := h.secret(t, "k")
			if string(s.Data["tls.key"]) != string(existing.Data["tls.key"]) || s.Type != existing.Type || len(s.OwnerReferences) != len(existing.OwnerReferences) {
				t.Fatalf("the Secret was changed: %+v", s)
			}
		})
	}
}

// Deleting by what the status names reads first and leaves a Secret that lacks the
// label or the owner; deleting by UID leaves a Secret made anew under the name.
func TestDeletePrivateKeySecretOnlyOurs(t *testing.T) {
	ours := existingKeySecret(t, "ours", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1)
	ours.Labels = map[string]string{"next": "true"}
	ours.OwnerReferences = []metav1.OwnerReference{{Kind: "Certificate", Name: "c", UID: "u"}}
	foreign := existingKeySecret(t, "foreign", corev1.SecretTypeTLS, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1)
	unowned := ours.DeepCopy()
	unowned.Name, unowned.OwnerReferences = "unowned", nil
	h := newHarness(t, ours, foreign, unowned)
	var deletes []string
	h.kube.PrependReactor("delete", "secrets", func(action k8stesting.Action) (bool, runtime.Object, error) {
		d := action.(k8stesting.DeleteActionImpl)
		if pre := d.DeleteOptions.Preconditions; pre != nil && pre.UID != nil && *pre.UID != "old-uid" {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, d.Name, errors.New("UID precondition failed"))
		}
		deletes = append(deletes, d.Name)
		return false, nil, nil
	})
	for _, in := range []DeleteKeyInput{
		{Namespace: ns, SecretName: "foreign", Labels: map[string]string{"next": "true"}, OwnerUID: "u"},
		{Namespace: ns, SecretName: "unowned", Labels: map[string]string{"next": "true"}, OwnerUID: "u"},
		{Namespace: ns, SecretName: "ours", UID: "another-uid"},
		{Namespace: ns, SecretName: "ours", Labels: map[string]string{"next": "true"}, OwnerUID: "u"},
	} {
		if _, err := h.env.ExecuteActivity(h.acts.DeletePrivateKeySecret, in); err != nil {
			t.Fatalf("%+v: %v", in, err)
		}
	}
	if !slices.Equal(deletes, []string{"ours"}) {
		t.Errorf("deleted %v, want only ours, once", deletes)
	}
}

func TestDeletePrivateKeySecret(t *testing.T) {
	h := newHarness(t, existingKeySecret(t, "k", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1))
	for i := 0; i < 2; i++ { // second call: NotFound is success
		if _, err := h.env.ExecuteActivity(h.acts.DeletePrivateKeySecret, DeleteKeyInput{Namespace: ns, SecretName: "k"}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := h.kube.CoreV1().Secrets(ns).Get(context.Background(), "k", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Secret still there: %v", err)
	}
	_, err := h.env.ExecuteActivity(h.acts.DeletePrivateKeySecret, DeleteKeyInput{Namespace: ns})
	assertErrType(t, err, ErrTypeInvalidInput)
}

func TestReadKeyRef(t *testing.T) {
	good := existingKeySecret(t, "good", corev1.SecretTypeTLS, cmapi.RSAKeyAlgorithm, 2048, cmapi.PKCS8)
	garbage := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "garbage", Namespace: ns}, Data: map[string][]byte{"tls.key": []byte("nope")}}
	empty := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "empty", Namespace: ns}}
	h := newHarness(t, good, garbage, empty)
	read := func(name, dataKey string) ReadKeyResult {
		t.Helper()
		val, err := h.env.ExecuteActivity(h.acts.ReadKeyRef, ReadKeyInput{Namespace: ns, SecretName: name, DataKey: dataKey})
		if err != nil {
			t.Fatal(err)
		}
		var res ReadKeyResult
		if err := val.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := read("good", "")
	signer, _ := ParsePrivateKeyPEM(good.Data["tls.key"])
	want := KeyRef{Namespace: ns, SecretName: "good", DataKey: "tls.key", Algorithm: cmapi.RSAKeyAlgorithm, Size: 2048, Encoding: cmapi.PKCS8, PublicKeySHA256: PublicKeySHA256(signer.Public())}
	if !res.SecretExists || !res.Valid || res.Ref != want {
		t.Fatalf("good: %+v", res)
	}
	assertNoKeyMaterial(t, res, good.Data["tls.key"])
	if res := read("missing", ""); res.SecretExists || res.Valid || res.Message == "" {
		t.Fatalf("missing: %+v", res)
	}
	if res := read("garbage", ""); !res.SecretExists || res.Valid || res.Message == "" {
		t.Fatalf("garbage: %+v", res)
	}
	if res := read("empty", ""); !res.SecretExists || res.Valid {
		t.Fatalf("empty: %+v", res)
	}
	if res := read("good", "other.key"); !res.SecretExists || res.Valid {
		t.Fatalf("other data key: %+v", res)
	}
}

func TestLoadSignerErrors(t *testing.T) {
	good := existingKeySecret(t, "good", corev1.SecretTypeOpaque, cmapi.ECDSAKeyAlgorithm, 256, cmapi.PKCS1)
	garbage := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "garbage", Namespace: ns}, Data: map[string][]byte{"tls.key": []byte("nope")}}
	h := newHarness(t, good, garbage)
	ctx := context.Background()
	signer, _ := ParsePrivateKeyPEM(good.Data["tls.key"])
	hash := PublicKeySHA256(signer.Public())

	if _, err := LoadSigner(ctx, h.kube, KeyRef{Namespace: ns, SecretName: "good"}); err != nil {
		t.Fatalf("no hash, default data key: %v", err)
	}
	if _, err := LoadSigner(ctx, h.kube, KeyRef{Namespace: ns, SecretName: "good", DataKey: "tls.key", PublicKeySHA256: hash}); err != nil {
		t.Fatalf("matching hash: %v", err)
	}
	_, err := LoadSigner(ctx, h.kube, KeyRef{Namespace: ns, SecretName: "good", PublicKeySHA256: strings.Repeat("0", 64)})
	assertErrType(t, err, ErrTypeKeyMismatch)
	assertNoKeyMaterial(t, err.Error(), good.Data["tls.key"])
	_, err = LoadSigner(ctx, h.kube, KeyRef{Namespace: ns, SecretName: "missing"})
	assertErrType(t, err, ErrTypePrivateKeySecretNotFound)
	_, err = LoadSigner(ctx, h.kube, KeyRef{Namespace: ns, SecretName: "good", DataKey: "nope"})
	assertErrType(t, err, ErrTypeInvalidPrivateKey)
	_, err = LoadSigner(ctx, h.kube, KeyRef{Namespace: ns, SecretName: "garbage"})
	assertErrType(t, err, ErrTypeInvalidPrivateKey)
	_, err = LoadSigner(ctx, h.kube, KeyRef{})
	assertErrType(t, err, ErrTypeInvalidInput)
}
