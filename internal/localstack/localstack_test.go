package localstack_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	. "github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/localstack/childproc"
	"github.com/certflow/certflow/internal/localstack/freeport"
	"github.com/certflow/certflow/internal/testkit/dnsquery"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/internal/testkit/jsonapi"
)

func allParts() Options { return Options{Kube: true, Temporal: true, ACME: true} }

// TestFullStack starts everything on free ports and exercises each part.
func TestFullStack(t *testing.T) {
	s := integration.StartStack(t, allParts())
	t.Logf("start times: %v", s.StartTimes)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("kubectl", func(t *testing.T) { checkKubectl(t, s) })
	t.Run("client-go+RBAC", func(t *testing.T) { checkKube(ctx, t, s) })
	t.Run("InstallCRDs", func(t *testing.T) { checkCRDs(ctx, t, s) })
	t.Run("gateway-api", func(t *testing.T) { checkGatewayAPI(ctx, t, s) })
	t.Run("temporal", func(t *testing.T) { checkTemporalClient(ctx, t, s) })
	t.Run("temporal-ui", func(t *testing.T) { checkHTTP200(ctx, t, http.DefaultClient, s.TemporalUIURL+"/") })
	t.Run("acme", func(t *testing.T) { checkACME(ctx, t, s) })
	t.Run("cloudflare", func(t *testing.T) { checkCloudflare(ctx, t, s) })
	t.Run("digitalocean", func(t *testing.T) { checkDigitalOcean(ctx, t, s) })
	t.Run("route53", func(t *testing.T) { checkRoute53(ctx, t, s) })
	t.Run("acme-dns", func(t *testing.T) { checkAcmeDNS(ctx, t, s) })
	t.Run("akamai", func(t *testing.T) { checkAkamai(ctx, t, s) })

	pids := s.PIDs()
	for _, name := range []string{"etcd", "kube-apiserver", "temporal", "pebble-challtestsrv", "pebble"} {
		if pids[name] == 0 {
			t.Errorf("no pid recorded for %s: %v", name, pids)
			continue
		}
		if bad := nonLoopbackListeners(t, pids[name]); len(bad) > 0 {
			t.Errorf("%s listens on non-loopback addresses: %v", name, bad)
		}
	}
	t0 := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %s", time.Since(t0))
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop: kill(0) = %v", name, pid, err)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group of %s (%d) still exists after Stop: kill(0) = %v", name, pid, err)
		}
	}
}

// TestTwoStacks runs two complete stacks side by side.
func TestTwoStacks(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	stacks := make([]*Stack, 2)
	done := make(chan struct{}, 2)
	for i := range stacks {
		go func() {
			defer func() { done <- struct{}{} }()
			// StartForTest calls t.Fatal, which must run on the test goroutine: start
			// directly here and report through t.Error.
			stacks[i] = startOrError(t, allParts())
		}()
	}
	<-done
	<-done
	if t.Failed() {
		t.FailNow()
	}
	a, b := stacks[0], stacks[1]
	if a.Ports == b.Ports {
		t.Fatalf("both stacks use the same ports: %+v", a.Ports)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, s := range stacks {
		t.Run(fmt.Sprint("stack", i), func(t *testing.T) {
			checkKube(ctx, t, s)
			checkTemporalClient(ctx, t, s)
			checkACME(ctx, t, s)
			checkCloudflare(ctx, t, s)
		})
	}
	if a.CloudflareAPIURL() == b.CloudflareAPIURL() {
		t.Errorf("both stacks serve the fake Cloudflare API at %s", a.CloudflareAPIURL())
	}
	// Data is separate: a namespace created in one stack is absent from the other.
	ca := kubernetes.NewForConfigOrDie(a.RESTConfig)
	cb := kubernetes.NewForConfigOrDie(b.RESTConfig)
	if _, err := ca.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.CoreV1().Namespaces().Get(ctx, "only-in-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("namespace of stack a visible in stack b: %v", err)
	}
}

// TestRestartSameStateDir restarts a stack on the same StateDir, as `make run` does:
// certificates and data survive.
func TestRestartSameStateDir(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	dir := t.TempDir()
	o := Options{Kube: true, Temporal: true, StateDir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	s1 := integration.StartStack(t, o)
	cs := kubernetes.NewForConfigOrDie(s1.RESTConfig)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "survives"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ca1, _ := os.ReadFile(filepath.Join(dir, "pki", "kube-ca.crt"))
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}

	s2 := integration.StartStack(t, o)
	ca2, _ := os.ReadFile(filepath.Join(dir, "pki", "kube-ca.crt"))
	if len(ca1) == 0 || !bytes.Equal(ca1, ca2) {
		t.Errorf("kube CA was regenerated on restart")
	}
	cs = kubernetes.NewForConfigOrDie(s2.RESTConfig)
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "survives", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace lost across restart: %v", err)
	}
	checkTemporalClient(ctx, t, s2)

	// A third stack reuses both servers through Existing* and starts nothing.
	s3 := integration.StartStack(t, Options{ExistingKubeconfig: s2.Kubeconfig, ExistingTemporal: s2.TemporalAddress})
	if n := len(s3.PIDs()); n != 0 {
		t.Errorf("stack on existing servers started %d processes", n)
	}
	checkKube(ctx, t, s3)
	checkTemporalClient(ctx, t, s3)
}

