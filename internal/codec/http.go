package codec

import (
	"net/http"
	"slices"

	"go.temporal.io/sdk/converter"
)

// maxBody bounds a request: the UI sends a page of a history's payloads at a time.
const maxBody = 16 << 20

// Handler is the codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`)
// calls: POST /encode and /decode with a JSON Payloads body (at most maxBody). Browsers
// on origins may call it with their credentials; with "*", any origin may, without
// credentials (CORS, the headers the UI sends included). Whoever reaches it reads every
// payload: serve it where only operators do (loopback, a port-forward, behind the UI's
// authentication).
func Handler(c *Codec, origins []string) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && (slices.Contains(origins, origin) || slices.Contains(origins, "*")) {
			h := w.Header()
			if slices.Contains(origins, origin) {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
			} else {
				h.Set("Access-Control-Allow-Origin", "*")
			}
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization, Caller-Type")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPost {
			http.Error(w, "POST /encode or /decode", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		codec.ServeHTTP(w, r)
	})
}
