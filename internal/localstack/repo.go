package localstack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ModulePath is the module path of the repository root go.mod.
const ModulePath = "github.com/certflow/certflow"

// CheckBinaries returns an error naming every binary that the parts selected in o need
// but that is missing from o.BinDir.
func CheckBinaries(o Options) error {
	var need []string
	if o.Kube && o.ExistingKubeconfig == "" {
		need = append(need, "etcd", "kube-apiserver")
	}
	if o.Temporal && o.ExistingTemporal == "" {
		if o.TemporalPostgres {
			need = append(need, "temporal-server", "temporal-sql-tool")
		} else {
			need = append(need, "temporal")
		}
	}
	if o.ACME {
		need = append(need, "pebble", "pebble-challtestsrv")
	}
	if o.DNSWebhook {
		need = append(need, "certflow-dnswebhook")
	}
	var missing []string
	for _, b := range need {
		if fi, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil || fi.IsDir() {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing in %s: %s (run hack/build-tools.sh)", o.BinDir, strings.Join(missing, ", "))
	}
	return nil
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the directory holding the go.mod of module github.com/certflow/certflow,
// walking up from the working directory (a test's working directory is its package dir).
func RepoRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePathIs(b, ModulePath) {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("localstack: no go.mod of module " + ModulePath + " above the working directory")
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

func modulePathIs(gomod []byte, path string) bool {
	for line := range bytes.Lines(gomod) {
		f := strings.Fields(string(line))
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == path
		}
	}
	return false
}
