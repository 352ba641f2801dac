package k8swatch

import (
	"context"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowservice "go.temporal.io/api/workflowservice/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/internal/entity"
	"github.com/certflow/certflow/workflows"
)

// DefaultSweepInterval is how often the watcher compares objects with workflows.
const DefaultSweepInterval = 5 * time.Minute

// runningQuery lists the entity workflows that run (Orders and Challenges are children
// of Certificates: their parents own them).
const runningQuery = "(WorkflowType = 'CertificateWorkflow' OR WorkflowType = 'IssuerWorkflow' OR WorkflowType = 'CertificateRequestWorkflow') AND ExecutionStatus = 'Running'"

// sweepEvery sweeps on the interval until ctx is done. Signals are the fast path; the
// sweep is what makes a lost one harmless: a workflow terminated by hand, failed, or
// never started because the watcher was down gets its object's current spec back, and
// a workflow whose object was deleted while the watcher was down gets its delete.
func (w *Watcher) sweepEvery(ctx context.Context) {
	// The first sweep waits an interval: at start every object is signalled anyway.
	t := time.NewTicker(w.o.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		missing, orphans, err := w.sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			w.o.Log.Warn("k8swatch sweep failed, will try at the next one", "err", err)
		case missing > 0 || orphans > 0:
			w.o.Log.Info("k8swatch sweep", "restarted", missing, "orphansDeleted", orphans)
		}
	}
}

// sweep restarts the workflows of objects that have none (by queueing their keys anew:
// the sync then signals with start) and deletes workflows whose object is gone.
func (w *Watcher) sweep(ctx context.Context) (missing, orphans int, err error) {
	running, err := w.runningWorkflows(ctx)
	if err != nil {
		return 0, 0, err
	}
	// Visibility lags behind: a workflow that just started or continued as new may be
	// missing from the listing, so one that seems missing is described before it is
	// restarted (restarting one that runs would only cost a signal it ignores).
	restart := func(k key, id string) {
		if running[id] {
			delete(running, id)
			return
		}
		if d, err := w.o.Temporal.DescribeWorkflowExecution(ctx, id, ""); err == nil &&
			d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return
		}
		missing++
		w.mu.Lock()
		w.restart[k] = true
		w.mu.Unlock()
		w.queue.Add(k)
	}
	for _, o := range w.certs.GetStore().List() {
		c := o.(*cmapi.Certificate)
		restart(key{Kind: kindCertificate, Namespace: c.Namespace, Name: c.Name}, workflows.CertificateWorkflowID(c.Namespace, c.Name))
	}
	for _, o := range w.issuers.GetStore().List() {
		i := o.(*cmapi.Issuer)
		restart(key{Kind: kindIssuer, Namespace: i.Namespace, Name: i.Name}, workflows.IssuerWorkflowID(i.Namespace, i.Name))
	}
	for _, o := range w.clusterIssuers.GetStore().List() {
		i := o.(*cmapi.ClusterIssuer)
		restart(key{Kind: kindClusterIssuer, Name: i.Name}, workflows.IssuerWorkflowID("", i.Name))
	}
	for _, o := range w.requests.GetStore().List() {
		if cr := o.(*cmapi.CertificateRequest); servedStandalone(cr) && !kube.RequestFinished(cr) {
			restart(key{Kind: kindRequest, Namespace: cr.Namespace, Name: cr.Name}, workflows.CertificateRequestWorkflowID(cr.Namespace, cr.Name))
		}
	}
	for id := range running {
		deleted, err := w.deleteOrphan(ctx, id)
		if err != nil {
			return missing, orphans, err
		}
		if deleted {
			orphans++
		}
	}
	return missing, orphans, nil
}

// runningWorkflows are the IDs of the entity workflows that run, as Temporal's
// visibility lists them.
func (w *Watcher) runningWorkflows(ctx context.Context) (map[string]bool, error) {
	running := map[string]bool{}
	var token []byte
	for {
		resp, err := w.o.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: runningQuery, PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list running workflows: %w", err)
		}
		for _, e := range resp.Executions {
			running[e.GetExecution().GetWorkflowId()] = true
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return running, nil
		}
	}
}

// deleteOrphan sends the delete signal to the workflow id when its object is gone: not
// in the cache, and not found by the API server either (the cache may lag behind a
// create). The signal names the UID the workflow acts for, so a new object of the same
// name that raced with the sweep keeps its workflow.
func (w *Watcher) deleteOrphan(ctx context.Context, id string) (bool, error) {
	kind, namespace, name, ok := parseWorkflowID(id)
	if !ok {
		return false, nil
	}
	var err error
	switch kind {
	case kindCertificate:
		_, err = w.o.CertFlow.CertmanagerV1().Certificates(namespace).Get(ctx, name, metav1.GetOptions{})
	case kindIssuer:
		_, err = w.o.CertFlow.CertmanagerV1().Issuers(namespace).Get(ctx, name, metav1.GetOptions{})
	case kindClusterIssuer:
		_, err = w.o.CertFlow.CertmanagerV1().ClusterIssuers().Get(ctx, name, metav1.GetOptions{})
	case kindRequest:
		_, err = w.o.CertFlow.CertmanagerV1().CertificateRequests(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	if !apierrors.IsNotFound(err) {
		return false, err // it exists (err nil), or the API server did not answer
	}
	v, err := w.o.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	if err != nil {
		return false, nil // finished meanwhile, or cannot answer now: the next sweep looks again
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil || st.UID == "" {
		return false, err
	}
	return true, entity.Delete(ctx, w.o.Temporal, id, st.UID)
}

// parseWorkflowID is the object an entity workflow ID names (workflows.CertificateWorkflowID,
// workflows.IssuerWorkflowID).
func parseWorkflowID(id string) (kind, namespace, name string, ok bool) {
	parts := strings.Split(id, "/")
	switch {
	case len(parts) == 3 && parts[0] == "certificate":
		return kindCertificate, parts[1], parts[2], true
	case len(parts) == 3 && parts[0] == "issuer":
		return kindIssuer, parts[1], parts[2], true
	case len(parts) == 3 && parts[0] == "certificaterequest":
		return kindRequest, parts[1], parts[2], true
	case len(parts) == 2 && parts[0] == "clusterissuer":
		return kindClusterIssuer, "", parts[1], true
	}
	return "", "", "", false
}
