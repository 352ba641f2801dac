package kube

import (
	"bytes"
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
)

// ObjectRef names one namespaced object, with its UID once known.
type ObjectRef struct {
	Namespace, Name, UID string
}

// CreateOrderInput is the Order object of one CertificateRequest.
type CreateOrderInput struct {
	Request RequestRef // the owner
	Name    string
	Spec    acmev1.OrderSpec
}

// CreateOrder makes sure the Order object of this request exists (create-first: a
// retried step finds the one it made, and a worker killed after the create resumes
// that Order). An Order of the name left by a previous attempt (its request was
// replaced, so the owner's UID is another; or it is this request's but failed or
// holds another CSR) is deleted, with its UID as precondition, and created afresh,
// whether or not a garbage collector would have removed it later. An Order of the
// name that belongs to anything else is an error.
func (a *Activities) CreateOrder(ctx context.Context, in CreateOrderInput) (ObjectRef, error) {
	if err := a.confirmRequest(ctx, in.Request); err != nil {
		return ObjectRef{}, err
	}
	orders := a.CertFlow.AcmeV1().Orders(in.Request.Namespace)
	t := true
	o := &acmev1.Order{
		ObjectMeta: metav1.ObjectMeta{
			Name: in.Name, Namespace: in.Request.Namespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateRequestKind,
				Name: in.Request.Name, UID: types.UID(in.Request.UID), Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: in.Spec,
	}
	cur, _, err := createOrReplace(ctx, orders, "Order", o, func(cur *acmev1.Order) existing { return existingOrder(cur, in) }, func() error {
		return nonRetryable(ErrTypeOrderConflict, "Order %s/%s exists and belongs to another CertificateRequest", in.Request.Namespace, in.Name)
	})
	if err != nil {
		return ObjectRef{}, err
	}
	return ObjectRef{Namespace: cur.Namespace, Name: cur.Name, UID: string(cur.UID)}, nil
}

// existingOrder tells an Order of this attempt from one of a previous attempt: the
// request of the name was replaced since (another owner UID), or the Order is this
// request's but ended failed or holds another CSR (an attempt that was cancelled or
// given up, whose request was reused). Only the current attempt's Order is resumed.
func existingOrder(cur *acmev1.Order, in CreateOrderInput) existing {
	if ownedBy(cur.OwnerReferences, in.Request.UID) {
		if orderFailed(cur.Status.State) || !bytes.Equal(cur.Spec.Request, in.Spec.Request) {
			return existingStale
		}
		return existingOwn
	}
	if controlledByName(cur.OwnerReferences, cmapi.CertificateRequestKind, in.Request.Name) {
		return existingStale
	}
	return existingForeign
}

func orderFailed(s acmev1.State) bool {
	return s == acmev1.Invalid || s == acmev1.Errored || s == acmev1.Expired
}

// controlledByName reports whether an object's controller is a kind of the name: an
// owner that, under a UID that is not the current one, no longer exists.
func controlledByName(refs []metav1.OwnerReference, kind, name string) bool {
	ref := metav1.GetControllerOfNoCopy(&metav1.ObjectMeta{OwnerReferences: refs})
	return ref != nil && ref.Kind == kind && ref.Name == name
}

// OrderStatusInput is the state the workflow records on an Order.
type OrderStatusInput struct {
	Order  ObjectRef
	State  acmev1.State
	Reason string
	// Authorizations replace the recorded ones when set.
	Authorizations []acmev1.ACMEAuthorization `json:",omitempty"`
	Certificate    []byte                     `json:",omitempty"`
}

// SetOrderStatus records an Order's state (a final failure gets failureTime).
func (a *Activities) SetOrderStatus(ctx context.Context, in OrderStatusInput) error {
	orders := a.CertFlow.AcmeV1().Orders(in.Order.Namespace)
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	get := fromWatchCache
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cachedGet(ctx, get, orders.Get, in.Order.Name)
		get = metav1.GetOptions{}
		if err != nil {
			return err
		}
		if in.Order.UID != "" && string(cur.UID) != in.Order.UID {
			return apierrors.NewNotFound(acmev1.Resource("orders"), in.Order.Name)
		}
		cur = cur.DeepCopy()
		cur.Status.State, cur.Status.Reason = in.State, in.Reason
		if in.Authorizations != nil {
			cur.Status.Authorizations = in.Authorizations
		}
		if in.Certificate != nil {
			cur.Status.Certificate = in.Certificate
		}
		if (in.State == acmev1.Invalid || in.State == acmev1.Errored || in.State == acmev1.Expired) && cur.Status.FailureTime == nil {
			cur.Status.FailureTime = &now
		}
		_, err = orders.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: conventions.FieldManager})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil // deleted with its request: nothing left to record
	}
	if err != nil {
		return fmt.Errorf("update status of Order %s/%s: %w", in.Order.Namespace, in.Order.Name, err)
	}
	return nil
}

