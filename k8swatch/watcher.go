// Package k8swatch turns Kubernetes object events into Temporal workflow signals. It is
// thin and level-triggered: shared informers feed a rate-limited workqueue of object keys;
// a key is resolved against the informer cache and becomes SignalWithStartWorkflow on the
// object's entity workflow. It never waits for a workflow and keeps no state that a
// restart could lose: the dedupe memory only saves signals, it is not needed for safety.
package k8swatch

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/client/informers/externalversions"
	cmlisters "github.com/certflow/certflow/client/listers/certmanager/v1"
	"github.com/certflow/certflow/internal/entity"
	"github.com/certflow/certflow/internal/metrics"
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

// key identifies an object in the queue. A deletion is a key of its own, with the UID
// of the object that went: a new object of the same name (deleted and created again in
// quick succession) is another key, and its workflow tells the two apart by UID.
type key struct {
	Kind, Namespace, Name string
	DeletedUID            string
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
	Resync time.Duration
	// SweepInterval is how often the watcher compares the objects with the workflows
	// that run, and restarts the missing (default DefaultSweepInterval).
	SweepInterval time.Duration
	Workers       int
	Log           *slog.Logger
	// Synced, when set, is told when the caches have synced (true) and when this
	// watcher stops (false): the process's readiness.
	Synced func(bool)
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
	requests       cache.SharedIndexInformer
	certLister     cmlisters.CertificateLister
	requestLister  cmlisters.CertificateRequestLister
	issuerLister   cmlisters.IssuerLister
	clusterLister  cmlisters.ClusterIssuerLister
	secretInformer cache.SharedIndexInformer

	mu   sync.Mutex
	seen map[key]string // last fingerprint signaled per object
	// restart holds the objects the sweep found without a workflow: their next sync
	// signals whatever seen says. Not a key of its own, so that the queue never syncs
	// one object on two workers at once (a late signal of an older UID would win).
	restart map[key]bool
	// initial holds the Certificates of the list this watcher started with, not synced
	// yet: only for those may a current status stand for a signal (statusCurrent). A
	// Certificate seen again after a deletion is news, whatever its status says.
	initial map[key]bool
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
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	w := &Watcher{
		o: o,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "k8swatch"}),
		factory: externalversions.NewSharedInformerFactoryWithOptions(o.CertFlow, o.Resync, externalversions.WithTransform(leanCache)),
		seen:    map[key]string{},
		restart: map[key]bool{},
		initial: map[key]bool{},
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
	w.requests = cm.CertificateRequests().Informer()
	if err := w.requests.AddIndexers(cache.Indexers{indexIssuer: requestIssuerIndex}); err != nil {
		return nil, err
	}
	for kind, inf := range map[string]cache.SharedIndexInformer{
		kindCertificate: w.certs, kindIssuer: w.issuers, kindClusterIssuer: w.clusterIssuers,
		kindRequest: w.requests,
	} {
		if _, err := inf.AddEventHandler(w.handler(kind)); err != nil {
			return nil, err
		}
	}
	for kind, inf := range map[string]cache.SharedIndexInformer{kindIssuer: w.issuers, kindClusterIssuer: w.clusterIssuers} {
		if _, err := inf.AddEventHandler(w.initialReadiness(kind)); err != nil {
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
	deleted := func(obj any) {
		m, err := meta(obj)
		if err != nil {
			utilruntime.HandleError(err)
			return
		}
		k := key{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}
		switch kind {
		case kindCertificate, kindIssuer, kindClusterIssuer:
			k.DeletedUID = string(m.GetUID())
		case kindRequest:
			if cr, ok := unwrap(obj).(*cmapi.CertificateRequest); ok && servedStandalone(cr) {
				k.DeletedUID = string(m.GetUID())
			}
		}
		w.queue.Add(k)
	}
	added := func(obj any, isInInitialList bool) {
		if kind == kindCertificate && isInInitialList {
			if m, err := meta(obj); err == nil {
				w.mu.Lock()
				w.initial[key{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}] = true
				w.mu.Unlock()
			}
		}
		enqueue(obj)
	}
	return cache.ResourceEventHandlerDetailedFuncs{AddFunc: added, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: deleted}
}

// initialReadiness remembers the readiness of the issuers a (re)started watcher finds:
// it wakes a Certificate only for a change it sees, so a restart does not wake every
// Certificate of every ready issuer. A wait for an issuer that became ready while no
// watcher ran ends on the workflow's own re-check (policy.SignalRecheck).
func (w *Watcher) initialReadiness(kind string) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerDetailedFuncs{AddFunc: func(obj any, isInInitialList bool) {
		if !isInInitialList {
			return
		}
		var conds []cmapi.IssuerCondition
		switch iss := obj.(type) {
		case *cmapi.Issuer:
			conds = iss.Status.Conditions
		case *cmapi.ClusterIssuer:
			conds = iss.Status.Conditions
		}
		m, err := meta(obj)
		if err != nil {
			return
		}
		w.remember(readyKey(key{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()}), readyFingerprint(conds))
	}}
}

