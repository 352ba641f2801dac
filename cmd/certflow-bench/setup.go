package main

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
)

// Names of what setup creates.
const (
	clusterResourceNS = "cert-manager" // where the CA ClusterIssuer's Secret lives
	benchNS           = "bench"        // where the measured Certificates go
	selfSignedIssuer  = "bench-selfsigned"
	caCertificate     = "bench-ca"
	caSecret          = "bench-ca-tls"
	caClusterIssuer   = "bench-ca"
)

// setupCA creates a SelfSigned Issuer and an ECDSA CA Certificate issued by it, waits
// until that is Ready, then creates a CA ClusterIssuer reading the Certificate's Secret
// and waits until the ClusterIssuer is Ready.
func setupCA(ctx context.Context, cf versioned.Interface) error {
	cm := cf.CertmanagerV1()
	_, err := cm.Issuers(clusterResourceNS).Create(ctx, &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Name: selfSignedIssuer},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create Issuer %s: %w", selfSignedIssuer, err)
	}
	_, err = cm.Certificates(clusterResourceNS).Create(ctx, &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: caCertificate},
		Spec: cmapi.CertificateSpec{
			CommonName: "certflow bench CA",
			IsCA:       true,
			SecretName: caSecret,
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
			IssuerRef:  cmmeta.IssuerReference{Name: selfSignedIssuer, Kind: "Issuer", Group: "cert-manager.io"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create Certificate %s: %w", caCertificate, err)
	}
	// The ClusterIssuer comes after its Secret exists: a CA issuer created before the
	// Secret stays Ready=False until the watcher's next resync (10 min), because Secret
	// changes are not relayed to the issuers that read them.
	err = poll(ctx, 50*time.Millisecond, func() (bool, string, error) {
		c, err := cm.Certificates(clusterResourceNS).Get(ctx, caCertificate, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return isReady(c), "Certificate " + caCertificate + " not Ready", nil
	})
	if err != nil {
		return fmt.Errorf("CA Certificate %s/%s: %w", clusterResourceNS, caCertificate, err)
	}
	_, err = cm.ClusterIssuers().Create(ctx, &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: caClusterIssuer},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: caSecret}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create ClusterIssuer %s: %w", caClusterIssuer, err)
	}
	return poll(ctx, 100*time.Millisecond, func() (bool, string, error) {
		ci, err := cm.ClusterIssuers().Get(ctx, caClusterIssuer, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		if ci.Status.IsReady() {
			return true, "", nil
		}
		state := "ClusterIssuer " + caClusterIssuer + " has no Ready condition"
		if c := ci.Status.GetCondition(cmapi.IssuerConditionReady); c != nil {
			state = fmt.Sprintf("ClusterIssuer %s Ready=%s %s: %s", caClusterIssuer, c.Status, c.Reason, c.Message)
		}
		return false, state, nil
	})
}

// leafCertificate is one measured Certificate: ECDSA P-256 from the CA ClusterIssuer.
func leafCertificate(name string) *cmapi.Certificate {
	return &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNS},
		Spec: cmapi.CertificateSpec{
			CommonName: name + ".bench.example.com",
			DNSNames:   []string{name + ".bench.example.com"},
			SecretName: name + "-tls",
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
			IssuerRef:  cmmeta.IssuerReference{Name: caClusterIssuer, Kind: "ClusterIssuer", Group: "cert-manager.io"},
		},
	}
}

// poll calls cond every interval until it returns true or an error, or ctx ends (the
// error then carries cond's last state).
func poll(ctx context.Context, interval time.Duration, cond func() (bool, string, error)) error {
	last := ""
	for {
		ok, state, err := cond()
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ok {
			return nil
		}
		if state != "" {
			last = state
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last state: %s)", context.Cause(ctx), last)
		case <-time.After(interval):
		}
	}
}
