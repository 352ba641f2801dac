package localstack

// Internals for the external tests (package localstack_test).
var (
	Alive = alive
)
