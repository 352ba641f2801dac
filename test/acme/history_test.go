package acme

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// Neither the ACME account key nor the certificate's key is in any history of the
// workflows an ACME issuance ran: the issuer's, the certificate's, the order's and
// the challenges'.
func TestNoPrivateKeyInACMEHistories(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	// Reuses what TestSeedHTTP01GatewayHTTPRoute issued (it runs first in this file
	// order; issue it here when run alone).
	ns := "http01"
	ctx := context.Background()
	if _, err := env.CertFlow.CertmanagerV1().Certificates(ns).Get(ctx, "example-tls", metav1.GetOptions{}); err != nil {
		TestSeedHTTP01GatewayHTTPRoute(t)
	}
	var keys [][]byte
	for _, name := range []string{"letsencrypt", "example-tls"} { // account key, certificate key
		s, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, s.Data["tls.key"])
	}
	ids := []string{"issuer/" + ns + "/letsencrypt", "certificate/" + ns + "/example-tls"}
	for _, typ := range []string{"OrderWorkflow", "ChallengeWorkflow"} {
		resp, err := env.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowType = '" + typ + "'"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Executions {
			if id := e.Execution.WorkflowId; strings.Contains(id, "/"+ns+"/example-tls-") {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) < 4 {
		t.Fatalf("found only %v: want the issuer, certificate, order and challenge workflows", ids)
	}
	for _, id := range ids {
		if n := testkit.AssertNoKeyInHistory(t, env.Temporal, id, keys...); n < 5 {
			t.Errorf("only %d events in %s", n, id)
		}
	}
}
