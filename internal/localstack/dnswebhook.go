package localstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	apiregv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
)

// The DNS-01 webhook of the local stack (Options.DNSWebhook): bin/certflow-dnswebhook
// (tools/dnswebhook, built on cert-manager's webhook library) serving solver
// DNSWebhookSolver of group DNSWebhookGroup behind kube-apiserver's aggregation layer.
const (
	DNSWebhookGroup     = "acme.dnswebhook.certflow.test"
	DNSWebhookSolver    = "challtestsrv"
	DNSWebhookNamespace = "certflow-dnswebhook"
	// DNSWebhookServiceAccount is the webhook's identity (its client certificate's).
	DNSWebhookServiceAccount = "certflow-dnswebhook"
	dnsWebhookService        = "certflow-dnswebhook"
)

// DNSWebhookZones are the zones the stack's DNS front (Stack.DNSWebhookResolver)
// answers SOA queries for, so that a webhook's resolvedZone is found as upstream finds
// it; the webhook writes their TXT records into challtestsrv.
var DNSWebhookZones = []string{"example.edu"}

// dnsWebhook is what the stack keeps of its webhook.
type dnsWebhook struct {
	requestLog, auditLog, resolver string
}

// startDNSWebhook registers the webhook with kube-apiserver (ServiceAccount and its
// auth-delegator bindings, a Service and its EndpointSlice to 127.0.0.1, the
// APIService with the kube CA as caBundle), runs it with a serving certificate of the
// stack's kube CA, and waits until kube-apiserver reports the APIService Available.
func (s *Stack) startDNSWebhook(ctx context.Context, o *Options) error {
	if !o.ACME {
		return errors.New("dns webhook: needs ACME (it writes into pebble-challtestsrv)")
	}
	if o.ExistingKubeconfig != "" {
		return errors.New("dns webhook: needs the stack's own kube-apiserver (its CA signs the webhook's certificates)")
	}
	t := time.Now()
	pki, err := ensureKubePKI(o.StateDir)
	if err != nil {
		return err
	}
	host := dnsWebhookService + "." + DNSWebhookNamespace + ".svc"
	if _, err := loadOrCreate(pki.dir, "dnswebhook", certSpec{
		cn: host, dns: []string{host, host + ".cluster.local", "localhost"}, ips: loopbackIPs,
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, pki.ca); err != nil {
		return fmt.Errorf("dns webhook certificates: %w", err)
	}
	// The webhook's client certificate names its ServiceAccount (RBAC matches the
	// user name), as a token of it would.
	if _, err := loadOrCreate(pki.dir, "dnswebhook-client", certSpec{
		cn:  "system:serviceaccount:" + DNSWebhookNamespace + ":" + DNSWebhookServiceAccount,
		org: []string{"system:serviceaccounts", "system:serviceaccounts:" + DNSWebhookNamespace}, usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, pki.ca); err != nil {
		return fmt.Errorf("dns webhook certificates: %w", err)
	}
	f := func(name string) string { return filepath.Join(pki.dir, name) }
	kubeconfig := filepath.Join(o.StateDir, "dnswebhook.kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: s.RESTConfig.Host, CertificateAuthority: f("kube-ca.crt")}
	kc.AuthInfos["webhook"] = &clientcmdapi.AuthInfo{ClientCertificate: f("dnswebhook-client.crt"), ClientKey: f("dnswebhook-client.key")}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "webhook"}
	kc.CurrentContext = "local"
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		return err
	}
	policy := filepath.Join(o.StateDir, "dnswebhook-audit-policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o644); err != nil {
		return err
	}
	wh := &dnsWebhook{
		requestLog: filepath.Join(o.StateDir, "dnswebhook-requests.jsonl"),
		auditLog:   filepath.Join(o.StateDir, "dnswebhook-audit.log"),
	}
	resolver, err := s.startZoneDNS(DNSWebhookZones)
	if err != nil {
		return err
	}
	wh.resolver = resolver

	kube, err := kubernetes.NewForConfig(s.RESTConfig)
	if err != nil {
		return err
	}
	if err := applyDNSWebhookRBAC(ctx, kube); err != nil {
		return fmt.Errorf("dns webhook: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca.cert)
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	p := &s.Ports
	err = s.runComponent(ctx, o, component{
		name: "certflow-dnswebhook", bin: "certflow-dnswebhook", chain: "dnswebhook", timeout: 60 * time.Second,
		env: map[string]string{
			"GROUP_NAME":       DNSWebhookGroup,
			"CHALLTESTSRV_URL": "http://127.0.0.1:" + strconv.Itoa(p.ChallTestSrvAPI),
			"REQUEST_LOG":      wh.requestLog,
		},
		reset: func() { p.DNSWebhook = o.Ports.DNSWebhook },
		pick:  func() error { return fillPorts(nil, &p.DNSWebhook) },
		addr:  func() string { return "127.0.0.1:" + strconv.Itoa(p.DNSWebhook) },
		args: func() []string {
			return []string{
				"--bind-address=127.0.0.1",
				"--secure-port=" + strconv.Itoa(p.DNSWebhook),
				"--tls-cert-file=" + f("dnswebhook.crt"),
				"--tls-private-key-file=" + f("dnswebhook.key"),
				"--kubeconfig=" + kubeconfig,
				"--authentication-kubeconfig=" + kubeconfig,
				"--authorization-kubeconfig=" + kubeconfig,
				"--audit-log-path=" + wh.auditLog,
				"--audit-policy-file=" + policy,
				"--audit-log-format=json",
				"--audit-log-mode=blocking",
			}
		},
		ready: func(ctx context.Context) error {
			return getOK(ctx, hc, "https://127.0.0.1:"+strconv.Itoa(p.DNSWebhook)+"/healthz")
		},
	})
	if err != nil {
		return err
	}
	if err := registerDNSWebhook(ctx, s, kube, pki.ca.certPEM, p.DNSWebhook); err != nil {
		return fmt.Errorf("dns webhook: %w", err)
	}
	s.mu.Lock()
	s.dnsWebhook = wh
	s.mu.Unlock()
	s.recordTime("dns webhook APIService", time.Since(t))
	return nil
}

func getOK(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// applyDNSWebhookRBAC gives the webhook's ServiceAccount what an extension API server
// delegating authentication and authorization needs, as upstream's webhook charts do:
// system:auth-delegator (TokenReviews, SubjectAccessReviews) and the
// extension-apiserver-authentication-reader Role in kube-system (the request-header CA).
func applyDNSWebhookRBAC(ctx context.Context, kube kubernetes.Interface) error {
	create := func(what string, err error) error {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %s: %w", what, err)
		}
		return nil
	}
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: DNSWebhookServiceAccount, Namespace: DNSWebhookNamespace}
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: DNSWebhookNamespace}}, metav1.CreateOptions{})
	if err := create("namespace", err); err != nil {
		return err
	}
	_, err = kube.CoreV1().ServiceAccounts(DNSWebhookNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DNSWebhookServiceAccount}}, metav1.CreateOptions{})
	if err := create("service account", err); err != nil {
		return err
	}
	_, err = kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: DNSWebhookServiceAccount + ":auth-delegator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{sa},
	}, metav1.CreateOptions{})
	if err := create("auth-delegator binding", err); err != nil {
		return err
	}
	_, err = kube.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: DNSWebhookServiceAccount + ":webhook-authentication-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   []rbacv1.Subject{sa},
	}, metav1.CreateOptions{})
	return create("authentication-reader binding", err)
}

