package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/internal/localstack"
)

// Names of what ACME setup creates, and the zone of the measured Certificates (one of
// the fake Cloudflare account's zones).
const (
	acmeClusterIssuer   = "bench-acme"
	acmeAccountSecret   = "bench-acme-account"
	cloudflareSecret    = "cloudflare-api-token-secret"
	cloudflareSecretKey = "api-token"
	acmeZone            = "example.com"
	// acmeSelfCheckTimeout is the worker's --acme-self-check-timeout (as in the
	// tests): on the local stack a DNS-01 self check passes at once or never.
	acmeSelfCheckTimeout = 15 * time.Second
)

// acmeIssuer is the ClusterIssuer of ACME mode: Pebble, one Cloudflare DNS-01 solver,
// the ACME profile named (empty: certflow's default).
func acmeIssuer(directoryURL string, caBundle []byte, profile string) *cmapi.ClusterIssuer {
	return &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: acmeClusterIssuer},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{ACME: &acmev1.ACMEIssuer{
			Server:              directoryURL,
			CABundle:            caBundle,
			Profile:             profile,
			PrivateKeySecretRef: cmmeta.SecretKeySelector{LocalObjectReference: cmmeta.LocalObjectReference{Name: acmeAccountSecret}},
			Solvers: []acmev1.ACMEChallengeSolver{{DNS01: &acmev1.ACMEChallengeSolverDNS01{
				Cloudflare: &acmev1.ACMEIssuerDNS01ProviderCloudflare{
					APIToken: &cmmeta.SecretKeySelector{
						LocalObjectReference: cmmeta.LocalObjectReference{Name: cloudflareSecret},
						Key:                  cloudflareSecretKey,
					},
				},
			}}},
		}}},
	}
}

// acmeCertificate is one measured Certificate of ACME mode: ECDSA P-256, one DNS name
// in the fake Cloudflare zone, from the ACME ClusterIssuer.
func acmeCertificate(name string) *cmapi.Certificate {
	return &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNS},
		Spec: cmapi.CertificateSpec{
			DNSNames:   []string{name + "." + acmeZone},
			SecretName: name + "-tls",
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
			IssuerRef:  cmmeta.IssuerReference{Name: acmeClusterIssuer, Kind: "ClusterIssuer", Group: "cert-manager.io"},
		},
	}
}

// setupACME creates the Cloudflare token Secret and the ACME ClusterIssuer (asking for
// profile, when not empty) and waits until the ClusterIssuer is Ready with its account
// registered at Pebble.
func setupACME(ctx context.Context, kc kubernetes.Interface, cf versioned.Interface, s *localstack.Stack, profile string) error {
	_, err := kc.CoreV1().Secrets(clusterResourceNS).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: cloudflareSecret},
		StringData: map[string]string{cloudflareSecretKey: localstack.CloudflareToken},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create Secret %s/%s: %w", clusterResourceNS, cloudflareSecret, err)
	}
	cm := cf.CertmanagerV1()
	if _, err := cm.ClusterIssuers().Create(ctx, acmeIssuer(s.ACMEDirectoryURL, s.ACMECABundlePEM, profile), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterIssuer %s: %w", acmeClusterIssuer, err)
	}
	return poll(ctx, 100*time.Millisecond, func() (bool, string, error) {
		ci, err := cm.ClusterIssuers().Get(ctx, acmeClusterIssuer, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		c := ci.Status.GetCondition(cmapi.IssuerConditionReady)
		if c == nil {
			return false, "ClusterIssuer " + acmeClusterIssuer + " has no Ready condition", nil
		}
		if c.Status == cmmeta.ConditionTrue && c.Reason == cmapi.IssuerReasonACMEAccountRegistered {
			return true, "", nil
		}
		return false, fmt.Sprintf("ClusterIssuer %s Ready=%s %s: %s", acmeClusterIssuer, c.Status, c.Reason, c.Message), nil
	})
}

// acmeFigures are what ACME mode leaves behind, counted after the histories settled.
type acmeFigures struct {
	Directory string `json:"directory"`
	// Expected is the Certificates issued in the namespace (N + probes): as many Orders
	// should be valid, and no Challenge should be left.
	Expected          int            `json:"expected_orders"`
	Orders            int            `json:"orders"`
	OrdersByState     map[string]int `json:"orders_by_state"`
	Challenges        int            `json:"challenges"`
	ChallengesByState map[string]int `json:"challenges_by_state,omitempty"`
	// TXTRecordsLeft are TXT records left in the fake Cloudflare zone.
	TXTRecordsLeft int `json:"txt_records_left"`
	// Workflows are the executions of each ACME workflow type by status, from
	// Temporal's visibility store (empty when listing failed; see WorkflowsError).
	Workflows      map[string]map[string]int `json:"workflows,omitempty"`
	WorkflowsError string                    `json:"workflows_error,omitempty"`
}

