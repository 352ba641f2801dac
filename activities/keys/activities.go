package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// DefaultDataKey is the Secret data key private keys are stored under.
const DefaultDataKey = corev1.TLSPrivateKeyKey // "tls.key"

// maxWriteAttempts bounds the optimistic-concurrency loop of an activity
// that races another writer of the same Secret (for example a previous
// attempt of the same activity that timed out but is still running).
const maxWriteAttempts = 4

// Activities are the private key activities. Register them on a worker with
// worker.RegisterActivity(&keys.Activities{Kube: client}); the activity
// names are the method names: GeneratePrivateKey, ReadKeyRef and
// DeletePrivateKeySecret.
type Activities struct {
	Kube kubernetes.Interface
	// ConfirmOwner, when set, confirms that the owner of a key Secret to write exists
	// with the owner reference's UID before anything is written (kube.Activities does).
	ConfirmOwner func(ctx context.Context, namespace string, owner metav1.OwnerReference) error
}

// GenerateKeyInput asks for a private key in a Secret.
type GenerateKeyInput struct {
	// Namespace and SecretName of the Secret to write (for a Certificate,
	// its "next private key" Secret).
	Namespace  string `json:"namespace"`
	SecretName string `json:"secretName"`
	// Algorithm, Size and Encoding as in Certificate.spec.privateKey; empty
	// values take upstream's defaults (RSA, 2048 / P-256, PKCS1).
	Algorithm cmapi.PrivateKeyAlgorithm `json:"algorithm,omitempty"`
	Size      int                       `json:"size,omitempty"`
	Encoding  cmapi.PrivateKeyEncoding  `json:"encoding,omitempty"`
	// OwnerReference, if set, is added to the Secret (normally the
	// Certificate, so that the Secret is garbage-collected with it).
	OwnerReference *metav1.OwnerReference `json:"ownerReference,omitempty"`
	// Labels are set on the Secret (for example
	// cmapi.IsNextPrivateKeySecretLabelKey: "true").
	Labels map[string]string `json:"labels,omitempty"`
}

// KeyRef refers to a private key held in a Secret and carries public facts
// about it. It never contains key material.
type KeyRef struct {
	Namespace  string `json:"namespace"`
	SecretName string `json:"secretName"`
	// DataKey is the Secret data key holding the PEM key ("tls.key").
	DataKey   string                    `json:"dataKey"`
	Algorithm cmapi.PrivateKeyAlgorithm `json:"algorithm"`
	// Size is the RSA modulus or ECDSA curve size in bits; 0 for Ed25519.
	Size int `json:"size,omitempty"`
	// Encoding is the encoding actually stored (always PKCS8 for Ed25519).
	Encoding cmapi.PrivateKeyEncoding `json:"encoding"`
	// PublicKeySHA256 is the hex SHA-256 of the PKIX public key DER. It
	// identifies the key: LoadSigner refuses a Secret whose key differs.
	PublicKeySHA256 string `json:"publicKeySHA256"`
	// SecretUID is the UID of the Secret GeneratePrivateKey wrote the key to, so that
	// it can be deleted as exactly that object (DeleteKeyInput.UID).
	SecretUID string `json:"secretUID,omitempty"`
	// Held says that no Secret holds the key yet: the activity that generated it
	// holds it in memory (Hold) until it writes it into the target Secret. Namespace
	// and SecretName then name that target.
	Held bool `json:"held,omitempty"`
}

func (r KeyRef) dataKey() string {
	if r.DataKey == "" {
		return DefaultDataKey
	}
	return r.DataKey
}