func startOrError(t *testing.T, o Options) *Stack {
	o.BinDir = mustRepoRoot(t) + "/bin"
	o.StateDir = t.TempDir()
	o.Log = integration.LogWriter(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Errorf("start: %v", err)
		return nil
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s
}

func mustRepoRoot(t *testing.T) string {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func checkKubectl(t *testing.T, s *Stack) {
	out, err := exec.Command(filepath.Join(mustRepoRoot(t), "bin", "kubectl"), "--kubeconfig", s.Kubeconfig, "get", "ns", "-o", "name").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get ns: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "namespace/default") || !strings.Contains(string(out), "namespace/kube-system") {
		t.Fatalf("kubectl get ns: unexpected output:\n%s", out)
	}
}

func checkKube(ctx context.Context, t *testing.T, s *Stack) {
	cs := kubernetes.NewForConfigOrDie(s.RESTConfig)
	if _, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("admin list namespaces: %v", err)
	}
	imp := rest.CopyConfig(s.RESTConfig)
	imp.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	_, err := kubernetes.NewForConfigOrDie(imp).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("unprivileged user listing namespaces: want Forbidden (RBAC on), got %v", err)
	}
}

func checkCRDs(ctx context.Context, t *testing.T, s *Stack) {
	for range 2 { // applying twice is a no-op
		if err := InstallCRDs(ctx, s.RESTConfig, "testdata/crds"); err != nil {
			t.Fatalf("InstallCRDs: %v", err)
		}
	}
	dc := dynamic.NewForConfigOrDie(s.RESTConfig)
	gvr := schema.GroupVersionResource{Group: "localstack.certflow.test", Version: "v1", Resource: "widgets"}
	if _, err := dc.Resource(gvr).Namespace("default").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list widgets: %v", err)
	}
}

// checkGatewayAPI installs certflow's CRDs and the Gateway API CRDs of
// deploy/gateway-api (as make run and the test system do) and creates an HTTPRoute.
func checkGatewayAPI(ctx context.Context, t *testing.T, s *Stack) {
	root := mustRepoRoot(t)
	if err := InstallCRDs(ctx, s.RESTConfig, filepath.Join(root, CRDsDir), filepath.Join(root, GatewayAPICRDsDir)); err != nil {
		t.Fatalf("InstallCRDs: %v", err)
	}
	dc := dynamic.NewForConfigOrDie(s.RESTConfig)
	routes := dc.Resource(schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}).Namespace("default")
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "HTTPRoute",
		"metadata":   map[string]any{"name": "solver"},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "gateway", "namespace": "default"}},
			"hostnames":  []any{"www.example.com"},
			"rules": []any{map[string]any{
				"matches":     []any{map[string]any{"path": map[string]any{"type": "Exact", "value": "/.well-known/acme-challenge/token"}}},
				"backendRefs": []any{map[string]any{"name": "solver", "port": int64(8089)}},
			}},
		},
	}}
	if _, err := routes.Create(ctx, route, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create HTTPRoute: %v", err)
	}
	if err := routes.Delete(ctx, "solver", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete HTTPRoute: %v", err)
	}
	for _, r := range []string{"gatewayclasses", "gateways", "referencegrants"} {
		gvr := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: r}
		if r == "referencegrants" {
			gvr.Version = "v1beta1"
		}
		if _, err := dc.Resource(gvr).List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("list %s: %v", r, err)
		}
	}
}

