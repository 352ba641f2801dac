package codec

import (
	"net/http"
	"slices"

	"go.temporal.io/sdk/converter"
)

// Handler is the codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`)
// calls: POST /encode and /decode with a JSON Payloads body. Browsers on origins, or on
// any origin with "*", may call it (CORS, the headers the UI sends included). Whoever
// reaches it reads every payload: serve it where only operators do (loopback, a
// port-forward, behind the UI's authentication).
func Handler(c *Codec, origins []string) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && (slices.Contains(origins, origin) || slices.Contains(origins, "*")) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
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
		codec.ServeHTTP(w, r)
	})
}