// readyKey is the watcher's memory of an issuer's readiness.
func readyKey(k key) key { return key{Kind: k.Kind + "/ready", Namespace: k.Namespace, Name: k.Name} }

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
	w.o.Log.Info("k8swatch caches synced", "workers", w.o.Workers, "sweepInterval", w.o.SweepInterval)
	// The Certificate gauges are read from this term's cache while it lasts.
	defer metrics.Objects.Serve(metrics.Listers{Certificates: w.certLister, Issuers: w.issuerLister, ClusterIssuers: w.clusterLister})()
	if w.o.Synced != nil {
		w.o.Synced(true)
		defer w.o.Synced(false)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.sweepEvery(ctx)
	}()
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
		controller := controllerName(k.Kind)
		metrics.SyncCalls.WithLabelValues(controller).Inc()
		err := w.sync(ctx, k)
		if err != nil {
			metrics.SyncErrors.WithLabelValues(controller).Inc()
			w.o.Log.Warn("k8swatch sync failed, will retry", "kind", k.Kind, "namespace", k.Namespace, "name", k.Name, "err", err)
			w.queue.AddRateLimited(k)
		} else {
			w.queue.Forget(k)
		}
		w.queue.Done(k)
	}
}

// controllerName labels the sync metrics by kind, in upstream's lower-case plural.
func controllerName(kind string) string { return strings.ToLower(kind) + "s" }

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

// takeRestart says whether the sweep asked for k to be signaled, and clears that.
func (w *Watcher) takeRestart(k key) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.restart[k]
	delete(w.restart, k)
	return r
}

// takeInitial says whether k was in the list the watcher started with and not synced
// since, and clears that.
func (w *Watcher) takeInitial(k key) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.initial[k]
	delete(w.initial, k)
	return r
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
	if k.DeletedUID != "" {
		uid := ""
		if err == nil {
			uid = string(cert.UID)
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		return w.deleted(ctx, k, id, uid)
	}
	if apierrors.IsNotFound(err) {
		w.forget(k, "") // its deletion is a key of its own
		return nil
	}
	if err != nil {
		return err
	}
	sig := entity.CertificateSpec(cert)
	fp := fmt.Sprintf("%s/%d/%s", cert.UID, cert.Generation, sig.ManualRenewToken)
	restart := w.takeRestart(k)
	initial := w.takeInitial(k)
	if !w.remember(k, fp) && !restart {
		return nil
	}
	if initial && !restart && statusCurrent(cert, sig.ManualRenewToken) {
		// First sight at a watcher start: its workflow wrote this generation's status,
		// so there is nothing new to tell it; a workflow that is gone is the sweep's.
		// (Not for an object created again after a deletion while this watcher runs:
		// its status may have been written by a workflow that a late signal of the
		// older object has turned back to that one since.)
		if w.managedSecretCached(cert) {
			return nil
		}
		// Unless its Secret went (or lost its managed label) while no watcher ran: no
		// event will ever say so. Tell the workflow as that deletion would have.
		gone := workflows.SecretChangedSignal{ResourceVersion: "deleted"}
		if err := entity.Certificate(ctx, w.o.Temporal, w.o.TaskQueue, cert, workflows.SignalSecretChanged, gone); err != nil {
			w.forget(k, fp)
			return err
		}
		return nil
	}
	if err := entity.Certificate(ctx, w.o.Temporal, w.o.TaskQueue, cert, workflows.SignalSpec, sig); err != nil {
		w.forget(k, fp)
		return err
	}
	return nil
}

// managedSecretCached says whether the Certificate's Secret is in the cache of managed
// Secrets.
func (w *Watcher) managedSecretCached(cert *cmapi.Certificate) bool {
	_, exists, err := w.secretInformer.GetIndexer().GetByKey(cacheKey(cert.Namespace, cert.Spec.SecretName))
	return err == nil && exists
}

// statusCurrent says whether the Certificate's Ready condition was written for its
// current generation, with no manual renewal asked for.
func statusCurrent(cert *cmapi.Certificate, manualRenewToken string) bool {
	if manualRenewToken != "" {
		return false
	}
	for _, c := range cert.Status.Conditions {
		if c.Type == cmapi.CertificateConditionReady {
			return c.ObservedGeneration == cert.Generation
		}
	}
	return false
}

// deleted tells the workflow id that the object of k.DeletedUID is gone. cachedUID is
// the UID of the object of that name in the cache ("" when there is none): the same
// UID means the deletion is stale, another one a new object that keeps the workflow.
func (w *Watcher) deleted(ctx context.Context, k key, id, cachedUID string) error {
	if cachedUID == k.DeletedUID {
		return nil
	}
	if cachedUID == "" {
		w.forget(key{Kind: k.Kind, Namespace: k.Namespace, Name: k.Name}, "")
		w.forget(readyKey(k), "")
	}
	return entity.Delete(ctx, w.o.Temporal, id, k.DeletedUID)
}

