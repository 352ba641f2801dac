package acme

import (
	"crypto"
	"sync"
	"time"
)

// accountKeyTTL is how long a worker signs with an account key it read without
// reading its Secret again. Every ACME call needs the key, and a certificate makes a
// dozen of them within seconds: without the cache most of the worker's API reads were
// this one Secret. A changed key is picked up on the first call after the TTL, at
// once by RegisterAccount (which always reads the Secret and refreshes the entry), and
// at once for a new account URL (the entry is per URL: a key replaced in its Secret
// makes the IssuerWorkflow register it, and orders then name the new URL).
const accountKeyTTL = 30 * time.Second

// keyCache holds parsed account keys by Secret, key and account URL.
type keyCache struct {
	mu      sync.Mutex
	entries map[keyCacheKey]keyCacheEntry
	now     func() time.Time // time.Now; tests set it
}

type keyCacheKey struct {
	namespace, name, key, accountURL string
}

type keyCacheEntry struct {
	key     crypto.Signer
	version string // the Secret's UID/resourceVersion
	read    time.Time
}

func (c *keyCache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// get returns a key read less than accountKeyTTL ago.
func (c *keyCache) get(k keyCacheKey) (crypto.Signer, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || c.clock().Sub(e.read) >= accountKeyTTL {
		return nil, "", false
	}
	return e.key, e.version, true
}

// put records a key just read from its Secret.
func (c *keyCache) put(k keyCacheKey, key crypto.Signer, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[keyCacheKey]keyCacheEntry{}
	}
	now := c.clock()
	for ek, e := range c.entries { // drop stale entries: the map stays as small as the live accounts
		if now.Sub(e.read) >= accountKeyTTL {
			delete(c.entries, ek)
		}
	}
	c.entries[k] = keyCacheEntry{key: key, version: version, read: now}
}

// forgetSecret drops every entry read from one Secret (a key generated or replaced).
func (c *keyCache) forgetSecret(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ek := range c.entries {
		if ek.namespace == namespace && ek.name == name {
			delete(c.entries, ek)
		}
	}
}
