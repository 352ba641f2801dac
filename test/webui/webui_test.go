package webui

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/certflow/certflow/internal/codec"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/worker"
	"github.com/certflow/certflow/workflows"
)

const (
	ns       = "webui"
	certName = "web-ui"
	// The codec Secret, in the namespace of certflow's ServiceAccounts (deploy/rbac).
	codecSecretNS, codecSecretName = "certflow", "certflow-payload-codec"
	// A step of every issuance, which its summary names (workflows/certificate_issue.go).
	stepSummary = "build CSR"
	// EnvUpdateScreenshot=1 also writes the history page's screenshot to docs/.
	EnvUpdateScreenshot = "CERTFLOW_UPDATE_SCREENSHOT"
	screenshotName      = "webui-history.png"
)

// The Web UI lists a Certificate's workflow by CertName, and its history page shows
// the steps' summaries decrypted by the worker's codec endpoint, which Temporal itself
// holds encrypted; with the codec endpoint out of reach, the same page shows none.
func TestWebUIShowsDecodedStepSummaries(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	ctx := context.Background()
	uiURL := suite.Stack.TemporalUIURL
	proxy := startCodecProxy(t, codecProxyAddr, workerCodecAddr)

	// The worker creates the codec Secret and serves the endpoint to the UI's origin,
	// the one the browser sends (http://127.0.0.1:<port>).
	testkit.StartWorkerProcess(t, "worker", suite.Bins[workerCmd], filepath.Join(suite.State, "worker.log"), worker.Flags{
		Kubeconfig: suite.Kubeconfigs[workerCmd], TemporalAddress: suite.Stack.TemporalAddress, TemporalNamespace: suite.Stack.TemporalNamespace,
		PayloadCodecSecret:       codecSecretNS + "/" + codecSecretName,
		CodecServerListenAddress: workerCodecAddr, CodecServerCORSOrigins: uiURL,
	}.Args())
	wp, err := testkit.StartProcess("watcher", suite.Bins[watcherCmd], filepath.Join(suite.State, "watcher.log"), append([]string{
		"--kubeconfig", suite.Kubeconfigs[watcherCmd], "--temporal-address", suite.Stack.TemporalAddress,
		"--temporal-namespace", suite.Stack.TemporalNamespace, "--leader-elect=false",
		"--payload-codec-secret", codecSecretNS + "/" + codecSecretName}, testkit.SideServersOff...), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wp.Stop(t) })

	if out, err := suite.Kubectl(testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: certName, DNSNames: []string{"web-ui.example"}, PrivateKey: "{algorithm: ECDSA}", Issuer: "selfsigned"}.String()),
		"apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	testkit.WaitCertificateReady(t, suite.CertFlow, ns, certName, 90*time.Second)
	id := workflows.CertificateWorkflowID(ns, certName)

	// Negative control in Temporal: the summaries it holds are ciphertext; the key of
	// the Secret the worker created turns one of them into stepSummary. (The steps'
	// markers reach the history when the workflow task that ran them completes, just
	// after the status update that made the Certificate Ready.)
	var summaries, plain []string
	testkit.Eventually(t, 30*time.Second, "the summary "+stepSummary+" in the history of "+id, func() (bool, string) {
		var err error
		if summaries, plain, err = storedSummaries(ctx, id); err != nil {
			return false, err.Error()
		}
		return slices.ContainsFunc(summaries, func(s string) bool { return strings.Contains(s, stepSummary) }), fmt.Sprintf("decrypted with the key: %q", summaries)
	})
	for _, p := range plain {
		t.Errorf("%s: %s", id, p)
	}

	b := newBrowser(t)
	// The list, filtered by the search attribute as an operator would.
	query := `CertName="` + certName + `"`
	listURL := uiURL + "/namespaces/" + suite.Stack.TemporalNamespace + "/workflows?query=" + url.QueryEscape(query)
	text := b.open(listURL, 60*time.Second, id)
	if issuer := workflows.IssuerWorkflowID(ns, "selfsigned"); strings.Contains(text, issuer) {
		t.Errorf("the list filtered by %s shows %s, which has no CertName; the page shows:\n%s", query, issuer, text)
	}
	href := b.eval(`(() => { const a = [...document.querySelectorAll('a')].find(a => a.textContent.trim() === ` + jsString(id) + `); return a ? a.href : ''; })()`)
	if href == "" {
		t.Fatalf("the list shows %s but no link with that text; the page shows:\n%s", id, text)
	}
	t.Logf("workflow list %s links %s to %s", listURL, id, href)

	// The history page: the event table shows each step's summary, which the browser
	// obtained from the codec endpoint.
	decodesBefore := proxy.decodeCount()
	text = b.open(href, 60*time.Second, stepSummary)
	if strings.Contains(text, codecUnreachable) {
		t.Errorf("the history page says %q; the page shows:\n%s", codecUnreachable, text)
	}
	if n := proxy.decodeCount(); n == decodesBefore {
		t.Errorf("the history page shows %q but the codec endpoint answered no /decode request", stepSummary)
	}
	if !proxy.decoded(stepSummary) {
		t.Errorf("the codec endpoint never answered the UI with a payload holding %q; it answered %d /decode requests", stepSummary, proxy.decodeCount())
	}
	if o := proxy.origins(); !slices.Contains(o, uiURL) {
		t.Errorf("the codec endpoint's requests came from origins %q, not the UI's %s", o, uiURL)
	}
	var shown []string
	for _, s := range summaries {
		if strings.Contains(text, s) && !slices.Contains(shown, s) {
			shown = append(shown, s)
		}
	}
	t.Logf("the history page shows %d of the workflow's summaries, decoded: %q (%d /decode requests answered)", len(shown), shown, proxy.decodeCount())
	saveScreenshot(t, b.screenshot(stepSummary))

	// Negative control in the browser: with the codec endpoint blocked, the same page,
	// rendered down to its event table, says so and shows none of the summaries.
	b.blockURLs("http://" + codecProxyAddr + "/*")
	decodesBefore = proxy.decodeCount()
	b.open(href, 60*time.Second, id, codecUnreachable, "Local Activity")
	time.Sleep(3 * time.Second) // longer than the endpoint took to answer above
	text = b.text()
	for _, s := range shown {
		if strings.Contains(text, s) {
			t.Errorf("with the codec endpoint blocked the history page still shows %q; the page shows:\n%s", s, text)
		}
	}
	if n := proxy.decodeCount(); n != decodesBefore {
		t.Errorf("the codec endpoint answered %d /decode requests while the browser was blocked from it", n-decodesBefore)
	}
}

