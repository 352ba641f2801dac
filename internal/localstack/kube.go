package localstack

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// AdminUser is the stack's admin (group system:masters): the user of its bearer token and
// the common name of its client certificate.
const AdminUser = "certflow-admin"

// FrontProxyClientName is the common name of the client certificate kube-apiserver's
// aggregation layer proxies with (--proxy-client-cert-file), the one name
// --requestheader-allowed-names allows.
const FrontProxyClientName = "front-proxy-client"

func (s *Stack) startKube(ctx context.Context, o *Options) error {
	if o.ExistingKubeconfig != "" {
		return s.useKubeconfig(ctx, o.ExistingKubeconfig)
	}
	if err := s.startEtcd(ctx, o); err != nil {
		return err
	}
	return s.startAPIServer(ctx, o)
}

func (s *Stack) useKubeconfig(ctx context.Context, path string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err = dc.ServerVersion()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster of %s does not answer: %w", path, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	s.Kubeconfig, s.RESTConfig = path, cfg
	return nil
}

func (s *Stack) startEtcd(ctx context.Context, o *Options) error {
	dataDir := filepath.Join(o.StateDir, "etcd")
	url := func(p int) string { return "http://127.0.0.1:" + strconv.Itoa(p) }
	return s.runComponent(ctx, o, component{
		name: "etcd", bin: "etcd", chain: "kube", timeout: 30 * time.Second,
		reset: func() { s.Ports.Etcd, s.Ports.EtcdPeer = o.Ports.Etcd, o.Ports.EtcdPeer },
		pick:  func() error { return fillPorts(nil, &s.Ports.Etcd, &s.Ports.EtcdPeer) },
		addr:  func() string { return "127.0.0.1:" + strconv.Itoa(s.Ports.Etcd) },
		args: func() []string {
			c, p := url(s.Ports.Etcd), url(s.Ports.EtcdPeer)
			return []string{
				"--name", "certflow",
				"--data-dir", dataDir,
				"--listen-client-urls", c, "--advertise-client-urls", c,
				"--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
				"--initial-cluster", "certflow=" + p,
				"--initial-cluster-state", "new",
				"--unsafe-no-fsync",
				"--log-level", "warn",
			}
		},
		ready: func(ctx context.Context) error {
			var h struct{ Health string }
			if err := getJSON(ctx, http.DefaultClient, url(s.Ports.Etcd)+"/health", &h); err != nil {
				return err
			}
			if h.Health != "true" {
				return fmt.Errorf("etcd health %q", h.Health)
			}
			return nil
		},
	})
}

// kubePKI generates (or reuses from StateDir/pki) the API server's certificates and
// the admin's bearer token.
type kubePKI struct {
	ca, serving, admin *keyPair
	// frontProxyCA signs frontProxyClient, the client certificate kube-apiserver's
	// aggregation layer presents to extension API servers (the DNS-01 webhook), which
	// trust the user it names in X-Remote-User (--requestheader-*).
	frontProxyCA, frontProxyClient *keyPair
	// adminToken authenticates AdminUser (group system:masters) through kube-apiserver's
	// --token-auth-file. Clients of the stack use it rather than the admin certificate:
	// kube-apiserver verifies a client certificate's chain on every request (5% of its
	// CPU under make bench), while a token is a map lookup, as close as a local stack
	// gets to the cached ServiceAccount tokens certflow authenticates with in a cluster.
	adminToken string
	dir        string
}