// GeneratePrivateKey makes sure the Secret in.Namespace/in.SecretName (type
// Opaque) holds, under "tls.key", a PEM private key of the requested
// algorithm, size and encoding, and returns a reference to it.
//
// It is idempotent: when the Secret already holds a key of the requested
// kind, that key is kept and a reference to it is returned (labels and owner
// reference are brought up to date). A Secret holding no key, an unparsable
// key or a key of another kind is overwritten with a new key. Invalid specs
// give a non-retryable "InvalidPrivateKeySpec" error.
func (a *Activities) GeneratePrivateKey(ctx context.Context, in GenerateKeyInput) (KeyRef, error) {
	if in.Namespace == "" || in.SecretName == "" {
		return KeyRef{}, temporal.NewNonRetryableApplicationError("namespace and secretName are required", ErrTypeInvalidInput, nil)
	}
	spec, err := NormalizeKeySpec(in.Algorithm, in.Size, in.Encoding)
	if err != nil {
		return KeyRef{}, err
	}
	if in.OwnerReference != nil && a.ConfirmOwner != nil {
		if err := a.ConfirmOwner(ctx, in.Namespace, *in.OwnerReference); err != nil {
			return KeyRef{}, err
		}
	}
	recent.forget(in.Namespace, in.SecretName) // whatever was cached for this name may be replaced now
	secrets := a.Kube.CoreV1().Secrets(in.Namespace)
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		// The common case is a first run: create straight away and read only when a
		// Secret is already there (a retried activity, or a key from an earlier attempt).
		var existing *corev1.Secret
		if attempt == 0 {
			err = apierrors.NewNotFound(corev1.Resource("secrets"), in.SecretName)
		} else {
			existing, err = secrets.Get(ctx, in.SecretName, metav1.GetOptions{})
		}
		switch {
		case apierrors.IsNotFound(err):
			ref, pemBytes, err := newKey(in, spec)
			if err != nil {
				return KeyRef{}, err
			}
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: in.SecretName, Namespace: in.Namespace},
				Type:       corev1.SecretTypeOpaque,
				Data:       map[string][]byte{DefaultDataKey: pemBytes},
			}
			applyMetadata(s, in)
			created, err := secrets.Create(ctx, s, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue // there already: look at it
			}
			if err != nil {
				return KeyRef{}, fmt.Errorf("creating private key Secret %s/%s: %w", in.Namespace, in.SecretName, err)
			}
			ref.SecretUID = string(created.UID)
			if signer, err := ParsePrivateKeyPEM(pemBytes); err == nil {
				recent.put(in.Namespace, in.SecretName, signer, pemBytes)
			}
			return ref, nil
		case err != nil:
			return KeyRef{}, fmt.Errorf("getting private key Secret %s/%s: %w", in.Namespace, in.SecretName, err)
		}

		if !mayReplace(existing, in) {
			return KeyRef{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"Secret %s/%s exists and is not a private key Secret of this Certificate (it lacks the labels %v or belongs to another owner): certflow neither uses nor replaces it; rename that Secret or the Certificate",
				in.Namespace, in.SecretName, in.Labels), ErrTypeSecretInTheWay, nil)
		}
		if ref, ok := matchingKey(existing, in, spec); ok {
			ref.SecretUID = string(existing.UID)
			if metadataUpToDate(existing, in) {
				return ref, nil
			}
			s := existing.DeepCopy()
			applyMetadata(s, in)
			_, err := secrets.Update(ctx, s, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return KeyRef{}, fmt.Errorf("updating private key Secret %s/%s metadata: %w", in.Namespace, in.SecretName, err)
			}
			return ref, nil
		}

		ref, pemBytes, err := newKey(in, spec)
		if err != nil {
			return KeyRef{}, err
		}
		ref.SecretUID = string(existing.UID)
		if existing.Type != corev1.SecretTypeOpaque {
			// A Secret's type is immutable: replace the Secret, but only the
			// exact object we looked at.
			uid, rv := existing.UID, existing.ResourceVersion
			err := secrets.Delete(ctx, in.SecretName, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv},
			})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return KeyRef{}, fmt.Errorf("replacing private key Secret %s/%s of type %s: %w", in.Namespace, in.SecretName, existing.Type, err)
			}
			continue // recreate on the next pass
		}
		s := existing.DeepCopy()
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[DefaultDataKey] = pemBytes
		applyMetadata(s, in)
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return KeyRef{}, fmt.Errorf("updating private key Secret %s/%s: %w", in.Namespace, in.SecretName, err)
		}
		return ref, nil
	}
	return KeyRef{}, fmt.Errorf("private key Secret %s/%s kept changing while writing it; will retry", in.Namespace, in.SecretName)
}