func (w *Watcher) syncIssuer(ctx context.Context, k key) error {
	var (
		obj   any
		uid   string
		conds []cmapi.IssuerCondition
		err   error
	)
	if k.Kind == kindIssuer {
		var iss *cmapi.Issuer
		if iss, err = w.issuerLister.Issuers(k.Namespace).Get(k.Name); err == nil {
			obj, uid, conds = iss, string(iss.UID), iss.Status.Conditions
		}
	} else {
		var iss *cmapi.ClusterIssuer
		if iss, err = w.clusterLister.Get(k.Name); err == nil {
			obj, uid, conds = iss, string(iss.UID), iss.Status.Conditions
		}
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	id := workflows.IssuerWorkflowID(k.Namespace, k.Name)
	if k.DeletedUID != "" {
		return w.deleted(ctx, k, id, uid)
	}
	if apierrors.IsNotFound(err) {
		w.forget(k, "") // its deletion is a key of its own
		return nil
	}
	iss, _ := entity.IssuerOf(obj)
	fp := fmt.Sprintf("%s/%d", iss.UID, iss.Generation)
	if restart := w.takeRestart(k); w.remember(k, fp) || restart {
		if err := iss.Signal(ctx, w.o.Temporal, w.o.TaskQueue, workflows.SignalSpec, iss.SpecSignal()); err != nil {
			w.forget(k, fp)
			return err
		}
	}
	// Wake the Certificates of this issuer when its readiness changes.
	ready := readyFingerprint(conds)
	rk := readyKey(k)
	if !w.remember(rk, ready) {
		return nil
	}
	certs, err := w.certs.GetIndexer().ByIndex(indexIssuer, issuerIndexKey(k.Kind, k.Namespace, k.Name))
	if err != nil {
		return err
	}
	for _, o := range certs {
		if err := entity.Certificate(ctx, w.o.Temporal, w.o.TaskQueue, o.(*cmapi.Certificate),
			workflows.SignalIssuerChanged, workflows.IssuerChangedSignal{Ready: ready != ""}); err != nil {
			w.forget(rk, ready)
			return err
		}
	}
	if ready == "" {
		return nil // a request waiting for its issuer waits on
	}
	requests, err := w.requests.GetIndexer().ByIndex(indexIssuer, issuerIndexKey(k.Kind, k.Namespace, k.Name))
	if err != nil {
		return err
	}
	for _, o := range requests {
		if err := entity.Request(ctx, w.o.Temporal, w.o.TaskQueue, o.(*cmapi.CertificateRequest),
			workflows.SignalIssuerChanged, workflows.IssuerChangedSignal{Ready: true}); err != nil {
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
	signal := workflows.SecretChangedSignal{ResourceVersion: fp}
	certs, err := w.certs.GetIndexer().ByIndex(indexSecret, cacheKey(k.Namespace, k.Name))
	if err != nil {
		return err
	}
	for _, o := range certs {
		if err := entity.Certificate(ctx, w.o.Temporal, w.o.TaskQueue, o.(*cmapi.Certificate), workflows.SignalSecretChanged, signal); err != nil {
			w.forget(k, fp)
			return err
		}
	}
	for _, inf := range []cache.SharedIndexInformer{w.issuers, w.clusterIssuers} {
		issuers, err := inf.GetIndexer().ByIndex(indexSecret, cacheKey(k.Namespace, k.Name))
		if err != nil {
			return err
		}
		for _, o := range issuers {
			iss, _ := entity.IssuerOf(o)
			if err := iss.Signal(ctx, w.o.Temporal, w.o.TaskQueue, workflows.SignalSecretChanged, signal); err != nil {
				w.forget(k, fp)
				return err
			}
		}
	}
	return nil
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

// unwrap is the object of an event, also of a deletion the informer missed.
func unwrap(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

func meta(obj any) (metav1.Object, error) {
	m, ok := unwrap(obj).(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	return m, nil
}

// leanCache keeps the informer caches small: of certflow's own kinds it keeps no
// managedFields but, on a Certificate marked for manual renewal, the one entry naming
// who marked it, which the spec signal carries (Secrets' informer keeps theirs); and
// no PEM payloads of CertificateRequests (only their annotations and conditions are
// read), which are most of their size. Memory then stays flat as Certificates grow into the tens of
// thousands.
func leanCache(obj any) (any, error) {
	if cert, ok := obj.(*cmapi.Certificate); ok {
		// Only who asked for a manual renewal, which the spec signal carries.
		entity.LeanManualRenewFields(cert)
	} else if m, ok := obj.(metav1.Object); ok {
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
