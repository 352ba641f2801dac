// Package profiler serves Go's pprof profiles of a certflow process on a side port, as
// cert-manager's --enable-profiling/--profiler-address do: heap and CPU profiles of a
// running worker or watcher are how its memory and CPU per certificate get explained.
package profiler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// Serve listens on addr (host:port) and serves /debug/pprof/ until stop is called.
// It fails at once when addr cannot be listened on.
func Serve(addr string, log *slog.Logger) (stop func(), err error) {
	_, stop, err = Listen(addr, log)
	return stop, err
}

// Listen is Serve that also returns the address listened on (for port 0).
func Listen(addr string, log *slog.Logger) (listening string, stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("profiler: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiler stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("serving pprof profiles", "addr", l.Addr().String())
	return l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
