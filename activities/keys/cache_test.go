package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

func TestKeyCache(t *testing.T) {
	newSigner := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	c := newKeyCache(2)
	a, b, d := newSigner(), newSigner(), newSigner()
	c.put("ns", "a", a, []byte("a"))
	if _, ok := c.get("ns", "a", PublicKeySHA256(b.Public())); ok {
		t.Error("an entry must not serve a ref to another key (the Secret changed)")
	}
	if _, ok := c.get("ns", "a", ""); ok {
		t.Error("a ref without a public key hash must not be served from the cache")
	}
	if k, ok := c.get("ns", "a", PublicKeySHA256(a.Public())); !ok || string(k.pem) != "a" {
		t.Error("cached key not found")
	}
	c.put("ns", "b", b, []byte("b"))
	c.put("ns", "d", d, []byte("d")) // evicts the least recently used: a
	if _, ok := c.get("ns", "a", PublicKeySHA256(a.Public())); ok {
		t.Error("cache grew past its bound")
	}
	c.forget("ns", "d")
	if _, ok := c.get("ns", "d", PublicKeySHA256(d.Public())); ok {
		t.Error("forgotten key still served")
	}
	if _, ok := c.get("ns", "b", PublicKeySHA256(b.Public())); !ok {
		t.Error("b should still be cached")
	}
}
