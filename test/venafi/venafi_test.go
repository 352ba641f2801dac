// Package venafi runs the Venafi issuer on the local stack (kube-apiserver + etcd, the
// Temporal dev server, worker and watcher in this process as their ServiceAccounts).
// Issuers whose URL is fakeURL get vcert's own fake connector, which issues from its
// built-in test CA (the worker's test-only TestOnlyVenafiFakeConnectorURL); any other
// URL gets the real TPP or Cloud connector.
package venafi

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Venafi/vcert/v5/pkg/venafi/fake"
	"go.temporal.io/api/enums/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/venafi"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/workflows"
)

// fakeURL selects vcert's fake connector on this suite's worker.
const fakeURL = "https://venafi-fake.certflow.test/vedsdk"

// password is the TPP password of every issuer here: it must appear in no history,
// status or Event.
const password = "tpp-Pa55word-never-seen"

var env *testkit.System

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{VenafiFakeConnectorURL: fakeURL})
	if err != nil {
		fmt.Fprintln(os.Stderr, "venafi setup:", err)
		os.Exit(1)
	}
	env = sys
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

func kubectl(t *testing.T, stdin string, args ...string) {
	t.Helper()
	if out, err := env.Kubectl([]byte(stdin), args...); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func namespace(t *testing.T, ns string) {
	t.Helper()
	if err := env.CreateNamespace(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
}

func tppCredentials(t *testing.T, ns string) {
	t.Helper()
	kubectl(t, `apiVersion: v1
kind: Secret
metadata: {name: tpp-creds}
stringData: {username: certflow, password: `+password+`}
`, "apply", "-n", ns, "-f", "-")
}

func tppIssuer(t *testing.T, ns, name, url string) {
	t.Helper()
	kubectl(t, `apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: `+name+`
  annotations:
    venafi.cert-manager.io/custom-fields: '[{"name":"team","value":"platform"}]'
spec:
  venafi:
    zone: 'DevOps\certflow'
    tpp:
      url: `+url+`
      credentialsRef: {name: tpp-creds}
`, "apply", "-n", ns, "-f", "-")
}

func readyCondition(reason string) func(cmapi.IssuerCondition) bool {
	return func(c cmapi.IssuerCondition) bool {
		return c.Status == cmmeta.ConditionFalse && c.Reason == reason
	}
}

// A TPP Issuer (on the fake connector) is Ready once it authenticated and read its
// zone, and a Certificate through it is issued from the fake's CA: the certificate in
// tls.crt, the CA in ca.crt. The Certificate's custom fields reach its request; the
// password is in no history, status or Event.
func TestVenafiIssuesCertificate(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "venafi-issue"
	namespace(t, ns)
	tppCredentials(t, ns)
	tppIssuer(t, ns, "tpp", fakeURL)
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "tpp", time.Minute, func(c cmapi.IssuerCondition) bool {
		return c.Status == cmmeta.ConditionTrue && c.Reason == venafi.ReasonVerified
	})
	kubectl(t, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: site
  annotations:
    venafi.cert-manager.io/custom-fields: '[{"name":"app","value":"site"}]'
spec:
  secretName: site-tls
  commonName: site.example.com
  dnsNames: [site.example.com, www.example.com]
  issuerRef: {name: tpp}
`, "apply", "-n", ns, "-f", "-")
	testkit.WaitCertificateReady(t, env.CertFlow, ns, "site", 2*time.Minute)
	sec, leaf := testkit.ReadTLSSecret(t, env.Kube, ns, "site-tls")
	if leaf.Subject.CommonName != "site.example.com" || !sameNames(leaf.DNSNames, "site.example.com", "www.example.com") {
		t.Errorf("issued for %q %v", leaf.Subject.CommonName, leaf.DNSNames)
	}
	if leaf.Issuer.CommonName != "VCert Test Mode CA" {
		t.Errorf("issuer %q, want the fake connector's CA", leaf.Issuer.CommonName)
	}
	if !bytes.Equal(bytes.TrimSpace(sec.Data["ca.crt"]), bytes.TrimSpace([]byte(fake.CaCertPEM))) {
		t.Errorf("ca.crt is not the fake connector's CA:\n%s", sec.Data["ca.crt"])
	}
	if bytes.Contains(sec.Data["tls.crt"], []byte(strings.Split(strings.TrimSpace(fake.CaCertPEM), "\n")[1])) {
		t.Errorf("tls.crt holds the root CA too")
	}
	cr, err := env.CertFlow.CertmanagerV1().CertificateRequests(ns).Get(context.Background(), "site-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cr.Annotations[cmapi.VenafiCustomFieldsAnnotationKey]; got != `[{"name":"app","value":"site"}]` {
		t.Errorf("request's custom fields %q", got)
	}
	secrets := map[string][]byte{"TPP password": []byte(password)}
	for _, id := range []string{workflows.IssuerWorkflowID(ns, "tpp"), workflows.CertificateWorkflowID(ns, "site")} {
		if n := testkit.AssertNoSecretInHistory(t, env.Temporal, id, secrets); n == 0 {
			t.Errorf("no history read for %s", id)
		}
	}
	assertHistoryHas(t, workflows.CertificateWorkflowID(ns, "site"), "RetrieveVenafiCertificate")
	assertNotInStatusOrEvents(t, ns, password)
}

// A Certificate whose custom fields have a type Venafi does not know fails with the
// reason in its status, and its request is Failed.
func TestVenafiBadCustomFields(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "venafi-fields"
	namespace(t, ns)
	tppCredentials(t, ns)
	tppIssuer(t, ns, "tpp", fakeURL)
	testkit.WaitIssuerReady(t, env.CertFlow, ns, "tpp", time.Minute)
	kubectl(t, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: bad
  annotations:
    venafi.cert-manager.io/custom-fields: '[{"type":"Bool","name":"x","value":"true"}]'
spec:
  secretName: bad-tls
  commonName: bad.example.com
  issuerRef: {name: tpp}
`, "apply", "-n", ns, "-f", "-")
	testkit.WaitCertificate(t, env.CertFlow, ns, "bad", time.Minute, "Issuing=False with the custom fields' error", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && strings.Contains(i.Message, `invalid custom fields type: "Bool"`)
	})
}

