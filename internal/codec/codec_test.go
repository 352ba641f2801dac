package codec

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestRoundTripRotationAndPlainPayloads(t *testing.T) {
	old, err := New(map[string][]byte{ActiveKey: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	spec := `{"dnsNames":["secret.example.com"],"issuerRef":{"name":"ca"}}`
	p, err := converter.GetDefaultDataConverter().ToPayload(json.RawMessage(spec))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := old.Encode([]*commonpb.Payload{p})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc[0].Data, []byte("secret.example.com")) || string(enc[0].Metadata["encoding"]) != Encoding {
		t.Fatalf("encoded payload shows its content or is not marked encrypted: %v", enc[0])
	}
	// After rotation the old key, under another entry, still decrypts; new payloads use the new one.
	rotated, err := New(map[string][]byte{ActiveKey: key(2), "key-2026-12": key(1)})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := rotated.Decode(append(enc, p))
	if err != nil {
		t.Fatal(err)
	}
	if string(dec[0].Data) != spec || string(dec[0].Metadata["encoding"]) != "json/plain" || dec[1] != p {
		t.Errorf("decoded %v, want the original and the plain payload as it was", dec)
	}
	enc2, _ := rotated.Encode([]*commonpb.Payload{p})
	if got := string(enc2[0].Metadata[MetadataKeyID]); got != KeyID(key(2)) {
		t.Errorf("encrypted with key %s, want the active one %s", got, KeyID(key(2)))
	}
	if _, err := old.Decode(enc2); err == nil || !strings.Contains(err.Error(), KeyID(key(2))) {
		t.Errorf("decoding with a codec that lacks the key: %v, want an error naming the key", err)
	}
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	if _, err := rotated.Decode(enc); err == nil {
		t.Error("a tampered payload decoded")
	}
}

func TestNewRejectsBadSecrets(t *testing.T) {
	for _, c := range []struct {
		entries map[string][]byte
		want    string
	}{
		{map[string][]byte{}, `no "key" entry`},
		{map[string][]byte{ActiveKey: []byte("short")}, `entry "key" holds 5 bytes, want a 32-byte key`},
		{map[string][]byte{ActiveKey: key(1), "old": key(2)[:16]}, `entry "old" holds 16 bytes`},
	} {
		if _, err := New(c.entries); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%v) = %v, want %q", c.entries, err, c.want)
		}
	}
}

// The endpoint the Web UI calls decodes what the workers encoded, and answers the
// browser's CORS preflight only for the allowed origins.
func TestHandler(t *testing.T) {
	c, err := New(map[string][]byte{ActiveKey: key(3)})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := converter.GetDefaultDataConverter().ToPayload("hello")
	enc, _ := c.Encode([]*commonpb.Payload{p})
	srv := httptest.NewServer(Handler(c, []string{"http://127.0.0.1:8233"}))
	defer srv.Close()
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL})
	dec, err := remote.Decode(enc)
	if err != nil || len(dec) != 1 || string(dec[0].Data) != `"hello"` {
		t.Fatalf("remote decode: %v %v", dec, err)
	}
	resp, err := http.Post(srv.URL+"/decode", "application/json", bytes.NewReader(bytes.Repeat([]byte(" "), maxBody+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("a body over %d bytes was decoded", maxBody)
	}
	for origin, allowed := range map[string]bool{"http://127.0.0.1:8233": true, "http://evil.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("preflight from %s allowed %t, want %t", origin, got, allowed)
		}
	}
}

// BenchmarkRoundTrip encrypts and decrypts a payload of a Certificate's size (its spec
// and status, about 2 KiB as JSON): a CA issuance writes some 36 payloads.
func BenchmarkRoundTrip(b *testing.B) {
	c, err := New(map[string][]byte{ActiveKey: key(4)})
	if err != nil {
		b.Fatal(err)
	}
	p := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: bytes.Repeat([]byte("x"), 2048)}
	b.SetBytes(int64(len(p.Data)))
	b.ReportAllocs()
	for b.Loop() {
		enc, err := c.Encode([]*commonpb.Payload{p})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}
