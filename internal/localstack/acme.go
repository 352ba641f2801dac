package localstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// pebbleConfig is the JSON configuration file of pebble v2.10.
type pebbleConfig struct {
	Pebble struct {
		ListenAddress                  string                   `json:"listenAddress"`
		ManagementListenAddress        string                   `json:"managementListenAddress"`
		Certificate                    string                   `json:"certificate"`
		PrivateKey                     string                   `json:"privateKey"`
		HTTPPort                       int                      `json:"httpPort"`
		TLSPort                        int                      `json:"tlsPort"`
		OCSPResponderURL               string                   `json:"ocspResponderURL"`
		ExternalAccountBindingRequired bool                     `json:"externalAccountBindingRequired"`
		ExternalAccountMACKeys         map[string]string        `json:"externalAccountMACKeys"`
		DomainBlocklist                []string                 `json:"domainBlocklist"`
		RetryAfter                     map[string]int           `json:"retryAfter"`
		KeyAlgorithm                   string                   `json:"keyAlgorithm"`
		Profiles                       map[string]pebbleProfile `json:"profiles"`
	} `json:"pebble"`
}

type pebbleProfile struct {
	Description    string `json:"description"`
	ValidityPeriod int64  `json:"validityPeriod"` // seconds
	// PromoteCommonName puts the certificate's first DNS name (or IP address) into its
	// common name; without it the certificate has none.
	PromoteCommonName bool `json:"promoteCommonName"`
}

// The external account binding the local Pebble knows (bindings are optional there):
// the key ID and its HMAC key, base64url as a CA hands it out.
const (
	PebbleEABKeyID   = "certflow-eab"
	PebbleEABHMACKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
)

// ACME profiles offered by the local Pebble, shaped like Let's Encrypt's
// (https://letsencrypt.org/docs/profiles/). Always send one in new orders: without a
// profile Pebble picks a random one (certflow sends "default" when the issuer names
// none).
//
// What Pebble v2.10 cannot do as Let's Encrypt does: its classic profile promotes the
// CSR's first DNS name to the common name even when the CSR asks for another common
// name (Let's Encrypt keeps the requested one), and it writes DNS names into the
// certificate as the CSR spells them (Let's Encrypt lower-cases them). Both are
// covered by the trigger policy's table tests and by test/acme's profile tests, which
// also put such a certificate into a Secret themselves.
const (
	ProfileDefault    = "default"    // as classic: what an order without a profile gets at Let's Encrypt
	ProfileClassic    = "classic"    // 90 days, the first DNS name promoted to the common name
	ProfileTLSServer  = "tlsserver"  // 90 days, no common name
	ProfileShortLived = "shortlived" // 160 hours (Let's Encrypt's "six-day" certificates), no common name
)

// defaultPebbleEnv is the pebble environment unless Options.PebbleEnv overrides it.
var defaultPebbleEnv = map[string]string{
	"PEBBLE_VA_NOSLEEP":      "1",
	"PEBBLE_AUTHZREUSE":      "0",
	"PEBBLE_WFE_NONCEREJECT": "0",
}