// A TPP Issuer whose server does not answer (a loopback port nobody listens on) is
// Ready=False with the connector's words, and checked again on a backoff.
func TestVenafiTPPUnreachable(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "venafi-unreachable"
	namespace(t, ns)
	tppCredentials(t, ns)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tppIssuer(t, ns, "down", "https://"+addr+"/vedsdk")
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "down", time.Minute, func(c cmapi.IssuerCondition) bool {
		return c.Status == cmmeta.ConditionFalse && c.Reason == venafi.ReasonErrorSetup &&
			strings.Contains(c.Message, "error pinging Venafi") && strings.Contains(c.Message, "connection refused")
	})
	waitRecheckTimer(t, workflows.IssuerWorkflowID(ns, "down"))
	assertNotInStatusOrEvents(t, ns, password)
}

// A TPP Issuer whose server (a loopback TLS server trusted through caBundle) refuses
// the credentials is Ready=False AuthFailed with the connector's words, and the
// password, which reached the server, is in no status.
func TestVenafiTPPRefusesCredentials(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "venafi-refused"
	namespace(t, ns)
	tppCredentials(t, ns)
	var mu sync.Mutex
	var users []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/vedsdk/":
			_, _ = w.Write([]byte(`{}`))
		case r.Method == http.MethodPost && r.URL.Path == "/vedauth/authorize/oauth":
			var body struct{ Username, Password string }
			_ = json.NewDecoder(r.Body).Decode(&body)
			mu.Lock()
			users = append(users, body.Username+":"+body.Password)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Username/password combination not valid"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	iss := &cmapi.Issuer{
		ObjectMeta: metav1.ObjectMeta{Name: "refused", Namespace: ns},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{Venafi: &cmapi.VenafiIssuer{Zone: "z", TPP: &cmapi.VenafiTPP{
			URL: srv.URL + "/vedsdk", CredentialsRef: cmmeta.LocalObjectReference{Name: "tpp-creds"}, CABundle: caPEM}}}},
	}
	if _, err := env.CertFlow.CertmanagerV1().Issuers(ns).Create(context.Background(), iss, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "refused", time.Minute, func(c cmapi.IssuerCondition) bool {
		return readyCondition(venafi.ReasonAuthFailed)(c) && strings.Contains(c.Message, "unexpected status code on TPP Authorize. Status: 401 Unauthorized")
	})
	mu.Lock()
	if len(users) == 0 || users[0] != "certflow:"+password {
		t.Errorf("the server saw logins %q, want the Secret's", users)
	}
	mu.Unlock()
	assertNotInStatusOrEvents(t, ns, password)
	testkit.AssertNoSecretInHistory(t, env.Temporal, workflows.IssuerWorkflowID(ns, "refused"), map[string][]byte{"TPP password": []byte(password)})
}

