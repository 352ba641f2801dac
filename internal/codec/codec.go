// Package codec encrypts every payload certflow's Temporal clients write (workflow and
// activity inputs and results, signals, queries, memos, step summaries, failure messages)
// with AES-256-GCM under a key kept in a Kubernetes Secret. Whoever reads Temporal's
// database or Web UI without the key sees no spec, no Secret contents and no certificate;
// workflow IDs and search attributes stay readable so that a Certificate can still be
// found. The codec endpoint (Handler) lets the Web UI decode for operators who reach it.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding marks an encrypted payload (metadata "encoding").
	Encoding = "binary/encrypted"
	// MetadataKeyID names the key a payload was encrypted with.
	MetadataKeyID = "encryption-key-id"
	// ActiveKey is the Secret entry new payloads are encrypted with; every other entry
	// still decrypts (rotation: move the old key to another entry, put a new one here).
	ActiveKey = "key"
	// KeySize is the length of every key: AES-256.
	KeySize = 32
)

// Codec is a converter.PayloadCodec over the keys of one Secret.
type Codec struct {
	activeID string
	aeads    map[string]cipher.AEAD // by key ID
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New makes a Codec from a Secret's entries: each a 32-byte key, ActiveKey among them.
func New(entries map[string][]byte) (*Codec, error) {
	if len(entries[ActiveKey]) == 0 {
		return nil, fmt.Errorf("no %q entry (the key payloads are encrypted with)", ActiveKey)
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	c := &Codec{aeads: map[string]cipher.AEAD{}}
	for _, name := range names {
		key := entries[name]
		if len(key) != KeySize {
			return nil, fmt.Errorf("entry %q holds %d bytes, want a %d-byte key", name, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		c.aeads[id] = aead
		if name == ActiveKey {
			c.activeID = id
		}
	}
	return c, nil
}

// KeyID names a key in payload metadata without revealing it: the first 16 hex digits
// of its SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// NewKey is a fresh random key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	return k, err
}

// Encode encrypts each payload whole (metadata and data) with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.activeID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), MetadataKeyID: []byte(c.activeID)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.activeID)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec encrypted; others (written before the codec
// was turned on) pass through as they are.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("payload encrypted with key %s, which the codec Secret does not hold", id)
		}
		if len(p.GetData()) < aead.NonceSize() {
			return nil, errors.New("encrypted payload shorter than its nonce")
		}
		nonce, sealed := p.GetData()[:aead.NonceSize()], p.GetData()[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decrypt payload with key %s: %w", id, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("decrypted payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

// DataConverter is the SDK's default converter with payloads encrypted by c.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Apply makes a client's payloads and failure messages (which name objects and carry
// their errors) go through c.
func (c *Codec) Apply(o *client.Options) {
	o.DataConverter = c.DataConverter()
	o.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: o.DataConverter, EncodeCommonAttributes: true,
	})
}
