// Package webui checks the Temporal Web UI as an operator uses it, in a real browser
// (Debian's Chromium, headless, driven with chromedp): with the payload codec on, the
// UI's workflow list finds a Certificate's workflow by its CertName search attribute,
// and its history page shows the steps' summaries decrypted through the worker's codec
// endpoint (and none of them without it).
//
// The local stack's Temporal dev server runs its UI with --ui-codec-endpoint pointing
// at a loopback port chosen before it starts; the worker (certflow-worker, the binary of
// this tree) serves the codec endpoint behind a recording proxy of this test on that
// port, and creates the codec Secret; the watcher is the certflow-k8swatch binary with
// the same Secret.
//
// Tests skip only when CERTFLOW_INTEGRATION is unset; with it set, a missing Chromium is
// a failure (hack/install-chromium.sh, `make chromium`, installs it). With
// CERTFLOW_UPDATE_SCREENSHOT=1 the history page's screenshot is also written to
// docs/webui-history.png.
package webui

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/certflow/certflow/internal/localstack/freeport"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
)

var (
	suite *testkit.ChildSuite
	// codecProxyAddr is where the UI's codec endpoint points (the recording proxy);
	// workerCodecAddr is the worker's --codec-server-listen-address behind it.
	codecProxyAddr, workerCodecAddr string
	// chromium is the browser binary.
	chromium string
)

func TestMain(m *testing.M) {
	if !integration.Enabled() {
		os.Exit(m.Run())
	}
	var err error
	if chromium, err = findChromium(); err != nil {
		fmt.Fprintln(os.Stderr, "webui setup:", err)
		os.Exit(1)
	}
	ports := make([]int, 2)
	for i := range ports {
		if ports[i], err = freeport.Get(false); err != nil {
			fmt.Fprintln(os.Stderr, "webui setup:", err)
			os.Exit(1)
		}
	}
	codecProxyAddr, workerCodecAddr = "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	os.Exit(testkit.RunChildSuite(m, "webui", testkit.Options{
		NoWorker: true, NoWatcher: true, Namespaces: []string{ns},
		TemporalUICodecEndpoint: "http://" + codecProxyAddr,
	}, []string{workerCmd, watcherCmd}, func(s *testkit.ChildSuite) { suite = s }))
}

// findChromium returns the first Chromium or Chrome binary on PATH.
func findChromium() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium, chromium-browser or google-chrome on PATH: run hack/install-chromium.sh (make chromium)")
}
