package cainjector

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/api/conventions"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/internal/metrics"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/k8swatch/cainjector"
)

// ns holds the suite's Certificates and Secrets.
const ns = "cainject"

const timeout = 90 * time.Second

var ctx = context.Background()

func clients(t *testing.T) (apiextclient.Interface, aggregator.Interface) {
	t.Helper()
	ext, err := apiextclient.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := aggregator.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return ext, agg
}

// bundles are the caBundle fields of a target, with the resourceVersion and the field
// manager of its caBundles.
func bundles(t *testing.T, kind, name string) (b [][]byte, rv string, managers []metav1.ManagedFieldsEntry) {
	t.Helper()
	ext, agg := clients(t)
	var err error
	switch kind {
	case cainjector.KindValidatingWebhook:
		var o *admissionv1.ValidatingWebhookConfiguration
		if o, err = env.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{}); err == nil {
			for _, w := range o.Webhooks {
				b = append(b, w.ClientConfig.CABundle)
			}
			rv, managers = o.ResourceVersion, o.ManagedFields
		}
	case cainjector.KindMutatingWebhook:
		var o *admissionv1.MutatingWebhookConfiguration
		if o, err = env.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{}); err == nil {
			for _, w := range o.Webhooks {
				b = append(b, w.ClientConfig.CABundle)
			}
			rv, managers = o.ResourceVersion, o.ManagedFields
		}
	case cainjector.KindAPIService:
		var o *apiregv1.APIService
		if o, err = agg.ApiregistrationV1().APIServices().Get(ctx, name, metav1.GetOptions{}); err == nil {
			b, rv, managers = [][]byte{o.Spec.CABundle}, o.ResourceVersion, o.ManagedFields
		}
	case cainjector.KindCRD:
		var o *apiextv1.CustomResourceDefinition
		if o, err = ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{}); err == nil {
			b, rv, managers = [][]byte{o.Spec.Conversion.Webhook.ClientConfig.CABundle}, o.ResourceVersion, o.ManagedFields
		}
	}
	if err != nil {
		t.Fatalf("get %s %s: %v", kind, name, err)
	}
	return b, rv, managers
}

// waitBundles waits until every caBundle field of the target is want.
func waitBundles(t *testing.T, kind, name string, want []byte, what string) {
	t.Helper()
	testkit.Eventually(t, timeout, fmt.Sprintf("%s %s to hold %s", kind, name, what), func() (bool, string) {
		b, _, _ := bundles(t, kind, name)
		if len(b) == 0 {
			return false, "no caBundle field"
		}
		for i, x := range b {
			if !bytes.Equal(x, want) {
				return false, fmt.Sprintf("field %d holds %d bytes: %.80q", i, len(x), x)
			}
		}
		return true, ""
	})
}

// caCrt is the ca.crt of a Secret of the suite's namespace.
func caCrt(t *testing.T, name string) []byte {
	t.Helper()
	s, err := env.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Data[cmmeta.TLSCAKey]) == 0 {
		t.Fatalf("Secret %s has no ca.crt", name)
	}
	return s.Data[cmmeta.TLSCAKey]
}

// waitWarning waits for a Warning Event with reason on the cluster-scoped target.
func waitWarning(t *testing.T, kind, name, reason string) corev1.Event {
	t.Helper()
	var found corev1.Event
	testkit.Eventually(t, timeout, fmt.Sprintf("a Warning %s on %s %s", reason, kind, name), func() (bool, string) {
		evs, err := env.Kube.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{FieldSelector: fields.SelectorFromSet(fields.Set{
			"involvedObject.kind": kind, "involvedObject.name": name, "reason": reason, "type": corev1.EventTypeWarning}).String()})
		if err != nil {
			return false, err.Error()
		}
		if len(evs.Items) == 0 {
			return false, "no such Event"
		}
		found = evs.Items[0]
		return true, ""
	})
	return found
}

var (
	ignore      = admissionv1.Ignore
	sideEffects = admissionv1.SideEffectClassNone
	// rules that match nothing any test does.
	rules = []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Create},
		Rule: admissionv1.Rule{APIGroups: []string{"example.certflow.test"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"}}}}
	nowhere = admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: ns, Name: "nowhere"}}
)

func validating(name string, ann map[string]string, webhooks ...string) *admissionv1.ValidatingWebhookConfiguration {
	o := &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}
	for _, w := range webhooks {
		o.Webhooks = append(o.Webhooks, admissionv1.ValidatingWebhook{Name: w, ClientConfig: nowhere, Rules: rules, FailurePolicy: &ignore,
			SideEffects: &sideEffects, AdmissionReviewVersions: []string{"v1"}})
	}
	return o
}

