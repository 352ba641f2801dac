package shim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	gwapi "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gwinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gwlisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/client/clientset/versioned"
	"github.com/certflow/certflow/client/informers/externalversions"
	cmlisters "github.com/certflow/certflow/client/listers/certmanager/v1"
	"github.com/certflow/certflow/internal/metrics"
)

// FieldManager writes the shims' Certificates.
const FieldManager = "certflow-shim"

// Options configure Run.
type Options struct {
	Kube     kubernetes.Interface
	CertFlow versioned.Interface
	// Gateway is the Gateway API's client (with Config.EnableGatewayAPI).
	Gateway gatewayclient.Interface
	Config  Config
	// Resync re-delivers every object periodically (0: never).
	Resync  time.Duration
	Workers int
	Log     *slog.Logger
}

// key is an object in the queue.
type key struct{ Kind, Namespace, Name string }

// controller is one leadership term's shims.
type controller struct {
	o        Options
	queue    workqueue.TypedRateLimitingInterface[key]
	recorder record.EventRecorder

	ingresses    networkinglisters.IngressLister
	certificates cmlisters.CertificateLister
	gateways     gwlisters.GatewayLister
	listenerSets gwlisters.ListenerSetLister
	lsInformer   cache.SharedIndexInformer
	synced       []cache.InformerSynced
}

// indexParent indexes ListenerSets by the namespace/name of their parent Gateway.
const indexParent = "parent"

// Run runs ingress-shim and, with Config.EnableGatewayAPI, gateway-shim (ListenerSets
// too when the cluster serves them) until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	o.Config = o.Config.Defaults()
	c := &controller{o: o, queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
		workqueue.TypedRateLimitingQueueConfig[key]{Name: "certificate-shim"})}
	defer c.queue.ShutDown()

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := gwapi.Install(scheme); err != nil {
		return err
	}
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: o.Kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	c.recorder = broadcaster.NewRecorder(scheme, corev1.EventSource{Component: "cert-manager-certificate-shim"})

	kf := kubeinformers.NewSharedInformerFactoryWithOptions(o.Kube, o.Resync, kubeinformers.WithTransform(stripManagedFields))
	ingInf := kf.Networking().V1().Ingresses()
	c.ingresses = ingInf.Lister()
	if _, err := ingInf.Informer().AddEventHandler(c.enqueue(KindIngress)); err != nil {
		return err
	}
	// The shims read the Certificates' metadata and spec only.
	cf := externalversions.NewSharedInformerFactoryWithOptions(o.CertFlow, o.Resync, externalversions.WithTransform(func(obj any) (any, error) {
		if crt, ok := obj.(*cmapi.Certificate); ok {
			crt.ManagedFields, crt.Status = nil, cmapi.CertificateStatus{}
		}
		return obj, nil
	}))
	certInf := cf.Certmanager().V1().Certificates()
	c.certificates = certInf.Lister()
	if _, err := certInf.Informer().AddEventHandler(c.certificateHandler()); err != nil {
		return err
	}
	c.synced = []cache.InformerSynced{ingInf.Informer().HasSynced, certInf.Informer().HasSynced}
	var gf gwinformers.SharedInformerFactory
	if o.Config.EnableGatewayAPI {
		var err error
		if gf, err = c.gatewayInformers(); err != nil {
			return err
		}
	}
	kf.Start(ctx.Done())
	cf.Start(ctx.Done())
	if gf != nil {
		gf.Start(ctx.Done())
	}
	defer func() {
		kf.Shutdown()
		cf.Shutdown()
		if gf != nil {
			gf.Shutdown()
		}
	}()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("certificate-shim caches did not sync")
	}
	o.Log.Info("certificate-shim caches synced", "gatewayAPI", c.gateways != nil, "listenerSets", c.listenerSets != nil)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait.UntilWithContext(ctx, c.work, time.Second)
		}()
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

