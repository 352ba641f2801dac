package localstack

// Internals for the external tests (package localstack_test).
var (
	FreePort = freePort
	Alive    = alive
)
