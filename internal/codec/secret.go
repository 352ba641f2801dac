package codec

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ParseSecretRef splits a --payload-codec-secret value, namespace/name.
func ParseSecretRef(ref string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(ref, "/")
	if !ok || namespace == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("payload codec Secret %q: want namespace/name", ref)
	}
	return namespace, name, nil
}

// Load reads the codec's keys from the Secret namespace/name. With create, a missing
// Secret is created with a fresh key (the first worker or watcher to start does it; the
// others read what won): losing that Secret makes the encrypted history unreadable, so
// it is never deleted by certflow and should be backed up. Without create (the CLI), a
// missing Secret is an error.
func Load(ctx context.Context, kube kubernetes.Interface, ref string, create bool, log *slog.Logger) (*Codec, error) {
	ns, name, err := ParseSecretRef(ref)
	if err != nil {
		return nil, err
	}
	s, err := kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && create {
		key, kerr := NewKey()
		if kerr != nil {
			return nil, kerr
		}
		s, err = kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
				Labels: map[string]string{"app.kubernetes.io/part-of": "certflow", "app.kubernetes.io/component": "payload-codec"},
				Annotations: map[string]string{"certflow.io/payload-codec": "the key of every payload in certflow's Temporal history: " +
					"without it the history cannot be read. Back it up; never delete it while workflows run."},
			},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{ActiveKey: key},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			s, err = kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		} else if err == nil {
			log.Info("created the payload codec Secret with a new key", "secret", ref, "keyID", KeyID(key))
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("payload codec Secret %s not found (certflow-worker creates it when it starts)", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("payload codec Secret %s: %w", ref, err)
	}
	c, err := New(s.Data)
	if err != nil {
		return nil, fmt.Errorf("payload codec Secret %s: %w", ref, err)
	}
	return c, nil
}