// gatewayInformers wires the Gateway (and, when served, ListenerSet) informers. A
// cluster without the Gateway API CRDs runs ingress-shim alone.
func (c *controller) gatewayInformers() (gwinformers.SharedInformerFactory, error) {
	served, err := servedResources(c.o.Kube, gwapi.GroupVersion.String())
	if err != nil {
		return nil, err
	}
	if !served["gateways"] {
		c.o.Log.Warn("--enable-gateway-api: the cluster serves no gateways." + gwapi.GroupVersion.String() + "; gateway-shim is off until the watcher restarts")
		return nil, nil
	}
	if c.o.Gateway == nil {
		return nil, errors.New("--enable-gateway-api without a Gateway API client")
	}
	gf := gwinformers.NewSharedInformerFactoryWithOptions(c.o.Gateway, c.o.Resync, gwinformers.WithTransform(stripManagedFields))
	gwInf := gf.Gateway().V1().Gateways()
	c.gateways = gwInf.Lister()
	if _, err := gwInf.Informer().AddEventHandler(c.gatewayHandler()); err != nil {
		return nil, err
	}
	c.synced = append(c.synced, gwInf.Informer().HasSynced)
	if !served["listenersets"] {
		return gf, nil
	}
	lsInf := gf.Gateway().V1().ListenerSets()
	c.listenerSets, c.lsInformer = lsInf.Lister(), lsInf.Informer()
	if err := c.lsInformer.AddIndexers(cache.Indexers{indexParent: func(obj any) ([]string, error) {
		ls, ok := obj.(*gwapi.ListenerSet)
		if !ok || ls.Spec.ParentRef.Name == "" {
			return nil, nil
		}
		ns, name := ListenerSetParent(ls)
		return []string{ns + "/" + name}, nil
	}}); err != nil {
		return nil, err
	}
	if _, err := c.lsInformer.AddEventHandler(c.enqueue(KindListenerSet)); err != nil {
		return nil, err
	}
	c.synced = append(c.synced, c.lsInformer.HasSynced)
	return gf, nil
}

// servedResources lists the resources the API server serves in groupVersion (none
// when it does not serve the group version).
func servedResources(kc kubernetes.Interface, groupVersion string) (map[string]bool, error) {
	list, err := kc.Discovery().ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", groupVersion, err)
	}
	out := map[string]bool{}
	for _, r := range list.APIResources {
		out[r.Name] = true
	}
	return out, nil
}

func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

func objectMeta(obj any) (metav1.Object, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	return m, ok
}

func (c *controller) enqueue(kind string) cache.ResourceEventHandler {
	add := func(obj any) {
		if m, ok := objectMeta(obj); ok {
			c.queue.Add(key{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName()})
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, n any) { add(n) }, DeleteFunc: add}
}

// certificateHandler syncs the controller of a Certificate that changed or went (a
// deleted one is made again, an edited one put back).
func (c *controller) certificateHandler() cache.ResourceEventHandler {
	add := func(obj any) {
		m, ok := objectMeta(obj)
		if !ok {
			return
		}
		ref := metav1.GetControllerOfNoCopy(m)
		if ref == nil {
			return
		}
		// Only the kinds this term watches: a Gateway's Certificate says nothing to a
		// watcher without gateway-shim.
		if (ref.Kind == KindIngress) || (ref.Kind == KindGateway && c.gateways != nil) || (ref.Kind == KindListenerSet && c.listenerSets != nil) {
			c.queue.Add(key{Kind: ref.Kind, Namespace: m.GetNamespace(), Name: ref.Name})
		}
	}
	del := func(obj any) {
		add(obj)
		// The name is free: an object refused it while another Certificate held it
		// may have it now.
		if m, ok := objectMeta(obj); ok {
			c.enqueueWaitingFor(m.GetNamespace(), m.GetName())
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, n any) { add(n) }, DeleteFunc: del}
}

