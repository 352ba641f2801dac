package keystores

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // the JKS integrity digest is SHA-1 by definition
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/certflow/certflow/pki"
)

// Bounds of the keystores DecodeJKS and DecodePKCS12 read. A keystore is a value of a
// Secret that its tenant may edit, so its length fields and counts are checked before
// a third-party decoder, which allocates from them, sees it.
const (
	// maxJKSEntries bounds the entries of a JKS store (certflow writes the key entry and
	// one trusted entry per CA certificate).
	maxJKSEntries = pki.MaxCertificates + 1
	// maxJKSChain bounds the certificates of one JKS private key entry.
	maxJKSChain = pki.MaxCertificates
	// maxPKCS12Iterations bounds each key derivation of a PKCS#12 file (its MAC, an
	// encrypted safe, a shrouded key): the iteration count is the file's, and each
	// iteration is a hash. OpenSSL writes 2048, Java 10,000; a million costs well under a
	// second.
	maxPKCS12Iterations = 1 << 20
	// maxPKCS12Bags bounds the safe bags of one unencrypted PKCS#12 safe.
	maxPKCS12Bags = pki.MaxCertificates + 1
)

// JKS file layout (what keystore-go reads): magic, version, entry count, the entries,
// then a 20-byte SHA-1 digest of password (UTF-16BE), "Mighty Aphrodite" and everything
// before the digest.
const (
	jksMagic         = 0xfeedfeed
	jksPrivateKeyTag = 1
	jksTrustedTag    = 2
	jksDigestLen     = sha1.Size
	// keystore-go's key decryption takes a 20-byte salt and a 20-byte check digest out of
	// the encrypted key, and fails with a panic (a negative length) when it is shorter.
	jksKeySaltAndDigest = 40
)

var jksWhitener = []byte("Mighty Aphrodite")

var errJKSTruncated = errors.New("truncated")

// jksReader reads a JKS file's fields, each checked against the bytes left.
type jksReader struct {
	b   []byte
	off int
}

func (r *jksReader) left() int { return len(r.b) - r.off }

