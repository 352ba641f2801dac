// Package sideserver serves a process's side HTTP endpoints (metrics, probes, the payload
// codec endpoint, pprof) beside its real work.
package sideserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Listen serves h on addr (host:port) until stop is called and returns the address
// listened on (for port 0). An empty addr serves nothing. It fails at once when addr
// cannot be listened on: a process asked for an endpoint it cannot serve must not run
// without it.
func Listen(name, addr string, h http.Handler, log *slog.Logger) (listening string, stop func(), err error) {
	if addr == "" {
		return "", func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s server: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(name+" server stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("serving "+name, "addr", l.Addr().String())
	return l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
