package acme

// Certificates as real CAs issue them: Pebble's profiles are shaped like Let's
// Encrypt's (classic promotes the first name to the common name, tlsserver and
// shortlived leave it out, shortlived is valid for 160 hours; internal/localstack), and
// names come back lower-cased. A certificate from each must be Ready and stay issued
// once: neither a watcher starting (as after a restart) nor an edit of its Secret's
// labels may issue it again. What Pebble cannot do (lower-case the names of a
// certificate, keep a requested common name that is not the first name) is covered by
// a Secret holding such a certificate before its Certificate exists.

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/k8swatch"
	"github.com/certflow/certflow/pki/pkitest"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/workflows"
)

func TestLetsEncryptProfilesIssuedOnce(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const day = 24 * time.Hour
	for _, tc := range []struct {
		profile    string
		commonName string   // spec.commonName
		dnsNames   []string // spec.dnsNames
		wantCN     string   // the certificate's common name
		validity   time.Duration
	}{
		// Let's Encrypt's classic profile promotes the first name when the request has
		// no common name; Pebble's promotes it also over a requested one.
		{localstack.ProfileClassic, "", []string{"classic.example.org", "www.classic.example.org"}, "classic.example.org", 90 * day},
		{localstack.ProfileClassic, "www.promoted.example.org", []string{"promoted.example.org", "www.promoted.example.org"}, "promoted.example.org", 90 * day},
		{localstack.ProfileTLSServer, "tlsserver.example.org", []string{"tlsserver.example.org", "www.tlsserver.example.org"}, "", 90 * day},
		{localstack.ProfileShortLived, "shortlived.example.org", []string{"shortlived.example.org"}, "", 160 * time.Hour},
	} {
		name := strings.Split(tc.dnsNames[0], ".")[0]
		t.Run(name, func(t *testing.T) {
			ns := "profile-" + name
			createNamespace(t, ns)
			cloudflareIssuerWithProfile(t, ns, tc.profile)
			mustKubectl(t, certificateManifest(name, tc.commonName, tc.dnsNames), "apply", "-n", ns, "-f", "-")
			cert := waitCertificateReady(t, ns, name, 3*time.Minute)
			verifyChain(t, ns, cert.Spec.SecretName, tc.dnsNames...)
			leaf := secretLeaf(t, ns, cert.Spec.SecretName)
			if leaf.Subject.CommonName != tc.wantCN {
				t.Errorf("profile %s: common name %q, want %q", tc.profile, leaf.Subject.CommonName, tc.wantCN)
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; got != tc.validity {
				t.Errorf("profile %s: valid for %s, want %s", tc.profile, got, tc.validity)
			}
			if orders := assertOneValidOrderOf(t, ns); orders[0].Spec.Profile != tc.profile {
				t.Errorf("Order profile %q, want %q", orders[0].Spec.Profile, tc.profile)
			}
			assertIssuedOnceAfterReevaluation(t, ns, name)
		})
	}
}

// A mixed-case name is issued through ACME (Pebble, as Let's Encrypt, lower-cases the
// identifiers of the order) and stays issued once. The CSR and the Order keep the
// spec's spelling, the authorizations and Challenges the server's.
func TestMixedCaseDNSNameIssued(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, dnsNames := "mixed-case", []string{"Upper.Example.COM", "www.Upper.example.com"}
	createNamespace(t, ns)
	cloudflareIssuerWithProfile(t, ns, "")
	mustKubectl(t, certificateManifest("upper", "", dnsNames), "apply", "-n", ns, "-f", "-")
	cert := waitCertificateReady(t, ns, "upper", 3*time.Minute)
	verifyChain(t, ns, cert.Spec.SecretName, dnsNames...)
	order := assertOneValidOrderOf(t, ns)[0]
	if !slices.Equal(order.Spec.DNSNames, dnsNames) {
		t.Errorf("Order dnsNames %v, want the spec's %v", order.Spec.DNSNames, dnsNames)
	}
	var identifiers []string
	for _, az := range order.Status.Authorizations {
		identifiers = append(identifiers, az.Identifier)
	}
	slices.Sort(identifiers)
	if !slices.Equal(identifiers, []string{"upper.example.com", "www.upper.example.com"}) {
		t.Errorf("authorizations for %v, want the lower-cased names", identifiers)
	}
	assertNothingLeft(t, ns)
	assertIssuedOnceAfterReevaluation(t, ns, "upper")
}

// A Secret that holds what Let's Encrypt issued for the spec (the requested common
// name kept, every name lower-cased) before its Certificate exists (a migration, a
// restored backup) is taken as it is: the request of that certificate is unknown, so
// its names are compared with the spec's, case-insensitively, as upstream does. Pebble
// issues neither, so the test writes the certificate itself.
func TestLetsEncryptCertificateInSecretTaken(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, name := "le-secret", "shop"
	createNamespace(t, ns)
	cloudflareIssuerWithProfile(t, ns, "")

	caKey, key := pkitest.Key(t), pkitest.Key(t)
	ca := pkitest.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "Fake LE Intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}, nil, caKey.Public(), caKey)
	leaf := pkitest.Issue(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "www.shop.example.org"},
		DNSNames:  []string{"shop.example.org", "www.shop.example.org"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, key.Public(), caKey)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{
		// Labelled as upstream labels the Secrets it writes (and certflow those it watches).
		ObjectMeta: metav1.ObjectMeta{Name: name + "-tls", Labels: map[string]string{conventions.ManagedSecretLabel: "true"}, Annotations: map[string]string{
			cmapi.IssuerNameAnnotationKey: "cloudflare", cmapi.IssuerKindAnnotationKey: "Issuer", cmapi.IssuerGroupAnnotationKey: "cert-manager.io",
		}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pkitest.PEM(leaf, ca),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		},
	}
	if _, err := env.Kube.CoreV1().Secrets(ns).Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, []byte(fmt.Sprintf(`apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %s}
spec:
  secretName: %s-tls
  commonName: www.Shop.example.ORG
  dnsNames: [Shop.Example.org, www.Shop.example.ORG]
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {name: cloudflare, kind: Issuer}
`, name, name)), "apply", "-n", ns, "-f", "-")
	waitCertificateReady(t, ns, name, time.Minute)
	assertNeverIssued(t, ns, name, leaf)
	reevaluate(t, ns, name)
	assertNeverIssued(t, ns, name, leaf)
}

