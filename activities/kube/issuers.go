package kube

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
)

// Issuer types, as the workflow dispatches on them.
const (
	IssuerTypeSelfSigned = "SelfSigned"
	IssuerTypeCA         = "CA"
	IssuerTypeACME       = "ACME"
	IssuerTypeVault      = "Vault"
	IssuerTypeVenafi     = "Venafi"
)

// IssuerRef names an Issuer (Namespace set) or ClusterIssuer as a Certificate refers to it.
type IssuerRef struct {
	Namespace string // the Certificate's namespace; ignored for ClusterIssuers
	Name      string
	Kind      string // Issuer (default) or ClusterIssuer
	Group     string // cert-manager.io (default)
}

// IssuerInfo is what a Certificate workflow needs to know about its issuer.
type IssuerInfo struct {
	Found   bool
	Ready   bool
	Type    string
	Message string // why it is not usable, in words for a status condition
	Spec    cmapi.IssuerSpec
	// ResourceNamespace is where the issuer's Secrets live: its own namespace for an
	// Issuer, the cluster resource namespace for a ClusterIssuer.
	ResourceNamespace string
	// ACMEAccountURL is an ACME issuer's registered account (status.acme.uri).
	ACMEAccountURL string `json:",omitempty"`
}

// ResolveIssuer reads the issuer a Certificate refers to and says whether it can sign.
func (a *Activities) ResolveIssuer(ctx context.Context, ref IssuerRef) (IssuerInfo, error) {
	if ExternalIssuerGroup(ref.Group) {
		// Another controller signs for it: certflow cannot know whether it is ready, and
		// the request is made as upstream makes it, for that signer to act on.
		return IssuerInfo{Found: true, Ready: true, Type: IssuerTypeExternal}, nil
	}
	var (
		spec   cmapi.IssuerSpec
		status cmapi.IssuerStatus
		ns     string
		what   string
	)
	switch ref.Kind {
	case "", cmapi.IssuerKind:
		what = fmt.Sprintf("Issuer %s/%s", ref.Namespace, ref.Name)
		iss, err := cachedGet(ctx, fromWatchCache, a.CertFlow.CertmanagerV1().Issuers(ref.Namespace).Get, ref.Name)
		if apierrors.IsNotFound(err) {
			return IssuerInfo{Message: fmt.Sprintf("Referenced %s not found", what)}, nil
		}
		if err != nil {
			return IssuerInfo{}, fmt.Errorf("get %s: %w", what, err)
		}
		spec, status, ns = iss.Spec, iss.Status, iss.Namespace
	case cmapi.ClusterIssuerKind:
		what = fmt.Sprintf("ClusterIssuer %s", ref.Name)
		iss, err := cachedGet(ctx, fromWatchCache, a.CertFlow.CertmanagerV1().ClusterIssuers().Get, ref.Name)
		if apierrors.IsNotFound(err) {
			return IssuerInfo{Message: fmt.Sprintf("Referenced %s not found", what)}, nil
		}
		if err != nil {
			return IssuerInfo{}, fmt.Errorf("get %s: %w", what, err)
		}
		spec, status, ns = iss.Spec, iss.Status, a.ClusterResourceNamespace
	default:
		return IssuerInfo{Message: fmt.Sprintf("issuer kind %q is not supported: use Issuer or ClusterIssuer", ref.Kind)}, nil
	}
	info := IssuerInfo{Found: true, Spec: spec, ResourceNamespace: ns, Type: issuerType(spec)}
	if status.ACME != nil {
		info.ACMEAccountURL = status.ACME.URI
	}
	ready := readyCondition(status.Conditions)
	switch {
	case ready == nil:
		info.Message = fmt.Sprintf("Referenced %s has no Ready status condition", what)
	case ready.Status != cmmeta.ConditionTrue:
		info.Message = fmt.Sprintf("Referenced %s is not ready: %s: %s", what, ready.Reason, ready.Message)
	default:
		info.Ready = true
	}
	return info, nil
}

func issuerType(s cmapi.IssuerSpec) string {
	switch {
	case s.SelfSigned != nil:
		return IssuerTypeSelfSigned
	case s.CA != nil:
		return IssuerTypeCA
	case s.ACME != nil:
		return IssuerTypeACME
	case s.Vault != nil:
		return IssuerTypeVault
	case s.Venafi != nil:
		return IssuerTypeVenafi
	}
	return ""
}

func readyCondition(cs []cmapi.IssuerCondition) *cmapi.IssuerCondition {
	for i := range cs {
		if cs[i].Type == cmapi.IssuerConditionReady {
			return &cs[i]
		}
	}
	return nil
}

// IssuerStatusInput is the Ready condition an IssuerWorkflow wants on its issuer.
type IssuerStatusInput struct {
	Kind               string // Issuer or ClusterIssuer
	Namespace, Name    string
	UID                string
	ObservedGeneration int64
	Ready              Condition
	// ACME, when set, replaces status.acme (the account URI and email).
	ACME *acmev1.ACMEIssuerStatus `json:",omitempty"`
}

// SetIssuerStatus writes the Ready condition of an Issuer or ClusterIssuer if it differs.
func (a *Activities) SetIssuerStatus(ctx context.Context, in IssuerStatusInput) error {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	cm := a.CertFlow.CertmanagerV1()
	get := func() (cmapi.GenericIssuer, error) {
		return cm.Issuers(in.Namespace).Get(ctx, in.Name, metav1.GetOptions{})
	}
	update := func(iss cmapi.GenericIssuer) error {
		_, err := cm.Issuers(in.Namespace).UpdateStatus(ctx, iss.(*cmapi.Issuer), metav1.UpdateOptions{FieldManager: conventions.FieldManager})
		return err
	}
	if in.Kind == cmapi.ClusterIssuerKind {
		get = func() (cmapi.GenericIssuer, error) { return cm.ClusterIssuers().Get(ctx, in.Name, metav1.GetOptions{}) }
		update = func(iss cmapi.GenericIssuer) error {
			_, err := cm.ClusterIssuers().UpdateStatus(ctx, iss.(*cmapi.ClusterIssuer), metav1.UpdateOptions{FieldManager: conventions.FieldManager})
			return err
		}
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := get()
		if err != nil {
			return err
		}
		if in.UID != "" && string(cur.GetUID()) != in.UID {
			return nil // replaced by a new object: its own workflow owns its status
		}
		want := cur.GetStatus().DeepCopy()
		setIssuerCondition(want, in, now)
		if in.ACME != nil {
			want.ACME = in.ACME.DeepCopy()
		}
		if equality.Semantic.DeepEqual(want, cur.GetStatus()) {
			return nil
		}
		next := cur.Copy()
		*next.GetStatus() = *want
		return update(next)
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of %s %s/%s: %w", in.Kind, in.Namespace, in.Name, err)
	}
	return nil
}

func setIssuerCondition(st *cmapi.IssuerStatus, in IssuerStatusInput, now metav1.Time) {
	next := cmapi.IssuerCondition{
		Type: cmapi.IssuerConditionReady, Status: in.Ready.Status, Reason: in.Ready.Reason,
		Message: in.Ready.Message, ObservedGeneration: in.ObservedGeneration, LastTransitionTime: &now,
	}
	for i := range st.Conditions {
		if st.Conditions[i].Type == cmapi.IssuerConditionReady {
			if st.Conditions[i].Status == next.Status {
				next.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = next
			return
		}
	}
	st.Conditions = append(st.Conditions, next)
}
