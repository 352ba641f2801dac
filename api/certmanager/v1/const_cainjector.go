package v1

// Annotations of cert-manager's CA injector (upstream's keys). They go on
// ValidatingWebhookConfigurations, MutatingWebhookConfigurations, APIServices and
// CustomResourceDefinitions, and name where their caBundle fields come from.
const (
	// WantInjectAnnotation ("<namespace>/<certificate>") injects the ca.crt of the
	// Certificate's spec.secretName Secret.
	WantInjectAnnotation = "cert-manager.io/inject-ca-from"
	// WantInjectFromSecretAnnotation ("<namespace>/<secret>") injects the ca.crt of a
	// Secret that allows it with AllowsInjectionFromSecretAnnotation.
	WantInjectFromSecretAnnotation = "cert-manager.io/inject-ca-from-secret"
	// WantInjectAPIServerCAAnnotation ("true") injects the API server's CA.
	WantInjectAPIServerCAAnnotation = "cert-manager.io/inject-apiserver-ca"
	// AllowsInjectionFromSecretAnnotation ("true") on a Secret lets
	// WantInjectFromSecretAnnotation read it.
	AllowsInjectionFromSecretAnnotation = "cert-manager.io/allow-direct-injection"
)
