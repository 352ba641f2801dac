// Package cainjector is certflow's CA injector, upstream cert-manager's cainjector run by
// the watcher: ValidatingWebhookConfigurations, MutatingWebhookConfigurations,
// APIServices and CustomResourceDefinitions (conversion webhook) annotated with
// cert-manager.io/inject-ca-from (a Certificate), inject-ca-from-secret (a Secret that
// allows it) or inject-apiserver-ca get that CA in their caBundle fields, and keep it
// current as the CA is re-issued.
//
// Level-triggered like the watcher: lean informer caches of the targets (annotations and
// caBundle fields only), of Certificates (spec.secretName only) and of Secrets (metadata
// only, the certificate-name annotation kept) feed a rate-limited workqueue of targets.
// A sync reads the one Secret its target names (GET: the caches hold no Secret data) and
// writes only when a bundle differs, by server-side apply of the caBundle fields alone.
// A target whose annotation or source is wrong gets one Warning Event per distinct
// problem and a log line; it is synced again when it or its source changes.
package cainjector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apiextinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	aggregatorinformers "k8s.io/kube-aggregator/pkg/client/informers/externalversions"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/client/informers/externalversions"
	cmlisters "github.com/certflow/certflow/client/listers/certmanager/v1"
	"github.com/certflow/certflow/internal/metrics"
)

// Clients are what the injector talks to; make them once per process with NewClients.
type Clients struct {
	Kube       kubernetes.Interface
	APIExt     apiextclient.Interface
	Aggregator aggregator.Interface
	CertFlow   versioned.Interface
	Metadata   metadata.Interface
	// APIServerCA reads the API server's CA (inject-apiserver-ca), once per Run.
	APIServerCA func() ([]byte, error)
}

// NewClients makes the clients from cfg; the API server's CA is cfg's CA data (its CA
// file, in a cluster the ServiceAccount's ca.crt, read at each Run).
func NewClients(cfg *rest.Config) (*Clients, error) {
	c := &Clients{}
	var err error
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.APIExt, err = apiextclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Aggregator, err = aggregator.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.CertFlow, err = versioned.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.Metadata, err = metadata.NewForConfig(cfg); err != nil {
		return nil, err
	}
	data, file := cfg.CAData, cfg.CAFile
	c.APIServerCA = func() ([]byte, error) {
		if len(data) > 0 {
			return data, nil
		}
		if file != "" {
			return os.ReadFile(file)
		}
		return nil, nil
	}
	return c, nil
}

// Options configure an Injector.
type Options struct {
	*Clients
	// Resync syncs every annotated target again this often (0: never).
	Resync  time.Duration
	Workers int
	Log     *slog.Logger
}

// ControllerName labels the injector's sync metrics (controller_sync_call_count ...).
const ControllerName = "cainjector"

// Writes counts the caBundle writes, by kind of target: an idle injector adds none.
var Writes = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "certflow", Subsystem: "cainjector", Name: "ca_bundle_writes_total",
	Help: "The number of targets whose caBundle fields the CA injector wrote. Label: kind.",
}, []string{"kind"})

func init() { metrics.Registry.MustRegister(Writes) }

// key is a target in the queue (all of them are cluster-scoped).
type key struct{ Kind, Name string }

// Injector keeps the caBundle fields of annotated targets current. Make one per
// leadership term with New and run it with Run.
type Injector struct {
	o      Options
	queue  workqueue.TypedRateLimitingInterface[key]
	writer writer

	kube      informers.SharedInformerFactory
	apiext    apiextinformers.SharedInformerFactory
	aggr      aggregatorinformers.SharedInformerFactory
	certflow  externalversions.SharedInformerFactory
	secrets   metadatainformer.SharedInformerFactory
	targets   map[string]cache.SharedIndexInformer
	certs     cmlisters.CertificateLister
	synced    []cache.InformerSynced
	apiCA     []byte
	apiCAErr  error
	recorder  record.EventRecorder
	broadcast record.EventBroadcaster

	mu     sync.Mutex
	warned map[key]Problem // the last Warning Event of each target, to send each once
}

