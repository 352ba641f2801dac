// Command kubectl-cert_manager is certflow's operator CLI as a kubectl plugin: on the
// PATH, it runs as `kubectl cert-manager`, with cmctl's commands.
package main

import "github.com/certflow/certflow/starter"

func main() { starter.Main() }
