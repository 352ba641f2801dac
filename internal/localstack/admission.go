package localstack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// AdmissionPoliciesFile is certflow's admission policies for CertificateRequests,
// rendered from the Helm chart by hack/update-chart.sh, relative to the repository root.
const AdmissionPoliciesFile = "deploy/admission/policies.yaml"

// admissionKinds are the kinds an admission policies file may hold, with their resources
// (admissionregistration.k8s.io/v1).
var admissionKinds = map[string]string{
	"MutatingAdmissionPolicy":          "mutatingadmissionpolicies",
	"MutatingAdmissionPolicyBinding":   "mutatingadmissionpolicybindings",
	"ValidatingAdmissionPolicy":        "validatingadmissionpolicies",
	"ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
}

// ErrNoMutatingAdmissionPolicies is InstallAdmissionPolicies' error for a cluster that
// does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicies (before
// Kubernetes 1.36).
var ErrNoMutatingAdmissionPolicies = errors.New("the cluster does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicies (Kubernetes 1.36 or later)")

// InstallAdmissionPolicies server-side applies the admission policies and bindings of
// path (a multi-document YAML file) and waits until kube-apiserver applies them: a
// dry-run CertificateRequest (the CRDs must be installed) comes back with the requester
// fields of the admin, not the ones sent. A cluster that does not serve
// MutatingAdmissionPolicies gets nothing and the error ErrNoMutatingAdmissionPolicies.
func InstallAdmissionPolicies(ctx context.Context, cfg *rest.Config, path string) error {
	docs, err := readAdmissionPolicies(path)
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	if ok, err := servesResource(dc, "admissionregistration.k8s.io/v1", "mutatingadmissionpolicies"); err != nil {
		return err
	} else if !ok {
		return ErrNoMutatingAdmissionPolicies
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// Validating first: nothing is mutated that is then not validated.
	for _, validating := range []bool{true, false} {
		for _, d := range docs {
			if isValidating := d.kind == "ValidatingAdmissionPolicy" || d.kind == "ValidatingAdmissionPolicyBinding"; isValidating != validating {
				continue
			}
			gvr := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: admissionKinds[d.kind]}
			force := true
			if _, err := dyn.Resource(gvr).Patch(ctx, d.name, types.ApplyPatchType, d.raw,
				metav1.PatchOptions{FieldManager: FieldManager, Force: &force}); err != nil {
				return fmt.Errorf("apply %s %s from %s: %w", d.kind, d.name, path, err)
			}
		}
	}
	return waitRequesterPolicy(ctx, dyn)
}

func servesResource(dc discovery.DiscoveryInterface, groupVersion, resource string) (bool, error) {
	list, err := dc.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", groupVersion, err)
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}

// probeCSR is a syntactically valid PEM block: the dry-run request is never signed.
var probeCSR = "-----BEGIN CERTIFICATE REQUEST-----\n" + base64.StdEncoding.EncodeToString([]byte("probe")) + "\n-----END CERTIFICATE REQUEST-----\n"

// waitRequesterPolicy creates a CertificateRequest in dry-run, with a username that is
// not the caller's, until the mutating policy replaces it.
func waitRequesterPolicy(ctx context.Context, dyn dynamic.Interface) error {
	gvr := schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}
	const sent = "certflow-localstack-probe"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		probe := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
			"metadata": map[string]any{"generateName": "certflow-admission-probe-", "namespace": metav1.NamespaceDefault},
			"spec": map[string]any{
				"request":   base64.StdEncoding.EncodeToString([]byte(probeCSR)),
				"issuerRef": map[string]any{"name": "probe", "group": "probe.certflow.invalid"},
				"username":  sent,
			},
		}}
		got, err := dyn.Resource(gvr).Namespace(metav1.NamespaceDefault).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		var user string
		if err == nil {
			user, _, _ = unstructured.NestedString(got.Object, "spec", "username")
			if user != sent {
				return nil
			}
			err = errors.New("spec.username is still the one sent")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the requester policy does not apply to CertificateRequests: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type policyDoc struct {
	kind, name string
	raw        []byte // the document as JSON, applied unchanged
}

// readAdmissionPolicies decodes the admission policies and bindings of a (multi-document)
// YAML file; any other kind is an error.
func readAdmissionPolicies(path string) ([]policyDoc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []policyDoc
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
			continue
		}
		var o metav1.PartialObjectMetadata
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if _, ok := admissionKinds[o.Kind]; !ok || o.APIVersion != "admissionregistration.k8s.io/v1" {
			return nil, fmt.Errorf("%s: holds a %s %s, not an admissionregistration.k8s.io/v1 admission policy or binding", path, o.APIVersion, o.Kind)
		}
		if o.Name == "" {
			return nil, fmt.Errorf("%s: %s without metadata.name", path, o.Kind)
		}
		out = append(out, policyDoc{kind: o.Kind, name: o.Name, raw: raw})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no admission policies", path)
	}
	return out, nil
}
