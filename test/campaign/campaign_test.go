// Package campaign runs `kubectl cert-manager campaign` (the starter binary) against the
// real local stack: 500 CA-issued Certificates re-issued by one CampaignWorkflow at
// 50/s, paused, resumed, its worker SIGKILLed mid-way and started again; at the end
// every Certificate is at exactly its baseline revision + 1, none of another issuer
// moved, and the campaign's progress said what happened along the way.
//
// The worker is the real certflow-worker run as a child process (so it can be
// killed); kube-apiserver, Temporal and the watcher are testkit's, with NoWorker.
package campaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
	"github.com/certflow/certflow/workflows"
)

const (
	ns    = "campaign-fleet"
	fleet = 500
	other = 5 // Certificates of another issuer, which the campaign must leave alone
)

var env *testkit.ChildSuite

func TestMain(m *testing.M) {
	os.Exit(testkit.RunChildSuite(m, "campaign", testkit.Options{NoWorker: true, Namespaces: []string{ns}},
		[]string{"certflow-worker", "starter"}, func(s *testkit.ChildSuite) { env = s }))
}

func startWorker(t *testing.T, name string) *testkit.WorkerProcess {
	t.Helper()
	args := worker.Flags{Kubeconfig: env.Kubeconfigs["certflow-worker"], TemporalAddress: env.Stack.TemporalAddress,
		TemporalNamespace: env.Stack.TemporalNamespace}.Args()
	return testkit.StartWorkerProcess(t, name, env.Bins["certflow-worker"], filepath.Join(env.State, name+".log"), args)
}

