package keystores

import (
	"crypto/sha1" //nolint:gosec // JKS digest
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"
)

// jksBuilder writes JKS fields as a hostile tenant would, ending with a correct digest
// for the password, so that only the length fields are wrong.
type jksBuilder struct{ b []byte }

func (j *jksBuilder) u16(v uint16) *jksBuilder { j.b = binary.BigEndian.AppendUint16(j.b, v); return j }
func (j *jksBuilder) u32(v uint32) *jksBuilder { j.b = binary.BigEndian.AppendUint32(j.b, v); return j }
func (j *jksBuilder) u64(v uint64) *jksBuilder { j.b = binary.BigEndian.AppendUint64(j.b, v); return j }
func (j *jksBuilder) raw(b []byte) *jksBuilder { j.b = append(j.b, b...); return j }
func (j *jksBuilder) str(s string) *jksBuilder { return j.u16(uint16(len(s))).raw([]byte(s)) }

func (j *jksBuilder) sealed(password string) []byte {
	h := sha1.New() //nolint:gosec // JKS digest
	for _, c := range []byte(password) {
		h.Write([]byte{0, c})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(j.b)
	return append(append([]byte{}, j.b...), h.Sum(nil)...)
}

func jksHeader(entries uint32) *jksBuilder {
	return (&jksBuilder{}).u32(0xfeedfeed).u32(2).u32(entries)
}

// encryptedKey is an encrypted-key value of n key bytes as keystore-go reads it.
func encryptedKey(t testing.TB, n int) []byte {
	t.Helper()
	der, err := asn1.Marshal(struct {
		Algo struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue
		}
		PrivateKey []byte
	}{
		Algo: struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue
		}{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 42, 2, 17, 1, 1}, asn1.RawValue{Tag: 5}},
		PrivateKey: make([]byte, n),
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// hostileJKS are stores whose fields claim far more than the file holds, or that made
// keystore-go panic; each has a valid digest for "changeit".
func hostileJKS(t testing.TB) map[string][]byte {
	const pw = "changeit"
	key := encryptedKey(t, 64)
	return map[string][]byte{
		"key length 2 GiB": jksHeader(1).u32(1).str("certificate").u64(0).u32(1 << 31).sealed(pw),
		"certificate count 4G": jksHeader(1).u32(1).str("certificate").u64(0).
			u32(uint32(len(key))).raw(key).u32(0xffffffff).sealed(pw),
		"certificate length 2 GiB": jksHeader(1).u32(2).str("ca").u64(0).str("X509").u32(1 << 31).sealed(pw),
		"entry count 4G":           jksHeader(0xffffffff).sealed(pw),
		"encrypted key too short": jksHeader(1).u32(1).str("certificate").u64(0).
			u32(uint32(len(encryptedKey(t, 8)))).raw(encryptedKey(t, 8)).u32(0).sealed(pw),
	}
}

// TestDecodeJKSBoundsLengthFields: a store whose length fields claim gigabytes is refused
// before anything is allocated from them, quickly and with a message saying what is
// wrong; one that made the decoder panic is an error.
func TestDecodeJKSBoundsLengthFields(t *testing.T) {
	for name, data := range hostileJKS(t) {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := DecodeJKS(data, "", "changeit")
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("DecodeJKS accepted a hostile store")
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("DecodeJKS allocated %d bytes for a %d-byte store", alloc, len(data))
			}
			if took > time.Second {
				t.Errorf("DecodeJKS took %s", took)
			}
			if !strings.HasPrefix(err.Error(), "decoding JKS store: ") || len(err.Error()) > 200 {
				t.Errorf("error %q: want a short message about the JKS store", err)
			}
			t.Log(err)
		})
	}
}

// TestDecodeJKSRefusesOversizedInput: no keystore in a Secret is larger than 1 MiB.
func TestDecodeJKSRefusesOversizedInput(t *testing.T) {
	data := jksHeader(0).raw(make([]byte, 2<<20)).sealed("changeit")
	if _, err := DecodeJKS(data, "", "changeit"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("DecodeJKS of %d bytes: %v, want a size error", len(data), err)
	}
}

// TestDecodeJKSStillReadsGoodStores: the checks accept what certflow writes, and a
// wrong password is reported before decoding.
func TestDecodeJKSStillReadsGoodStores(t *testing.T) {
	f := newFixture(t, "ECDSA")
	data, err := JKS(f.key, []*x509.Certificate{f.leaf, f.inter}, []*x509.Certificate{f.root}, "", "changeit", epoch)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodeJKS(data, "", "changeit")
	if err != nil || c.Key == nil || len(c.Chain) != 2 || len(c.Trusted) != 1 {
		t.Fatalf("DecodeJKS: %+v, %v", c, err)
	}
	if _, err := DecodeJKS(data, "", "wrong"); err == nil || !strings.Contains(err.Error(), "integrity check failed") {
		t.Fatalf("DecodeJKS with a wrong password: %v", err)
	}
}

// TestDecodePKCS12BoundsIterations: a PKCS#12 file whose MAC or encryption claims 2^40
// key derivation iterations (hours of hashing) is refused at once.
func TestDecodePKCS12BoundsIterations(t *testing.T) {
	f := newFixture(t, "ECDSA")
	good, err := PKCS12(f.key, Chain([]*x509.Certificate{f.leaf}, []*x509.Certificate{f.root}), "changeit", "")
	if err != nil {
		t.Fatal(err)
	}
	var pfx pfxPDU
	if _, err := asn1.Unmarshal(good, &pfx); err != nil {
		t.Fatal(err)
	}
	pfx.MacData.Iterations = 1 << 40
	hostile, err := asn1.Marshal(pfx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() {
		_, _, err := DecodePKCS12(hostile, "changeit")
		done <- err
	}()
	go func() {
		_, err := DecodePKCS12Truststore(hostile, "changeit")
		done <- err
	}()
	for range 2 {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "iterations") {
				t.Fatalf("decoding a PKCS#12 file with 2^40 MAC iterations: %v, want an iteration error", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("decoding a PKCS#12 file with 2^40 MAC iterations still runs after 5s")
		}
	}
	if _, _, err := DecodePKCS12(good, "changeit"); err != nil {
		t.Fatalf("DecodePKCS12 of a file certflow wrote: %v", err)
	}
}