// A Cloud Issuer whose API token Secret does not exist is Ready=False SecretMissing,
// re-checked on a backoff (no hot loop); once the Secret is made (without any label
// the watcher would see) the re-check makes it Ready.
func TestVenafiMissingSecret(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "venafi-missing"
	namespace(t, ns)
	kubectl(t, `apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: cloud}
spec:
  venafi:
    zone: 'app\template'
    cloud:
      url: `+fakeURL+`
      apiTokenSecretRef: {name: cloud-token, key: api-key}
`, "apply", "-n", ns, "-f", "-")
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "cloud", time.Minute, func(c cmapi.IssuerCondition) bool {
		return readyCondition(venafi.ReasonSecretMissing)(c) && strings.Contains(c.Message, "Secret "+ns+"/cloud-token") && strings.Contains(c.Message, "not found")
	})
	id := workflows.IssuerWorkflowID(ns, "cloud")
	waitRecheckTimer(t, id)
	kubectl(t, `apiVersion: v1
kind: Secret
metadata: {name: cloud-token}
stringData: {api-key: cloud-key-never-seen}
`, "apply", "-n", ns, "-f", "-")
	testkit.WaitIssuerCondition(t, env.CertFlow, ns, "cloud", 2*time.Minute, func(c cmapi.IssuerCondition) bool {
		return c.Status == cmmeta.ConditionTrue && c.Reason == venafi.ReasonVerified
	})
	// 5 s doubling: a minute holds at most five checks; a hot loop holds hundreds.
	if n := countActivities(t, id, "CheckVenafiIssuer"); n > 8 {
		t.Errorf("%d checks of the issuer: not backing off", n)
	}
	testkit.AssertNoSecretInHistory(t, env.Temporal, id, map[string][]byte{"Cloud API key": []byte("cloud-key-never-seen")})
}

// waitRecheckTimer waits until the IssuerWorkflow sleeps on its re-check timer.
func waitRecheckTimer(t *testing.T, id string) {
	t.Helper()
	testkit.Eventually(t, time.Minute, id+" waits on its re-check timer", func() (bool, string) {
		v, err := env.Temporal.QueryWorkflow(context.Background(), id, "", workflows.QueryStatus)
		if err != nil {
			return false, err.Error()
		}
		var st workflows.Status
		if err := v.Get(&st); err != nil {
			return false, err.Error()
		}
		return st.Phase == "NotReady" && st.Until != nil, fmt.Sprintf("%+v", st)
	})
}

// countActivities counts the activities of type name scheduled in the workflow's
// current run.
func countActivities(t *testing.T, id, name string) int {
	t.Helper()
	n := 0
	it := env.Temporal.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == name {
			n++
		}
	}
	return n
}

func assertHistoryHas(t *testing.T, id, activity string) {
	t.Helper()
	if countActivities(t, id, activity) == 0 {
		t.Errorf("%s ran no %s", id, activity)
	}
}

// assertNotInStatusOrEvents: no Issuer status or Event of ns holds s.
func assertNotInStatusOrEvents(t *testing.T, ns, s string) {
	t.Helper()
	ctx := context.Background()
	issuers, err := env.CertFlow.CertmanagerV1().Issuers(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, iss := range issuers.Items {
		if strings.Contains(fmt.Sprintf("%+v", iss.Status), s) {
			t.Errorf("Issuer %s's status holds the secret", iss.Name)
		}
	}
	events, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if strings.Contains(e.Message, s) {
			t.Errorf("Event %s holds the secret", e.Name)
		}
	}
}

func sameNames(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}