// cli runs the starter binary (what kubectl runs as kubectl-cert_manager) as admin.
func cli(t *testing.T, temporal string, args ...string) (string, error) {
	t.Helper()
	if temporal == "" {
		temporal = env.Stack.TemporalAddress
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.Bins["starter"], append([]string{"--kubeconfig", env.Stack.Kubeconfig,
		"--temporal-address", temporal, "--temporal-namespace", env.Stack.TemporalNamespace}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustCLI(t *testing.T, want []string, args ...string) string {
	t.Helper()
	out, err := cli(t, "", args...)
	if err != nil {
		t.Fatalf("campaign %v: %v\n%s", args, err, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("%v printed no %q:\n%s", args, w, out)
		}
	}
	return out
}

func kubectlApply(t *testing.T, docs ...string) {
	t.Helper()
	if out, err := env.Kubectl(testkit.Manifest(docs...), "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// revisions lists the namespace's Certificates: name -> status.revision (0: none).
func revisions(t *testing.T) map[string]int {
	t.Helper()
	l, err := env.CertFlow.CertmanagerV1().Certificates(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range l.Items {
		rev := 0
		if c.Status.Revision != nil && testkit.CertificateReady(&c) {
			rev = *c.Status.Revision
		}
		out[c.Name] = rev
	}
	return out
}

// progress queries the campaign's workflow directly (no worker: an error).
func progress(id string) (workflows.CampaignProgress, error) {
	var p workflows.CampaignProgress
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := env.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryCampaignProgress)
	if err != nil {
		return p, err
	}
	return p, v.Get(&p)
}

func fleetName(i int) string { return fmt.Sprintf("svc-%03d", i) }

func TestCampaignReissuesFleetOnce(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	began := time.Now()
	w1 := startWorker(t, "worker-1")

	// A CA, its Issuer, and a SelfSigned issuer of other Certificates.
	kubectlApply(t, testkit.SelfSignedIssuer("root"),
		testkit.Cert{Name: "ca", SecretName: "ca-key", CommonName: "campaign CA", IsCA: true, Issuer: "root", PrivateKey: "{algorithm: ECDSA}"}.String(),
		testkit.CAIssuer("ca", "ca-key"))
	testkit.WaitIssuerReady(t, env.CertFlow, ns, "ca", 2*time.Minute)

	// 500 Certificates of the CA, and 5 of root, created in bulk through the typed client.
	create := func(name, issuer string) error {
		var c cmapi.Certificate
		m := testkit.Cert{Name: name, CommonName: name + ".example.com", DNSNames: []string{name + ".example.com"},
			Issuer: issuer, PrivateKey: "{algorithm: ECDSA}", Labels: map[string]string{"fleet": "campaign"}}.String()
		if err := yaml.Unmarshal([]byte(m), &c); err != nil {
			return err
		}
		_, err := env.CertFlow.CertmanagerV1().Certificates(ns).Create(context.Background(), &c, metav1.CreateOptions{})
		return err
	}
	names := make(chan [2]string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var createErrs []error
	for range 16 {
		wg.Go(func() {
			for n := range names {
				if err := create(n[0], n[1]); err != nil {
					mu.Lock()
					createErrs = append(createErrs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range fleet {
		names <- [2]string{fleetName(i), "ca"}
	}
	for i := range other {
		names <- [2]string{fmt.Sprintf("other-%d", i), "root"}
	}
	close(names)
	wg.Wait()
	if err := errors.Join(createErrs...); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	var baseline map[string]int
	testkit.Eventually(t, 5*time.Minute, "every Certificate Ready", func() (bool, string) {
		baseline = revisions(t)
		notReady := 0
		for _, rev := range baseline {
			if rev == 0 {
				notReady++
			}
		}
		return len(baseline) == fleet+other+1 && notReady == 0, fmt.Sprintf("%d Certificates, %d not Ready", len(baseline), notReady)
	})
	t.Logf("%d Certificates Ready %.1fs after their creation (%.1fs into the test)", len(baseline), time.Since(created).Seconds(), time.Since(began).Seconds())

	// Campaigns need Temporal: a clear error without it.
	out, err := cli(t, "127.0.0.1:1", "campaign", "reissue", "-n", ns, "--issuer", "ca")
	if err == nil || !strings.Contains(out, "Temporal is needed") || !strings.Contains(out, "unreachable") {
		t.Errorf("reissue without Temporal: %v\n%s", err, out)
	}

	const name = "rotate"
	id := workflows.CampaignWorkflowID(name)
	start := time.Now()
	mustCLI(t, []string{"Started campaign rotate (workflow campaign/rotate): re-issue the Certificates of Issuer ca in namespace " + ns + " at 50/s",
		"campaign status rotate"}, "campaign", "reissue", "-n", ns, "--issuer", "ca", "--rate", "50/s", "--name", name)
	if out, err := cli(t, "", "campaign", "reissue", "-n", ns, "--issuer", "ca", "--name", name); err == nil || !strings.Contains(out, "exists already") {
		t.Errorf("a second campaign of the same name: %v\n%s", err, out)
	}

	// The progress is sampled all along: done never goes down, the counts add up.
	var (
		samplesMu sync.Mutex
		samples   []workflows.CampaignProgress
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if p, err := progress(id); err == nil {
				samplesMu.Lock()
				samples = append(samples, p)
				samplesMu.Unlock()
			}
		}
	}()
	var stopOnce sync.Once
	stopSampling := func() { stopOnce.Do(func() { close(stop); <-sampled }) }
	defer stopSampling()

	waitDone := func(atLeast int, what string) workflows.CampaignProgress {
		var p workflows.CampaignProgress
		testkit.Eventually(t, 2*time.Minute, what, func() (bool, string) {
			var err error
			if p, err = progress(id); err != nil {
				return false, err.Error()
			}
			return p.Done >= atLeast, p.Summary()
		})
		return p
	}
	p := waitDone(100, "100 Certificates done")
	if p.Total != fleet || p.State != workflows.CampaignRunning {
		t.Errorf("progress %+v, want Running over %d", p, fleet)
	}

	// Paused: progress stops, and once what was delivered is issued, exactly done
	// Certificates moved.
	mustCLI(t, []string{"Campaign rotate paused"}, "campaign", "pause", name)
	pausedAt := time.Now()
	var atPause workflows.CampaignProgress
	testkit.Eventually(t, time.Minute, "the paused campaign's moved revisions to catch up with done", func() (bool, string) {
		var err error
		if atPause, err = progress(id); err != nil {
			return false, err.Error()
		}
		moved := movedCount(t, baseline)
		return atPause.Paused && atPause.InFlight == 0 && moved == atPause.Done, fmt.Sprintf("%s; %d moved", atPause.Summary(), moved)
	})
	if atPause.Done >= fleet || atPause.State != workflows.CampaignPaused {
		t.Fatalf("progress at the pause %+v, want Paused part way", atPause)
	}
	for range 15 { // 3 s
		time.Sleep(200 * time.Millisecond)
		p, err := progress(id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Done != atPause.Done || p.Failed != 0 {
			t.Fatalf("progress moved while paused: %d done at the pause, now %s", atPause.Done, p.Summary())
		}
	}
	if moved := movedCount(t, baseline); moved != atPause.Done {
		t.Fatalf("%d Certificates moved while paused with %d done", moved, atPause.Done)
	}
	out = mustCLI(t, []string{"State:      Paused", fmt.Sprintf("Done:       %d\n", atPause.Done), "Failed:     0\n", "Rate:       50/s"}, "campaign", "status", name)
	t.Logf("paused %.1fs with %d done:\n%s", time.Since(pausedAt).Seconds(), atPause.Done, out)
	mustCLI(t, []string{"Campaign rotate resumed"}, "campaign", "resume", name)

	// SIGKILL the worker mid-way; a new one carries on from the campaign's history.
	p = waitDone(atPause.Done+100, "100 more done after the resume")
	w1.Kill(t)
	killedAt := p.Done
	t.Logf("worker-1 SIGKILLed at %s", p.Summary())
	time.Sleep(time.Second) // no worker for a moment
	startWorker(t, "worker-2")

	var final workflows.CampaignProgress
	testkit.Eventually(t, 3*time.Minute, "the campaign to finish", func() (bool, string) {
		d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return false, err.Error()
		}
		if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return false, st.String()
		}
		return true, ""
	})
	if err := env.Temporal.GetWorkflow(context.Background(), id, "").Get(context.Background(), &final); err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign finished %.1fs after it started: %s", time.Since(start).Seconds(), final.Summary())
	if final.State != workflows.CampaignFinished || final.Total != fleet || final.Done != fleet || final.Failed != 0 || final.Remaining != 0 || final.Finished == nil {
		t.Errorf("result %+v, want Finished, %d done, none failed", final, fleet)
	}
	if killedAt >= fleet {
		t.Errorf("the worker was killed at %d done: not mid-way", killedAt)
	}

	// Every Certificate of the CA re-issued exactly once; the others not at all. A
	// second issuance would come soon after the first: look again a little later.
	var now map[string]int
	testkit.Eventually(t, 2*time.Minute, "every Certificate of the CA at its baseline revision + 1", func() (bool, string) {
		now = revisions(t)
		wrong := revisionErrors(baseline, now)
		return len(wrong) == 0, strings.Join(wrong[:min(len(wrong), 5)], "; ")
	})
	time.Sleep(3 * time.Second)
	if wrong := revisionErrors(baseline, revisions(t)); len(wrong) > 0 {
		t.Errorf("after the campaign: %s", strings.Join(wrong[:min(len(wrong), 10)], "; "))
	}

	// The samples: done never went down, and the counts added up.
	stopSampling()
	prev := 0
	for _, s := range samples {
		if s.State == workflows.CampaignCounting {
			continue
		}
		if s.Done < prev || s.Done+s.Failed+s.Remaining != s.Total || s.Total != fleet || s.Failed != 0 {
			t.Errorf("progress sample %+v after done=%d: not consistent", s, prev)
		}
		prev = s.Done
	}
	t.Logf("%d progress samples, consistent", len(samples))

	// The campaign continued as new along the way (every 200 Certificates).
	runs, err := env.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", id)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(runs.GetExecutions()); n < 3 {
		t.Errorf("campaign ran %d runs, want 3 (continue-as-new every 200 Certificates)", n)
	}

	mustCLI(t, []string{"State:      Finished", "Done:       500\n", "Failed:     0\n", "Remaining:  0\n", "Total:      500\n",
		"Selection:  Certificates of Issuer ca in namespace " + ns}, "campaign", "status", name)
	out = mustCLI(t, nil, "campaign", "list")
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "rotate Completed Finished 500/500 0 0 50/s") || strings.Count(out, "rotate") != 1 {
		t.Errorf("campaign list:\n%s", out)
	}
	if out, err := cli(t, "", "campaign", "status", "nope"); err == nil || !strings.Contains(out, "no campaign nope") {
		t.Errorf("status of a campaign that does not exist: %v\n%s", err, out)
	}

	// --wait follows a small campaign to its end: root's 6 Certificates (the CA's own
	// and the 5 others), each re-issued once.
	out = mustCLI(t, []string{"Started campaign others", "Finished: 6 of 6 done, 0 failed, 0 remaining at 10/s"},
		"campaign", "reissue", "-n", ns, "--issuer", "root", "--rate", "10/s", "--name", "others", "--wait")
	t.Logf("reissue --wait:\n%s", out)
	testkit.Eventually(t, time.Minute, "root's Certificates at their baseline revision + 1", func() (bool, string) {
		now := revisions(t)
		var wrong []string
		for name, base := range baseline {
			if !strings.HasPrefix(name, "svc-") && now[name] != base+1 {
				wrong = append(wrong, fmt.Sprintf("%s at %d, want %d", name, now[name], base+1))
			}
		}
		return len(wrong) == 0, strings.Join(wrong, "; ")
	})

	// A cancelled campaign starts no more and ends with what it did.
	mustCLI(t, []string{"Started campaign slow"}, "campaign", "reissue", "-n", ns, "--issuer", "ca", "--rate", "1/s", "--name", "slow")
	mustCLI(t, []string{"Campaign slow cancelled"}, "campaign", "cancel", "slow")
	var cancelled workflows.CampaignProgress
	testkit.Eventually(t, time.Minute, "the cancelled campaign to end", func() (bool, string) {
		d, err := env.Temporal.DescribeWorkflowExecution(context.Background(), workflows.CampaignWorkflowID("slow"), "")
		if err != nil {
			return false, err.Error()
		}
		return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, d.GetWorkflowExecutionInfo().GetStatus().String()
	})
	if err := env.Temporal.GetWorkflow(context.Background(), workflows.CampaignWorkflowID("slow"), "").Get(context.Background(), &cancelled); err != nil {
		t.Fatal(err)
	}
	if cancelled.State != workflows.CampaignCancelled || cancelled.Done > 10 || cancelled.Done+cancelled.Remaining != fleet || cancelled.Finished == nil {
		t.Errorf("cancelled campaign's result %+v, want Cancelled with few done and the rest remaining", cancelled)
	}
	mustCLI(t, []string{"State:      Cancelled", fmt.Sprintf("Remaining:  %d\n", cancelled.Remaining)}, "campaign", "status", "slow")
	t.Logf("test took %.1fs", time.Since(began).Seconds())
}

// movedCount counts the Certificates of the CA past their baseline revision.
func movedCount(t *testing.T, baseline map[string]int) int {
	n := 0
	for name, rev := range revisions(t) {
		if strings.HasPrefix(name, "svc-") && rev > baseline[name] {
			n++
		}
	}
	return n
}

// revisionErrors lists the Certificates not where the campaign leaves them.
func revisionErrors(baseline, now map[string]int) []string {
	var wrong []string
	for name, base := range baseline {
		want := base
		if strings.HasPrefix(name, "svc-") {
			want = base + 1
		}
		if now[name] != want {
			wrong = append(wrong, fmt.Sprintf("%s at revision %d, want %d", name, now[name], want))
		}
	}
	return wrong
}