// checkCloudflare: the fake Cloudflare API answers on loopback with the stack's token,
// holds the default zones, and a TXT record created through it is served by
// challtestsrv's DNS, the server Pebble resolves with.
func checkCloudflare(ctx context.Context, t *testing.T, s *Stack) {
	u := s.CloudflareAPIURL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/client/v4") || s.Cloudflare() == nil {
		t.Fatalf("CloudflareAPIURL %q, Cloudflare() %v", u, s.Cloudflare())
	}
	if got := s.CloudflareZoneNames(); !slices.Equal(got, []string{"example.com", "example.org", "markabledu.com"}) {
		t.Errorf("zones %v", got)
	}
	var res struct {
		Success bool
		Result  struct{ ID string }
	}
	jsonapi.Call(ctx, t, CloudflareToken, http.MethodGet, u+"/user/tokens/verify", "", &res)
	if !res.Success {
		t.Fatalf("token not accepted")
	}
	zid := s.Cloudflare().AddZone("cf-check.test")
	jsonapi.Call(ctx, t, CloudflareToken, http.MethodPost, u+"/zones/"+zid+"/dns_records",
		`{"type":"TXT","name":"_acme-challenge.cf-check.test","content":"via-cloudflare","ttl":120}`, &res)
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, "_acme-challenge.cf-check.test."); !slices.Equal(got, []string{"via-cloudflare"}) {
		t.Errorf("challtestsrv serves TXT %q, want the record created through Cloudflare", got)
	}
	jsonapi.Call(ctx, t, CloudflareToken, http.MethodDelete, u+"/zones/"+zid+"/dns_records/"+res.Result.ID, "", nil)
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, "_acme-challenge.cf-check.test."); len(got) != 0 {
		t.Errorf("challtestsrv still serves TXT %q after the delete", got)
	}
}

// checkDigitalOcean: the fake DigitalOcean API answers on loopback with the stack's
// token only, and a TXT record created through it is served by challtestsrv's DNS.
func checkDigitalOcean(ctx context.Context, t *testing.T, s *Stack) {
	u := s.DigitalOceanAPIURL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || s.DigitalOcean() == nil {
		t.Fatalf("DigitalOceanAPIURL %q, DigitalOcean() %v", u, s.DigitalOcean())
	}
	call := func(token, method, url, body string, want int) []byte {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s %s, want HTTP %d", method, url, resp.Status, b, want)
		}
		return b
	}
	call(CloudflareToken, http.MethodGet, u+"/v2/domains/example.net", "", http.StatusUnauthorized)
	call(DigitalOceanToken, http.MethodGet, u+"/v2/domains/example.net", "", http.StatusOK)
	var res struct {
		DomainRecord struct{ ID int } `json:"domain_record"`
	}
	b := call(DigitalOceanToken, http.MethodPost, u+"/v2/domains/example.net/records",
		`{"type":"TXT","name":"_acme-challenge.do-check.example.net.","data":"via-digitalocean","ttl":30}`, http.StatusCreated)
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	const fqdn = "_acme-challenge.do-check.example.net."
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, fqdn); !slices.Equal(got, []string{"via-digitalocean"}) {
		t.Errorf("challtestsrv serves TXT %q, want the record created through DigitalOcean", got)
	}
	call(DigitalOceanToken, http.MethodDelete, u+"/v2/domains/example.net/records/"+strconv.Itoa(res.DomainRecord.ID), "", http.StatusNoContent)
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, fqdn); len(got) != 0 {
		t.Errorf("challtestsrv still serves TXT %q after the delete", got)
	}
}

