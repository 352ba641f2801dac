package localstack

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/certflow/certflow/internal/localstack/fakecloudflare"
	"github.com/certflow/certflow/internal/localstack/fakedns"
)

// CloudDNSProject is the project of the stack's fake Google Cloud DNS API: what an
// Issuer's cloudDNS.project names on the local stack.
const CloudDNSProject = "certflow-local"

// CloudDNSServiceAccount is the email of the fake Cloud DNS API's one service account.
const CloudDNSServiceAccount = "certflow-dns01@" + CloudDNSProject + ".iam.gserviceaccount.com"

// CloudDNSZones are the zones of the fake Cloud DNS project (managed zone
// "example-info"); no other fake holds them.
var CloudDNSZones = []string{"example.info"}

// cloudDNSFake is the running fake Cloud DNS API.
type cloudDNSFake struct {
	store *fakedns.Store
	url   string
	key   []byte // the service account JSON key it knows
}

// startCloudDNS runs the fake Google Cloud DNS API and its OAuth token endpoint in
// this process on a free port of 127.0.0.1, with one service account whose new key
// (token_uri pointing at the fake) CloudDNSServiceAccountKey returns; its TXT
// records are served by pebble-challtestsrv as the fake DigitalOcean's are.
func (s *Stack) startCloudDNS() error {
	t := time.Now()
	store := fakedns.NewStore(CloudDNSZones, fakedns.KeepUntilEmpty(&fakecloudflare.ChallTestSrvSink{
		BaseURL: "http://127.0.0.1:" + strconv.Itoa(s.Ports.ChallTestSrvAPI),
		Client:  &http.Client{Timeout: 10 * time.Second},
	}))
	fake := &fakedns.CloudDNS{Store: store, Project: CloudDNSProject}
	srv := &fakedns.Server{}
	s.log.printf("starting fake clouddns on 127.0.0.1 (a free port)")
	u, err := srv.Start("127.0.0.1:0", fake.Handler())
	if err != nil {
		return fmt.Errorf("fake clouddns: %w", err)
	}
	if err := s.addCloser("fake clouddns", srv.Close); err != nil {
		return err
	}
	key, acct, err := fakedns.NewServiceAccountKey(CloudDNSProject, CloudDNSServiceAccount, u+"/token")
	if err != nil {
		return fmt.Errorf("fake clouddns: service account key: %w", err)
	}
	fake.Accounts = []fakedns.CloudDNSAccount{acct}
	s.mu.Lock()
	s.cloudDNS = &cloudDNSFake{store: store, url: u, key: key}
	s.mu.Unlock()
	s.recordTime("fake clouddns", time.Since(t))
	return nil
}

// CloudDNSAPIURL is the base URL of the fake Cloud DNS API (http://127.0.0.1:<port>,
// what the worker's --clouddns-api-url takes); empty unless ACME was started.
func (s *Stack) CloudDNSAPIURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cloudDNS == nil {
		return ""
	}
	return s.cloudDNS.url
}

// CloudDNSServiceAccountKey is the service account JSON key the fake Cloud DNS API
// accepts (what an Issuer's cloudDNS.serviceAccountSecretRef Secret holds); nil
// unless ACME was started.
func (s *Stack) CloudDNSServiceAccountKey() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cloudDNS == nil {
		return nil
	}
	return s.cloudDNS.key
}

// CloudDNS returns the fake Cloud DNS project's records (nil unless ACME was
// started).
func (s *Stack) CloudDNS() *fakedns.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cloudDNS == nil {
		return nil
	}
	return s.cloudDNS.store
}