// codecUnreachable is what the UI says when its codec endpoint does not answer.
const codecUnreachable = "Codec Server could not connect"

const (
	workerCmd  = "certflow-worker"
	watcherCmd = "certflow-k8swatch"
)

// storedSummaries reads the workflow's history as Temporal holds it and returns its
// summaries decrypted with the codec Secret's key, and what it found stored in the
// clear.
func storedSummaries(ctx context.Context, id string) (summaries, plain []string, err error) {
	sec, err := suite.Kube.CoreV1().Secrets(codecSecretNS).Get(ctx, codecSecretName, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("the codec Secret the worker creates: %w", err)
	}
	c, err := codec.New(sec.Data)
	if err != nil {
		return nil, nil, err
	}
	// suite.Temporal has no codec: it reads what the UI's server hands the browser.
	it := suite.Temporal.GetWorkflowHistory(ctx, id, "", false, 0)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, nil, err
		}
		p := e.GetUserMetadata().GetSummary()
		if p == nil {
			continue
		}
		if enc := string(p.GetMetadata()[converter.MetadataEncoding]); enc != codec.Encoding || bytes.Contains(p.GetData(), []byte(stepSummary)) {
			plain = append(plain, fmt.Sprintf("event %d: the summary is stored as %q, not encrypted: %q", e.GetEventId(), enc, p.GetData()))
		}
		dec, err := c.Decode([]*commonpb.Payload{p})
		if err != nil {
			return nil, nil, fmt.Errorf("event %d: decrypt the summary: %w", e.GetEventId(), err)
		}
		var s string
		if err := converter.GetDefaultDataConverter().FromPayload(dec[0], &s); err != nil {
			return nil, nil, fmt.Errorf("event %d: the decrypted summary: %w", e.GetEventId(), err)
		}
		summaries = append(summaries, s)
	}
	return summaries, plain, nil
}

// The browser's viewport.
const viewportWidth, viewportHeight = 1600, 1000

// browser is one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		// As root in a container: no sandbox, no GPU, no /dev/shm of any size.
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(viewportWidth, viewportHeight),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight), chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	return &browser{t: t, ctx: ctx}
}

