package acme

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Neither the ACME account key nor the certificate's key is in any history of the
// workflows an ACME issuance ran: the issuer's, the certificate's, the order's and
// the challenges'.
func TestNoPrivateKeyInACMEHistories(t *testing.T) {
	if env == nil {
		t.Skip("CERTFLOW_INTEGRATION is not set")
	}
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
		scanHistory(t, id, keys)
	}
}

// scanHistory checks every event of every run of a workflow for the keys: PEM, DER,
// either in base64, and any PEM private key header.
func scanHistory(t *testing.T, workflowID string, keys [][]byte) {
	t.Helper()
	needles := map[string][]byte{"PEM header": []byte("PRIVATE KEY-----")}
	for i, k := range keys {
		blk, _ := pem.Decode(k)
		if blk == nil {
			t.Fatalf("key %d is not PEM", i)
		}
		needles["key PEM"+string(rune('0'+i))] = k
		needles["key DER"+string(rune('0'+i))] = blk.Bytes
		needles["key PEM base64"+string(rune('0'+i))] = []byte(base64.StdEncoding.EncodeToString(k))
		needles["key DER base64"+string(rune('0'+i))] = []byte(base64.StdEncoding.EncodeToString(blk.Bytes))
	}
	ctx := context.Background()
	events := 0
	for runID := ""; ; {
		prev := ""
		it := env.Temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", workflowID, err)
			}
			events++
			if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
			}
			raw, err := proto.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			for what, needle := range needles {
				if bytes.Contains(raw, needle) {
					t.Errorf("%s found in event %d (%s) of %s", what, ev.EventId, ev.EventType, workflowID)
				}
			}
		}
		if prev == "" {
			break
		}
		runID = prev
	}
	if events < 5 {
		t.Errorf("only %d events in %s", events, workflowID)
	}
}
