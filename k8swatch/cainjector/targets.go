package cainjector

import (
	"context"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	applyext "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	applyadmission "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	"k8s.io/client-go/kubernetes"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	applyreg "k8s.io/kube-aggregator/pkg/client/applyconfiguration/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
)

// The four kinds of targets. Their caches hold lean copies (leanTarget): the name, the
// injector's annotations and the caBundle fields, not CRD schemas or webhook rules.
const (
	KindValidatingWebhook = "ValidatingWebhookConfiguration"
	KindMutatingWebhook   = "MutatingWebhookConfiguration"
	KindAPIService        = "APIService"
	KindCRD               = "CustomResourceDefinition"
)

// Target is the injector's view of a cached target.
type Target struct {
	Kind, APIVersion string
	Name             string
	UID              types.UID
	ResourceVersion  string
	Annotations      map[string]string
	Deleting         bool
	// Slots are its caBundle fields.
	Slots []Slot
	// NoSlot says why a target of a kind that has caBundle fields has none (a CRD
	// without a conversion webhook); a webhook configuration without webhooks has no
	// slot and nothing to say.
	NoSlot string
}

// TargetOf is the view of a cached target; false for an object of no target kind.
func TargetOf(obj any) (Target, bool) {
	var t Target
	var m *metav1.ObjectMeta
	switch o := obj.(type) {
	case *admissionv1.ValidatingWebhookConfiguration:
		t.Kind, t.APIVersion, m = KindValidatingWebhook, admissionv1.SchemeGroupVersion.String(), &o.ObjectMeta
		for _, w := range o.Webhooks {
			t.Slots = append(t.Slots, Slot{Name: w.Name, CABundle: w.ClientConfig.CABundle})
		}
	case *admissionv1.MutatingWebhookConfiguration:
		t.Kind, t.APIVersion, m = KindMutatingWebhook, admissionv1.SchemeGroupVersion.String(), &o.ObjectMeta
		for _, w := range o.Webhooks {
			t.Slots = append(t.Slots, Slot{Name: w.Name, CABundle: w.ClientConfig.CABundle})
		}
	case *apiregv1.APIService:
		t.Kind, t.APIVersion, m = KindAPIService, apiregv1.SchemeGroupVersion.String(), &o.ObjectMeta
		t.Slots = []Slot{{Name: "spec.caBundle", CABundle: o.Spec.CABundle}}
	case *apiextv1.CustomResourceDefinition:
		t.Kind, t.APIVersion, m = KindCRD, apiextv1.SchemeGroupVersion.String(), &o.ObjectMeta
		c := o.Spec.Conversion
		switch {
		case c == nil || c.Strategy != apiextv1.WebhookConverter:
			t.NoSlot = "its spec.conversion.strategy is not Webhook: it has no conversion webhook to inject a CA into"
		case c.Webhook == nil || c.Webhook.ClientConfig == nil:
			t.NoSlot = "its conversion webhook has no clientConfig"
		default:
			t.Slots = []Slot{{Name: "spec.conversion.webhook.clientConfig.caBundle", CABundle: c.Webhook.ClientConfig.CABundle}}
		}
	default:
		return Target{}, false
	}
	t.Name, t.UID, t.ResourceVersion, t.Annotations = m.Name, m.UID, m.ResourceVersion, m.Annotations
	t.Deleting = m.DeletionTimestamp != nil
	return t, true
}

// leanMeta keeps what the injector reads of an object's metadata.
func leanMeta(m *metav1.ObjectMeta, keep ...string) metav1.ObjectMeta {
	l := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, DeletionTimestamp: m.DeletionTimestamp}
	for _, k := range keep {
		if v, ok := m.Annotations[k]; ok {
			if l.Annotations == nil {
				l.Annotations = map[string]string{}
			}
			l.Annotations[k] = v
		}
	}
	return l
}