// checkRoute53: the fake Route 53 answers on loopback to the stack's access key only
// (SigV4 checked), and a TXT record set created through it is served by challtestsrv.
func checkRoute53(ctx context.Context, t *testing.T, s *Stack) {
	u := s.Route53APIURL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || s.Route53() == nil {
		t.Fatalf("Route53APIURL %q, Route53() %v", u, s.Route53())
	}
	client := func(secret string) *route53.Client {
		return route53.New(route53.Options{Region: "us-east-1", BaseEndpoint: aws.String(u), RetryMaxAttempts: 1,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: Route53AccessKeyID, SecretAccessKey: secret}, nil
			})})
	}
	if _, err := client("wrong").ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{}); err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret: %v, want SignatureDoesNotMatch", err)
	}
	c := client(Route53SecretAccessKey)
	zones, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(Route53Zones[0])})
	if err != nil || len(zones.HostedZones) == 0 {
		t.Fatalf("list zones: %+v, %v", zones, err)
	}
	const fqdn = "_acme-challenge.r53-check.example.biz."
	change := func(action r53types.ChangeAction) {
		t.Helper()
		_, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zones.HostedZones[0].Id,
			ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{Action: action, ResourceRecordSet: &r53types.ResourceRecordSet{
				Name: aws.String(fqdn), Type: r53types.RRTypeTxt, TTL: aws.Int64(10),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(`"via-route53"`)}}}}}}})
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	change(r53types.ChangeActionCreate)
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, fqdn); !slices.Equal(got, []string{"via-route53"}) {
		t.Errorf("challtestsrv serves TXT %q, want the record set created through Route 53", got)
	}
	change(r53types.ChangeActionDelete)
	if got := dnsquery.TXT(t, s.ChallTestSrvDNS, fqdn); len(got) != 0 {
		t.Errorf("challtestsrv still serves TXT %q after the delete", got)
	}
}

func checkTemporalClient(ctx context.Context, t *testing.T, s *Stack) {
	c, err := client.DialContext(ctx, client.Options{HostPort: s.TemporalAddress, Namespace: s.TemporalNamespace, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	defer c.Close()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.TemporalNamespace})
	if err != nil {
		t.Fatalf("list search attributes: %v", err)
	}
	for _, a := range SearchAttributes() {
		if got := resp.GetCustomAttributes()[a.Name]; got != a.Type {
			t.Errorf("search attribute %s: type %s, want %s", a.Name, got, a.Type)
		}
	}
}

