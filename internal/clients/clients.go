// Package clients builds the Kubernetes and Temporal clients the binaries share, from
// flags and the usual configuration: KUBECONFIG or in-cluster for Kubernetes, Temporal's
// standard client configuration (TEMPORAL_* environment variables and profile file) for
// Temporal.
package clients

import (
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/certflow/certflow/client/clientset/versioned"
)

// DefaultTemporalAddress is the Temporal frontend of `make run`.
const DefaultTemporalAddress = "127.0.0.1:7233"

// Client-side rate limits for certflow's processes. An issuance costs about a dozen API
// calls, so client-go's default (5 QPS) would cap issuance at well under one certificate
// a second; these leave the API server's own priority and fairness as the real limit.
const (
	DefaultQPS   = 500
	DefaultBurst = 1000
)

// RESTConfig loads a kubeconfig (path, else $KUBECONFIG, else in-cluster) and sets client
// rate limits high enough that the API server, not the client, is the limit. It turns off
// gzip: certflow's processes run next to the API server, where compressing every response
// and watch event costs both ends CPU and saves nothing (a CLI across a slow link may turn
// it back on).
func RESTConfig(kubeconfig string, qps float32, burst int) (*rest.Config, error) {
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	var (
		cfg *rest.Config
		err error
	)
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w (set --kubeconfig or KUBECONFIG)", err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	cfg.DisableCompression = true
	return cfg, nil
}

// TemporalOptions returns client options for a known server (the local stack and the
// tests): an address and namespace, defaulting to $TEMPORAL_ADDRESS /
// $TEMPORAL_NAMESPACE and then to the local stack. The binaries use
// TemporalClientOptions.
func TemporalOptions(address, namespace string, log *slog.Logger) client.Options {
	if address == "" {
		address = os.Getenv("TEMPORAL_ADDRESS")
	}
	o := client.Options{HostPort: address, Namespace: namespace}
	withDefaults(&o, log)
	return o
}

// TemporalClientOptions is what certflow-worker, certflow-k8swatch and starter connect
// with: Temporal's standard client configuration (the profile file of TEMPORAL_CONFIG_FILE
// or ~/.config/temporalio/temporal.toml, profile TEMPORAL_PROFILE, then the TEMPORAL_*
// environment: address, namespace, API key, TLS and mTLS certificates, gRPC metadata),
// as the temporal CLI reads it. Non-empty address and namespace (the flags) win.
func TemporalClientOptions(address, namespace string, log *slog.Logger) (client.Options, error) {
	o, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal client configuration (TEMPORAL_* environment, profile file): %w", err)
	}
	if address != "" {
		o.HostPort = address
	}
	if namespace != "" {
		o.Namespace = namespace
	}
	withDefaults(&o, log)
	return o, nil
}

// withDefaults fills what is still unset: the local stack's address, the default
// namespace, and the logger.
func withDefaults(o *client.Options, log *slog.Logger) {
	if o.HostPort == "" {
		o.HostPort = DefaultTemporalAddress
	}
	if o.Namespace == "" {
		o.Namespace = os.Getenv("TEMPORAL_NAMESPACE")
	}
	if o.Namespace == "" {
		o.Namespace = client.DefaultNamespace
	}
	if log != nil {
		o.Logger = tlog.NewStructuredLogger(log)
	}
}

// Kubernetes returns the core and the certflow clientsets for one config. The core
// clientset speaks protobuf, as Kubernetes' own controllers do: Secrets, Events and
// their watches cost the API server and certflow less to encode and decode than JSON.
// Custom resources have no protobuf encoding, so the certflow clientset keeps JSON.
func Kubernetes(cfg *rest.Config) (kubernetes.Interface, versioned.Interface, error) {
	pb := rest.CopyConfig(cfg)
	if pb.ContentType == "" {
		pb.ContentType = runtime.ContentTypeProtobuf
		pb.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	}
	kc, err := kubernetes.NewForConfig(pb)
	if err != nil {
		return nil, nil, err
	}
	cf, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return kc, cf, nil
}
