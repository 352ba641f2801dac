package version

import (
	"fmt"
	"os"
	"strings"
)

// WorkerProduct is the word before the version in a worker's Temporal identity.
const WorkerProduct = "certflow-worker"

// WorkerIdentity is this process's identity as a Temporal worker:
// "<pid>@<host>@certflow-worker/<version>", the SDK's default shape with the build in
// place of the task queue. Temporal shows the identity of every poller of a task queue
// (DescribeTaskQueue, the Web UI) and of the worker of each workflow task in the
// histories, so `kubectl cert-manager version` and `check api` can name the build that
// runs the workflows.
func WorkerIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%d@%s@%s/%s", os.Getpid(), host, WorkerProduct, Version)
}

// OfWorkerIdentity is the version a worker identity names, or "" when it names none (a
// worker older than this, or an identity set by hand).
func OfWorkerIdentity(identity string) string {
	_, v, ok := strings.Cut(identity, "@"+WorkerProduct+"/")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(v, "@ \t"); i >= 0 {
		v = v[:i]
	}
	return v
}