// assertIssuedOnceAfterReevaluation makes the Certificate's workflow evaluate its
// Secret again, as a watcher that starts and a label edit do, and checks that nothing
// was issued: revision 1, one CertificateRequest, one Order, Ready.
func assertIssuedOnceAfterReevaluation(t *testing.T, ns, name string) {
	t.Helper()
	reevaluate(t, ns, name)
	cert := waitCertificateReady(t, ns, name, 10*time.Second)
	if rev := cert.Status.Revision; rev == nil || *rev != 1 {
		t.Errorf("Certificate %s/%s revision %s, want 1: issued again; %+v", ns, name, revisionString(rev), cert.Status.Conditions)
	}
	if n := len(requestsOf(t, ns)); n != 1 {
		t.Errorf("%d CertificateRequests in %s, want 1", n, ns)
	}
	if n := len(acmetest.Orders(t, env, ns)); n != 1 {
		t.Errorf("%d Orders in %s, want 1", n, ns)
	}
}

// assertNeverIssued: no CertificateRequest, no revision, the Secret still holds leaf.
func assertNeverIssued(t *testing.T, ns, name string, leaf *x509.Certificate) {
	t.Helper()
	cert, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cert.Status.Revision != nil || !testkit.CertificateReady(cert) {
		t.Errorf("Certificate %s/%s: revision %s, conditions %+v; want Ready without an issuance", ns, name, revisionString(cert.Status.Revision), cert.Status.Conditions)
	}
	if n := len(requestsOf(t, ns)); n != 0 {
		t.Errorf("%d CertificateRequests in %s, want none", n, ns)
	}
	if got := secretLeaf(t, ns, cert.Spec.SecretName); !got.Equal(leaf) {
		t.Errorf("Secret %s/%s holds a new certificate (CN %q, %v)", ns, cert.Spec.SecretName, got.Subject.CommonName, got.DNSNames)
	}
}

