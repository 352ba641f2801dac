// Command starter is certflow's operator CLI, the same as the kubectl plugin
// kubectl-cert_manager (`kubectl cert-manager`).
package main

import "github.com/certflow/certflow/starter"

func main() { starter.Main() }
