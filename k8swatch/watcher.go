// Package k8swatch turns Kubernetes object events into Temporal workflow signals. It is
// thin and level-triggered: shared informers feed a rate-limited workqueue of object keys;
// a key is resolved against the informer cache and becomes SignalWithStartWorkflow on the
// object's entity workflow. It never waits for a workflow and keeps no state that a
// restart could lose: the dedupe memory only saves signals, it is not needed for safety.
package k8swatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/certflow/certflow/activities/kube"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/client/informers/externalversions"
	cmlisters "github.com/certflow/certflow/client/listers/certmanager/v1"
	"github.com/certflow/certflow/policy"
	"github.com/certflow/certflow/workflows"
)

// Kinds of keys in the queue.
const (
	kindCertificate   = "Certificate"
	kindIssuer        = "Issuer"
	kindClusterIssuer = "ClusterIssuer"
	kindSecret        = "Secret"
	kindRequest       = "CertificateRequest"
)

// Cache indexes on Certificates, to find those that use an issuer or a Secret.
const (
	indexIssuer = "issuer"
	indexSecret = "secret"
)

// key identifies an object in the queue.
type key struct {
	Kind, Namespace, Name string
}

// Options configure a Watcher.
type Options struct {
	Temporal  client.Client
	CertFlow  versioned.Interface
	Metadata  metadata.Interface
	TaskQueue string
	// ClusterResourceNamespace holds the Secrets of ClusterIssuers (default cert-manager).
	ClusterResourceNamespace string
	// Resync re-delivers every object periodically; dedupe keeps it from growing histories.
	Resync  time.Duration
	Workers int
	Log     *slog.Logger
}

// Watcher feeds workflows from informers. Create it with New and start it with Run.
type Watcher struct {
	o       Options
	queue   workqueue.TypedRateLimitingInterface[key]
	factory externalversions.SharedInformerFactory
	secrets metadatainformer.SharedInformerFactory

	certs          cache.SharedIndexInformer
	issuers        cache.SharedIndexInformer
	clusterIssuers cache.SharedIndexInformer
	certLister     cmlisters.CertificateLister
	requestLister  cmlisters.CertificateRequestLister
	issuerLister   cmlisters.IssuerLister
	clusterLister  cmlisters.ClusterIssuerLister
	secretInformer cache.SharedIndexInformer

	mu   sync.Mutex
	seen map[key]string // last fingerprint signaled per object
}

