package integration

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/certflow/certflow/internal/localstack"
)

// KubeWithCRDs starts a kube-apiserver (with etcd) for one test, holding certflow's
// CRDs and the namespaces given; the context ends with the test (at most 2 minutes).
func KubeWithCRDs(tb testing.TB, namespaces ...string) (context.Context, *rest.Config) {
	tb.Helper()
	stack := StartStack(tb, localstack.Options{Kube: true})
	root, err := localstack.RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	if err := localstack.InstallCRDs(ctx, stack.RESTConfig, filepath.Join(root, "deploy", "crds")); err != nil {
		tb.Fatal(err)
	}
	kc := kubernetes.NewForConfigOrDie(stack.RESTConfig)
	for _, ns := range namespaces {
		if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	return ctx, stack.RESTConfig
}

// Requests records the API requests a client makes, as "METHOD /path", in order.
type Requests struct {
	mu   sync.Mutex
	rt   http.RoundTripper
	seen []string
}

// RecordRequests returns a copy of cfg whose clients record their requests in the
// returned Requests.
func RecordRequests(cfg *rest.Config) (*rest.Config, *Requests) {
	r := &Requests{}
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { r.rt = rt; return r }
	return cfg, r
}

func (r *Requests) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return r.rt.RoundTrip(req)
}

// Take returns the requests since the last Take.
func (r *Requests) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// Writes is the requests of Take that are not reads (GET).
func Writes(requests []string) []string {
	return slices.DeleteFunc(slices.Clone(requests), isRead)
}

// Reads is the reads (GET) of Take.
func Reads(requests []string) []string {
	return slices.DeleteFunc(slices.Clone(requests), func(r string) bool { return !isRead(r) })
}

func isRead(request string) bool { return len(request) > 4 && request[:4] == "GET " }