func checkACME(ctx context.Context, t *testing.T, s *Stack) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.ACMECABundlePEM) {
		t.Fatal("ACMECABundlePEM holds no certificate")
	}
	if b, err := os.ReadFile(s.ACMECABundleFile); err != nil || !bytes.Equal(b, s.ACMECABundlePEM) {
		t.Errorf("ACMECABundleFile %s: %v", s.ACMECABundleFile, err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	// Without the bundle, the endpoint is not trusted.
	if _, err := http.Get(s.ACMEDirectoryURL); err == nil {
		t.Errorf("ACME endpoint trusted without ACMECABundlePEM")
	}
	body := checkHTTP200(ctx, t, hc, s.ACMEDirectoryURL)
	var dir map[string]any
	if err := json.Unmarshal(body, &dir); err != nil || dir["newOrder"] == nil {
		t.Fatalf("ACME directory: %v %s", err, body)
	}
	if meta, _ := dir["meta"].(map[string]any); meta == nil || meta["profiles"] == nil {
		t.Errorf("ACME directory lists no profiles: %s", body)
	}
	root, err := s.PebbleRootPEM(ctx)
	if err != nil || !bytes.Contains(root, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("PebbleRootPEM: %v %s", err, root)
	}
	// challtestsrv API: add a TXT record.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.ChallTestSrvURL+"/set-txt",
		strings.NewReader(`{"host":"_acme-challenge.example.test.","value":"x"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("challtestsrv set-txt: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("challtestsrv set-txt: %s", resp.Status)
	}
	if s.HTTP01Port == 0 || s.ChallTestSrvDNS == "" {
		t.Errorf("HTTP01Port %d ChallTestSrvDNS %q", s.HTTP01Port, s.ChallTestSrvDNS)
	}
}

func checkHTTP200(ctx context.Context, t *testing.T, hc *http.Client, url string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return b
}

// nonLoopbackListeners returns the listening TCP sockets and bound UDP sockets of pid
// whose local address is not a loopback address.
func nonLoopbackListeners(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("read fds of %d: %v", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	loopback := map[string]bool{
		"0100007F":                         true, // 127.0.0.1
		"00000000000000000000000001000000": true, // ::1
		"0000000000000000FFFF00000100007F": true, // ::ffff:127.0.0.1
	}
	var bad []string
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			listening := f[3] == "0A" || strings.HasPrefix(table, "udp")
			addr, _, _ := strings.Cut(f[1], ":")
			if listening && !loopback[addr] {
				bad = append(bad, table+" "+f[1])
			}
		}
	}
	return bad
}

// TestExistingTemporalRegistersSearchAttributes points the stack at a Temporal server
// started without certflow's search attributes: Start registers them.
func TestExistingTemporalRegistersSearchAttributes(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	dir := t.TempDir()
	port, err := freeport.Get(false)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := childproc.Start("temporal-bare", filepath.Join(mustRepoRoot(t), "bin", "temporal"),
		[]string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", fmt.Sprint(port), "--log-level", "warn"},
		filepath.Join(dir, "temporal-bare.log"), childproc.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })

	s := integration.StartStack(t, Options{ExistingTemporal: addr})
	if s.TemporalAddress != addr || len(s.PIDs()) != 0 {
		t.Fatalf("stack on existing Temporal: address %q, pids %v", s.TemporalAddress, s.PIDs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checkTemporalClient(ctx, t, s)
}

const envHelper = "CERTFLOW_LOCALSTACK_HELPER_PIDFILE"

// TestHelperStartAndHang is not a test: TestChildrenDieWithParent runs the test binary
// with it to get a process that starts a stack and is then killed.
// Its state lives next to the pid file, in the parent test's TempDir.
func TestHelperStartAndHang(t *testing.T) {
	pidFile := os.Getenv(envHelper)
	if pidFile == "" {
		t.Skip("helper process for TestChildrenDieWithParent")
	}
	s, err := Start(context.Background(), Options{
		BinDir: mustRepoRoot(t) + "/bin", StateDir: filepath.Join(filepath.Dir(pidFile), "state"),
		Kube: true, Temporal: true, ACME: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s.PIDs())
	if err := os.WriteFile(pidFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Hour)
}

// TestChildrenDieWithParent SIGKILLs a process that runs a stack: Pdeathsig must take
// every server down with it.
func TestChildrenDieWithParent(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	pidFile := filepath.Join(t.TempDir(), "pids.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartAndHang$", "-test.count=1")
	cmd.Env = append(os.Environ(), envHelper+"="+pidFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var pids map[string]int
	deadline := time.After(2 * time.Minute)
	for pids == nil {
		select {
		case err := <-exited:
			t.Fatalf("helper exited early: %v\n%s", err, out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("helper did not start the stack\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			if err := json.Unmarshal(b, &pids); err != nil {
				pids = nil
			}
		}
	}
	if len(pids) != 5 {
		t.Errorf("helper started %v", pids)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	end := time.Now().Add(10 * time.Second)
	for name, pid := range pids {
		for Alive(pid) {
			if time.Now().After(end) {
				t.Fatalf("%s (pid %d) outlived its SIGKILLed parent", name, pid)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