// registerDNSWebhook writes the Service, its EndpointSlice to the webhook's loopback
// port (putLoopbackEndpointSlice; kube-apiserver routes to it with
// --enable-aggregator-routing) and the APIService, then waits for the APIService to be Available.
func registerDNSWebhook(ctx context.Context, s *Stack, kube kubernetes.Interface, caPEM []byte, port int) error {
	const portName = "https"
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: dnsWebhookService, Namespace: DNSWebhookNamespace},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{
			Name: portName, Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(port)),
		}}},
	}
	if _, err := kube.CoreV1().Services(DNSWebhookNamespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service: %w", err)
	}
	if err := putLoopbackEndpointSlice(ctx, s.Ports.Etcd, portName, port); err != nil {
		return err
	}
	ac, err := aggregator.NewForConfig(s.RESTConfig)
	if err != nil {
		return err
	}
	svcPort := int32(443)
	as := &apiregv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: "v1alpha1." + DNSWebhookGroup},
		Spec: apiregv1.APIServiceSpec{
			Group: DNSWebhookGroup, Version: "v1alpha1",
			Service:              &apiregv1.ServiceReference{Namespace: DNSWebhookNamespace, Name: dnsWebhookService, Port: &svcPort},
			CABundle:             caPEM,
			GroupPriorityMinimum: 1000, VersionPriority: 15,
		},
	}
	if _, err := ac.ApiregistrationV1().APIServices().Create(ctx, as, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create APIService: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	last := "not seen yet"
	for {
		cur, err := ac.ApiregistrationV1().APIServices().Get(ctx, as.Name, metav1.GetOptions{})
		if err == nil {
			for _, c := range cur.Status.Conditions {
				if c.Type == apiregv1.Available {
					if c.Status == apiregv1.ConditionTrue {
						return nil
					}
					last = fmt.Sprintf("Available=%s %s: %s", c.Status, c.Reason, c.Message)
				}
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("APIService %s not available: %s", as.Name, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// DNSWebhookRequestLog is the file where the webhook appends, as one JSON line, each
// ChallengeRequest its solver handles ("" unless Options.DNSWebhook).
func (s *Stack) DNSWebhookRequestLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dnsWebhook == nil {
		return ""
	}
	return s.dnsWebhook.requestLog
}

// DNSWebhookAuditLog is the webhook's own audit log (JSON lines, level Metadata): who
// each request it served came from, as its delegated authentication saw them.
func (s *Stack) DNSWebhookAuditLog() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dnsWebhook == nil {
		return ""
	}
	return s.dnsWebhook.auditLog
}

// DNSWebhookResolver (127.0.0.1:port) is a recursive nameserver for the worker's DNS-01
// checks with the webhook: it answers SOA queries for DNSWebhookZones (which
// challtestsrv does not) and forwards everything else to challtestsrv.
func (s *Stack) DNSWebhookResolver() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dnsWebhook == nil {
		return ""
	}
	return s.dnsWebhook.resolver
}

// startZoneDNS serves, on a free loopback port (UDP and TCP), SOA answers for zones and
// forwards other questions to challtestsrv's DNS server.
func (s *Stack) startZoneDNS(zones []string) (string, error) {
	upstream := "127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvDNS)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if m := zoneAnswer(zones, r); m != nil {
			_ = w.WriteMsg(m)
			return
		}
		c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
		if w.RemoteAddr().Network() == "tcp" {
			c.Net = "tcp"
		}
		m, _, err := c.Exchange(r, upstream)
		if err != nil {
			m = new(dns.Msg)
			m.SetRcode(r, dns.RcodeServerFailure)
		}
		_ = w.WriteMsg(m)
	})
	var servers []*dns.Server
	for attempt := 0; ; attempt++ {
		port := 0
		if err := fillPorts(map[*int]bool{&port: true}, &port); err != nil {
			return "", err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		servers = servers[:0]
		var err error
		for _, netw := range []string{"udp", "tcp"} {
			started := make(chan error, 1)
			srv := &dns.Server{Addr: addr, Net: netw, Handler: h, NotifyStartedFunc: func() { started <- nil }}
			go func() {
				if err := srv.ListenAndServe(); err != nil {
					started <- err
				}
			}()
			if err = <-started; err != nil {
				break
			}
			servers = append(servers, srv)
		}
		if err == nil {
			var once sync.Once
			return addr, s.addCloser("zone DNS", func() error {
				var errs []error
				once.Do(func() {
					for _, srv := range servers {
						errs = append(errs, srv.Shutdown())
					}
				})
				return errors.Join(errs...)
			})
		}
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
		if attempt > 0 {
			return "", fmt.Errorf("zone DNS: %w", err)
		}
	}
}

