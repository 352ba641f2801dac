// Package profiler serves Go's pprof profiles of a certflow process on a side port, as
// cert-manager's --enable-profiling/--profiler-address do: heap and CPU profiles of a
// running worker or watcher are how its memory and CPU per certificate get explained.
package profiler

import (
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/certflow/certflow/internal/sideserver"
)

// Serve listens on addr (host:port) and serves /debug/pprof/ until stop is called.
// It fails at once when addr cannot be listened on.
func Serve(addr string, log *slog.Logger) (stop func(), err error) {
	_, stop, err = Listen(addr, log)
	return stop, err
}

// Listen is Serve that also returns the address listened on (for port 0).
func Listen(addr string, log *slog.Logger) (listening string, stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return sideserver.Listen("pprof profiles", addr, mux, log)
}
