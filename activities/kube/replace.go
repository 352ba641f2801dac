package kube

import (
	"context"
	"fmt"

	"github.com/certflow/certflow/api/conventions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// existing says whose an object found under the name an activity creates is.
type existing int

const (
	// existingOwn: made by this very attempt (the step ran before), to be resumed.
	existingOwn existing = iota
	// existingStale: left by a previous attempt for the same owner name, to be
	// replaced.
	existingStale
	// existingForeign: someone else's, to be left alone.
	existingForeign
)

// objectClient is the part of a typed client createOrReplace uses.
type objectClient[T metav1.Object] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

// createOrReplace makes sure obj's name holds an object of this attempt, create-first
// (reading first would cost a round trip in the common case): an object already there
// that whose calls the attempt's own is returned as it is (created false); a stale one
// is deleted with its UID as precondition (a newer one of the name is never deleted)
// and obj created afresh, whether or not a garbage collector would have removed it
// later; a foreign one fails with foreign().
func createOrReplace[T metav1.Object](ctx context.Context, c objectClient[T], kind string, obj T, whose func(T) existing, foreign func() error) (cur T, created bool, err error) {
	ns, name := obj.GetNamespace(), obj.GetName()
	for range 3 {
		made, err := c.Create(ctx, obj, metav1.CreateOptions{FieldManager: conventions.FieldManager})
		if err == nil {
			return made, true, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return cur, false, fmt.Errorf("create %s %s/%s: %w", kind, ns, name, err)
		}
		found, err := c.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // deleted meanwhile: create again
		}
		if err != nil {
			return cur, false, fmt.Errorf("get %s %s/%s: %w", kind, ns, name, err)
		}
		switch whose(found) {
		case existingOwn:
			return found, false, nil
		case existingForeign:
			return cur, false, foreign()
		}
		if found.GetDeletionTimestamp() != nil {
			return cur, false, fmt.Errorf("%s %s/%s of a previous attempt is still being deleted", kind, ns, name)
		}
		uid := found.GetUID()
		err = c.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return cur, false, fmt.Errorf("delete %s %s/%s of a previous attempt: %w", kind, ns, name, err)
		}
	}
	return cur, false, fmt.Errorf("%s %s/%s keeps changing under us (a previous attempt's is still being deleted, or another attempt races this one)", kind, ns, name)
}
