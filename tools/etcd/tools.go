//go:build tools

// Package etcd pins the etcd server built into bin/ for the local stack.
package etcd

import _ "go.etcd.io/etcd/server/v3"