// countByState counts states; an empty state is "none".
func countByState[T any](items []T, state func(T) string) map[string]int {
	m := map[string]int{}
	for _, it := range items {
		s := state(it)
		if s == "" {
			s = "none"
		}
		m[s]++
	}
	return m
}

// formatCounts is "valid 100, pending 2", largest first (then by name).
func formatCounts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// listWorkflowsByStatus counts the executions of a workflow type by status.
func (b *bench) listWorkflowsByStatus(ctx context.Context, workflowType string) (map[string]int, error) {
	m := map[string]int{}
	var token []byte
	for {
		resp, err := b.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: b.stack.TemporalNamespace, PageSize: 1000, NextPageToken: token,
			Query: fmt.Sprintf("WorkflowType = '%s'", workflowType),
		})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			m[e.GetStatus().String()]++ // "Completed", "Running", ...
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return m, nil
		}
	}
}

// acmeLeftovers counts the Orders, Challenges, TXT records and ACME workflows at the end.
func (b *bench) acmeLeftovers(ctx context.Context, expected int) (*acmeFigures, error) {
	f := &acmeFigures{Directory: b.stack.ACMEDirectoryURL, Expected: expected}
	orders, err := b.cf.AcmeV1().Orders(benchNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Orders: %w", err)
	}
	f.Orders = len(orders.Items)
	f.OrdersByState = countByState(orders.Items, func(o acmev1.Order) string { return string(o.Status.State) })
	chs, err := b.cf.AcmeV1().Challenges(benchNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Challenges: %w", err)
	}
	f.Challenges = len(chs.Items)
	if f.Challenges > 0 {
		f.ChallengesByState = countByState(chs.Items, func(c acmev1.Challenge) string { return string(c.Status.State) })
	}
	if fake := b.stack.Cloudflare(); fake != nil {
		for _, r := range fake.Records(acmeZone) {
			if r.Type == "TXT" {
				f.TXTRecordsLeft++
			}
		}
	}
	f.Workflows = map[string]map[string]int{}
	for _, typ := range []string{"OrderWorkflow", "ChallengeWorkflow"} {
		m, err := b.listWorkflowsByStatus(ctx, typ)
		if err != nil {
			f.Workflows, f.WorkflowsError = nil, fmt.Sprintf("list %s: %v", typ, err)
			break
		}
		f.Workflows[typ] = m
	}
	return f, nil
}

// acme is ACME mode: optional single-Certificate probes, then N Certificates at once
// through DNS-01 against Pebble.
func (b *bench) acme(ctx context.Context) error {
	c, r := b.cfg, b.res
	p, err := b.singleCertProbe(ctx, "single ACME Certificate probe")
	if err != nil {
		return err
	}
	if p != nil {
		r.line("single ACME cert latency p50 %.3f s (runs %s s)", p.MedianSeconds, joinFloats(p.RunsSeconds, 3))
	}
	list, before, iss, err := b.issueBatch(ctx, "ACME Certificates")
	if err != nil {
		return err
	}
	if err := b.historyLines(ctx, list, iss); err != nil {
		return err
	}

	a, err := b.acmeLeftovers(ctx, c.n+c.probes)
	if err != nil {
		return err
	}
	r.ACME = a
	r.line("ACME objects at the end: %d Orders (%s; want %d valid), %d Challenges%s, %d TXT records left at the fake Cloudflare",
		a.Orders, formatCounts(a.OrdersByState), a.Expected, a.Challenges, stateSuffix(a.ChallengesByState), a.TXTRecordsLeft)
	if a.WorkflowsError != "" {
		r.line("ACME workflows: %s", a.WorkflowsError)
	} else {
		r.line("ACME workflows at the end (Temporal visibility): OrderWorkflow %s; ChallengeWorkflow %s",
			formatCounts(a.Workflows["OrderWorkflow"]), formatCounts(a.Workflows["ChallengeWorkflow"]))
	}
	valid := a.OrdersByState[string(acmev1.Valid)]
	r.Targets = append(r.Targets,
		target{Figure: "valid ACME Orders", Want: fmt.Sprintf("== %d", a.Expected), Value: float64(valid), Met: valid == a.Expected && a.Orders == a.Expected},
		target{Figure: "ACME Challenges left", Want: "== 0", Value: float64(a.Challenges), Met: a.Challenges == 0})

	return b.apiLines(ctx, before)
}

func stateSuffix(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	return " (" + formatCounts(m) + ")"
}