// newKey generates a key for spec and returns its reference and PEM bytes.
func newKey(in GenerateKeyInput, spec KeySpec) (KeyRef, []byte, error) {
	signer, err := GenerateKey(spec)
	if err != nil {
		return KeyRef{}, nil, err
	}
	pemBytes, err := EncodePrivateKey(signer, spec.Encoding)
	if err != nil {
		return KeyRef{}, nil, err
	}
	return refFor(in.Namespace, in.SecretName, DefaultDataKey, signer, spec.Encoding), pemBytes, nil
}

func refFor(namespace, name, dataKey string, signer crypto.Signer, enc cmapi.PrivateKeyEncoding) KeyRef {
	alg, size, _ := KeySpecOf(signer)
	return KeyRef{
		Namespace:       namespace,
		SecretName:      name,
		DataKey:         dataKey,
		Algorithm:       alg,
		Size:            size,
		Encoding:        enc,
		PublicKeySHA256: PublicKeySHA256(signer.Public()),
	}
}

// matchingKey returns a reference to the key in s if it is of the requested
// algorithm, size and encoding.
func matchingKey(s *corev1.Secret, in GenerateKeyInput, spec KeySpec) (KeyRef, bool) {
	data, ok := s.Data[DefaultDataKey]
	if !ok || len(data) == 0 {
		return KeyRef{}, false
	}
	signer, enc, err := parsePrivateKeyPEM(data)
	if err != nil {
		return KeyRef{}, false
	}
	if !KeyMatchesSpec(signer, spec.Algorithm, spec.Size) || enc != spec.Encoding {
		return KeyRef{}, false
	}
	return refFor(in.Namespace, in.SecretName, DefaultDataKey, signer, enc), true
}

func applyMetadata(s *corev1.Secret, in GenerateKeyInput) {
	if len(in.Labels) > 0 {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		maps.Copy(s.Labels, in.Labels)
	}
	if in.OwnerReference != nil && !hasOwner(s, *in.OwnerReference) {
		// An earlier owner of the same kind and name (deleted, created again) goes.
		s.OwnerReferences = slices.DeleteFunc(s.OwnerReferences, func(o metav1.OwnerReference) bool {
			return o.Kind == in.OwnerReference.Kind && o.Name == in.OwnerReference.Name
		})
		s.OwnerReferences = append(s.OwnerReferences, *in.OwnerReference)
	}
}

// mayReplace reports whether an existing Secret under the key Secret's name is one
// this key's owner made: it carries the labels asked for, and every owner of the
// owner's kind is of the owner's name (a Certificate deleted and created again leaves
// its next-key Secret to the new one). Anything else, a user's TLS Secret that happens
// to have the name, is neither used nor overwritten.
func mayReplace(s *corev1.Secret, in GenerateKeyInput) bool {
	if !hasLabels(s, in.Labels) {
		return false
	}
	if in.OwnerReference == nil {
		return true
	}
	for _, o := range s.OwnerReferences {
		if o.Kind != in.OwnerReference.Kind || o.Name != in.OwnerReference.Name {
			return false
		}
	}
	return true
}

func metadataUpToDate(s *corev1.Secret, in GenerateKeyInput) bool {
	return hasLabels(s, in.Labels) && (in.OwnerReference == nil || hasOwner(s, *in.OwnerReference))
}

