// Package dnswebhook issues certificates through a DNS-01 webhook solver of
// cert-manager's webhook API: bin/certflow-dnswebhook, built on cert-manager's own
// webhook library, registered as an APIService, and called by the worker through
// kube-apiserver's aggregation layer (front-proxy client certificate, the worker's
// identity in X-Remote-User, routed to the EndpointSlice on 127.0.0.1). The solver
// writes TXT records into pebble-challtestsrv, where Pebble validates them.
package dnswebhook

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
)

var env *testkit.System

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	sys, err := testkit.Start(context.Background(), testkit.Options{ACME: true, DNSWebhook: true,
		Namespaces: []string{"webhook", "webhook-failing"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnswebhook setup:", err)
		os.Exit(1)
	}
	env = sys
	code := m.Run()
	sys.Stop(code != 0)
	os.Exit(code)
}

// workerGrant is what a user applies for certflow, as the DNSPod and AliDNS webhook
// charts do for cert-manager's ServiceAccount: create on the solver's resource.
var workerGrant = fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: certflow-dnswebhook:solver}
rules:
- apiGroups: [%[1]s]
  resources: [%[2]s]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: certflow-dnswebhook:solver}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: certflow-dnswebhook:solver}
subjects:
- {kind: ServiceAccount, name: certflow-worker, namespace: certflow}
`, localstack.DNSWebhookGroup, localstack.DNSWebhookSolver)

const workerUser = "system:serviceaccount:certflow:certflow-worker"

func webhookSolver(config string) string {
	return fmt.Sprintf(`    - dns01:
        webhook:
          groupName: %s
          solverName: %s
          config: %s
