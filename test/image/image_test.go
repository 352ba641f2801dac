// Package image checks the OCI image `make image` builds (out/certflow-image.tar, which
// `make test` builds first): its reference is this version's, its config runs
// certflow-worker as a non-root user, its binaries are static and it carries CA roots;
// then it runs the worker and the watcher unpacked from it against the local stack and
// issues a Certificate through them. Containers cannot run on these machines, so the
// binaries run as processes, as the image's filesystem has them.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/internal/testkit"
	"github.com/certflow/certflow/internal/testkit/integration"
	"github.com/certflow/certflow/internal/version"
	"github.com/certflow/certflow/worker"
)

const ns = "image"

var env *testkit.ChildSuite

func TestMain(m *testing.M) {
	os.Exit(testkit.RunChildSuite(m, "image", testkit.Options{NoWorker: true, NoWatcher: true, Namespaces: []string{ns}},
		nil, func(s *testkit.ChildSuite) { env = s }))
}

// Where the image's binaries are.
const binDir = "/usr/local/bin"

var binaries = []string{"certflow-worker", "certflow-k8swatch", "starter"}

func TestImage(t *testing.T) {
	integration.SkipUnlessEnabled(t)
	root, err := localstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(root, "out", "certflow-image.tar")
	blobs, err := readArchive(archive)
	if err != nil {
		t.Fatalf("%v (make image writes it; make test builds it first)", err)
	}

	var index ocispec.Index
	mustJSON(t, blobs["index.json"], &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index.json lists %d manifests, want 1", len(index.Manifests))
	}
	desc := index.Manifests[0]
	if ref := desc.Annotations[ocispec.AnnotationRefName]; ref != version.Image() {
		t.Errorf("the image is %q, want this version's %s", ref, version.Image())
	}
	var manifest ocispec.Manifest
	mustJSON(t, blob(t, blobs, desc.Digest.String()), &manifest)
	var config ocispec.Image
	mustJSON(t, blob(t, blobs, manifest.Config.Digest.String()), &config)
	c := config.Config
	if want := []string{binDir + "/certflow-worker"}; !slices.Equal(c.Entrypoint, want) {
		t.Errorf("entrypoint %q, want %q (the HTTP-01 solver Pods give only arguments)", c.Entrypoint, want)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the numeric non-root 65532:65532 (runAsNonRoot)", c.User)
	}
	if v := c.Labels[ocispec.AnnotationVersion]; v != version.Version {
		t.Errorf("label %s = %q, want %s", ocispec.AnnotationVersion, v, version.Version)
	}

	rootfs := t.TempDir()
	for _, l := range manifest.Layers {
		if err := extractLayer(blob(t, blobs, l.Digest.String()), l.MediaType, rootfs); err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
	}
	for _, b := range binaries {
		p := filepath.Join(rootfs, binDir, b)
		if err := checkStatic(p); err != nil {
			t.Errorf("%s: %v", path.Join(binDir, b), err)
		}
	}
	bundle, err := os.ReadFile(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt"))
	if err != nil {
		t.Fatalf("CA roots: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) || bytes.Count(bundle, []byte("BEGIN CERTIFICATE")) < 50 {
		t.Errorf("/etc/ssl/certs/ca-certificates.crt holds %d certificates, want a CA bundle", bytes.Count(bundle, []byte("BEGIN CERTIFICATE")))
	}
	if out, err := exec.Command(filepath.Join(rootfs, binDir, "starter"), "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "renew") {
		t.Errorf("starter --help from the image: %v\n%s", err, out)
	}

	issueThrough(t, rootfs)
}

// issueThrough runs the image's worker and watcher, as their ServiceAccounts, and
// issues a Certificate through them.
func issueThrough(t *testing.T, rootfs string) {
	t.Helper()
	kubeconfig := func(sa string) string {
		p := filepath.Join(env.State, sa+".kubeconfig")
		if err := env.WriteKubeconfig(p, sa); err != nil {
			t.Fatal(err)
		}
		return p
	}
	temporal := []string{"--temporal-address", env.Stack.TemporalAddress, "--temporal-namespace", env.Stack.TemporalNamespace}
	w, err := testkit.StartProcess("image-worker", filepath.Join(rootfs, binDir, "certflow-worker"), filepath.Join(env.State, "image-worker.log"),
		worker.Flags{Kubeconfig: kubeconfig("certflow-worker"), TemporalAddress: env.Stack.TemporalAddress, TemporalNamespace: env.Stack.TemporalNamespace}.Args(), nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(t) })
	watcher, err := testkit.StartProcess("image-watcher", filepath.Join(rootfs, binDir, "certflow-k8swatch"), filepath.Join(env.State, "image-watcher.log"),
		append(append([]string{"--kubeconfig", kubeconfig("certflow-k8swatch")}, temporal...), testkit.SideServersOff...), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watcher.Stop(t) })

	if out, err := env.Kubectl(testkit.Manifest(testkit.SelfSignedIssuer("selfsigned"),
		testkit.Cert{Name: "from-image", CommonName: "image.example", DNSNames: []string{"image.example"}, Issuer: "selfsigned"}.String()),
		"apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	testkit.WaitCertificateReady(t, env.CertFlow, ns, "from-image", 2*time.Minute)
	_, leaf := testkit.ReadTLSSecret(t, env.Kube, ns, "from-image-tls")
	if fmt.Sprint(leaf.DNSNames) != "[image.example]" {
		t.Errorf("issued for %v", leaf.DNSNames)
	}
}

// readArchive reads an OCI archive (an image layout in a tar) into memory by name.
func readArchive(p string) (map[string][]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[path.Clean(h.Name)] = b
	}
}

// blob returns the blob of a digest ("sha256:...").
func blob(t *testing.T, blobs map[string][]byte, digest string) []byte {
	t.Helper()
	alg, hex, ok := strings.Cut(digest, ":")
	b, found := blobs[path.Join("blobs", alg, hex)]
	if !ok || !found {
		t.Fatalf("the archive has no blob %s", digest)
	}
	return b
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%T: %v", v, err)
	}
}

// extractLayer writes a layer's regular files and directories under root (the image
// is FROM scratch: no whiteouts, links or devices to apply).
func extractLayer(b []byte, mediaType, root string) error {
	var r io.Reader = bytes.NewReader(b)
	switch mediaType {
	case ocispec.MediaTypeImageLayerGzip:
		gz, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		r = gz
	case ocispec.MediaTypeImageLayer:
	default:
		return fmt.Errorf("layer media type %s", mediaType)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Join(root, filepath.FromSlash(path.Clean("/"+h.Name)))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o755)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
}

// checkStatic fails unless p is an executable ELF file with no interpreter and no
// shared libraries: it must run on a filesystem that has nothing else.
func checkStatic(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.Mode()&0o111 == 0 {
		return fmt.Errorf("not executable (%v)", st.Mode())
	}
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked (has an interpreter)")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return fmt.Errorf("needs shared libraries %v", libs)
	}
	return nil
}

// checkStatic refuses what a scratch image could not run.
func TestCheckStaticRefusesADynamicBinary(t *testing.T) {
	if err := checkStatic("/bin/sh"); err == nil || !strings.Contains(err.Error(), "dynamic") {
		t.Errorf("checkStatic(/bin/sh) = %v, want dynamically linked", err)
	}
}
