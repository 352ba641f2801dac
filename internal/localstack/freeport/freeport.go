// Package freeport hands out loopback ports for the local stack's servers and the
// tests that start their own: free a moment ago, and never the same one twice in one
// process, so two servers started side by side cannot be given the same port.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
)

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Get returns a loopback TCP port that was free a moment ago and, with udp, free for
// UDP too (a DNS server listens on both).
func Get(udp bool) (int, error) {
	mu.Lock()
	defer mu.Unlock()
	var lastErr error
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := !given[port]
		if ok && udp {
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				ok, lastErr = false, err
			} else {
				u.Close()
			}
		}
		l.Close()
		if ok {
			given[port] = true
			return port, nil
		}
	}
	return 0, errors.Join(errors.New("no free loopback port found"), lastErr)
}

// GetBelow returns a loopback TCP port below limit that was free a moment ago, for a
// server that stores its port in a 16-bit signed column (the Temporal server's cluster
// membership in PostgreSQL): the kernel hands out ports from its ephemeral range,
// above 32767 on Linux, so ports are tried at random from 10000 up to limit.
func GetBelow(limit int) (int, error) {
	const low = 10000
	if limit <= low {
		return 0, fmt.Errorf("freeport: limit %d is not above %d", limit, low)
	}
	mu.Lock()
	defer mu.Unlock()
	var lastErr error
	for range 200 {
		port := low + rand.IntN(limit-low)
		if given[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			lastErr = err
			continue
		}
		l.Close()
		given[port] = true
		return port, nil
	}
	return 0, errors.Join(fmt.Errorf("no free loopback port below %d found", limit), lastErr)
}
