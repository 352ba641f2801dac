package starter

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/pki/pkitest"
	"github.com/certflow/certflow/workflows"
)

func TestCertificateStatusString(t *testing.T) {
	p := newTestPKI(t)
	now := t0.Add(time.Hour)
	mt := func(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }
	rev := 1
	ready := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps", CreationTimestamp: metav1.Time{Time: t0}, UID: "u1"},
		Spec:       cmapi.CertificateSpec{SecretName: "web-tls", DNSNames: []string{"web.example.com", "www.example.com"}, IssuerRef: cmmeta.ObjectReference{Name: "ca"}},
		Status: cmapi.CertificateStatus{
			Conditions: []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue, Reason: "Ready", Message: "Certificate is up to date and has not expired"}},
			NotBefore:  mt(t0), NotAfter: mt(t0.Add(24 * time.Hour)), RenewalTime: mt(t0.Add(16 * time.Hour)), Revision: &rev,
		},
	}
	caIssuer := &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Name: "ca", Namespace: "apps"},
		Status: cmapi.IssuerStatus{Conditions: []cmapi.IssuerCondition{{Type: cmapi.IssuerConditionReady, Status: cmmeta.ConditionTrue, Reason: "KeyPairVerified", Message: "Signing CA verified"}}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: pkitest.PEM(p.leaf, p.inter)}}
	req := &cmapi.CertificateRequest{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "apps"},
		Status: cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{{Type: cmapi.CertificateRequestConditionReady, Status: cmmeta.ConditionTrue, Reason: "Issued", Message: "Certificate fetched from issuer successfully"}}}}
	event := corev1.Event{Type: "Normal", Reason: "Issuing", Message: "The certificate has been successfully issued ",
		Source: corev1.EventSource{Component: "certflow"}, FirstTimestamp: metav1.Time{Time: t0.Add(10 * time.Minute)}, LastTimestamp: metav1.Time{Time: t0.Add(10 * time.Minute)}, Count: 1}
	until := t0.Add(16 * time.Hour)

	wildcard := false
	for _, tc := range []struct {
		name string
		st   certificateStatus
		want []string
		not  []string
	}{{
		name: "ready CA certificate with its workflow",
		st: certificateStatus{Now: now, Certificate: ready, Events: []corev1.Event{event},
			Issuer:  issuerSection{Name: "ca", Kind: "Issuer", Object: caIssuer},
			Secret:  secretSection{Name: "web-tls", Object: secret},
			Request: requestSection{Object: req},
			Workflow: workflowSection{ID: "certificate/apps/web", RunID: "run-1", ExecutionStatus: "Running", URL: "http://127.0.0.1:8233/namespaces/default/workflows/certificate%2Fapps%2Fweb",
				Status: &workflows.Status{Phase: "Ready", WaitingFor: "renewal at 2026-03-02T04:00:00Z", Until: &until, RenewalRule: "2/3 of the certificate's lifetime"}},
		},
		want: []string{
			"Name: web\nNamespace: apps\nCreated at: 2026-03-01T12:00:00Z\n",
			"Conditions:\n  Ready: True, Reason: Ready, Message: Certificate is up to date and has not expired\n",
			"DNS Names:\n- web.example.com\n- www.example.com\n",
			"Events:\n  Type    Reason   Age   From      Message\n  ----    ------   ----  ----      -------\n",
			"Normal  Issuing  50m   certflow  The certificate has been successfully issued\n",
			"Issuer:\n  Name: ca\n  Kind: Issuer\n  Conditions:\n    Ready: True, Reason: KeyPairVerified, Message: Signing CA verified\n  Events:  <none>\n",
			"Secret:\n  Name: web-tls\n  Type: kubernetes.io/tls\n  Issuer Country: FR\n  Issuer Organisation: \n  Issuer Common Name: test intermediate\n",
			"  Key Usage: Digital Signature\n  Extended Key Usages: Server Authentication\n  Public Key Algorithm: ECDSA\n  Signature Algorithm: ECDSA-SHA256\n",
			"  Serial Number: 1092\n",
			"  Not Before: 2026-03-01T12:00:00Z\n  Not After: 2026-03-02T12:00:00Z\n  OCSP: http://ocsp.example.com\n  CRL: http://crl.example.com/ca.crl\n",
			"Not Before: 2026-03-01T12:00:00Z\nNot After: 2026-03-02T12:00:00Z\nRenewal Time: 2026-03-02T04:00:00Z\nRevision: 1\n",
			"CertificateRequest:\n  Name: web-1\n  Namespace: apps\n  Conditions:\n    Ready: True, Reason: Issued, Message: Certificate fetched from issuer successfully\n",
			"Workflow:\n  ID: certificate/apps/web\n  Run ID: run-1\n  Execution Status: Running\n  Phase: Ready\n  Waiting for: renewal at 2026-03-02T04:00:00Z\n  Until: 2026-03-02T04:00:00Z (in 15h0m)\n  Renewal Time Set By: 2/3 of the certificate's lifetime\n",
			"  Web UI: http://127.0.0.1:8233/namespaces/default/workflows/certificate%2Fapps%2Fweb\n",
		},
		not: []string{"Order:", "Challenges:", "Error"},
	}, {
		name: "Temporal unreachable, Secret missing, no request, issuer missing",
		st: certificateStatus{Now: now, Certificate: &cmapi.Certificate{ObjectMeta: ready.ObjectMeta, Spec: ready.Spec},
			Issuer:   issuerSection{Name: "ca", Kind: "Issuer", Err: errors.New(`issuers.cert-manager.io "ca" not found`)},
			Secret:   secretSection{Name: "web-tls", Err: errors.New(`secrets "web-tls" not found`)},
			Workflow: workflowSection{ID: "certificate/apps/web", Err: "Temporal at 127.0.0.1:1 is unreachable: connection refused"},
		},
		want: []string{
			"Conditions:\n  No Conditions set\n", "Events:  <none>\n",
			"Issuer:\n  Name: ca\n  Kind: Issuer\n  Error: error when getting Issuer: issuers.cert-manager.io \"ca\" not found\n",
			"Secret:\n  Name: web-tls\n  Error: error when finding Secret \"web-tls\": secrets \"web-tls\" not found\n",
			"Not Before: <none>\nNot After: <none>\nRenewal Time: <none>\n",
			"CertificateRequest:\n  No CertificateRequest found for this Certificate\n",
			"Workflow:\n  ID: certificate/apps/web\n  Error: Temporal at 127.0.0.1:1 is unreachable: connection refused\n",
		},
		not: []string{"Phase:", "Web UI:", "Run ID:"},
	}, {
		name: "ACME certificate mid-challenge, backing off workflow",
		st: certificateStatus{Now: now, Certificate: ready,
			Issuer:  issuerSection{Name: "le", Kind: "ClusterIssuer", Object: &cmapi.ClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "le"}}},
			Secret:  secretSection{Name: "web-tls", Object: &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"other": nil}}},
			Request: requestSection{Object: req},
			ACME:    true,
			Order: &acmev1.Order{ObjectMeta: metav1.ObjectMeta{Name: "web-1-123"}, Status: acmev1.OrderStatus{State: acmev1.Pending,
				Authorizations: []acmev1.ACMEAuthorization{{URL: "https://acme/authz/1", Identifier: "web.example.com", InitialState: acmev1.Pending, Wildcard: &wildcard}}}},
			Challenges: []acmev1.Challenge{{ObjectMeta: metav1.ObjectMeta{Name: "web-1-123-456"},
				Spec:   acmev1.ChallengeSpec{Type: acmev1.ACMEChallengeTypeHTTP01, Token: "tok", Key: "tok.thumb"},
				Status: acmev1.ChallengeStatus{State: acmev1.Pending, Reason: "Waiting for HTTP-01 challenge propagation: connection refused", Presented: true}}},
			Workflow: workflowSection{ID: "certificate/apps/web", ExecutionStatus: "Running",
				Retrying: []string{"acme.Accept (attempt 3): rate limited"},
				Status:   &workflows.Status{Phase: "Backoff", WaitingFor: "backoff", Until: &until, FailedAttempts: 2, LastError: "order invalid"},
				Children: []workflowSection{
					{ID: "order/apps/web-1-123", RunID: "run-o", ExecutionStatus: "Running", Status: &workflows.Status{Phase: "pending", WaitingFor: "1 challenge(s)"}},
					{ID: "challenge/apps/web-1-123-456", ExecutionStatus: "Running", Status: &workflows.Status{Phase: "pending", WaitingFor: "self check", Until: &until, LastError: "connection refused"}},
				}},
		},
		want: []string{
			"Issuer:\n  Name: le\n  Kind: ClusterIssuer\n  Conditions:\n    No Conditions set\n",
			"Secret:\n  Name: web-tls\n  Type: Opaque\n  Error: 'tls.crt' is not set\n",
			"Order:\n  Name: web-1-123\n  State: pending, Reason: \n  Authorizations:\n    URL: https://acme/authz/1, Identifier: web.example.com, Initial State: pending, Wildcard: false\n",
			"Challenges:\n- Name: web-1-123-456, Type: HTTP-01, Token: tok, Key: tok.thumb, State: pending, Reason: Waiting for HTTP-01 challenge propagation: connection refused, Processing: false, Presented: true\n",
			"  Phase: Backoff\n  Waiting for: backoff\n  Until: 2026-03-02T04:00:00Z (in 15h0m)\n  Failed Attempts: 2\n  Last Error: order invalid\n  Retrying: acme.Accept (attempt 3): rate limited\n",
			"  Order Workflow: order/apps/web-1-123\n    Run ID: run-o\n    Execution Status: Running\n    Phase: pending\n    Waiting for: 1 challenge(s)\n",
			"  Challenge Workflow: challenge/apps/web-1-123-456\n    Execution Status: Running\n    Phase: pending\n    Waiting for: self check\n    Until: 2026-03-02T04:00:00Z (in 15h0m)\n    Last Error: connection refused\n",
		},
	}, {
		name: "ACME issuer, no Order yet; an issuer of another group",
		st: certificateStatus{Now: now, Certificate: ready,
			Issuer:  issuerSection{Name: "pca", Kind: "AWSPCAIssuer", Group: "awspca.cert-manager.io"},
			Secret:  secretSection{Name: "web-tls", Object: &corev1.Secret{Data: map[string][]byte{corev1.TLSCertKey: []byte("junk")}}},
			Request: requestSection{Err: errors.New("found multiple certificate requests with revision 2 and owner web")},
			ACME:    true,
		},
		want: []string{
			"  Group: awspca.cert-manager.io (an issuer of another group",
			"  Error: error when parsing 'tls.crt': no PEM CERTIFICATE block\n",
			"CertificateRequest:\n  Error: error when finding CertificateRequest: found multiple certificate requests with revision 2 and owner web\n",
			"Order:\n  No Order found for this Certificate\n",
		},
		not: []string{"Challenges:"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.st.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPickRequest(t *testing.T) {
	cert := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "cert-uid"}}
	req := func(name, uid, rev string) cmapi.CertificateRequest {
		return cmapi.CertificateRequest{ObjectMeta: metav1.ObjectMeta{Name: name,
			OwnerReferences: []metav1.OwnerReference{{UID: "cert-uid"}},
			Annotations:     map[string]string{cmapi.CertificateRequestRevisionAnnotationKey: rev}}}
	}
	foreign := req("web-2", "", "2")
	foreign.OwnerReferences[0].UID = "other"
	for _, tc := range []struct {
		name    string
		rev     int // 0: no revision yet
		reqs    []cmapi.CertificateRequest
		want    string
		wantErr bool
	}{
		{name: "first issuance in flight", reqs: []cmapi.CertificateRequest{req("web-1", "", "1")}, want: "web-1"},
		{name: "nothing yet"},
		{name: "next revision in flight", rev: 1, reqs: []cmapi.CertificateRequest{req("web-1", "", "1"), req("web-2", "", "2")}, want: "web-2"},
		{name: "current revision only", rev: 2, reqs: []cmapi.CertificateRequest{req("web-2", "", "2")}, want: "web-2"},
		{name: "another owner's request is not it", rev: 1, reqs: []cmapi.CertificateRequest{req("web-1", "", "1"), foreign}, want: "web-1"},
		{name: "two of one revision", reqs: []cmapi.CertificateRequest{req("a", "", "1"), req("b", "", "1")}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cert.DeepCopy()
			if tc.rev > 0 {
				c.Status.Revision = &tc.rev
			}
			got, err := pickRequest(c, tc.reqs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want {
				t.Errorf("picked %q, want %q", name, tc.want)
			}
		})
	}
}

func TestRelative(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{90 * time.Minute, "in 1h30m"}, {-5 * time.Second, "5s ago"}, {0, "in 0s"}, {-(4*time.Minute + 10*time.Second), "4m10s ago"},
		{47*time.Hour + 59*time.Minute, "in 47h59m"}, {1439*time.Hour + 59*time.Minute, "in 59d23h"},
	} {
		if got := relative(t0.Add(tc.d), t0); got != tc.want {
			t.Errorf("relative(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
