package acme

import (
	"context"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/test/acme/acmetest"
	"github.com/certflow/certflow/workflows"
)

// A Certificate deleted while its DNS-01 challenge waits for propagation cancels the
// order: the challenge cleans up (TXT record gone at Cloudflare and in DNS), the
// Challenge object is deleted, and the order and challenge workflows end.
func TestCertificateDeletedMidChallengeCleansUp(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ns, dnsName := "dns01-cancel", "cancel.example.org"
	fqdn := "_acme-challenge." + dnsName + "."
	createNamespace(t, ns)
	// Hold the record back from the DNS: the self check keeps waiting.
	interceptTXT(t, func(name string, values []string) []string {
		if name == fqdn {
			return nil
		}
		return values
	})
	cloudflareIssuer(t, ns)
	mustKubectl(t, acmetest.Certificate("cancel", "Issuer", "cloudflare", dnsName), "apply", "-n", ns, "-f", "-")

	ctx := context.Background()
	testkit.Eventually(t, time.Minute, "the challenge waiting for propagation with its record at Cloudflare", func() (bool, string) {
		waiting := false
		for _, r := range challengeReasons(t, ns) {
			waiting = waiting || strings.Contains(r, "Waiting for DNS-01 challenge propagation")
		}
		atCloudflare := false
		for _, r := range env.Stack.Cloudflare().Records("example.org") {
			atCloudflare = atCloudflare || (r.Type == "TXT" && r.Name == strings.TrimSuffix(fqdn, "."))
		}
		return waiting && atCloudflare, acmetest.DescribeACME(env, ns)
	})
	orders := acmetest.Orders(t, env, ns)
	if len(orders) != 1 {
		t.Fatalf("%d Orders, want 1", len(orders))
	}
	orderID := workflows.OrderWorkflowID(ns, orders[0].Name)

	mustKubectl(t, nil, "delete", "certificate", "cancel", "-n", ns)

	acmetest.AssertNothingLeft(t, env, ns) // no Challenge object
	acmetest.AssertNoCloudflareTXT(t, env, "example.org")
	testkit.Eventually(t, 30*time.Second, "the order workflow ended", func() (bool, string) {
		d, err := env.Temporal.DescribeWorkflowExecution(ctx, orderID, "")
		if err != nil {
			return false, err.Error()
		}
		st := d.WorkflowExecutionInfo.Status
		return st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING, st.String()
	})
	if _, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(ctx, "cancel", metav1.GetOptions{}); err == nil {
		t.Error("the Certificate still exists")
	}
}