// zoneAnswer answers an SOA question for a name in zones as their authoritative
// server would (the SOA in the answer at the apex, in the authority section below
// it); nil when the question is another.
func zoneAnswer(zones []string, r *dns.Msg) *dns.Msg {
	if len(r.Question) != 1 || r.Question[0].Qtype != dns.TypeSOA {
		return nil
	}
	q := strings.ToLower(r.Question[0].Name)
	for _, z := range zones {
		z = dns.Fqdn(strings.ToLower(z))
		if !dns.IsSubDomain(z, q) {
			continue
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		soa := &dns.SOA{Hdr: dns.RR_Header{Name: z, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 30},
			Ns: "ns." + z, Mbox: "hostmaster." + z, Serial: 1, Refresh: 60, Retry: 60, Expire: 600, Minttl: 30}
		if q == z {
			m.Answer = []dns.RR{soa}
		} else {
			m.Ns = []dns.RR{soa}
		}
		return m
	}
	return nil
}

// putLoopbackEndpointSlice writes the webhook Service's EndpointSlice, 127.0.0.1:port,
// straight into etcd (its JSON gateway, /v3/kv/put). No controller runs to write it,
// and the API refuses a loopback address in an EndpointSlice, which in a cluster would
// send traffic to whichever node dials it; on the local stack that is the point, and
// kube-apiserver reads the object from etcd like any other.
func putLoopbackEndpointSlice(ctx context.Context, etcdPort int, portName string, port int) error {
	name, proto, p32, ready := portName, corev1.ProtocolTCP, int32(port), true
	slice := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: discoveryv1.SchemeGroupVersion.String(), Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{Name: dnsWebhookService, Namespace: DNSWebhookNamespace,
			UID: types.UID(rand.Text()), CreationTimestamp: metav1.Now(),
			Labels: map[string]string{discoveryv1.LabelServiceName: dnsWebhookService, discoveryv1.LabelManagedBy: "certflow-localstack"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &p32}},
	}
	value, err := json.Marshal(slice)
	if err != nil {
		return err
	}
	key := "/registry/endpointslices/" + DNSWebhookNamespace + "/" + dnsWebhookService
	body, err := json.Marshal(map[string]string{
		"key": base64.StdEncoding.EncodeToString([]byte(key)), "value": base64.StdEncoding.EncodeToString(value),
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+strconv.Itoa(etcdPort)+"/v3/kv/put", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("put endpoint slice into etcd: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("put endpoint slice into etcd: %s: %s", resp.Status, msg)
	}
	return nil
}
