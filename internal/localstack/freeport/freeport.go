// Package freeport hands out loopback ports for the local stack's servers and the
// tests that start their own: free a moment ago, and never the same one twice in one
// process, so two servers started side by side cannot be given the same port.
package freeport

import (
	"errors"
	"fmt"
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
