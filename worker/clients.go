package worker

import (
	"go.temporal.io/sdk/client"
	"k8s.io/client-go/rest"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/certflow/certflow/internal/clients"
)

// WithClients is a Config holding the worker's Kubernetes clients (Kube, CertFlow,
// Gateway), made from cfg, and its Temporal client tc: what certflow-worker, make run
// and the tests start workers with.
func WithClients(cfg *rest.Config, tc client.Client) (Config, error) {
	kc, cf, err := clients.Kubernetes(cfg)
	if err != nil {
		return Config{}, err
	}
	gc, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return Config{}, err
	}
	return Config{Temporal: tc, Kube: kc, CertFlow: cf, Gateway: gc}, nil
}