// reevaluate has the Certificate's workflow look at its Secret again, twice: a watcher
// starts (as after a restart of the watcher: a second one, without leader election,
// lists every object and signals its workflow) and the Secret's labels are edited.
// It returns once the workflow has handled the Secret edit, and a few seconds more, so
// that an issuance it started has shown.
func reevaluate(t *testing.T, ns, name string) {
	t.Helper()
	id := workflows.CertificateWorkflowID(ns, name)
	since := time.Now()
	startWatcher(t, id, since)

	since = time.Now()
	mustKubectl(t, nil, "label", "secret", "-n", ns, name+"-tls", "edited-by=test-"+fmt.Sprint(since.UnixNano()), "--overwrite")
	testkit.Eventually(t, 30*time.Second, "workflow "+id+" handled the Secret edit", func() (bool, string) {
		if crs := requestsOf(t, ns); len(crs) > 1 {
			return true, "" // issued again: the caller says so
		}
		return handledSignal(t, id, workflows.SignalSecretChanged, since)
	})
	time.Sleep(5 * time.Second)
}

// startWatcher runs a second watcher, as a restarted one starts: it lists every object
// and signals the workflows it has to (today a spec signal to every Certificate's). It
// stops once workflow id has handled that signal, or after 15 s: a watcher that sends
// a Ready Certificate nothing on start makes no evaluation either.
func startWatcher(t *testing.T, id string, since time.Time) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- k8swatch.Serve(ctx, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), k8swatch.Flags{
			RESTConfig: env.Impersonate("certflow-k8swatch"), Temporal: env.Temporal,
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("second watcher: %v", err)
		}
	}()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ok, state := handledSignal(t, id, workflows.SignalSpec, since)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Logf("a starting watcher sent %s no spec signal within 15 s: %s", id, state)
			return
		}
	}
}

// handledSignal reports whether workflow id received signal name after since and
// completed a workflow task after it, in its current run or the runs it continued
// from (a signal that comes as a run ends is handled by it before it continues).
func handledSignal(t *testing.T, id, name string, since time.Time) (bool, string) {
	t.Helper()
	var seen []string
	runID := ""
	for range 5 {
		it := env.Temporal.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		signalled, previous := false, ""
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return false, err.Error()
			}
			if a := e.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				previous = a.GetContinuedExecutionRunId()
			}
			if s := e.GetWorkflowExecutionSignaledEventAttributes(); s != nil {
				seen = append(seen, s.GetSignalName()+"@"+e.GetEventTime().AsTime().Format(time.RFC3339Nano))
				if s.GetSignalName() == name && !e.GetEventTime().AsTime().Before(since) {
					signalled = true
				}
			}
			if signalled && e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				return true, ""
			}
		}
		if runID = previous; runID == "" {
			break
		}
	}
	return false, fmt.Sprintf("no %q signal handled since %s (signals: %v)", name, since.Format(time.RFC3339Nano), seen)
}

func cloudflareIssuerWithProfile(t *testing.T, ns, profile string) {
	t.Helper()
	issuer := acmetest.Issuer(env, "Issuer", "cloudflare", acmetest.CloudflareSolver("cloudflare-token"))
	if profile != "" {
		issuer = []byte(strings.Replace(string(issuer), "  acme:\n", "  acme:\n    profile: "+profile+"\n", 1))
	}
	mustKubectl(t, acmetest.CloudflareTokenSecret("cloudflare-token"), "apply", "-n", ns, "-f", "-")
	mustKubectl(t, issuer, "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "cloudflare")
}

func certificateManifest(name, commonName string, dnsNames []string) []byte {
	cn := ""
	if commonName != "" {
		cn = "\n  commonName: " + commonName
	}
	return fmt.Appendf(nil, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %s}
spec:
  secretName: %s-tls%s
  dnsNames: ["%s"]
  issuerRef: {name: cloudflare, kind: Issuer}
`, name, name, cn, strings.Join(dnsNames, `", "`))
}

func assertOneValidOrderOf(t *testing.T, ns string) []acmev1.Order {
	t.Helper()
	return acmetest.AssertOrdersValid(t, env, ns, 1)
}

func requestsOf(t *testing.T, ns string) []cmapi.CertificateRequest {
	t.Helper()
	l, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// secretLeaf is the first certificate of a Secret's tls.crt.
func secretLeaf(t *testing.T, ns, secretName string) *x509.Certificate {
	t.Helper()
	s, err := env.Kube.CoreV1().Secrets(ns).Get(context.Background(), secretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := testkit.ParseLeaf(s.Data[corev1.TLSCertKey])
	if err != nil {
		t.Fatalf("Secret %s/%s: %v", ns, secretName, err)
	}
	return c
}

func revisionString(rev *int) string {
	if rev == nil {
		return "none"
	}
	return fmt.Sprint(*rev)
}