// hasLabels reports whether s carries every label in labels.
func hasLabels(s *corev1.Secret, labels map[string]string) bool {
	for k, v := range labels {
		if got, ok := s.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func hasOwner(s *corev1.Secret, ref metav1.OwnerReference) bool {
	for _, o := range s.OwnerReferences {
		if o.UID == ref.UID {
			return true
		}
	}
	return false
}

// ReadKeyInput names a private key held in a Secret, for example the tls.key
// of a Certificate's target Secret (rotationPolicy Never).
type ReadKeyInput struct {
	Namespace  string `json:"namespace"`
	SecretName string `json:"secretName"`
	// DataKey defaults to "tls.key".
	DataKey string `json:"dataKey,omitempty"`
}

// ReadKeyResult says whether a Secret holds a usable private key.
type ReadKeyResult struct {
	// SecretExists is false when the Secret does not exist.
	SecretExists bool `json:"secretExists"`
	// Valid is true when the data key holds a parsable private key; Ref is
	// then filled in.
	Valid bool   `json:"valid"`
	Ref   KeyRef `json:"ref,omitzero"`
	// Message says why the key is not valid (never includes key material).
	Message string `json:"message,omitempty"`
}

// ReadKeyRef inspects the private key held in a Secret and returns a
// reference to it. A missing Secret or an unusable key is not an error: it
// is reported in the result, so that the workflow can decide to generate a
// new key. Only API errors (retryable) are returned as errors.
func (a *Activities) ReadKeyRef(ctx context.Context, in ReadKeyInput) (ReadKeyResult, error) {
	if in.Namespace == "" || in.SecretName == "" {
		return ReadKeyResult{}, temporal.NewNonRetryableApplicationError("namespace and secretName are required", ErrTypeInvalidInput, nil)
	}
	dataKey := in.DataKey
	if dataKey == "" {
		dataKey = DefaultDataKey
	}
	s, err := a.Kube.CoreV1().Secrets(in.Namespace).Get(ctx, in.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ReadKeyResult{Message: fmt.Sprintf("Secret %s/%s does not exist", in.Namespace, in.SecretName)}, nil
	}
	if err != nil {
		return ReadKeyResult{}, fmt.Errorf("getting Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	data := s.Data[dataKey]
	if len(data) == 0 {
		return ReadKeyResult{SecretExists: true, Message: fmt.Sprintf("Secret %s/%s has no %q data", in.Namespace, in.SecretName, dataKey)}, nil
	}
	signer, enc, err := parsePrivateKeyPEM(data)
	if err != nil {
		return ReadKeyResult{SecretExists: true, Message: errorMessage(err)}, nil
	}
	return ReadKeyResult{
		SecretExists: true,
		Valid:        true,
		Ref:          refFor(in.Namespace, in.SecretName, dataKey, signer, enc),
	}, nil
}

func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// DeleteKeyInput names a private key Secret to delete.
type DeleteKeyInput struct {
	Namespace  string `json:"namespace"`
	SecretName string `json:"secretName"`
	// UID, when set, deletes exactly that object (KeyRef.SecretUID): a Secret made
	// anew under the name since is left alone.
	UID string `json:"uid,omitempty"`
	// Labels and OwnerUID, when set (and UID is not), make the activity read the
	// Secret first and delete it only if it carries the labels and an owner reference
	// with that UID: the name came from somewhere less sure (a status field).
	Labels   map[string]string `json:"labels,omitempty"`
	OwnerUID string            `json:"ownerUID,omitempty"`
}

// DeletePrivateKeySecret deletes a private key Secret (typically a
// Certificate's "next private key" Secret once the key has been moved into
// the target Secret). A Secret that does not exist counts as deleted, and so does
// one that is not the object DeleteKeyInput describes (it is left alone).
func (a *Activities) DeletePrivateKeySecret(ctx context.Context, in DeleteKeyInput) error {
	if in.Namespace == "" || in.SecretName == "" {
		return temporal.NewNonRetryableApplicationError("namespace and secretName are required", ErrTypeInvalidInput, nil)
	}
	recent.forget(in.Namespace, in.SecretName)
	secrets := a.Kube.CoreV1().Secrets(in.Namespace)
	var opts metav1.DeleteOptions
	switch {
	case in.UID != "":
		uid := types.UID(in.UID)
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	case len(in.Labels) > 0 || in.OwnerUID != "":
		s, err := secrets.Get(ctx, in.SecretName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading private key Secret %s/%s before deleting it: %w", in.Namespace, in.SecretName, err)
		}
		if !carries(s, in.Labels, in.OwnerUID) {
			activity.GetLogger(ctx).Warn("not deleting a Secret that is not the private key Secret named", "namespace", in.Namespace, "name", in.SecretName)
			return nil
		}
		uid := s.UID
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := secrets.Delete(ctx, in.SecretName, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) { // conflict: another object now
		return fmt.Errorf("deleting private key Secret %s/%s: %w", in.Namespace, in.SecretName, err)
	}
	return nil
}

// carries reports whether s has every label in labels and, if ownerUID is set, an
// owner reference with that UID.
func carries(s *corev1.Secret, labels map[string]string, ownerUID string) bool {
	if !hasLabels(s, labels) {
		return false
	}
	if ownerUID == "" {
		return true
	}
	return slices.ContainsFunc(s.OwnerReferences, func(o metav1.OwnerReference) bool { return string(o.UID) == ownerUID })
}

// LoadSigner reads the private key a KeyRef points to. It is a helper for
// other activities (pki signs with it), not an activity: the signer must
// never leave the activity that loaded it.
//
// Errors: a missing Secret is a non-retryable "PrivateKeySecretNotFound"; a
// missing or unusable key is a non-retryable "InvalidPrivateKey"; a key whose
// public key hash differs from ref.PublicKeySHA256 (when set) is a
// non-retryable "KeyMismatch". API errors are returned as they are
// (retryable).
func LoadSigner(ctx context.Context, kube kubernetes.Interface, ref KeyRef) (crypto.Signer, error) {
	signer, _, err := load(ctx, kube, ref)
	return signer, err
}

// LoadKeyPEM returns the PEM bytes of the key a KeyRef points to, as stored, for an
// activity that writes them into the target Secret. Same errors as LoadSigner.
func LoadKeyPEM(ctx context.Context, kube kubernetes.Interface, ref KeyRef) ([]byte, error) {
	_, pemBytes, err := load(ctx, kube, ref)
	return pemBytes, err
}

func load(ctx context.Context, kube kubernetes.Interface, ref KeyRef) (crypto.Signer, []byte, error) {
	if ref.Held {
		return held(ctx, ref)
	}
	if ref.Namespace == "" || ref.SecretName == "" {
		return nil, nil, temporal.NewNonRetryableApplicationError("key reference needs a namespace and secretName", ErrTypeInvalidInput, nil)
	}
	if k, ok := recent.get(ref.Namespace, ref.SecretName, ref.PublicKeySHA256); ok && ref.dataKey() == DefaultDataKey {
		return k.signer, k.pem, nil
	}
	s, err := kube.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("private key Secret %s/%s not found", ref.Namespace, ref.SecretName), ErrTypePrivateKeySecretNotFound, nil)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("getting private key Secret %s/%s: %w", ref.Namespace, ref.SecretName, err)
	}
	data := s.Data[ref.dataKey()]
	if len(data) == 0 {
		return nil, nil, invalidKey(fmt.Sprintf("Secret %s/%s has no %q data", ref.Namespace, ref.SecretName, ref.dataKey()))
	}
	signer, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, nil, invalidKey(fmt.Sprintf("Secret %s/%s key %q: %s", ref.Namespace, ref.SecretName, ref.dataKey(), errorMessage(err)))
	}
	if ref.PublicKeySHA256 != "" {
		if got := PublicKeySHA256(signer.Public()); got != ref.PublicKeySHA256 {
			return nil, nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("private key in Secret %s/%s changed: public key sha256 %s, expected %s", ref.Namespace, ref.SecretName, got, ref.PublicKeySHA256),
				ErrTypeKeyMismatch, nil)
		}
	}
	if ref.PublicKeySHA256 != "" && ref.dataKey() == DefaultDataKey {
		recent.put(ref.Namespace, ref.SecretName, signer, data)
	}
	return signer, data, nil
}