// New wires the informers; nothing runs until Run.
func New(o Options) (*Watcher, error) {
	if o.TaskQueue == "" {
		o.TaskQueue = workflows.TaskQueue
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.ClusterResourceNamespace == "" {
		o.ClusterResourceNamespace = "cert-manager"
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	w := &Watcher{
		o: o,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "k8swatch"}),
		factory: externalversions.NewSharedInformerFactoryWithOptions(o.CertFlow, o.Resync, externalversions.WithTransform(leanCache)),
		seen:    map[key]string{},
	}
	cm := w.factory.Certmanager().V1()
	w.certs = cm.Certificates().Informer()
	if err := w.certs.AddIndexers(cache.Indexers{indexIssuer: issuerIndex, indexSecret: secretIndex}); err != nil {
		return nil, err
	}
	w.certLister = cm.Certificates().Lister()
	w.issuerLister = cm.Issuers().Lister()
	w.clusterLister = cm.ClusterIssuers().Lister()
	w.issuers = cm.Issuers().Informer()
	w.clusterIssuers = cm.ClusterIssuers().Informer()
	if err := w.issuers.AddIndexers(cache.Indexers{indexSecret: func(obj any) ([]string, error) {
		if iss, ok := obj.(*cmapi.Issuer); ok && iss.Spec.CA != nil {
			return []string{cacheKey(iss.Namespace, iss.Spec.CA.SecretName)}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	if err := w.clusterIssuers.AddIndexers(cache.Indexers{indexSecret: func(obj any) ([]string, error) {
		if iss, ok := obj.(*cmapi.ClusterIssuer); ok && iss.Spec.CA != nil {
			return []string{cacheKey(o.ClusterResourceNamespace, iss.Spec.CA.SecretName)}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	w.requestLister = cm.CertificateRequests().Lister()
	for kind, inf := range map[string]cache.SharedIndexInformer{
		kindCertificate: w.certs, kindIssuer: w.issuers, kindClusterIssuer: w.clusterIssuers,
		kindRequest: cm.CertificateRequests().Informer(),
	} {
		if _, err := inf.AddEventHandler(w.handler(kind)); err != nil {
			return nil, err
		}
	}
	// Managed Secrets only, and metadata only: memory does not grow with the cluster's
	// Secrets (upstream pain point #9).
	w.secrets = metadatainformer.NewFilteredSharedInformerFactory(o.Metadata, o.Resync, metav1.NamespaceAll,
		func(lo *metav1.ListOptions) { lo.LabelSelector = conventions.ManagedSecretLabel + "=true" })
	w.secretInformer = w.secrets.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Informer()
	if err := w.secretInformer.SetTransform(newestManagerOnly); err != nil {
		return nil, err
	}
	if _, err := w.secretInformer.AddEventHandler(w.handler(kindSecret)); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Watcher) handler(kind string) cache.ResourceEventHandler {
	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		m, err := meta(obj)
		if err != nil {
			utilruntime.HandleError(err)
			return
		}
		w.queue.Add(key{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()})
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue}
}

// Run starts the informers and workers and blocks until ctx is done.
func (w *Watcher) Run(ctx context.Context) error {
	defer w.queue.ShutDown()
	w.factory.Start(ctx.Done())
	w.secrets.Start(ctx.Done())
	for typ, ok := range w.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer cache for %v did not sync", typ)
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), w.secretInformer.HasSynced) {
		return fmt.Errorf("informer cache for secrets did not sync")
	}
	w.o.Log.Info("k8swatch caches synced", "workers", w.o.Workers)
	var wg sync.WaitGroup
	for i := 0; i < w.o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, w.work, time.Second)
		}()
	}
	<-ctx.Done()
	w.queue.ShutDown()
	wg.Wait()
	w.factory.Shutdown()
	w.secrets.Shutdown()
	return nil
}

func (w *Watcher) work(ctx context.Context) {
	for {
		k, quit := w.queue.Get()
		if quit {
			return
		}
		err := w.sync(ctx, k)
		if err != nil {
			w.o.Log.Warn("k8swatch sync failed, will retry", "kind", k.Kind, "namespace", k.Namespace, "name", k.Name, "err", err)
			w.queue.AddRateLimited(k)
		} else {
			w.queue.Forget(k)
		}
		w.queue.Done(k)
	}
}

func (w *Watcher) sync(ctx context.Context, k key) error {
	switch k.Kind {
	case kindCertificate:
		return w.syncCertificate(ctx, k)
	case kindIssuer, kindClusterIssuer:
		return w.syncIssuer(ctx, k)
	case kindSecret:
		return w.syncSecret(ctx, k)
	case kindRequest:
		return w.syncRequest(ctx, k)
	}
	return nil
}

// remember records fp as signaled for k and reports whether it was new.
func (w *Watcher) remember(k key, fp string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[k] == fp {
		return false
	}
	w.seen[k] = fp
	return true
}

func (w *Watcher) forget(k key, fp string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if fp == "" || w.seen[k] == fp {
		delete(w.seen, k)
	}
}

func (w *Watcher) syncCertificate(ctx context.Context, k key) error {
	id := workflows.CertificateWorkflowID(k.Namespace, k.Name)
	cert, err := w.certLister.Certificates(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		w.forget(k, "")
		return w.signalIfRunning(ctx, id, workflows.SignalDelete, workflows.DeleteSignal{})
	}
	if err != nil {
		return err
	}
	manual := manualRenewRequest(cert)
	fp := fmt.Sprintf("%s/%d/%s", cert.UID, cert.Generation, manual)
	if !w.remember(k, fp) {
		return nil
	}
	sig := specSignal(cert, manual)
	opts := client.StartWorkflowOptions{
		ID: id, TaskQueue: w.o.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AttrCertNamespace.ValueSet(cert.Namespace),
			workflows.AttrCertName.ValueSet(cert.Name),
			workflows.AttrIssuerName.ValueSet(cert.Spec.IssuerRef.Name),
			workflows.AttrCertState.ValueSet("Pending"),
		),
		StaticSummary: fmt.Sprintf("Certificate %s/%s (secret %s, issuer %s)", cert.Namespace, cert.Name, cert.Spec.SecretName, cert.Spec.IssuerRef.Name),
	}
	in := workflows.NewCertificateInput(cert.Namespace, cert.Name, sig)
	if _, err := w.o.Temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalSpec, sig, opts, workflows.CertificateWorkflow, in); err != nil {
		w.forget(k, fp)
		return fmt.Errorf("signal-with-start %s: %w", id, err)
	}
	return nil
}