func mutating(name string, ann map[string]string, webhooks ...string) *admissionv1.MutatingWebhookConfiguration {
	o := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}
	for _, w := range webhooks {
		o.Webhooks = append(o.Webhooks, admissionv1.MutatingWebhook{Name: w, ClientConfig: nowhere, Rules: rules, FailurePolicy: &ignore,
			SideEffects: &sideEffects, AdmissionReviewVersions: []string{"v1"}})
	}
	return o
}

func createValidating(t *testing.T, o *admissionv1.ValidatingWebhookConfiguration) {
	t.Helper()
	if _, err := env.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, o, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, o.Name, metav1.DeleteOptions{})
	})
}

func createMutating(t *testing.T, o *admissionv1.MutatingWebhookConfiguration) {
	t.Helper()
	if _, err := env.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, o, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, o.Name, metav1.DeleteOptions{})
	})
}

// A CA Certificate feeds a webhook configuration of each kind, an APIService and a
// CRD's conversion webhook; all of them follow the CA when it is re-issued with a new
// key, and an idle injector writes nothing.
func TestInjectFromCertificate(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ext, agg := clients(t)
	if out, err := env.Kubectl(testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "ca", CommonName: "cainjector test CA", IsCA: true, PrivateKey: "{algorithm: ECDSA, rotationPolicy: Always}", Issuer: "selfsigned"}.String()),
		"apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	ann := map[string]string{cmapi.WantInjectAnnotation: ns + "/ca"}

	// The targets may come before the CA is issued: they get it once it is.
	createValidating(t, validating("cainject-validating", ann, "a.cainject.certflow.test", "b.cainject.certflow.test"))
	createMutating(t, mutating("cainject-mutating", ann, "a.cainject.certflow.test"))
	const apiService = "v1alpha1.example.certflow.test"
	if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, &apiregv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: apiService, Annotations: ann},
		Spec: apiregv1.APIServiceSpec{Group: "example.certflow.test", Version: "v1alpha1", Service: &apiregv1.ServiceReference{Namespace: ns, Name: "nowhere"},
			GroupPriorityMinimum: 1000, VersionPriority: 15}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An APIService whose server is missing breaks discovery for the rest of the suite.
	t.Cleanup(func() { _ = agg.ApiregistrationV1().APIServices().Delete(ctx, apiService, metav1.DeleteOptions{}) })
	const crd = "widgets.conv.certflow.test"
	schema := &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: new(true)}}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: crd, Annotations: ann},
		Spec: apiextv1.CustomResourceDefinitionSpec{Group: "conv.certflow.test", Scope: apiextv1.NamespaceScoped,
			Names: apiextv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Versions: []apiextv1.CustomResourceDefinitionVersion{
				{Name: "v1", Served: true, Storage: true, Schema: schema},
				{Name: "v2", Served: true, Schema: schema},
			},
			Conversion: &apiextv1.CustomResourceConversion{Strategy: apiextv1.WebhookConverter, Webhook: &apiextv1.WebhookConversion{
				ClientConfig:             &apiextv1.WebhookClientConfig{Service: &apiextv1.ServiceReference{Namespace: ns, Name: "nowhere"}},
				ConversionReviewVersions: []string{"v1"},
			}},
		}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd, metav1.DeleteOptions{}) })

	targets := []struct{ kind, name string }{
		{cainjector.KindValidatingWebhook, "cainject-validating"}, {cainjector.KindMutatingWebhook, "cainject-mutating"},
		{cainjector.KindAPIService, apiService}, {cainjector.KindCRD, crd},
	}
	testkit.WaitRevision(t, env.CertFlow, ns, "ca", 1, timeout)
	first := caCrt(t, "ca-tls")
	for _, tg := range targets {
		waitBundles(t, tg.kind, tg.name, first, "the CA's ca.crt")
		// The injector's own field manager holds the caBundle fields.
		_, _, managers := bundles(t, tg.kind, tg.name)
		if !hasManager(managers, conventions.CAInjectorFieldManager, "caBundle") {
			t.Errorf("%s %s: no %s entry owning caBundle in %s", tg.kind, tg.name, conventions.CAInjectorFieldManager, managerNames(managers))
		}
	}

	// Idle: a change of the CA's Secret that leaves ca.crt alone syncs every target
	// and writes none (the webhook configurations and the CRD have no other writer).
	stable := map[string]string{}
	for _, tg := range targets[:2] {
		_, stable[tg.name], _ = bundles(t, tg.kind, tg.name)
	}
	_, stable[crd], _ = bundles(t, cainjector.KindCRD, crd)
	before := testutil.ToFloat64(metrics.SyncCalls.WithLabelValues(cainjector.ControllerName))
	writes := writeCount()
	if _, err := env.Kube.CoreV1().Secrets(ns).Patch(ctx, "ca-tls", types.MergePatchType, []byte(`{"metadata":{"labels":{"cainject-test":"touched"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, timeout, "the touched Secret's targets synced", func() (bool, string) {
		n := testutil.ToFloat64(metrics.SyncCalls.WithLabelValues(cainjector.ControllerName)) - before
		return n >= float64(len(targets)), fmt.Sprintf("%v syncs", n)
	})
	if n := writeCount(); n != writes {
		t.Errorf("%v caBundle writes with nothing to change", n-writes)
	}
	for _, tg := range []struct{ kind, name string }{targets[0], targets[1], targets[3]} {
		if _, rv, _ := bundles(t, tg.kind, tg.name); rv != stable[tg.name] {
			t.Errorf("%s %s written again (resourceVersion %s, was %s) with nothing to change", tg.kind, tg.name, rv, stable[tg.name])
		}
	}

	// Re-issue the CA (cmctl renew's condition): a new key, so a new ca.crt.
	patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Issuing","status":"True","reason":"ManuallyTriggered","message":"cainjector test","lastTransitionTime":%q}]}}`,
		time.Now().UTC().Format(time.RFC3339))
	if _, err := env.CertFlow.CertmanagerV1().Certificates(ns).Patch(ctx, "ca", types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitRevision(t, env.CertFlow, ns, "ca", 2, timeout)
	second := caCrt(t, "ca-tls")
	if bytes.Equal(first, second) || samePublicKey(t, first, second) {
		t.Fatalf("the re-issued CA has the same ca.crt or key")
	}
	for _, tg := range targets {
		waitBundles(t, tg.kind, tg.name, second, "the re-issued CA's ca.crt")
	}

	// A webhook added to a target gets the CA too.
	if _, err := env.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Patch(ctx, "cainject-validating", types.JSONPatchType,
		mustJSON(t, []any{map[string]any{"op": "add", "path": "/webhooks/-", "value": validating("x", nil, "c.cainject.certflow.test").Webhooks[0]}}), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, timeout, "the added webhook's caBundle", func() (bool, string) {
		b, _, _ := bundles(t, cainjector.KindValidatingWebhook, "cainject-validating")
		return len(b) == 3 && bytes.Equal(b[2], second), fmt.Sprintf("%d webhooks", len(b))
	})

	// A changed annotation changes the source: the API server's CA.
	if _, err := env.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Patch(ctx, "cainject-mutating", types.MergePatchType,
		fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null,%q:"true"}}}`, cmapi.WantInjectAnnotation, cmapi.WantInjectAPIServerCAAnnotation), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitBundles(t, cainjector.KindMutatingWebhook, "cainject-mutating", env.Config.CAData, "the API server's CA")
}

// inject-ca-from-secret reads only a Secret that allows it, and follows its ca.crt.
func TestInjectFromSecret(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	one, two := selfSignedPEM(t, "one"), selfSignedPEM(t, "two")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "direct-ca", Namespace: ns}, Data: map[string][]byte{cmmeta.TLSCAKey: one}}
	if _, err := env.Kube.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const name = "cainject-direct"
	createValidating(t, validating(name, map[string]string{cmapi.WantInjectFromSecretAnnotation: ns + "/direct-ca"}, "a.direct.certflow.test"))

	ev := waitWarning(t, cainjector.KindValidatingWebhook, name, cainjector.ReasonDirectInjectionNotOK)
	t.Logf("refused: %s", ev.Message)
	if b, _, _ := bundles(t, cainjector.KindValidatingWebhook, name); len(b[0]) != 0 {
		t.Fatalf("injected from a Secret that does not allow it")
	}

	if _, err := env.Kube.CoreV1().Secrets(ns).Patch(ctx, "direct-ca", types.MergePatchType,
		fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"true"}}}`, cmapi.AllowsInjectionFromSecretAnnotation), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitBundles(t, cainjector.KindValidatingWebhook, name, one, "the allowed Secret's ca.crt")

	if _, err := env.Kube.CoreV1().Secrets(ns).Patch(ctx, "direct-ca", types.MergePatchType,
		mustJSON(t, map[string]any{"data": map[string][]byte{cmmeta.TLSCAKey: two}}), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitBundles(t, cainjector.KindValidatingWebhook, name, two, "the Secret's new ca.crt")
}