// open navigates to u and waits until the page's visible text holds every one of
// wants (the UI is a single-page app: it renders after its API calls). It navigates
// again every 20 s (a list asked before visibility had the workflow), and fails after
// timeout with what the page shows. It returns the page's text.
func (b *browser) open(u string, timeout time.Duration, wants ...string) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var text string
	shows := func() bool {
		text = b.text()
		for _, w := range wants {
			if !strings.Contains(text, w) {
				return false
			}
		}
		return true
	}
	for {
		if err := chromedp.Do(b.ctx, chromedp.Navigate(u)); err != nil {
			b.t.Fatalf("navigate to %s: %v", u, err)
		}
		next := time.Now().Add(20 * time.Second)
		for time.Now().Before(next) && time.Now().Before(deadline) {
			if shows() {
				return text
			}
			time.Sleep(250 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s does not show %q after %s; the page shows:\n%s", u, wants, timeout, text)
		}
	}
}

// text is the page's visible text.
func (b *browser) text() string {
	return b.eval(`document.body ? document.body.innerText : ''`)
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// screenshot is a PNG of the page's top in a 1600x1560 viewport: the workflow's
// header, its timeline and its latest events, scrolled down if need be until the
// element that shows want is in view.
func (b *browser) screenshot(want string) []byte {
	b.t.Helper()
	const width, height = 1600, 1560
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(width, height)); err != nil {
		b.t.Fatalf("resize the viewport: %v", err)
	}
	defer func() { _ = chromedp.Do(b.ctx, chromedp.EmulateViewport(viewportWidth, viewportHeight)) }()
	time.Sleep(500 * time.Millisecond) // the UI lays itself out again
	b.eval(`(() => {
		const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = w.nextNode(); n; n = w.nextNode()) {
			if (n.textContent.trim() !== ` + jsString(want) + `) continue;
			const e = n.parentElement;
			if (e.getBoundingClientRect().bottom > window.innerHeight - 20) e.scrollIntoView({block: 'end'});
			return 'ok';
		}
		return '';
	})()`)
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// blockURLs makes the browser fail every request to URLs matching pattern.
func (b *browser) blockURLs(pattern string) {
	b.t.Helper()
	err := chromedp.Do(b.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: pattern, Block: true}}})
		return err
	}))
	if err != nil {
		b.t.Fatalf("block %s: %v", pattern, err)
	}
}

// saveScreenshot writes png to the suite's state directory and, with
// CERTFLOW_UPDATE_SCREENSHOT=1, to docs/.
func saveScreenshot(t *testing.T, png []byte) {
	t.Helper()
	paths := []string{filepath.Join(suite.State, screenshotName)}
	if os.Getenv(EnvUpdateScreenshot) == "1" {
		paths = append(paths, filepath.Join(suite.Root, "docs", screenshotName))
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot of the history page (%d KB): %s", len(png)/1024, p)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// codecProxy stands between the UI and the worker's codec endpoint and records what it
// answers: the browser's requests and the worker's answers, CORS headers included, go
// through unchanged.
type codecProxy struct {
	mu       sync.Mutex
	decodes  int
	payloads []string // data of the payloads /decode answered with
	from     []string // Origin headers
}

func startCodecProxy(t *testing.T, addr, target string) *codecProxy {
	t.Helper()
	p := &codecProxy{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	rp.ModifyResponse = func(resp *http.Response) error {
		req := resp.Request
		p.mu.Lock()
		defer p.mu.Unlock()
		if o := req.Header.Get("Origin"); o != "" && !slices.Contains(p.from, o) {
			p.from = append(p.from, o)
		}
		if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/decode") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		p.decodes++
		var answer struct {
			Payloads []struct {
				Data string `json:"data"`
			} `json:"payloads"`
		}
		if err := json.Unmarshal(body, &answer); err == nil {
			for _, pl := range answer.Payloads {
				if d, err := base64.StdEncoding.DecodeString(pl.Data); err == nil {
					p.payloads = append(p.payloads, string(d))
				}
			}
		}
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the codec endpoint's port, chosen before the UI started: %v", err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func (p *codecProxy) decodeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.decodes
}

// decoded reports whether a /decode answer held s.
func (p *codecProxy) decoded(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.payloads, func(d string) bool { return strings.Contains(d, s) })
}

func (p *codecProxy) origins() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.from)
}
