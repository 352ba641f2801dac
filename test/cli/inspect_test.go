package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

// inspect secret of a certificate issued by an intermediate CA: its names, issuer,
// dates, serial and chain, and the checks (chain in order, valid now, trusted with
// ca.crt, the key matching); of a Secret without a certificate, a clear error.
func TestInspectSecret(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	const ns = "cli-inspect"
	caChain(t, ns)
	apply(t, ns, testkit.Cert{Name: "web", CommonName: "web.cli-inspect.example.com", DNSNames: []string{"web.cli-inspect.example.com", "www.cli-inspect.example.com"},
		PrivateKey: "{algorithm: ECDSA}", Issuer: "inter-ca",
		Extra: "  usages: [digital signature, server auth]\n  ipAddresses: [127.0.0.1]\n  emailAddresses: [ops@cli-inspect.example.com]\n  uris: [spiffe://cli-inspect.example.com/web]\n"}.String())
	testkit.WaitCertificateReady(t, sys.CertFlow, ns, "web", 90*time.Second)
	_, leaf := testkit.ReadTLSSecret(t, sys.Kube, ns, "web-tls")
	inter := "CN=" + ns + " intermediate,O=certflow tests,C=FR"

	r := mustRun(t, "inspect", "secret", "web-tls", "-n", ns)
	wantAll(t, "inspect secret", r.stdout,
		"Valid for:\n\tDNS Names: \n\t\t- web.cli-inspect.example.com\n\t\t- www.cli-inspect.example.com\n",
		"\tURIs: \n\t\t- spiffe://cli-inspect.example.com/web\n",
		"\tIP Addresses: \n\t\t- 127.0.0.1\n",
		"\tEmail Addresses: \n\t\t- ops@cli-inspect.example.com\n",
		"\tUsages: \n\t\t- digital signature\n\t\t- server auth\n",
		"Validity period:\n\tNot Before: "+leaf.NotBefore.UTC().Format(time.RFC1123)+"\n\tNot After: "+leaf.NotAfter.UTC().Format(time.RFC1123)+"\n",
		"Issued By:\n\tCommon Name:\t"+ns+" intermediate\n\tOrganization:\tcertflow tests\n\tOrganizationalUnit:\t<none>\n\tCountry:\tFR\n",
		"Issued For:\n\tCommon Name:\tweb.cli-inspect.example.com\n",
		"\tSerial Number:\t"+leaf.SerialNumber.String()+"\n",
		"\tIs a CA certificate: false\n\tCRL:\t<none>\n\tOCSP:\t<none>\n\tCA Issuers (AIA):\t<none>\n",
		"Chain:\n\t0: CN=web.cli-inspect.example.com (issued by "+inter+"), not after "+leaf.NotAfter.UTC().Format(time.RFC3339)+"\n",
		"\t1: "+inter+" (issued by CN="+ns+" root), not after ",
		"\tca.crt: "+inter+" (issued by CN="+ns+" root)",
		"\tTrusted by this computer:\tno: x509: certificate signed by unknown authority\n",
		"\tTrusted with ca.crt:\tyes\n",
		"\tChain in order:\tyes (2 certificates, each signed by the next)\n",
		"\tValid now:\tyes (expires in ",
		"\tPrivate key matches:\tyes\n",
		"\tCRL Status:\tNo CRL endpoints set\n\tOCSP Status:\tNo OCSP servers set\n",
	)

	// The intermediate's own Secret: a CA certificate whose ca.crt is the root.
	r = mustRun(t, "inspect", "secret", "inter-tls", "-n", ns)
	wantAll(t, "inspect secret of the intermediate", r.stdout, "\tIs a CA certificate: true\n", "\tca.crt: CN="+ns+" root (issued by CN="+ns+" root)",
		"\tTrusted with ca.crt:\tyes\n", "\tChain in order:\tyes (tls.crt holds the leaf only)\n", "\tUsages: \n\t\t- digital signature\n\t\t- cert sign\n")

	// A Secret without a certificate, and one that does not exist: clear errors.
	if out, err := sys.Kubectl(nil, "create", "secret", "generic", "no-cert", "-n", ns, "--from-literal=password=hunter2"); err != nil {
		t.Fatalf("create secret: %v\n%s", err, out)
	}
	r = kubectlCertManager(t, nil, "inspect", "secret", "no-cert", "-n", ns)
	if r.err == nil || !strings.Contains(r.stderr, `Secret "no-cert" has no certificate: its 'tls.crt' is missing or empty`) {
		t.Errorf("inspect secret of a Secret without a certificate:\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, "hunter2") {
		t.Errorf("inspect secret printed the Secret's data:\n%s", r)
	}
	r = kubectlCertManager(t, nil, "inspect", "secret", "nothing", "-n", ns)
	if r.err == nil || !strings.Contains(r.stderr, `error when finding Secret "nothing": secrets "nothing" not found`) {
		t.Errorf("inspect secret of a missing Secret:\n%s", r)
	}
}