// specSignal is what the workflow of a Certificate is told of it. Inline keystore
// passwords stay out of it, and so out of Temporal's history: the activities that need
// them read them from the Certificate.
func specSignal(cert *cmapi.Certificate, manualRenewToken string) workflows.SpecSignal {
	sig := workflows.SpecSignal{UID: string(cert.UID), Generation: cert.Generation, Spec: cert.Spec, ManualRenewToken: manualRenewToken, Labels: cert.Labels}
	sig.Spec.Keystores = kube.RedactKeystorePasswords(cert.Spec.Keystores)
	if cert.Status.Revision != nil {
		sig.Revision = *cert.Status.Revision
	}
	return sig
}

// manualRenewRequest returns a token identifying a manual renewal request (the
// Issuing=True/ManuallyTriggered condition cmctl renew sets), or "".
func manualRenewRequest(cert *cmapi.Certificate) string {
	for _, c := range cert.Status.Conditions {
		if c.Type == cmapi.CertificateConditionIssuing && c.Status == cmmeta.ConditionTrue && c.Reason == policy.ReasonManuallyTriggered {
			return kube.ConditionToken(c.LastTransitionTime)
		}
	}
	return ""
}

func (w *Watcher) syncIssuer(ctx context.Context, k key) error {
	var (
		obj   metav1.Object
		spec  cmapi.IssuerSpec
		conds []cmapi.IssuerCondition
		err   error
	)
	if k.Kind == kindIssuer {
		var iss *cmapi.Issuer
		iss, err = w.issuerLister.Issuers(k.Namespace).Get(k.Name)
		if err == nil {
			obj, spec, conds = iss, iss.Spec, iss.Status.Conditions
		}
	} else {
		var iss *cmapi.ClusterIssuer
		iss, err = w.clusterLister.Get(k.Name)
		if err == nil {
			obj, spec, conds = iss, iss.Spec, iss.Status.Conditions
		}
	}
	id := workflows.IssuerWorkflowID(k.Namespace, k.Name)
	if apierrors.IsNotFound(err) {
		w.forget(k, "")
		w.forget(key{Kind: k.Kind + "/ready", Namespace: k.Namespace, Name: k.Name}, "")
		return w.signalIfRunning(ctx, id, workflows.SignalDelete, workflows.DeleteSignal{})
	}
	if err != nil {
		return err
	}
	fp := fmt.Sprintf("%s/%d", obj.GetUID(), obj.GetGeneration())
	if w.remember(k, fp) {
		sig := workflows.IssuerSpecSignal{UID: string(obj.GetUID()), Generation: obj.GetGeneration(), Spec: spec}
		in := workflows.NewIssuerInput(k.Kind, k.Namespace, k.Name, sig)
		opts := client.StartWorkflowOptions{ID: id, TaskQueue: w.o.TaskQueue,
			StaticSummary: fmt.Sprintf("%s %s", k.Kind, k.Name)}
		if _, err := w.o.Temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalSpec, sig, opts, workflows.IssuerWorkflow, in); err != nil {
			w.forget(k, fp)
			return fmt.Errorf("signal-with-start %s: %w", id, err)
		}
	}
	// Wake the Certificates of this issuer when its readiness changes.
	ready := readyFingerprint(conds)
	rk := key{Kind: k.Kind + "/ready", Namespace: k.Namespace, Name: k.Name}
	if !w.remember(rk, ready) {
		return nil
	}
	certs, err := w.certs.GetIndexer().ByIndex(indexIssuer, issuerIndexKey(k.Kind, k.Namespace, k.Name))
	if err != nil {
		return err
	}
	for _, o := range certs {
		c := o.(*cmapi.Certificate)
		if err := w.signalIfRunning(ctx, workflows.CertificateWorkflowID(c.Namespace, c.Name), workflows.SignalIssuerChanged,
			workflows.IssuerChangedSignal{Ready: ready != ""}); err != nil {
			w.forget(rk, ready)
			return err
		}
	}
	return nil
}

