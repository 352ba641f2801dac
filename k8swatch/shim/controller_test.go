package shim

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	gwapi "sigs.k8s.io/gateway-api/apis/v1"
	gwfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmfake "github.com/certflow/certflow/client/clientset/versioned/fake"
)

// run starts the shims on fake clients until the test ends.
func run(t *testing.T, cfg Config, kube *kubefake.Clientset, cm *cmfake.Clientset, gw *gwfake.Clientset) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Kube: kube, CertFlow: cm, Gateway: gw, Config: cfg}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func certificateNames(t *testing.T, cm *cmfake.Clientset, ns string) string {
	list, err := cm.CertmanagerV1().Certificates(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	return strings.Join(names, ",")
}

func waitCertificates(t *testing.T, cm *cmfake.Clientset, ns, want string) {
	t.Helper()
	eventually(t, 10*time.Second, "Certificates "+want, func() (bool, string) {
		got := certificateNames(t, cm, ns)
		return got == want, got
	})
}

func waitEvent(t *testing.T, kube *kubefake.Clientset, ns, reason, msg string) {
	t.Helper()
	eventually(t, 10*time.Second, reason+" Event "+msg, func() (bool, string) {
		list, err := kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.Reason == reason && strings.Contains(e.Message, msg) {
				return true, ""
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return false, strings.Join(seen, "; ")
	})
}

// Without gateway-shim, a Certificate a Gateway controls is none of this term's
// business (and no crash); ingress-shim works, and a bad Ingress gets BadConfig.
func TestRunIngressOnly(t *testing.T) {
	gwOwned := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "gw-tls", Namespace: "web", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "gateway.networking.k8s.io/v1", Kind: KindGateway, Name: "gw", UID: "gw-uid", Controller: ptr(true),
	}}}, Spec: cmapi.CertificateSpec{SecretName: "gw-tls"}}
	good := ingress(map[string]string{cmapi.IngressClusterIssuerNameAnnotationKey: "ca"}, tlsEntry("site-tls", "site.example.com"))
	bad := ingress(map[string]string{cmapi.IngressClusterIssuerNameAnnotationKey: "ca", cmapi.DurationAnnotationKey: "soon"}, tlsEntry("bad-tls", "bad.example.com"))
	bad.Name, bad.UID = "bad", "bad-uid"
	kube := kubefake.NewClientset(good, bad)
	cm := cmfake.NewSimpleClientset(gwOwned)
	run(t, Config{}, kube, cm, nil)
	waitCertificates(t, cm, "web", "gw-tls,site-tls")
	waitEvent(t, kube, "web", ReasonBadConfig, `invalid ingress annotation "cert-manager.io/duration"`)
	waitEvent(t, kube, "web", ReasonCreateCertificate, `"site-tls"`)

	// A TLS entry removed: its Certificate goes.
	upd := good.DeepCopy()
	upd.Spec.TLS = nil
	if _, err := kube.NetworkingV1().Ingresses("web").Update(context.Background(), upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitCertificates(t, cm, "web", "gw-tls")
}

// With --enable-gateway-api on a cluster serving Gateways and ListenerSets, both get
// their Certificates.
func TestRunGatewayAPI(t *testing.T) {
	gw := gateway(map[string]string{cmapi.IngressClusterIssuerNameAnnotationKey: "ca"},
		listener("https", gwapi.HTTPSProtocolType, "a.example.com", gwapi.TLSModeTerminate, secretRef("a-tls")))
	h := gwapi.Hostname("ls.example.com")
	mode := gwapi.TLSModeTerminate
	ls := &gwapi.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{Name: "team", Namespace: "web", UID: "ls-uid"},
		Spec: gwapi.ListenerSetSpec{ParentRef: gwapi.ParentGatewayReference{Name: "gw"}, Listeners: []gwapi.ListenerEntry{{
			Name: "https", Protocol: gwapi.HTTPSProtocolType, Hostname: &h, TLS: &gwapi.ListenerTLSConfig{Mode: &mode, CertificateRefs: []gwapi.SecretObjectReference{secretRef("ls-tls")}},
		}}},
	}
	kube := kubefake.NewClientset()
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: gwapi.GroupVersion.String(),
		APIResources: []metav1.APIResource{{Name: "gateways", Kind: "Gateway", Namespaced: true}, {Name: "listenersets", Kind: "ListenerSet", Namespaced: true}},
	}}
	cm := cmfake.NewSimpleClientset()
	// Created through the client: the fake's tracker files objects handed to its
	// constructor under another version of the group than v1.
	gc := gwfake.NewSimpleClientset()
	if _, err := gc.GatewayV1().Gateways("web").Create(context.Background(), gw, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.GatewayV1().ListenerSets("web").Create(context.Background(), ls, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	run(t, Config{EnableGatewayAPI: true}, kube, cm, gc)
	waitCertificates(t, cm, "web", "a-tls,ls-tls")
	crt, err := cm.CertmanagerV1().Certificates("web").Get(context.Background(), "ls-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(crt); ref == nil || ref.Kind != KindListenerSet || crt.Spec.IssuerRef.Name != "ca" {
		t.Errorf("ListenerSet Certificate: controller %+v, issuerRef %+v", ref, crt.Spec.IssuerRef)
	}
}

// With --enable-gateway-api on a cluster without the Gateway API, ingress-shim runs
// alone.
func TestRunGatewayAPINotServed(t *testing.T) {
	kube := kubefake.NewClientset(ingress(map[string]string{cmapi.IngressClusterIssuerNameAnnotationKey: "ca"}, tlsEntry("site-tls", "site.example.com")))
	cm := cmfake.NewSimpleClientset()
	run(t, Config{EnableGatewayAPI: true}, kube, cm, gwfake.NewSimpleClientset())
	waitCertificates(t, cm, "web", "site-tls")
}

// eventually polls cond until it holds, failing the test after timeout with the last
// state it reported (testkit's, which imports this package).
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