// New wires the informers; nothing runs until Run.
func New(o Options) (*Injector, error) {
	if o.Clients == nil {
		return nil, errors.New("cainjector: no clients")
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	in := &Injector{
		o: o,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "cainjector"}),
		writer:   writer{kube: o.Kube, apiext: o.APIExt, aggregator: o.Aggregator},
		kube:     informers.NewSharedInformerFactoryWithOptions(o.Kube, o.Resync, informers.WithTransform(leanTarget)),
		apiext:   apiextinformers.NewSharedInformerFactoryWithOptions(o.APIExt, o.Resync, apiextinformers.WithTransform(leanTarget)),
		aggr:     aggregatorinformers.NewSharedInformerFactoryWithOptions(o.Aggregator, o.Resync, aggregatorinformers.WithTransform(leanTarget)),
		certflow: externalversions.NewSharedInformerFactoryWithOptions(o.CertFlow, 0, externalversions.WithTransform(leanCertificate)),
		secrets:  metadatainformer.NewSharedInformerFactory(o.Metadata, 0),
		warned:   map[key]Problem{},
	}
	in.targets = map[string]cache.SharedIndexInformer{
		KindValidatingWebhook: in.kube.Admissionregistration().V1().ValidatingWebhookConfigurations().Informer(),
		KindMutatingWebhook:   in.kube.Admissionregistration().V1().MutatingWebhookConfigurations().Informer(),
		KindAPIService:        in.aggr.Apiregistration().V1().APIServices().Informer(),
		KindCRD:               in.apiext.Apiextensions().V1().CustomResourceDefinitions().Informer(),
	}
	for kind, inf := range in.targets {
		if err := inf.AddIndexers(cache.Indexers{
			indexSecret:      func(obj any) ([]string, error) { return indexOf(obj, indexSecret), nil },
			indexCertificate: func(obj any) ([]string, error) { return indexOf(obj, indexCertificate), nil },
		}); err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(in.targetHandler(kind)); err != nil {
			return nil, err
		}
		in.synced = append(in.synced, inf.HasSynced)
	}
	certs := in.certflow.Certmanager().V1().Certificates()
	in.certs = certs.Lister()
	if _, err := certs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { in.touch(CertificateTouches(nil, asCertificate(obj))) },
		UpdateFunc: func(old, obj any) { in.touch(CertificateTouches(asCertificate(old), asCertificate(obj))) },
		DeleteFunc: func(obj any) { in.touch(CertificateTouches(asCertificate(obj), nil)) },
	}); err != nil {
		return nil, err
	}
	in.synced = append(in.synced, certs.Informer().HasSynced)
	// Every Secret's metadata (inject-ca-from-secret may name any), cut down to the name
	// and the certificate-name annotation: change notifications only, no data.
	secrets := in.secrets.ForResource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Informer()
	if err := secrets.SetTransform(leanSecret); err != nil {
		return nil, err
	}
	if _, err := secrets.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { in.touch(SecretTouches(asSecretRef(obj)...)) },
		UpdateFunc: func(old, obj any) {
			if resourceVersion(old) != resourceVersion(obj) {
				in.touch(SecretTouches(append(asSecretRef(old), asSecretRef(obj)...)...))
			}
		},
		DeleteFunc: func(obj any) { in.touch(SecretTouches(asSecretRef(obj)...)) },
	}); err != nil {
		return nil, err
	}
	in.synced = append(in.synced, secrets.HasSynced)
	return in, nil
}