// leanTarget is the cache transform of the targets: a copy with the metadata, the
// injector's annotations and the caBundle fields only. Objects without the annotations
// keep no bundle either (an annotation added later comes with the whole object).
func leanTarget(obj any) (any, error) {
	switch o := obj.(type) {
	case *admissionv1.ValidatingWebhookConfiguration:
		l := &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: leanMeta(&o.ObjectMeta, injectAnnotations...)}
		if HasInjectAnnotation(l.Annotations) {
			for _, w := range o.Webhooks {
				l.Webhooks = append(l.Webhooks, admissionv1.ValidatingWebhook{Name: w.Name, ClientConfig: admissionv1.WebhookClientConfig{CABundle: w.ClientConfig.CABundle}})
			}
		}
		return l, nil
	case *admissionv1.MutatingWebhookConfiguration:
		l := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: leanMeta(&o.ObjectMeta, injectAnnotations...)}
		if HasInjectAnnotation(l.Annotations) {
			for _, w := range o.Webhooks {
				l.Webhooks = append(l.Webhooks, admissionv1.MutatingWebhook{Name: w.Name, ClientConfig: admissionv1.WebhookClientConfig{CABundle: w.ClientConfig.CABundle}})
			}
		}
		return l, nil
	case *apiregv1.APIService:
		l := &apiregv1.APIService{ObjectMeta: leanMeta(&o.ObjectMeta, injectAnnotations...)}
		if HasInjectAnnotation(l.Annotations) {
			l.Spec.CABundle = o.Spec.CABundle
		}
		return l, nil
	case *apiextv1.CustomResourceDefinition:
		l := &apiextv1.CustomResourceDefinition{ObjectMeta: leanMeta(&o.ObjectMeta, injectAnnotations...)}
		if c := o.Spec.Conversion; c != nil && HasInjectAnnotation(l.Annotations) {
			l.Spec.Conversion = &apiextv1.CustomResourceConversion{Strategy: c.Strategy}
			if c.Webhook != nil && c.Webhook.ClientConfig != nil {
				l.Spec.Conversion.Webhook = &apiextv1.WebhookConversion{ClientConfig: &apiextv1.WebhookClientConfig{CABundle: c.Webhook.ClientConfig.CABundle}}
			}
		}
		return l, nil
	}
	return obj, nil
}

// leanCertificate is the cache transform of Certificates: the name and spec.secretName.
func leanCertificate(obj any) (any, error) {
	if c, ok := obj.(*cmapi.Certificate); ok {
		return &cmapi.Certificate{ObjectMeta: leanMeta(&c.ObjectMeta), Spec: cmapi.CertificateSpec{SecretName: c.Spec.SecretName}}, nil
	}
	return obj, nil
}

// leanSecret is the cache transform of Secrets (metadata only already): the name and the
// annotation that ties a Secret to its Certificate.
func leanSecret(obj any) (any, error) {
	if s, ok := obj.(*metav1.PartialObjectMetadata); ok {
		return &metav1.PartialObjectMetadata{TypeMeta: s.TypeMeta, ObjectMeta: leanMeta(&s.ObjectMeta, cmapi.CertificateNameKey)}, nil
	}
	return obj, nil
}

// writer writes a CA into every slot of a target with one server-side apply of just the
// caBundle fields, as the injector's field manager (forced: the bundle is the injector's
// once the target asks for injection), guarded by the resourceVersion the decision was
// made on.
type writer struct {
	kube       kubernetes.Interface
	apiext     apiextclient.Interface
	aggregator aggregator.Interface
}

func applyOptions() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: conventions.CAInjectorFieldManager, Force: true}
}

func (w writer) write(ctx context.Context, t Target, ca []byte) error {
	switch t.Kind {
	case KindValidatingWebhook:
		c := applyadmission.ValidatingWebhookConfiguration(t.Name).WithResourceVersion(t.ResourceVersion)
		for _, s := range t.Slots {
			c.WithWebhooks(applyadmission.ValidatingWebhook().WithName(s.Name).WithClientConfig(applyadmission.WebhookClientConfig().WithCABundle(ca...)))
		}
		_, err := w.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Apply(ctx, c, applyOptions())
		return err
	case KindMutatingWebhook:
		c := applyadmission.MutatingWebhookConfiguration(t.Name).WithResourceVersion(t.ResourceVersion)
		for _, s := range t.Slots {
			c.WithWebhooks(applyadmission.MutatingWebhook().WithName(s.Name).WithClientConfig(applyadmission.WebhookClientConfig().WithCABundle(ca...)))
		}
		_, err := w.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Apply(ctx, c, applyOptions())
		return err
	case KindAPIService:
		c := applyreg.APIService(t.Name).WithResourceVersion(t.ResourceVersion).WithSpec(applyreg.APIServiceSpec().WithCABundle(ca...))
		_, err := w.aggregator.ApiregistrationV1().APIServices().Apply(ctx, c, applyOptions())
		return err
	case KindCRD:
		c := applyext.CustomResourceDefinition(t.Name).WithResourceVersion(t.ResourceVersion).WithSpec(applyext.CustomResourceDefinitionSpec().
			WithConversion(applyext.CustomResourceConversion().WithWebhook(applyext.WebhookConversion().
				WithClientConfig(applyext.WebhookClientConfig().WithCABundle(ca...)))))
		_, err := w.apiext.ApiextensionsV1().CustomResourceDefinitions().Apply(ctx, c, applyOptions())
		return err
	}
	return nil
}
