package k8swatch

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/mocks"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	cmfake "github.com/certflow/certflow/client/clientset/versioned/fake"
	"github.com/certflow/certflow/workflows"
)

// A Certificate deleted and created again while the watcher runs is news even when the
// new object's status is already current: its workflow, started meanwhile for the new
// object by another signal (an issuer's readiness), may have been turned back to the old
// object by that object's late spec signal, and only the new object's spec puts it right.
// (The shortcut that sends nothing for a current status is for a watcher's start only.)
func TestCertificateCreatedAgainIsSignaledDespiteCurrentStatus(t *testing.T) {
	tc := &mocks.Client{}
	w, err := New(Options{Temporal: tc, CertFlow: cmfake.NewSimpleClientset(), Metadata: metadatafake.NewSimpleMetadataClient(runtime.NewScheme())})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := workflows.CertificateWorkflowID("ns", "web")
	cert := func(uid string) *cmapi.Certificate {
		return &cmapi.Certificate{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: types.UID(uid), Generation: 1},
			Spec:       cmapi.CertificateSpec{SecretName: "web-tls", IssuerRef: cmmeta.IssuerReference{Name: "ca"}},
			Status: cmapi.CertificateStatus{Conditions: []cmapi.CertificateCondition{
				{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue, ObservedGeneration: 1}}},
		}
	}
	var specs []string
	tc.On("SignalWithStartWorkflow", mock.Anything, id, workflows.SignalSpec, mock.Anything, mock.Anything, mock.Anything, mock.Anything).
		Run(func(args mock.Arguments) { specs = append(specs, args.Get(3).(workflows.SpecSignal).UID) }).Return(nil, nil)
	tc.On("SignalWorkflow", mock.Anything, id, "", workflows.SignalDelete, mock.Anything).Return(nil)
	// The managed Secret is there: nothing but the spec could tell the workflow.
	if err := w.secretInformer.GetIndexer().Add(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: "web-tls", Labels: map[string]string{conventions.ManagedSecretLabel: "true"}}}); err != nil {
		t.Fatal(err)
	}
	k := key{Kind: kindCertificate, Namespace: "ns", Name: "web"}

	old := cert("old")
	if err := w.certs.GetIndexer().Add(old); err != nil {
		t.Fatal(err)
	}
	if err := w.syncCertificate(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := w.certs.GetIndexer().Delete(old); err != nil {
		t.Fatal(err)
	}
	if err := w.syncCertificate(ctx, key{Kind: kindCertificate, Namespace: "ns", Name: "web", DeletedUID: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := w.certs.GetIndexer().Add(cert("new")); err != nil {
		t.Fatal(err)
	}
	if err := w.syncCertificate(ctx, k); err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[1] != "new" {
		t.Errorf("spec signals for %v, want the old object's then the new one's", specs)
	}

	// At a watcher's start, a Certificate whose status is current gets no signal.
	w.initial[key{Kind: kindCertificate, Namespace: "ns", Name: "other"}] = true
	other := cert("o")
	other.Name = "other"
	other.Spec.SecretName = "web-tls"
	if err := w.certs.GetIndexer().Add(other); err != nil {
		t.Fatal(err)
	}
	if err := w.syncCertificate(ctx, key{Kind: kindCertificate, Namespace: "ns", Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 {
		t.Errorf("a current Certificate of the start list was signaled: %v", specs)
	}
}
