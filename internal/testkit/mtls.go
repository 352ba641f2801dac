package testkit

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/certflow/certflow/pki/pkitest"
)

// MTLSPKI is a CA with a server certificate (for DNS names, else for 127.0.0.1) and a client
// certificate, the client side as PEM (CA, ClientCert, ClientKey) and as files in a
// directory.
type MTLSPKI struct {
	CA, ClientCert, ClientKey             []byte
	CAPath, ClientCertPath, ClientKeyPath string
	server                                tls.Certificate
	pool                                  *x509.CertPool
}

// NewMTLSPKI makes the PKI and writes ca.crt, client.crt and client.key into dir. With
// dnsNames the server certificate names only those (a client must be told the server
// name); without, only 127.0.0.1.
func NewMTLSPKI(t testing.TB, dir string, dnsNames ...string) *MTLSPKI {
	t.Helper()
	caKey, serverKey, clientKey := pkitest.Key(t), pkitest.Key(t), pkitest.Key(t)
	ca := pkitest.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test Temporal CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, &caKey.PublicKey, caKey)
	serverTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "temporal"}, DNSNames: dnsNames,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if len(dnsNames) == 0 {
		serverTmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	server := pkitest.Issue(t, serverTmpl, ca, &serverKey.PublicKey, caKey)
	client := pkitest.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "certflow"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, &clientKey.PublicKey, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	p := &MTLSPKI{CA: pkitest.PEM(ca), ClientCert: pkitest.PEM(client), ClientKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		CAPath: filepath.Join(dir, "ca.crt"), ClientCertPath: filepath.Join(dir, "client.crt"), ClientKeyPath: filepath.Join(dir, "client.key"),
		pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	for path, data := range map[string][]byte{p.CAPath: p.CA, p.ClientCertPath: p.ClientCert, p.ClientKeyPath: p.ClientKey} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.server = tls.Certificate{Certificate: [][]byte{server.Raw}, PrivateKey: serverKey}
	return p
}

// StartMTLSProxy listens on 127.0.0.1 with TLS, requires a client certificate of the
// PKI's CA, and forwards each connection's plaintext (gRPC's HTTP/2) to backend: a
// Temporal that requires mTLS in front of the dev server, which speaks no TLS. It
// returns its address and the count of handshakes that presented a client certificate;
// it stops when the test ends.
func StartMTLSProxy(t testing.TB, backend string, p *MTLSPKI) (string, *atomic.Int64) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: p.pool, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var handshakes atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				handshakes.Add(1)
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go func() { _, _ = io.Copy(b, c); _ = b.(*net.TCPConn).CloseWrite() }()
				_, _ = io.Copy(c, b)
			}()
		}
	}()
	return ln.Addr().String(), &handshakes
}