// inject-apiserver-ca injects the CA the watcher trusts the API server with.
func TestInjectAPIServerCA(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const name = "cainject-apiserver"
	createMutating(t, mutating(name, map[string]string{cmapi.WantInjectAPIServerCAAnnotation: "true"}, "a.apiserver.certflow.test", "b.apiserver.certflow.test"))
	waitBundles(t, cainjector.KindMutatingWebhook, name, env.Config.CAData, "the API server's CA")
}

// Bad annotations and sources become Warning Events on the target; the injector goes on
// serving the others.
func TestBadInputWarns(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ext, _ := clients(t)
	createValidating(t, validating("cainject-bad-annotation", map[string]string{cmapi.WantInjectAnnotation: "no-namespace"}, "a.bad.certflow.test"))
	createValidating(t, validating("cainject-no-certificate", map[string]string{cmapi.WantInjectAnnotation: ns + "/missing"}, "a.bad.certflow.test"))
	createValidating(t, validating("cainject-no-secret", map[string]string{cmapi.WantInjectFromSecretAnnotation: ns + "/missing"}, "a.bad.certflow.test"))
	const crd = "gadgets.noconv.certflow.test"
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &apiextv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: crd, Annotations: map[string]string{cmapi.WantInjectAPIServerCAAnnotation: "true"}},
		Spec: apiextv1.CustomResourceDefinitionSpec{Group: "noconv.certflow.test", Scope: apiextv1.ClusterScoped,
			Names:    apiextv1.CustomResourceDefinitionNames{Plural: "gadgets", Singular: "gadget", Kind: "Gadget", ListKind: "GadgetList"},
			Versions: []apiextv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true, Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{Type: "object"}}}},
		}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd, metav1.DeleteOptions{}) })

	ev := waitWarning(t, cainjector.KindValidatingWebhook, "cainject-bad-annotation", cainjector.ReasonInvalidAnnotation)
	t.Logf("bad annotation: %s", ev.Message)
	waitWarning(t, cainjector.KindValidatingWebhook, "cainject-no-certificate", cainjector.ReasonCertificateNotFound)
	waitWarning(t, cainjector.KindValidatingWebhook, "cainject-no-secret", cainjector.ReasonSecretNotFound)
	waitWarning(t, cainjector.KindCRD, crd, cainjector.ReasonNoCABundleField)

	// Still serving.
	const name = "cainject-after-bad"
	createValidating(t, validating(name, map[string]string{cmapi.WantInjectAPIServerCAAnnotation: "true"}, "a.after.certflow.test"))
	waitBundles(t, cainjector.KindValidatingWebhook, name, env.Config.CAData, "the API server's CA")
	// One Event per problem, not one per sync: the bad target's Event was not repeated.
	evs, err := env.Kube.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=cainject-bad-annotation"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.Count > 1 {
			t.Errorf("Event %s sent %d times", e.Reason, e.Count)
		}
	}
	if _, err := env.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "cainject-bad-annotation", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Fatal("the bad target is gone")
	}
}

// writeCount is the injector's caBundle writes so far (it runs in this process).
func writeCount() float64 {
	n := 0.0
	for _, k := range []string{cainjector.KindValidatingWebhook, cainjector.KindMutatingWebhook, cainjector.KindAPIService, cainjector.KindCRD} {
		n += testutil.ToFloat64(cainjector.Writes.WithLabelValues(k))
	}
	return n
}

func hasManager(managers []metav1.ManagedFieldsEntry, name, field string) bool {
	for _, m := range managers {
		if m.Manager == name && m.Operation == metav1.ManagedFieldsOperationApply && m.FieldsV1 != nil && bytes.Contains(m.FieldsV1.Raw, []byte(field)) {
			return true
		}
	}
	return false
}

func managerNames(managers []metav1.ManagedFieldsEntry) []string {
	var n []string
	for _, m := range managers {
		n = append(n, m.Manager+"/"+string(m.Operation))
	}
	return n
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samePublicKey(t *testing.T, a, b []byte) bool {
	t.Helper()
	ca, err := testkit.ParseLeaf(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := testkit.ParseLeaf(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ca.RawSubjectPublicKeyInfo, cb.RawSubjectPublicKeyInfo)
}

func selfSignedPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
