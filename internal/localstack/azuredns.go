package localstack

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

// The fake Azure DNS account of the stack: what an Issuer's azureDNS solver names
// on the local stack (its client secret in clientSecretSecretRef).
const (
	AzureSubscriptionID = "00000000-0000-4000-8000-000000000001"
	AzureResourceGroup  = "certflow-local"
	AzureTenantID       = "00000000-0000-4000-8000-00000000000a"
	AzureClientID       = "00000000-0000-4000-8000-00000000000c"
	AzureClientSecret   = "certflow-local-azure-client-secret"
)

// AzureDNSZones are the zones of the fake Azure DNS resource group; no other fake
// holds them.
var AzureDNSZones = []string{"example.site"}

// azureDNSFake is the running fake Azure DNS API.
type azureDNSFake struct {
	store *fakedns.Store
	url   string
}

// startAzureDNS runs the fake Azure DNS API (Resource Manager) and Entra ID token
// endpoint in this process on a free port of 127.0.0.1, over TLS with a certificate
// of the stack's ACME CA (ca, in dir): the Azure SDK sends credentials over https
// only, and the worker trusts that CA for Azure through --dns01-provider-ca-file. Its TXT
// records are served by pebble-challtestsrv as the fake DigitalOcean's are.
func (s *Stack) startAzureDNS(dir string, ca *keyPair) error {
	t := time.Now()
	leaf, err := loadOrCreate(dir, "azuredns", certSpec{
		cn: "localhost", dns: []string{"localhost"}, ips: loopbackIPs,
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	if err != nil {
		return fmt.Errorf("fake azuredns certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(append(append([]byte{}, leaf.certPEM...), ca.certPEM...), leaf.keyPEM)
	if err != nil {
		return fmt.Errorf("fake azuredns certificate: %w", err)
	}
	store := fakedns.NewStore(AzureDNSZones, fakedns.KeepUntilEmpty(&fakecloudflare.ChallTestSrvSink{
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvAPI),
		Client:  &http.Client{Timeout: 10 * time.Second},
	}))
	fake := &fakedns.AzureDNS{Store: store, SubscriptionID: AzureSubscriptionID, ResourceGroup: AzureResourceGroup,
		Apps: []fakedns.AzureApp{{TenantID: AzureTenantID, ClientID: AzureClientID, ClientSecret: AzureClientSecret}}}
	srv := &fakedns.Server{}
	s.log.printf("starting fake azuredns on 127.0.0.1 (a free port, TLS)")
	u, err := srv.StartTLS("127.0.0.1:0", fake.Handler(), cert)
	if err != nil {
		return fmt.Errorf("fake azuredns: %w", err)
	}
	if err := s.addCloser("fake azuredns", srv.Close); err != nil {
		return err
	}
	s.mu.Lock()
	s.azureDNS = &azureDNSFake{store: store, url: u}
	s.mu.Unlock()
	s.recordTime("fake azuredns", time.Since(t))
	return nil
}

// AzureDNSURL is the base URL of the fake Azure DNS API, both its Entra ID authority
// host and its Resource Manager endpoint (https://127.0.0.1:<port>, what the
// worker's --azuredns-authority-host and --azuredns-resource-manager-url take); empty
// unless ACME was started.
func (s *Stack) AzureDNSURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.azureDNS == nil {
		return ""
	}
	return s.azureDNS.url
}

// AzureDNS returns the fake Azure DNS resource group's records (nil unless ACME was
// started).
func (s *Stack) AzureDNS() *fakedns.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.azureDNS == nil {
		return nil
	}
	return s.azureDNS.store
}