// readyFingerprint is non-empty when the issuer is Ready, and changes with each transition.
func readyFingerprint(conds []cmapi.IssuerCondition) string {
	for _, c := range conds {
		if c.Type == cmapi.IssuerConditionReady && c.Status == cmmeta.ConditionTrue {
			if c.LastTransitionTime != nil {
				return "ready@" + c.LastTransitionTime.UTC().Format(time.RFC3339)
			}
			return "ready"
		}
	}
	return ""
}

// syncSecret wakes the Certificates whose target Secret changed, unless the change was
// certflow's own write (the workflow already knows what it wrote).
func (w *Watcher) syncSecret(ctx context.Context, k key) error {
	obj, exists, err := w.secretInformer.GetIndexer().GetByKey(cacheKey(k.Namespace, k.Name))
	if err != nil {
		return err
	}
	fp := "deleted"
	if exists {
		m, err := meta(obj)
		if err != nil {
			return err
		}
		if lastManager(m) == conventions.FieldManager && !w.usedByIssuer(k) {
			w.remember(k, m.GetResourceVersion())
			return nil
		}
		fp = m.GetResourceVersion()
	}
	if !w.remember(k, fp) {
		return nil
	}
	var ids []string
	certs, err := w.certs.GetIndexer().ByIndex(indexSecret, cacheKey(k.Namespace, k.Name))
	if err != nil {
		return err
	}
	for _, o := range certs {
		c := o.(*cmapi.Certificate)
		ids = append(ids, workflows.CertificateWorkflowID(c.Namespace, c.Name))
	}
	issuers, err := w.issuers.GetIndexer().ByIndex(indexSecret, cacheKey(k.Namespace, k.Name))
	if err != nil {
		return err
	}
	for _, o := range issuers {
		iss := o.(*cmapi.Issuer)
		ids = append(ids, workflows.IssuerWorkflowID(iss.Namespace, iss.Name))
	}
	clusterIssuers, err := w.clusterIssuers.GetIndexer().ByIndex(indexSecret, cacheKey(k.Namespace, k.Name))
	if err != nil {
		return err
	}
	for _, o := range clusterIssuers {
		ids = append(ids, workflows.IssuerWorkflowID("", o.(*cmapi.ClusterIssuer).Name))
	}
	for _, id := range ids {
		if err := w.signalIfRunning(ctx, id, workflows.SignalSecretChanged, workflows.SecretChangedSignal{ResourceVersion: fp}); err != nil {
			w.forget(k, fp)
			return err
		}
	}
	return nil
}

// syncRequest relays an approval decision on a Certificate's request (internal approver,
// starter approve/deny, or kubectl) to the Certificate's workflow.
func (w *Watcher) syncRequest(ctx context.Context, k key) error {
	cr, err := w.requestLister.CertificateRequests(k.Namespace).Get(k.Name)
	if apierrors.IsNotFound(err) {
		w.forget(k, "")
		return nil
	}
	if err != nil {
		return err
	}
	cert := cr.Annotations[cmapi.CertificateNameKey]
	decision := approvalDecision(cr)
	if cert == "" || decision == "" {
		return nil
	}
	fp := string(cr.UID) + "/" + decision
	if !w.remember(k, fp) {
		return nil
	}
	if err := w.signalIfRunning(ctx, workflows.CertificateWorkflowID(cr.Namespace, cert), workflows.SignalApproval,
		workflows.ApprovalSignal{Request: cr.Name}); err != nil {
		w.forget(k, fp)
		return err
	}
	return nil
}