// Run starts the informers and workers and blocks until ctx is done.
func (in *Injector) Run(ctx context.Context) error {
	defer in.queue.ShutDown()
	in.apiCA, in.apiCAErr = in.o.APIServerCA()
	in.broadcast = record.NewBroadcaster(record.WithContext(ctx))
	in.broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: in.o.Kube.CoreV1().Events("")})
	defer in.broadcast.Shutdown()
	in.recorder = in.broadcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "certflow-cainjector"})
	for _, f := range []interface{ Start(<-chan struct{}) }{in.kube, in.apiext, in.aggr, in.certflow, in.secrets} {
		f.Start(ctx.Done())
	}
	defer func() {
		in.kube.Shutdown()
		in.apiext.Shutdown()
		in.aggr.Shutdown()
		in.certflow.Shutdown()
		in.secrets.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), in.synced...) {
		return fmt.Errorf("cainjector: informer caches did not sync")
	}
	in.o.Log.Info("cainjector caches synced", "workers", in.o.Workers)
	var wg sync.WaitGroup
	for i := 0; i < in.o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, in.work, time.Second)
		}()
	}
	<-ctx.Done()
	in.queue.ShutDown()
	wg.Wait()
	return nil
}

func (in *Injector) work(ctx context.Context) {
	for {
		k, quit := in.queue.Get()
		if quit {
			return
		}
		err := in.sync(ctx, k)
		// Counted once done, so that a count says the syncs before it are over.
		metrics.SyncCalls.WithLabelValues(ControllerName).Inc()
		if err != nil {
			metrics.SyncErrors.WithLabelValues(ControllerName).Inc()
			in.o.Log.Warn("cainjector sync failed, will retry", "kind", k.Kind, "name", k.Name, "err", err)
			in.queue.AddRateLimited(k)
		} else {
			in.queue.Forget(k)
		}
		in.queue.Done(k)
	}
}

// targetHandler enqueues targets that carry (or carried) an injector annotation.
func (in *Injector) targetHandler(kind string) cache.ResourceEventHandler {
	enqueue := func(objs ...any) {
		for _, obj := range objs {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if t, ok := TargetOf(obj); ok && HasInjectAnnotation(t.Annotations) {
				in.queue.Add(key{Kind: kind, Name: t.Name})
				return
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { enqueue(obj) },
		UpdateFunc: func(old, obj any) { enqueue(obj, old) },
		DeleteFunc: func(obj any) { enqueue(obj) },
	}
}

// touch enqueues the targets of the touched index entries.
func (in *Injector) touch(t Touched) {
	for index, keys := range t {
		for k := range keys {
			for kind, inf := range in.targets {
				objs, err := inf.GetIndexer().ByIndex(index, k)
				if err != nil {
					utilruntime.HandleError(err)
					continue
				}
				for _, obj := range objs {
					if target, ok := TargetOf(obj); ok {
						in.queue.Add(key{Kind: kind, Name: target.Name})
					}
				}
			}
		}
	}
}

func (in *Injector) sync(ctx context.Context, k key) error {
	obj, exists, err := in.targets[k.Kind].GetIndexer().GetByKey(k.Name)
	if err != nil {
		return err
	}
	t, ok := TargetOf(obj)
	if !exists || !ok || t.Deleting {
		in.forget(k)
		return nil
	}
	src, err := SourceOf(t.Annotations)
	if err != nil {
		in.warn(k, t, Problem{ReasonInvalidAnnotation, err.Error()})
		return nil
	}
	if src.Kind == NoSource {
		in.forget(k)
		return nil
	}
	ca, problem, err := in.readCA(ctx, src)
	if err != nil {
		return err
	}
	if problem != nil {
		in.warn(k, t, *problem)
		return nil
	}
	if t.NoSlot != "" {
		in.warn(k, t, Problem{ReasonNoCABundleField, fmt.Sprintf("%s %s asks for a CA from %s, but %s", t.Kind, t.Name, describe(src), t.NoSlot)})
		return nil
	}
	if !NeedsWrite(t.Slots, ca) {
		in.forget(k)
		return nil
	}
	if err := in.writer.write(ctx, t, ca); err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
			// The target refuses the bundle (e.g. an APIService with insecureSkipTLSVerify):
			// retrying will not help until it changes.
			in.warn(k, t, Problem{ReasonInjectFailed, fmt.Sprintf("writing the CA from %s: %v", describe(src), err)})
			return nil
		}
		return fmt.Errorf("write the CA from %s: %w", describe(src), err)
	}
	Writes.WithLabelValues(t.Kind).Inc()
	in.forget(k)
	in.o.Log.Info("cainjector injected a CA", "kind", t.Kind, "name", t.Name, "source", describe(src), "fields", len(t.Slots))
	return nil
}