func (r *jksReader) bytes(n uint64, what string) ([]byte, error) {
	if n > uint64(r.left()) {
		return nil, fmt.Errorf("%s claims %d bytes, %d left: %w", what, n, r.left(), errJKSTruncated)
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

func (r *jksReader) u16(what string) (uint16, error) {
	b, err := r.bytes(2, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (r *jksReader) u32(what string) (uint32, error) {
	b, err := r.bytes(4, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// checkJKS walks a JKS file as keystore-go will, checking every length field and count
// against the bytes that follow it and the bounds above, and checks the file's digest
// with password (which keystore-go only does after decoding everything). It allocates
// nothing from the file's fields. password is the UTF-8 password keystore-go is given.
func checkJKS(data []byte, password []byte) error {
	if err := pki.CheckSize("JKS store", data); err != nil {
		return err
	}
	if len(data) < 12+jksDigestLen {
		return errors.New("not a JKS store: too short")
	}
	r := &jksReader{b: data[:len(data)-jksDigestLen]}
	magic, _ := r.u32("magic")
	if magic != jksMagic {
		return errors.New("not a JKS store: bad magic number")
	}
	version, _ := r.u32("version")
	if version != 1 && version != 2 {
		return fmt.Errorf("unsupported JKS version %d", version)
	}
	n, _ := r.u32("entry count")
	if n > maxJKSEntries {
		return fmt.Errorf("JKS store claims %d entries, at most %d accepted", n, maxJKSEntries)
	}
	for i := uint32(0); i < n; i++ {
		if err := checkJKSEntry(r, version); err != nil {
			return fmt.Errorf("JKS entry %d: %w", i, err)
		}
	}
	if r.left() != 0 {
		return fmt.Errorf("JKS store has %d bytes after its %d entries", r.left(), n)
	}
	// The digest: SHA-1 over the password as UTF-16BE (keystore-go widens each byte),
	// the whitener and the store.
	h := sha1.New() //nolint:gosec // JKS's integrity digest
	pw := make([]byte, 0, 2*len(password))
	for _, c := range password {
		pw = append(pw, 0, c)
	}
	h.Write(pw)
	clear(pw)
	h.Write(jksWhitener)
	h.Write(data[:len(data)-jksDigestLen])
	if !bytes.Equal(h.Sum(nil), data[len(data)-jksDigestLen:]) {
		return errors.New("JKS store integrity check failed: wrong password or altered file")
	}
	return nil
}

func checkJKSEntry(r *jksReader, version uint32) error {
	tag, err := r.u32("tag")
	if err != nil {
		return err
	}
	aliasLen, err := r.u16("alias length")
	if err != nil {
		return err
	}
	if _, err := r.bytes(uint64(aliasLen), "alias"); err != nil {
		return err
	}
	if _, err := r.bytes(8, "creation time"); err != nil {
		return err
	}
	switch tag {
	case jksPrivateKeyTag:
		keyLen, err := r.u32("encrypted key length")
		if err != nil {
			return err
		}
		key, err := r.bytes(uint64(keyLen), "encrypted key")
		if err != nil {
			return err
		}
		if err := checkJKSEncryptedKey(key); err != nil {
			return err
		}
		certs, err := r.u32("certificate count")
		if err != nil {
			return err
		}
		if certs > maxJKSChain {
			return fmt.Errorf("chain claims %d certificates, at most %d accepted", certs, maxJKSChain)
		}
		// Each certificate takes at least its 4-byte length: keystore-go allocates the
		// chain from the count before reading any.
		if uint64(certs)*4 > uint64(r.left()) {
			return fmt.Errorf("chain claims %d certificates, %d bytes left: %w", certs, r.left(), errJKSTruncated)
		}
		for j := uint32(0); j < certs; j++ {
			if err := checkJKSCertificate(r, version); err != nil {
				return fmt.Errorf("certificate %d: %w", j, err)
			}
		}
		return nil
	case jksTrustedTag:
		return checkJKSCertificate(r, version)
	}
	return fmt.Errorf("unknown entry tag %d", tag)
}

func checkJKSCertificate(r *jksReader, version uint32) error {
	if version == 2 {
		typeLen, err := r.u16("certificate type length")
		if err != nil {
			return err
		}
		if _, err := r.bytes(uint64(typeLen), "certificate type"); err != nil {
			return err
		}
	}
	n, err := r.u32("certificate length")
	if err != nil {
		return err
	}
	_, err = r.bytes(uint64(n), "certificate")
	return err
}

// checkJKSEncryptedKey checks what keystore-go's key decryption assumes of an encrypted
// key: one DER value holding an algorithm and at least salt and digest.
func checkJKSEncryptedKey(der []byte) error {
	var info struct {
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	rest, err := asn1.Unmarshal(der, &info)
	if err != nil || len(rest) != 0 {
		return errors.New("encrypted key is not one DER value")
	}
	if len(info.PrivateKey) < jksKeySaltAndDigest {
		return fmt.Errorf("encrypted key of %d bytes, at least %d expected", len(info.PrivateKey), jksKeySaltAndDigest)
	}
	return nil
}

var (
	oidPKCS12PBEPrefix     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}
	oidPBMAC1              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidPBKDF2              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPKCS8ShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
)

// pfxPDU is a PKCS#12 file (RFC 7292), as far as checkPKCS12 reads it.
type pfxPDU struct {
	Version  int
	AuthSafe pkcs12ContentInfo
	MacData  struct {
		Mac struct {
			Algorithm pkix.AlgorithmIdentifier
			Digest    []byte
		}
		MacSalt    []byte
		Iterations int `asn1:"optional,default:1"`
	} `asn1:"optional"`
}

type pkcs12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type pkcs12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue   `asn1:"tag:0,explicit"`
	Attributes []asn1.RawValue `asn1:"set,optional"`
}

// checkPKCS12 bounds the work go-pkcs12 will do with a file: its size, and the
// iteration count of every key derivation it can see before decrypting anything (the
// MAC, each encrypted safe, each shrouded key in an unencrypted safe), which go-pkcs12
// takes from the file as it is. A shrouded key inside an encrypted safe is not seen
// here; certflow never writes one there.
func checkPKCS12(data []byte) error {
	if err := pki.CheckSize("PKCS#12 file", data); err != nil {
		return err
	}
	var pfx pfxPDU
	if err := unmarshalAll(data, &pfx); err != nil {
		return fmt.Errorf("reading PKCS#12 structure: %w", err)
	}
	if len(pfx.MacData.Mac.Algorithm.Algorithm) > 0 {
		if pfx.MacData.Mac.Algorithm.Algorithm.Equal(oidPBMAC1) {
			if err := checkPBMAC1(pfx.MacData.Mac.Algorithm); err != nil {
				return fmt.Errorf("PKCS#12 MAC: %w", err)
			}
		} else if err := checkIterations(pfx.MacData.Iterations); err != nil {
			return fmt.Errorf("PKCS#12 MAC: %w", err)
		}
	}
	if !pfx.AuthSafe.ContentType.Equal(oidData) {
		return errors.New("PKCS#12 authSafe is not of type data")
	}
	var authSafe []byte
	if err := unmarshalAll(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return fmt.Errorf("reading PKCS#12 authSafe: %w", err)
	}
	var safes []pkcs12ContentInfo
	if err := unmarshalAll(authSafe, &safes); err != nil {
		return fmt.Errorf("reading PKCS#12 safes: %w", err)
	}
	for i, s := range safes {
		switch {
		case s.ContentType.Equal(oidData):
			var contents []byte
			if err := unmarshalAll(s.Content.Bytes, &contents); err != nil {
				return fmt.Errorf("reading PKCS#12 safe %d: %w", i, err)
			}
			if err := checkPKCS12Bags(contents); err != nil {
				return fmt.Errorf("PKCS#12 safe %d: %w", i, err)
			}
		case s.ContentType.Equal(oidEncryptedData):
			var ed struct {
				Version              int
				EncryptedContentInfo struct {
					ContentType asn1.ObjectIdentifier
					Algorithm   pkix.AlgorithmIdentifier
					Content     asn1.RawValue `asn1:"tag:0,optional"`
				}
			}
			if err := unmarshalAll(s.Content.Bytes, &ed); err != nil {
				return fmt.Errorf("reading PKCS#12 encrypted safe %d: %w", i, err)
			}
			if err := checkPBEAlgorithm(ed.EncryptedContentInfo.Algorithm); err != nil {
				return fmt.Errorf("PKCS#12 encrypted safe %d: %w", i, err)
			}
		}
	}
	return nil
}

func checkPKCS12Bags(contents []byte) error {
	// Count the bags before decoding them into a slice: each is at least a few bytes,
	// but a million tiny ones would still be a million values.
	rest := contents
	var seq asn1.RawValue
	if r, err := asn1.Unmarshal(rest, &seq); err != nil || len(r) != 0 || seq.Tag != asn1.TagSequence {
		return errors.New("safe contents are not one SEQUENCE")
	}
	count := 0
	for rest = seq.Bytes; len(rest) > 0; count++ {
		if count == maxPKCS12Bags {
			return fmt.Errorf("more than %d bags", maxPKCS12Bags)
		}
		var bag pkcs12SafeBag
		var err error
		if rest, err = asn1.Unmarshal(rest, &bag); err != nil {
			return fmt.Errorf("bag %d: %w", count, err)
		}
		if !bag.ID.Equal(oidPKCS8ShroudedKeyBag) {
			continue
		}
		var info struct {
			Algorithm pkix.AlgorithmIdentifier
			Data      []byte
		}
		if err := unmarshalAll(bag.Value.Bytes, &info); err != nil {
			return fmt.Errorf("shrouded key bag %d: %w", count, err)
		}
		if err := checkPBEAlgorithm(info.Algorithm); err != nil {
			return fmt.Errorf("shrouded key bag %d: %w", count, err)
		}
	}
	return nil
}

// checkPBEAlgorithm checks the iteration count of a password-based encryption: PKCS#12
// PBE (salt, iterations) or PBES2 with PBKDF2. Other algorithms derive nothing (and
// go-pkcs12 refuses them).
func checkPBEAlgorithm(alg pkix.AlgorithmIdentifier) error {
	switch {
	case len(alg.Algorithm) == len(oidPKCS12PBEPrefix)+1 && alg.Algorithm[:len(oidPKCS12PBEPrefix)].Equal(oidPKCS12PBEPrefix):
		var params struct {
			Salt       []byte
			Iterations int
		}
		if err := unmarshalAll(alg.Parameters.FullBytes, &params); err != nil {
			return fmt.Errorf("PBE parameters: %w", err)
		}
		return checkIterations(params.Iterations)
	case alg.Algorithm.Equal(oidPBES2):
		var params struct {
			Kdf              pkix.AlgorithmIdentifier
			EncryptionScheme pkix.AlgorithmIdentifier
		}
		if err := unmarshalAll(alg.Parameters.FullBytes, &params); err != nil {
			return fmt.Errorf("PBES2 parameters: %w", err)
		}
		return checkPBKDF2(params.Kdf)
	}
	return nil
}

func checkPBMAC1(alg pkix.AlgorithmIdentifier) error {
	var params struct {
		Kdf    pkix.AlgorithmIdentifier
		MacAlg pkix.AlgorithmIdentifier
	}
	if err := unmarshalAll(alg.Parameters.FullBytes, &params); err != nil {
		return fmt.Errorf("PBMAC1 parameters: %w", err)
	}
	return checkPBKDF2(params.Kdf)
}

func checkPBKDF2(kdf pkix.AlgorithmIdentifier) error {
	if !kdf.Algorithm.Equal(oidPBKDF2) {
		return nil
	}
	var params struct {
		Salt       asn1.RawValue
		Iterations int
		KeyLength  int                      `asn1:"optional"`
		Prf        pkix.AlgorithmIdentifier `asn1:"optional"`
	}
	if err := unmarshalAll(kdf.Parameters.FullBytes, &params); err != nil {
		return fmt.Errorf("PBKDF2 parameters: %w", err)
	}
	return checkIterations(params.Iterations)
}

func checkIterations(n int) error {
	if n < 1 || n > maxPKCS12Iterations {
		return fmt.Errorf("key derivation with %d iterations, want 1 to %d", n, maxPKCS12Iterations)
	}
	return nil
}
