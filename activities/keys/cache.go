package keys

import (
	"container/list"
	"crypto"
	"sync"
)

// recent keeps the private keys this worker generated or read most recently, so that the
// steps of one issuance (CSR, self-signing, writing the target Secret) do not read the
// key Secret back from the API server each time. An entry is only used for a KeyRef
// with the same public key hash, so a Secret changed behind our back is still noticed.
// Keys live in worker memory only, as they do while any step uses them; nothing here
// reaches Temporal.
var recent = newKeyCache(512)

type cachedKey struct {
	id     string // namespace/name
	sha256 string
	signer crypto.Signer
	pem    []byte
}

type keyCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[string]*list.Element
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, ll: list.New(), m: map[string]*list.Element{}}
}

func (c *keyCache) get(namespace, name, sha256 string) (cachedKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[namespace+"/"+name]
	if !ok || sha256 == "" || e.Value.(cachedKey).sha256 != sha256 {
		return cachedKey{}, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(cachedKey), true
}

func (c *keyCache) put(namespace, name string, signer crypto.Signer, pem []byte) {
	k := cachedKey{id: namespace + "/" + name, sha256: PublicKeySHA256(signer.Public()), signer: signer, pem: pem}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k.id]; ok {
		e.Value = k
		c.ll.MoveToFront(e)
		return
	}
	c.m[k.id] = c.ll.PushFront(k)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(cachedKey).id)
	}
}

func (c *keyCache) forget(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[namespace+"/"+name]; ok {
		c.ll.Remove(e)
		delete(c.m, namespace+"/"+name)
	}
}