// approvalDecision is "approved", "denied" or "" (undecided, or approved by certflow's
// own internal approver: the workflow that asked for that approval already has it, and a
// signal would only make it replay its workflow task).
func approvalDecision(cr *cmapi.CertificateRequest) string {
	for _, c := range cr.Status.Conditions {
		if c.Status != cmmeta.ConditionTrue {
			continue
		}
		switch c.Type {
		case cmapi.CertificateRequestConditionApproved:
			if c.Reason == cmapi.ApprovedReasonCertManager {
				return ""
			}
			return "approved"
		case cmapi.CertificateRequestConditionDenied:
			return "denied"
		}
	}
	return ""
}

// usedByIssuer reports whether a CA Issuer or ClusterIssuer signs with this Secret: its
// workflow needs to hear of certflow's own writes too (a CA certificate just issued).
func (w *Watcher) usedByIssuer(k key) bool {
	for _, inf := range []cache.SharedIndexInformer{w.issuers, w.clusterIssuers} {
		if objs, err := inf.GetIndexer().ByIndex(indexSecret, cacheKey(k.Namespace, k.Name)); err == nil && len(objs) > 0 {
			return true
		}
	}
	return false
}

// signalIfRunning signals a workflow; a workflow that does not run is not an error.
func (w *Watcher) signalIfRunning(ctx context.Context, id, name string, arg any) error {
	err := w.o.Temporal.SignalWorkflow(ctx, id, "", name, arg)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("signal %s to %s: %w", name, id, err)
	}
	return nil
}

func issuerIndex(obj any) ([]string, error) {
	c, ok := obj.(*cmapi.Certificate)
	if !ok {
		return nil, nil
	}
	kind := c.Spec.IssuerRef.Kind
	if kind == "" {
		kind = kindIssuer
	}
	return []string{issuerIndexKey(kind, c.Namespace, c.Spec.IssuerRef.Name)}, nil
}

func issuerIndexKey(kind, namespace, name string) string {
	if kind == kindClusterIssuer {
		namespace = ""
	}
	return kind + "/" + namespace + "/" + name
}

func secretIndex(obj any) ([]string, error) {
	c, ok := obj.(*cmapi.Certificate)
	if !ok {
		return nil, nil
	}
	return []string{cacheKey(c.Namespace, c.Spec.SecretName)}, nil
}

func cacheKey(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

func meta(obj any) (metav1.Object, error) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	return m, nil
}

// leanCache keeps the informer caches small: the watcher never reads managedFields of
// certflow's own kinds (it does for Secrets, whose informer keeps them), nor the PEM
// payloads of CertificateRequests (only their annotations and conditions), which are
// most of their size. Memory then stays flat as Certificates grow into the tens of
// thousands.
func leanCache(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	if cr, ok := obj.(*cmapi.CertificateRequest); ok {
		cr.Spec.Request, cr.Status.Certificate, cr.Status.CA = nil, nil, nil
	}
	return obj, nil
}

// newestManagerOnly keeps of a Secret's managedFields just what lastManager reads: the
// newest entry's manager and time, without the field sets that make up most of the
// metadata's size.
func newestManagerOnly(obj any) (any, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	newest := lastManagedEntry(m)
	if newest.Time == nil {
		m.SetManagedFields(nil)
	} else {
		m.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: newest.Manager, Time: newest.Time}})
	}
	return obj, nil
}

// lastManager names the field manager of the newest managedFields entry.
func lastManager(m metav1.Object) string {
	return lastManagedEntry(m).Manager
}

func lastManagedEntry(m metav1.Object) metav1.ManagedFieldsEntry {
	var newest metav1.ManagedFieldsEntry
	for _, e := range m.GetManagedFields() {
		if e.Time != nil && (newest.Time == nil || !e.Time.Before(newest.Time)) {
			newest = e
		}
	}
	return newest
}