// ensureAdminToken reads dir/admin.token, or writes a new random one, and the token
// file kube-apiserver reads it from.
func ensureAdminToken(dir string) (string, error) {
	path := filepath.Join(dir, "admin.token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), os.WriteFile(filepath.Join(dir, "tokens.csv"), tokenFile(strings.TrimSpace(string(b))), 0o600)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, os.WriteFile(filepath.Join(dir, "tokens.csv"), tokenFile(token), 0o600)
}

// tokenFile is kube-apiserver's static token file: token,user,uid,"groups".
func tokenFile(token string) []byte {
	return []byte(token + "," + AdminUser + "," + AdminUser + ",\"system:masters\"\n")
}

func ensureKubePKI(stateDir string) (*kubePKI, error) {
	dir := filepath.Join(stateDir, "pki")
	ca, err := loadOrCreate(dir, "kube-ca", certSpec{cn: "certflow-localstack-kube-ca", isCA: true}, nil)
	if err != nil {
		return nil, err
	}
	serving, err := loadOrCreate(dir, "kube-apiserver", certSpec{
		cn:     "kube-apiserver",
		dns:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips:    append([]net.IP{net.IPv4(10, 0, 0, 1)}, loopbackIPs...),
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	if err != nil {
		return nil, err
	}
	admin, err := loadOrCreate(dir, "kube-admin", certSpec{
		cn: AdminUser, org: []string{"system:masters"},
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca)
	if err != nil {
		return nil, err
	}
	if err := ensureRSAKey(filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")); err != nil {
		return nil, err
	}
	frontProxyCA, err := loadOrCreate(dir, "front-proxy-ca", certSpec{cn: "certflow-localstack-front-proxy-ca", isCA: true}, nil)
	if err != nil {
		return nil, err
	}
	frontProxyClient, err := loadOrCreate(dir, "front-proxy-client", certSpec{
		cn: FrontProxyClientName, usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, frontProxyCA)
	if err != nil {
		return nil, err
	}
	token, err := ensureAdminToken(dir)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	return &kubePKI{ca: ca, serving: serving, admin: admin, frontProxyCA: frontProxyCA, frontProxyClient: frontProxyClient,
		adminToken: token, dir: dir}, nil
}

func (s *Stack) startAPIServer(ctx context.Context, o *Options) error {
	pki, err := ensureKubePKI(o.StateDir)
	if err != nil {
		return fmt.Errorf("kube-apiserver certificates: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca.cert)
	adminTLS, err := tls.X509KeyPair(pki.admin.certPEM, pki.admin.keyPEM)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{adminTLS}, MinVersion: tls.VersionTLS12,
	}}}
	defer hc.CloseIdleConnections()
	f := func(name string) string { return filepath.Join(pki.dir, name) }
	host := func() string { return "https://127.0.0.1:" + strconv.Itoa(s.Ports.APIServer) }
	err = s.runComponent(ctx, o, component{
		name: "kube-apiserver", bin: "kube-apiserver", chain: "kube", timeout: 90 * time.Second,
		reset: func() { s.Ports.APIServer = o.Ports.APIServer },
		pick:  func() error { return fillPorts(nil, &s.Ports.APIServer) },
		addr:  func() string { return "127.0.0.1:" + strconv.Itoa(s.Ports.APIServer) },
		args: func() []string {
			return []string{
				"--bind-address=127.0.0.1",
				"--advertise-address=127.0.0.1",
				"--endpoint-reconciler-type=none",
				"--secure-port=" + strconv.Itoa(s.Ports.APIServer),
				"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(s.Ports.Etcd),
				"--cert-dir=" + pki.dir,
				"--client-ca-file=" + f("kube-ca.crt"),
				"--token-auth-file=" + f("tokens.csv"),
				"--tls-cert-file=" + f("kube-apiserver.crt"),
				"--tls-private-key-file=" + f("kube-apiserver.key"),
				"--service-account-key-file=" + f("sa.pub"),
				"--service-account-signing-key-file=" + f("sa.key"),
				"--service-account-issuer=https://kubernetes.default.svc",
				"--service-cluster-ip-range=10.0.0.0/24",
				"--authorization-mode=RBAC",
				// No controller-manager runs: the "default" ServiceAccount never
				// appears, so ServiceAccount admission would reject every Pod.
				"--disable-admission-plugins=ServiceAccount",
				"--allow-privileged=true",
				"--profiling=true", // kubectl get --raw /debug/pprof/profile while make bench runs
				// The aggregation layer, as kubeadm sets it up: APIServices (the DNS-01
				// webhook) are proxied to with the front-proxy client certificate and the
				// user in X-Remote-*, to the endpoints of their Service (no kube-proxy here).
				"--requestheader-client-ca-file=" + f("front-proxy-ca.crt"),
				"--requestheader-allowed-names=" + FrontProxyClientName,
				"--requestheader-username-headers=X-Remote-User",
				"--requestheader-group-headers=X-Remote-Group",
				"--requestheader-extra-headers-prefix=X-Remote-Extra-",
				"--proxy-client-cert-file=" + f("front-proxy-client.crt"),
				"--proxy-client-key-file=" + f("front-proxy-client.key"),
				"--enable-aggregator-routing=true",
			}
		},
		ready: func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, host()+"/readyz", nil)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("/readyz: %s: %s", resp.Status, b)
			}
			return nil
		},
	})
	if err != nil {
		return err
	}
	s.RESTConfig = &rest.Config{
		Host:            host(),
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.ca.certPEM},
		BearerToken:     pki.adminToken,
		QPS:             100, Burst: 200,
	}
	s.Kubeconfig = filepath.Join(o.StateDir, "kubeconfig")
	return writeKubeconfig(s.Kubeconfig, host(), pki)
}

func writeKubeconfig(path, server string, pki *kubePKI) error {
	const name = "certflow-local"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: pki.ca.certPEM}
	cfg.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{Token: pki.adminToken}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: AdminUser, Namespace: "default"}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
