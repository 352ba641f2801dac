package acme

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"
)

func TestKeyCache(t *testing.T) {
	k1, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	c := keyCache{now: func() time.Time { return now }}
	a := keyCacheKey{namespace: "ns", name: "acct", key: "tls.key", accountURL: "https://ca/acct/1"}
	if _, _, ok := c.get(a); ok {
		t.Fatal("empty cache answered")
	}
	c.put(a, k1, "uid/1")
	if key, v, ok := c.get(a); !ok || key != k1 || v != "uid/1" {
		t.Fatalf("get after put: %v %q %v", key, v, ok)
	}
	other := a
	other.accountURL = "https://ca/acct/2"
	if _, _, ok := c.get(other); ok {
		t.Fatal("another account URL answered from the first's entry")
	}
	now = now.Add(accountKeyTTL - time.Second)
	if _, _, ok := c.get(a); !ok {
		t.Fatal("entry expired before its TTL")
	}
	now = now.Add(time.Second)
	if _, _, ok := c.get(a); ok {
		t.Fatal("entry answered at its TTL")
	}
	c.put(a, k1, "uid/2")
	c.put(other, k1, "uid/2")
	c.forgetSecret("ns", "acct")
	if _, _, ok := c.get(a); ok {
		t.Fatal("forgotten Secret answered")
	}
	if len(c.entries) != 0 {
		t.Fatalf("entries left after forgetSecret: %d", len(c.entries))
	}
}