`, localstack.DNSWebhookGroup, localstack.DNSWebhookSolver, config)
}

// request is what the webhook's solver logged of a ChallengeRequest.
type request struct {
	UID                     string          `json:"uid"`
	Action                  string          `json:"action"`
	Type                    string          `json:"type"`
	DNSName                 string          `json:"dnsName"`
	Key                     string          `json:"key"`
	ResourceNamespace       string          `json:"resourceNamespace"`
	ResolvedFQDN            string          `json:"resolvedFQDN"`
	ResolvedZone            string          `json:"resolvedZone"`
	AllowAmbientCredentials bool            `json:"allowAmbientCredentials"`
	Config                  json.RawMessage `json:"config"`
}

func readJSONLines[T any](t *testing.T, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
		}
		out = append(out, v)
	}
	return out
}

// A wildcard and its apex through the webhook: both TXT values are presented at one
// name through kube-apiserver, Pebble validates them, and both are removed.
func TestWebhookWildcard(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "webhook"
	acmetest.Kubectl(t, env, []byte(workerGrant), "apply", "-f", "-")
	acmetest.Kubectl(t, env, acmetest.Issuer(env, "Issuer", "dnswebhook", webhookSolver(`{"note": "wildcard"}`)), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "dnswebhook")
	acmetest.Kubectl(t, env, acmetest.Certificate("wildcard", "Issuer", "dnswebhook", "example.edu", "*.example.edu"), "apply", "-n", ns, "-f", "-")
	cert := acmetest.WaitCertificateReady(t, env, ns, "wildcard", 3*time.Minute)
	acmetest.VerifyChain(t, env, ns, cert.Spec.SecretName, "example.edu", "*.example.edu")
	acmetest.AssertOrdersValid(t, env, ns, 1)
	acmetest.AssertNothingLeft(t, env, ns)
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.example.edu.")

	// What the solver was asked: two values at one name, each presented and cleaned up,
	// with the zone found by SOA lookups and the Issuer's config as it is.
	reqs := readJSONLines[request](t, env.Stack.DNSWebhookRequestLog())
	presented, cleaned := map[string]bool{}, map[string]bool{}
	for _, r := range reqs {
		if r.ResourceNamespace != ns {
			continue
		}
		if r.Type != "dns-01" || r.DNSName != "example.edu" || r.ResolvedFQDN != "_acme-challenge.example.edu." ||
			r.ResolvedZone != "example.edu." || r.AllowAmbientCredentials || r.UID == "" || r.Key == "" {
			t.Errorf("request %+v", r)
		}
		var cfg map[string]string
		if err := json.Unmarshal(r.Config, &cfg); err != nil || cfg["note"] != "wildcard" {
			t.Errorf("config %s: want the Issuer's", r.Config)
		}
		switch r.Action {
		case "Present":
			presented[r.Key] = true
		case "CleanUp":
			cleaned[r.Key] = true
		default:
			t.Errorf("action %q", r.Action)
		}
	}
	if len(presented) != 2 {
		t.Errorf("values presented: %v, want the wildcard's and the apex's", presented)
	}
	for k := range presented {
		if !cleaned[k] {
			t.Errorf("value %s presented but never cleaned up (cleaned: %v)", k, cleaned)
		}
	}

	// The calls came through kube-apiserver: the webhook authenticated them by the
	// front-proxy's request headers, as the worker's ServiceAccount.
	type auditEvent struct {
		Verb      string                    `json:"verb"`
		User      struct{ Username string } `json:"user"`
		ObjectRef *struct {
			Resource string `json:"resource"`
			APIGroup string `json:"apiGroup"`
		} `json:"objectRef"`
		ResponseStatus *struct{ Code int } `json:"responseStatus"`
		Stage          string              `json:"stage"`
	}
	var users []string
	for _, e := range readJSONLines[auditEvent](t, env.Stack.DNSWebhookAuditLog()) {
		if e.Stage == "ResponseComplete" && e.ObjectRef != nil && e.ObjectRef.Resource == localstack.DNSWebhookSolver &&
			e.ObjectRef.APIGroup == localstack.DNSWebhookGroup && e.Verb == "create" {
			users = append(users, e.User.Username)
		}
	}
	if len(users) < 4 {
		t.Fatalf("the webhook's audit log holds %d solver calls (%v), want at least 4", len(users), users)
	}
	for _, u := range users {
		if u != workerUser {
			t.Errorf("a solver call came from %q, want %q (through kube-apiserver's front proxy)", u, workerUser)
		}
	}
}

// A webhook that answers success=false: its message is the Challenge's reason, the
// issuance fails with it, and no record is left.
func TestWebhookFailure(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns := "webhook-failing"
	const words = "certflow test: the DNS provider refused the record"
	acmetest.Kubectl(t, env, []byte(workerGrant), "apply", "-f", "-")
	acmetest.Kubectl(t, env, acmetest.Issuer(env, "Issuer", "failing", webhookSolver(`{"failWith": "`+words+`"}`)), "apply", "-n", ns, "-f", "-")
	acmetest.WaitIssuerReady(t, env, ns, "failing")
	w, err := env.CertFlow.AcmeV1().Challenges(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	reasons := map[string]bool{}
	go func() {
		for ev := range w.ResultChan() {
			if ch, ok := ev.Object.(*acmev1.Challenge); ok {
				mu.Lock()
				reasons[ch.Status.Reason] = true
				mu.Unlock()
			}
		}
	}()
	acmetest.Kubectl(t, env, acmetest.Certificate("refused", "Issuer", "failing", "refused.example.edu"), "apply", "-n", ns, "-f", "-")
	// The webhook's words are on the Challenge at its first failure, long before the
	// retries (as upstream, which retries too) run out.
	testkit.Eventually(t, 30*time.Second, "the webhook's words on the Challenge while present is retried", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, words) && strings.Contains(r, "retrying") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("reasons seen: %q", slices.Sorted(maps.Keys(reasons)))
	})
	// The challenge then errors with them.
	cert := acmetest.WaitCertificate(t, env, ns, "refused", 5*time.Minute, "Issuing=False Failed", func(c *cmapi.Certificate) bool {
		i := testkit.CertificateCondition(c, cmapi.CertificateConditionIssuing)
		return i != nil && i.Status == cmmeta.ConditionFalse && i.Reason == cmapi.ReasonFailed
	})
	testkit.Eventually(t, 30*time.Second, "a Challenge reason with the webhook's words", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		for r := range reasons {
			if strings.Contains(r, "Error presenting challenge") && strings.Contains(r, "the webhook failed: "+words) {
				return true, ""
			}
		}
		var seen []string
		for r := range reasons {
			seen = append(seen, r)
		}
		slices.Sort(seen)
		return false, fmt.Sprintf("reasons seen: %q", seen)
	})
	if i := testkit.CertificateCondition(cert, cmapi.CertificateConditionIssuing); !strings.Contains(i.Message, words) {
		t.Errorf("Certificate Issuing message %q: want the webhook's %q", i.Message, words)
	}
	acmetest.AssertNothingLeft(t, env, ns)
	acmetest.AssertNoTXT(t, env.Stack.ChallTestSrvDNS, "_acme-challenge.refused.example.edu.")
}