func (s *Stack) startACME(ctx context.Context, o *Options) error {
	dir := filepath.Join(o.StateDir, "pki")
	ca, err := loadOrCreate(dir, "acme-ca", certSpec{cn: "certflow-localstack-acme-ca", isCA: true}, nil)
	if err != nil {
		return fmt.Errorf("pebble certificates: %w", err)
	}
	if _, err := loadOrCreate(dir, "pebble", certSpec{
		cn: "localhost", dns: []string{"localhost", "pebble"}, ips: loopbackIPs,
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca); err != nil {
		return fmt.Errorf("pebble certificates: %w", err)
	}
	p := &s.Ports

	// challtestsrv first: pebble resolves every identifier through its DNS server.
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	err = s.runComponent(ctx, o, component{
		name: "pebble-challtestsrv", bin: "pebble-challtestsrv", chain: "acme", timeout: 30 * time.Second,
		reset: func() { p.ChallTestSrvDNS, p.ChallTestSrvAPI = o.Ports.ChallTestSrvDNS, o.Ports.ChallTestSrvAPI },
		pick: func() error {
			return fillPorts(map[*int]bool{&p.ChallTestSrvDNS: true}, &p.ChallTestSrvDNS, &p.ChallTestSrvAPI)
		},
		addr: func() string { return fmt.Sprintf("127.0.0.1:%d (DNS %d)", p.ChallTestSrvAPI, p.ChallTestSrvDNS) },
		args: func() []string {
			return []string{
				"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
				"-dnsserver", "127.0.0.1:" + strconv.Itoa(p.ChallTestSrvDNS),
				"-management", "127.0.0.1:" + strconv.Itoa(p.ChallTestSrvAPI),
				"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
			}
		},
		ready: func(ctx context.Context) error {
			// Any HTTP answer means the management API is up; the DNS listener starts
			// in the same instant (and pebble's first lookup comes much later).
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				"http://127.0.0.1:"+strconv.Itoa(p.ChallTestSrvAPI)+"/dns-request-history?host=localstack.test", nil)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.Body.Close()
		},
	})
	if err != nil {
		return err
	}
	if err := s.startCloudflare(o); err != nil {
		return err
	}
	if err := s.startDigitalOcean(o); err != nil {
		return err
	}
	if err := s.startRoute53(o); err != nil {
		return err
	}
	if err := s.startCloudDNS(); err != nil {
		return err
	}
	if err := s.startAzureDNS(dir, ca); err != nil {
		return err
	}
	if err := s.startAcmeDNS(o); err != nil {
		return err
	}
	if err := s.startAkamai(o, dir, ca); err != nil {
		return err
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	tc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer tc.CloseIdleConnections()
	env := maps.Clone(defaultPebbleEnv)
	maps.Copy(env, o.PebbleEnv)
	cfgPath := filepath.Join(o.StateDir, "pebble-config.json")
	dirURL := func() string { return "https://127.0.0.1:" + strconv.Itoa(p.ACME) + "/dir" }
	pebble := component{
		name: "pebble", bin: "pebble", chain: "acme", timeout: 30 * time.Second, env: env,
		reset: func() {
			p.ACME, p.PebbleManagement, p.HTTP01, p.TLSALPN01 =
				o.Ports.ACME, o.Ports.PebbleManagement, o.Ports.HTTP01, o.Ports.TLSALPN01
		},
		pick: func() error {
			if err := fillPorts(nil, &p.ACME, &p.PebbleManagement, &p.HTTP01, &p.TLSALPN01); err != nil {
				return err
			}
			return writePebbleConfig(cfgPath, dir, p, o.PebbleShortLivedValidity)
		},
		addr: func() string { return fmt.Sprintf("127.0.0.1:%d (management %d)", p.ACME, p.PebbleManagement) },
		args: func() []string {
			dnsServer := o.PebbleDNSServer
			if dnsServer == "" {
				dnsServer = "127.0.0.1:" + strconv.Itoa(p.ChallTestSrvDNS)
			}
			return []string{"-config", cfgPath, "-dnsserver", dnsServer}
		},
		ready: func(ctx context.Context) error {
			var d map[string]any
			if err := getJSON(ctx, tc, dirURL(), &d); err != nil {
				return err
			}
			if d["newOrder"] == nil {
				return fmt.Errorf("ACME directory without newOrder: %v", d)
			}
			// The management listener starts concurrently; wait for it too.
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				"https://127.0.0.1:"+strconv.Itoa(p.PebbleManagement)+"/roots/0", nil)
			if err != nil {
				return err
			}
			resp, err := tc.Do(req)
			if err != nil {
				return fmt.Errorf("management: %w", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("management /roots/0: %s", resp.Status)
			}
			return nil
		},
	}
	if err := s.runComponent(ctx, o, pebble); err != nil {
		return err
	}
	s.ACMEDirectoryURL = dirURL()
	s.ACMECABundlePEM = ca.certPEM
	s.ACMECABundleFile = filepath.Join(dir, "acme-ca.crt")
	s.PebbleManagementURL = "https://127.0.0.1:" + strconv.Itoa(p.PebbleManagement)
	s.ChallTestSrvURL = "http://127.0.0.1:" + strconv.Itoa(p.ChallTestSrvAPI)
	s.ChallTestSrvDNS = "127.0.0.1:" + strconv.Itoa(p.ChallTestSrvDNS)
	s.HTTP01Port = p.HTTP01
	s.TLSALPN01Port = p.TLSALPN01
	if o.RateLimitProxy != nil {
		return s.startRateLimitProxy(ca, *o.RateLimitProxy)
	}
	return nil
}

// writePebbleConfig writes pebble's configuration; shortLived, when positive, is the
// validity of the shortlived profile (whole seconds, at least one) instead of 160 hours.
func writePebbleConfig(path, pkiDir string, p *Ports, shortLived time.Duration) error {
	var c pebbleConfig
	c.Pebble.ListenAddress = "127.0.0.1:" + strconv.Itoa(p.ACME)
	c.Pebble.ManagementListenAddress = "127.0.0.1:" + strconv.Itoa(p.PebbleManagement)
	c.Pebble.Certificate = filepath.Join(pkiDir, "pebble.crt")
	c.Pebble.PrivateKey = filepath.Join(pkiDir, "pebble.key")
	c.Pebble.HTTPPort = p.HTTP01
	c.Pebble.TLSPort = p.TLSALPN01
	c.Pebble.DomainBlocklist = []string{}
	c.Pebble.RetryAfter = map[string]int{"authz": 1, "order": 1}
	c.Pebble.KeyAlgorithm = "ecdsa"
	// Optional for accounts; an account that presents a binding must present this one.
	c.Pebble.ExternalAccountMACKeys = map[string]string{PebbleEABKeyID: PebbleEABHMACKey}
	const day = 24 * 3600
	c.Pebble.Profiles = map[string]pebbleProfile{
		ProfileDefault:    {Description: "90-day certificates, the first name as common name (classic)", ValidityPeriod: 90 * day, PromoteCommonName: true},
		ProfileClassic:    {Description: "90-day certificates, the first name as common name", ValidityPeriod: 90 * day, PromoteCommonName: true},
		ProfileTLSServer:  {Description: "90-day certificates without a common name", ValidityPeriod: 90 * day},
		ProfileShortLived: {Description: "6-day (160-hour) certificates without a common name", ValidityPeriod: 160 * 3600},
	}
	if shortLived > 0 {
		c.Pebble.Profiles[ProfileShortLived] = pebbleProfile{
			Description:    "short-lived certificates without a common name, time compressed: " + shortLived.String(),
			ValidityPeriod: max(int64(shortLived/time.Second), 1),
		}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ACMEHTTPClient returns an HTTP client that trusts the TLS certificate of Pebble's ACME
// and management endpoints (and nothing else).
func (s *Stack) ACMEHTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.ACMECABundlePEM)
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
}

// PebbleRootPEM fetches the root that signs the certificates Pebble issues. Pebble
// generates a new one at every start.
func (s *Stack) PebbleRootPEM(ctx context.Context) ([]byte, error) {
	hc := s.ACMEHTTPClient()
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.PebbleManagementURL+"/roots/0", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/roots/0: %s", s.PebbleManagementURL, resp.Status)
	}
	return b, nil
}