// CreateChallengeInput is one Challenge object of an Order.
type CreateChallengeInput struct {
	Order ObjectRef // the owner
	Name  string
	Spec  acmev1.ChallengeSpec
}

// CreateChallenge makes sure the Challenge object exists (create-first). A Challenge
// of the name left by a previous attempt's Order (an Order of the same name, another
// UID) is deleted and created afresh; one of anything else is an error.
func (a *Activities) CreateChallenge(ctx context.Context, in CreateChallengeInput) (ObjectRef, error) {
	if err := a.confirmOrder(ctx, in.Order); err != nil {
		return ObjectRef{}, err
	}
	chs := a.CertFlow.AcmeV1().Challenges(in.Order.Namespace)
	t := true
	ch := &acmev1.Challenge{
		ObjectMeta: metav1.ObjectMeta{
			Name: in.Name, Namespace: in.Order.Namespace,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: acmev1.SchemeGroupVersion.String(), Kind: acmev1.OrderKind,
				Name: in.Order.Name, UID: types.UID(in.Order.UID), Controller: &t, BlockOwnerDeletion: &t,
			}},
		},
		Spec: in.Spec,
	}
	cur, _, err := createOrReplace(ctx, chs, "Challenge", ch, func(cur *acmev1.Challenge) existing {
		switch {
		case ownedBy(cur.OwnerReferences, in.Order.UID):
			return existingOwn
		case controlledByName(cur.OwnerReferences, acmev1.OrderKind, in.Order.Name):
			return existingStale
		}
		return existingForeign
	}, func() error {
		return nonRetryable(ErrTypeChallengeConflict, "Challenge %s/%s exists and belongs to another Order", in.Order.Namespace, in.Name)
	})
	if err != nil {
		return ObjectRef{}, err
	}
	return ObjectRef{Namespace: cur.Namespace, Name: cur.Name, UID: string(cur.UID)}, nil
}

// ChallengeStatusInput is what the workflow records on a Challenge.
type ChallengeStatusInput struct {
	Challenge  ObjectRef
	Processing bool
	Presented  bool
	State      acmev1.State
	Reason     string
}

// SetChallengeStatus records a Challenge's progress, if it changed.
func (a *Activities) SetChallengeStatus(ctx context.Context, in ChallengeStatusInput) error {
	chs := a.CertFlow.AcmeV1().Challenges(in.Challenge.Namespace)
	get := fromWatchCache
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cachedGet(ctx, get, chs.Get, in.Challenge.Name)
		get = metav1.GetOptions{}
		if err != nil {
			return err
		}
		if in.Challenge.UID != "" && string(cur.UID) != in.Challenge.UID {
			return apierrors.NewNotFound(acmev1.Resource("challenges"), in.Challenge.Name)
		}
		want := acmev1.ChallengeStatus{Processing: in.Processing, Presented: in.Presented, State: in.State, Reason: in.Reason}
		if cur.Status == want {
			return nil
		}
		cur = cur.DeepCopy()
		cur.Status = want
		_, err = chs.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: conventions.FieldManager})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of Challenge %s/%s: %w", in.Challenge.Namespace, in.Challenge.Name, err)
	}
	return nil
}

// SetChallengeReason writes only the reason of a Challenge's status (uid "" for any):
// an activity that failed and will be retried reports the failure's words at once.
// A Challenge that is gone is not an error.
func (a *Activities) SetChallengeReason(ctx context.Context, namespace, name, uid, reason string) error {
	chs := a.CertFlow.AcmeV1().Challenges(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := chs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if (uid != "" && string(cur.UID) != uid) || cur.Status.Reason == reason {
			return nil
		}
		cur = cur.DeepCopy()
		cur.Status.Reason = reason
		_, err = chs.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: conventions.FieldManager})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update the reason of Challenge %s/%s: %w", namespace, name, err)
	}
	return nil
}

// DeleteChallenge deletes a finished Challenge object (gone already is fine).
func (a *Activities) DeleteChallenge(ctx context.Context, ref ObjectRef) error {
	opts := metav1.DeleteOptions{}
	if ref.UID != "" {
		uid := types.UID(ref.UID)
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := a.CertFlow.AcmeV1().Challenges(ref.Namespace).Delete(ctx, ref.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete Challenge %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return nil
}
