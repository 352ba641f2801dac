package kube

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// InspectSecretAndIssuer on a real kube-apiserver answers as InspectSecret and
// ResolveIssuer do, with one GET each when both exist.
func TestInspectSecretAndIssuer(t *testing.T) {
	ctx, stackCfg := integration.KubeWithCRDs(t, testNS)
	cfg, counter := integration.RecordRequests(stackCfg)
	a := &Activities{Kube: kubernetes.NewForConfigOrDie(cfg), CertFlow: versioned.NewForConfigOrDie(cfg)}
	in := EvaluationInput{
		Secret: InspectSecretInput{Namespace: testNS, SecretName: testSecret, CertificateName: "web"},
		Issuer: IssuerRef{Namespace: testNS, Name: "ca", Kind: cmapi.ClusterIssuerKind},
	}

	// Neither exists yet.
	got, err := a.InspectSecretAndIssuer(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret.Exists || got.Issuer.Found || got.Issuer.Ready || got.Issuer.Message != "Referenced ClusterIssuer ca not found" {
		t.Errorf("nothing there: %+v", got)
	}
	// An issuer the watch cache does not have is read again from etcd (cachedGet).
	want := []string{"GET /api/v1/namespaces/" + testNS + "/secrets/" + testSecret, "GET /apis/cert-manager.io/v1/clusterissuers/ca"}
	if seen := counter.Take(); !slices.Equal(seen, append(want, want[1])) {
		t.Errorf("requests %q, want %q and the issuer again", seen, want)
	}

	if _, err := a.CertFlow.CertmanagerV1().ClusterIssuers().Create(ctx, &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "ca"},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pair := newKeyPair(t, cmapi.ECDSAKeyAlgorithm)
	if _, err := a.Kube.CoreV1().Secrets(testNS).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: testSecret, Namespace: testNS}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{TLSKeyKey: pair.keyPEM, TLSCertKey: pair.certPEM},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	counter.Take()
	got, err = a.InspectSecretAndIssuer(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := a.InspectSecret(ctx, in.Secret)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := a.ResolveIssuer(ctx, in.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Secret.Exists || !got.Secret.KeyMatchesCertificate || got.Secret.Certificate.NotAfter != secret.Certificate.NotAfter ||
		got.Issuer.Type != issuer.Type || got.Issuer.Type != IssuerTypeSelfSigned || got.Issuer.Ready != issuer.Ready {
		t.Errorf("InspectSecretAndIssuer %+v, want InspectSecret's %+v and ResolveIssuer's %+v", got, secret, issuer)
	}
	if seen := counter.Take(); len(seen) != 4 || !slices.Equal(seen[:2], want) {
		t.Errorf("requests %q, want %q then the same again", seen, want)
	}
}