func describe(s Source) string {
	if s.Kind == FromAPIServer {
		return "the API server"
	}
	return s.Kind.String() + " " + s.Key()
}

// readCA reads the source's CA. A problem is the user's to fix (a Warning Event, no
// retry: the source's next change syncs again); an error is retried.
func (in *Injector) readCA(ctx context.Context, src Source) ([]byte, *Problem, error) {
	switch src.Kind {
	case FromAPIServer:
		if in.apiCAErr != nil {
			return nil, &Problem{ReasonNoAPIServerCA, fmt.Sprintf("the API server's CA could not be read: %v", in.apiCAErr)}, nil
		}
		if len(in.apiCA) == 0 {
			return nil, &Problem{ReasonNoAPIServerCA, "the watcher's connection to the API server has no CA to inject"}, nil
		}
		if err := CheckCA(in.apiCA); err != nil {
			return nil, &Problem{ReasonInvalidCA, fmt.Sprintf("the API server's CA %v", err)}, nil
		}
		return in.apiCA, nil, nil
	case FromCertificate:
		cert, err := in.certs.Certificates(src.Namespace).Get(src.Name)
		if apierrors.IsNotFound(err) {
			return nil, &Problem{ReasonCertificateNotFound, fmt.Sprintf("Certificate %s does not exist", src.Key())}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		secret, problem, err := in.getSecret(ctx, src.Namespace, cert.Spec.SecretName, "Certificate "+src.Key()+"'s ")
		if secret == nil {
			return nil, problem, err
		}
		ca, problem := CAOfCertificateSecret(src.Namespace, src.Name, secret)
		return ca, problem, nil
	case FromSecret:
		secret, problem, err := in.getSecret(ctx, src.Namespace, src.Name, "")
		if secret == nil {
			return nil, problem, err
		}
		ca, problem := CAOfSecret(secret)
		return ca, problem, nil
	}
	return nil, nil, nil
}

// getSecret reads a Secret's data from the API server: the caches hold none.
func (in *Injector) getSecret(ctx context.Context, ns, name, whose string) (*corev1.Secret, *Problem, error) {
	s, err := in.o.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, &Problem{ReasonSecretNotFound, fmt.Sprintf("%sSecret %s/%s does not exist", whose, ns, name)}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return s, nil, nil
}

// warn sends a Warning Event on the target and logs, once per distinct problem.
func (in *Injector) warn(k key, t Target, p Problem) {
	in.mu.Lock()
	last, seen := in.warned[k]
	in.warned[k] = p
	in.mu.Unlock()
	if seen && last == p {
		return
	}
	in.o.Log.Warn("cainjector cannot inject a CA", "kind", t.Kind, "name", t.Name, "reason", p.Reason, "message", p.Message)
	ref := &corev1.ObjectReference{Kind: t.Kind, APIVersion: t.APIVersion, Name: t.Name, UID: t.UID, ResourceVersion: t.ResourceVersion}
	in.recorder.Event(ref, corev1.EventTypeWarning, p.Reason, p.Message)
}

// forget clears the target's last problem: the next one is reported again.
func (in *Injector) forget(k key) {
	in.mu.Lock()
	delete(in.warned, k)
	in.mu.Unlock()
}

func indexOf(obj any, index string) []string {
	t, ok := TargetOf(obj)
	if !ok {
		return nil
	}
	return targetIndexes(t.Annotations)[index]
}

func asCertificate(obj any) *cmapi.Certificate {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	c, _ := obj.(*cmapi.Certificate)
	return c
}

func asSecretRef(obj any) []SecretRef {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil
	}
	return []SecretRef{{Namespace: m.GetNamespace(), Name: m.GetName(), Annotations: m.GetAnnotations()}}
}

func resourceVersion(obj any) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetResourceVersion()
	}
	return ""
}
