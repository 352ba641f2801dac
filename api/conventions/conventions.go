// Package conventions is the names certflow writes into and reads from live clusters:
// the label and annotation keys it defines, its field managers and the names of the
// objects it creates. The worker, the watcher, the CLI and users' scripts all depend on
// them, so changing one breaks running installations. Upstream cert-manager's own keys
// stay in api/certmanager/v1; the ones here may refer to them.
package conventions

import (
	"strconv"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// FieldManager names certflow in managedFields of everything the worker writes. The
// watcher recognises certflow's own Secret writes by it.
const FieldManager = "certflow"

// CLIFieldManager names the CLI (kubectl cert-manager) in managedFields of what it
// writes (approvals, denials, manual renewals); history shows it as who asked.
const CLIFieldManager = "kubectl-cert-manager"

// CAInjectorFieldManager names the watcher's CA injector in managedFields of the caBundle
// fields it writes.
const CAInjectorFieldManager = "certflow-cainjector"

// RevisionAnnotation records on the target Secret the revision that wrote it. When a
// worker dies after writing the Secret but before the status, the retried workflow task
// finds the revision here instead of issuing again or losing count.
const RevisionAnnotation = "certflow.io/revision"

// ManagedSecretLabel marks Secrets certflow writes, so the watcher can watch only those
// (metadata only) instead of every Secret in the cluster. Its value is "true".
const ManagedSecretLabel = cmapi.PartOfCertManagerControllerLabelKey

// The source of the Events the worker records.
const (
	EventComponent           = "certflow"
	EventReportingController = "certflow.io/worker"
	EventReportingInstance   = "certflow"
)

// WatcherLeaseName is the Lease the watchers elect their leader with.
const WatcherLeaseName = "certflow-k8swatch"

// maxNameLength is the limit of object names that are DNS subdomains (Secrets,
// CertificateRequests).
const maxNameLength = 253

// CertificateRequestName is upstream's name for the CertificateRequest of one revision
// of a Certificate.
func CertificateRequestName(certName string, revision int) string {
	return withSuffix(certName, "-"+strconv.Itoa(revision))
}

// NextPrivateKeySecretName is the Secret holding the key of an issuance in progress. It
// is deterministic (workflow code cannot draw random names).
func NextPrivateKeySecretName(certName string) string {
	return withSuffix(certName, "-next-key")
}

// withSuffix appends suffix to name, cutting name so that the result fits the limit.
func withSuffix(name, suffix string) string {
	if len(name) > maxNameLength-len(suffix) {
		name = name[:maxNameLength-len(suffix)]
	}
	return name + suffix
}