// enqueueWaitingFor syncs the objects of the namespace that refer to Secret name: one
// of them may have been refused the name while another Certificate held it.
func (c *controller) enqueueWaitingFor(namespace, name string) {
	ings, _ := c.ingresses.Ingresses(namespace).List(labels.Everything())
	for _, ing := range ings {
		if DesiredForIngress(ing, Config{}).SecretNames[name] {
			c.queue.Add(key{Kind: KindIngress, Namespace: ing.Namespace, Name: ing.Name})
		}
	}
	if c.gateways != nil {
		gws, _ := c.gateways.Gateways(namespace).List(labels.Everything())
		for _, gw := range gws {
			if DesiredForGateway(gw, Config{}).SecretNames[name] {
				c.queue.Add(key{Kind: KindGateway, Namespace: gw.Namespace, Name: gw.Name})
			}
		}
	}
	if c.listenerSets != nil {
		lss, _ := c.listenerSets.ListenerSets(namespace).List(labels.Everything())
		for _, ls := range lss {
			if DesiredForListenerSet(ls, nil, Config{}).SecretNames[name] {
				c.queue.Add(key{Kind: KindListenerSet, Namespace: ls.Namespace, Name: ls.Name})
			}
		}
	}
}

// gatewayHandler syncs a Gateway and the ListenerSets attached to it (they inherit
// its issuer annotations).
func (c *controller) gatewayHandler() cache.ResourceEventHandler {
	add := func(obj any) {
		m, ok := objectMeta(obj)
		if !ok {
			return
		}
		c.queue.Add(key{Kind: KindGateway, Namespace: m.GetNamespace(), Name: m.GetName()})
		if c.lsInformer == nil {
			return
		}
		sets, err := c.lsInformer.GetIndexer().ByIndex(indexParent, m.GetNamespace()+"/"+m.GetName())
		if err != nil {
			utilruntime.HandleError(err)
			return
		}
		for _, o := range sets {
			if ls, ok := o.(*gwapi.ListenerSet); ok {
				c.queue.Add(key{Kind: KindListenerSet, Namespace: ls.Namespace, Name: ls.Name})
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, n any) { add(n) }, DeleteFunc: add}
}

// controllerNames label the sync metrics, upstream's controller names.
var controllerNames = map[string]string{KindIngress: "ingress-shim", KindGateway: "gateway-shim", KindListenerSet: "listenerset"}

func (c *controller) work(ctx context.Context) {
	for {
		k, quit := c.queue.Get()
		if quit {
			return
		}
		name := controllerNames[k.Kind]
		metrics.SyncCalls.WithLabelValues(name).Inc()
		if err := c.sync(ctx, k); err != nil {
			metrics.SyncErrors.WithLabelValues(name).Inc()
			c.o.Log.Warn("certificate-shim sync failed, will retry", "kind", k.Kind, "namespace", k.Namespace, "name", k.Name, "err", err)
			c.queue.AddRateLimited(k)
		} else {
			c.queue.Forget(k)
		}
		c.queue.Done(k)
	}
}

// sync brings the Certificates of one object to what it asks for.
func (c *controller) sync(ctx context.Context, k key) error {
	var (
		obj runtime.Object
		m   metav1.Object
		d   Desired
	)
	switch k.Kind {
	case KindIngress:
		ing, err := c.ingresses.Ingresses(k.Namespace).Get(k.Name)
		if apierrors.IsNotFound(err) {
			return c.deleteOrphans(ctx, k)
		}
		if err != nil {
			return err
		}
		obj, m, d = ing, ing, DesiredForIngress(ing, c.o.Config)
	case KindGateway:
		if c.gateways == nil {
			return nil
		}
		gw, err := c.gateways.Gateways(k.Namespace).Get(k.Name)
		if apierrors.IsNotFound(err) {
			return c.deleteOrphans(ctx, k)
		}
		if err != nil {
			return err
		}
		obj, m, d = gw, gw, DesiredForGateway(gw, c.o.Config)
	case KindListenerSet:
		if c.listenerSets == nil {
			return nil
		}
		ls, err := c.listenerSets.ListenerSets(k.Namespace).Get(k.Name)
		if apierrors.IsNotFound(err) {
			return c.deleteOrphans(ctx, k)
		}
		if err != nil {
			return err
		}
		pns, pname := ListenerSetParent(ls)
		if pname == "" {
			return nil
		}
		parent, err := c.gateways.Gateways(pns).Get(pname)
		if apierrors.IsNotFound(err) || (err == nil && parent.DeletionTimestamp != nil) {
			return nil // as upstream: a ListenerSet without its Gateway gets nothing
		}
		if err != nil {
			return err
		}
		obj, m, d = ls, ls, DesiredForListenerSet(ls, parent, c.o.Config)
	default:
		return nil
	}
	if !d.Managed || deleting(m) {
		return nil
	}
	for _, msg := range d.Skipped {
		c.recorder.Event(obj, corev1.EventTypeWarning, ReasonBadConfig, msg)
	}
	if d.Invalid != "" {
		c.recorder.Event(obj, corev1.EventTypeWarning, ReasonBadConfig, d.Invalid)
		return nil
	}
	existing, err := c.certificates.Certificates(k.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range Plan(d, m.GetUID(), existing) {
		if err := c.act(ctx, obj, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteOrphans deletes the Certificates an object of k's kind and name controlled, now
// that it is gone: a cluster's garbage collector would too, by their ownerReferences,
// but certflow leaves none of its own objects to one (a cluster may run without, and a
// Certificate left behind renews for ever). Each is deleted as the object it is (UID
// precondition); at a watcher's start, the Certificates' own events bring their gone
// controllers here.
func (c *controller) deleteOrphans(ctx context.Context, k key) error {
	existing, err := c.certificates.Certificates(k.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, crt := range existing {
		ref := metav1.GetControllerOfNoCopy(crt)
		if ref == nil || ref.Kind != k.Kind || ref.Name != k.Name {
			continue
		}
		uid := crt.UID
		err := c.o.CertFlow.CertmanagerV1().Certificates(crt.Namespace).Delete(ctx, crt.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete Certificate %s/%s of %s %s, which is gone: %w", crt.Namespace, crt.Name, k.Kind, k.Name, err))
			continue
		}
		c.o.Log.Info("certificate-shim deleted the Certificate of an object that is gone", "namespace", crt.Namespace, "certificate", crt.Name, "kind", k.Kind, "name", k.Name)
	}
	return errors.Join(errs...)
}

// deleting: the object is being deleted (foreground deletion waits for its
// Certificates: none is made again meanwhile).
func deleting(m metav1.Object) bool {
	if m.GetDeletionTimestamp() != nil {
		return true
	}
	for _, f := range m.GetFinalizers() {
		if f == metav1.FinalizerDeleteDependents {
			return true
		}
	}
	return false
}

// act carries out one action. A Certificate the API server refuses (its CEL rules) is
// a BadConfig Event, not a retry: only a change of the object can fix it.
func (c *controller) act(ctx context.Context, obj runtime.Object, a Action) error {
	crts := c.o.CertFlow.CertmanagerV1().Certificates(a.Certificate.Namespace)
	var err error
	switch a.Op {
	case OpNotOwned:
		c.recorder.Eventf(obj, corev1.EventTypeWarning, ReasonCertificateNotOwned,
			"Certificate %q exists and is not controlled by this object: left as it is", a.Certificate.Name)
		return nil
	case OpCreate:
		if _, err = crts.Create(ctx, a.Certificate, metav1.CreateOptions{FieldManager: FieldManager}); err == nil {
			c.recorder.Eventf(obj, corev1.EventTypeNormal, ReasonCreateCertificate, "Successfully created Certificate %q", a.Certificate.Name)
		}
	case OpUpdate:
		if _, err = crts.Update(ctx, a.Certificate, metav1.UpdateOptions{FieldManager: FieldManager}); err == nil {
			c.recorder.Eventf(obj, corev1.EventTypeNormal, ReasonUpdateCertificate, "Successfully updated Certificate %q", a.Certificate.Name)
		}
	case OpDelete:
		uid := a.Certificate.UID
		if err = crts.Delete(ctx, a.Certificate.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err == nil || apierrors.IsNotFound(err) {
			c.recorder.Eventf(obj, corev1.EventTypeNormal, ReasonDeleteCertificate, "Successfully deleted unrequired Certificate %q", a.Certificate.Name)
			err = nil
		}
	}
	if apierrors.IsInvalid(err) {
		c.recorder.Eventf(obj, corev1.EventTypeWarning, ReasonBadConfig, "Certificate %q refused: %v", a.Certificate.Name, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s Certificate %s/%s: %w", a.Op, a.Certificate.Namespace, a.Certificate.Name, err)
	}
	return nil
}
