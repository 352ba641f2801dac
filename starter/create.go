package starter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/certflow/certflow/activities/keys"
	"github.com/certflow/certflow/activities/pki"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	cmmeta "github.com/certflow/certflow/api/meta/v1"
	"github.com/certflow/certflow/starter/convert"
)

// requestPollInterval is how often create certificaterequest --fetch-certificate looks
// at the request, as cmctl.
const requestPollInterval = time.Second

func newCreateCommand(g *globals) *cobra.Command {
	create := &cobra.Command{Use: "create", Short: "Create cert-manager resources"}
	create.AddCommand(newCreateRequestCommand(g))
	return create
}

// createRequestOptions are create certificaterequest's flags.
type createRequestOptions struct {
	certificateFile string
	keyFile         string
	certFile        string
	fetch           bool
	timeout         time.Duration
}

// validate checks the arguments as cmctl does, before anything is read or written.
func (o createRequestOptions) validate(args []string) error {
	switch {
	case len(args) < 1:
		return errors.New("the name of the CertificateRequest to be created has to be provided as argument")
	case len(args) > 1:
		return errors.New("only one argument can be passed in: the name of the CertificateRequest")
	case o.certificateFile == "":
		return errors.New("the path to a YAML manifest of a Certificate resource cannot be empty, please specify by using --from-certificate-file flag")
	case o.keyFile != "" && o.certFile != "" && o.keyFile == o.certFile:
		return errors.New("the file to store private key cannot be the same as the file to store certificate")
	case !o.fetch && o.certFile != "":
		return errors.New("cannot specify file to store certificate if not waiting for and fetching certificate, please set --fetch-certificate flag")
	case o.fetch && o.timeout <= 0:
		return fmt.Errorf("--timeout must be positive, got %s", o.timeout)
	}
	return nil
}

// files are the key and certificate files for the request named name.
func (o createRequestOptions) files(name string) (keyFile, certFile string) {
	keyFile, certFile = name+".key", name+".crt"
	if o.keyFile != "" {
		keyFile = o.keyFile
	}
	if o.certFile != "" {
		certFile = o.certFile
	}
	return keyFile, certFile
}

func newCreateRequestCommand(g *globals) *cobra.Command {
	var o createRequestOptions
	cmd := &cobra.Command{
		Use:     "certificaterequest NAME --from-certificate-file FILE",
		Aliases: []string{"cr"},
		Short:   "Create a CertificateRequest, using a Certificate resource as a template",
		Long: `Create a CertificateRequest from a Certificate manifest, as cmctl does: the private key is
generated locally as the Certificate's privateKey says (algorithm, size, encoding) and
written to NAME.key (or --output-key-file); the request carries a CSR made from the
Certificate's spec (subject, names, usages, isCA), its issuerRef, duration, usages, labels
and annotations. With --fetch-certificate the command waits (up to --timeout) for the
request to be signed and writes the certificate to NAME.crt (or
--output-certificate-file); a request that is denied, fails or is invalid ends the wait
with its reason and message. Manifests of cert-manager's older API versions are converted
first, as by convert.`,
		Example: `  # Create the CertificateRequest my-cr, saving the private key in my-cr.key
  kubectl cert-manager create certificaterequest my-cr --from-certificate-file my-certificate.yaml
  # Create it, wait up to 20 minutes for it to be signed and save the certificate in new.crt
  kubectl cert-manager create certificaterequest my-cr --from-certificate-file my-certificate.yaml \
    --fetch-certificate --timeout 20m --output-certificate-file new.crt`,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return o.validate(args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withConn(cmd, func(ctx context.Context, c *conn) error {
				_, explicit, err := g.kube.ToRawKubeConfigLoader().Namespace()
				if err != nil {
					explicit = false
				}
				return createRequest(ctx, cmd, c, explicit, args[0], o)
			})
		},
	}
	cmd.Flags().StringVar(&o.certificateFile, "from-certificate-file", "", "path to a file containing a Certificate resource used as a template when generating the CertificateRequest resource")
	cmd.Flags().StringVar(&o.keyFile, "output-key-file", "", "name of the file the generated private key is written to (default NAME.key)")
	cmd.Flags().StringVar(&o.certFile, "output-certificate-file", "", "name of the file the certificate is written to with --fetch-certificate (default NAME.crt)")
	cmd.Flags().BoolVar(&o.fetch, "fetch-certificate", false, "wait for the CertificateRequest to be signed and write the certificate to a file")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for the CertificateRequest to be signed with --fetch-certificate, with a unit, e.g. 10m or 1h")
	return cmd
}

func createRequest(ctx context.Context, cmd *cobra.Command, c *conn, explicitNamespace bool, name string, o createRequestOptions) error {
	errOut := cmd.ErrOrStderr()
	crt, err := readCertificateFile(o.certificateFile)
	if err != nil {
		return err
	}
	ns, err := requestNamespace(crt.Namespace, c.namespace, explicitNamespace)
	if err != nil {
		return err
	}
	keyPEM, csrPEM, err := keyAndCSR(crt)
	if err != nil {
		return err
	}
	keyFile, certFile := o.files(name)
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("error when writing private key to file: %w", err)
	}
	fmt.Fprintf(errOut, "Private key written to file %s\n", keyFile)

	req, err := c.certflow.CertmanagerV1().CertificateRequests(ns).Create(ctx, buildRequest(crt, name, csrPEM), metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("error creating CertificateRequest: %w", err)
	}
	fmt.Fprintf(errOut, "CertificateRequest %s has been created in namespace %s\n", req.Name, req.Namespace)
	if !o.fetch {
		return nil
	}

	fmt.Fprintf(errOut, "CertificateRequest %s in namespace %s has not been signed yet. Wait until it is signed...\n", req.Name, req.Namespace)
	req, err = waitSigned(ctx, c, req, o.timeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(errOut, "CertificateRequest %s in namespace %s has been signed\n", req.Name, req.Namespace)
	if err := os.WriteFile(certFile, req.Status.Certificate, 0o600); err != nil {
		return fmt.Errorf("error when writing certificate to file: %w", err)
	}
	fmt.Fprintf(errOut, "Certificate written to file %s\n", certFile)
	return nil
}

// readCertificateFile reads the one Certificate of file, in any version convert reads.
func readCertificateFile(file string) (*cmapi.Certificate, error) {
	objs, _, err := readManifests(&resource.FilenameOptions{Filenames: []string{file}})
	if err != nil {
		return nil, err
	}
	switch {
	case len(objs) == 0:
		return nil, fmt.Errorf("no objects found in manifest file %q. Expected one Certificate object", file)
	case len(objs) > 1:
		return nil, fmt.Errorf("multiple objects found in manifest file %q. Expected only one Certificate object", file)
	}
	return certificateFromObject(objs[0])
}

// certificateFromObject converts obj to a v1 Certificate; another kind is an error.
func certificateFromObject(obj *unstructured.Unstructured) (*cmapi.Certificate, error) {
	if gv, err := schema.ParseGroupVersion(obj.GetAPIVersion()); err != nil || gv.Group != convert.CertManagerGroup || obj.GetKind() != "Certificate" {
		return nil, fmt.Errorf("%s is not a Certificate (%s)", convert.Describe(obj), cmapi.SchemeGroupVersion.WithKind("Certificate"))
	}
	v1, err := convert.ToV1(obj, schema.GroupVersion{})
	if err != nil {
		return nil, fmt.Errorf("failed to convert object into version v1: %w", err)
	}
	crt := &cmapi.Certificate{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(v1.Object, crt); err != nil {
		return nil, fmt.Errorf("%s: %w", convert.Describe(obj), err)
	}
	return crt, nil
}

// requestNamespace is the namespace the request goes to: the Certificate's, else the
// command's; a -n given explicitly must agree with the manifest, as in kubectl.
func requestNamespace(manifest, command string, explicit bool) (string, error) {
	switch {
	case manifest == "":
		return command, nil
	case explicit && manifest != command:
		return "", fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation", manifest, command, manifest)
	}
	return manifest, nil
}

// keyAndCSR generates the private key the Certificate's privateKey asks for, PEM-encoded
// as it asks, and a CSR for the Certificate's spec signed with it.
func keyAndCSR(crt *cmapi.Certificate) (keyPEM, csrPEM []byte, err error) {
	var pk cmapi.CertificatePrivateKey
	if crt.Spec.PrivateKey != nil {
		pk = *crt.Spec.PrivateKey
	}
	spec, err := keys.NormalizeKeySpec(pk.Algorithm, pk.Size, pk.Encoding)
	if err != nil {
		return nil, nil, fmt.Errorf("error when generating new private key for CertificateRequest: %s", messageOf(err))
	}
	signer, err := keys.GenerateKey(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("error when generating new private key for CertificateRequest: %s", messageOf(err))
	}
	keyPEM, err = keys.EncodePrivateKey(signer, spec.Encoding)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to encode new private key for CertificateRequest: %s", messageOf(err))
	}
	csrPEM, err = pki.BuildCSR(crt.Spec, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("error when building CertificateRequest: %s", messageOf(err))
	}
	return keyPEM, csrPEM, nil
}

// messageOf is an error's words without the type a Temporal application error adds.
func messageOf(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// buildRequest is the CertificateRequest cmctl makes from a Certificate: its labels and
// annotations, and the spec's issuerRef, duration, isCA and usages with the CSR.
func buildRequest(crt *cmapi.Certificate, name string, csrPEM []byte) *cmapi.CertificateRequest {
	return &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: crt.Labels, Annotations: crt.Annotations},
		Spec: cmapi.CertificateRequestSpec{
			Request:   csrPEM,
			Duration:  crt.Spec.Duration,
			IssuerRef: crt.Spec.IssuerRef,
			IsCA:      crt.Spec.IsCA,
			Usages:    crt.Spec.Usages,
		},
	}
}

// waitSigned polls the request until it is signed, ends for good (denied, failed,
// invalid, deleted) or timeout passes.
func waitSigned(ctx context.Context, c *conn, req *cmapi.CertificateRequest, timeout time.Duration) (*cmapi.CertificateRequest, error) {
	crs := c.certflow.CertmanagerV1().CertificateRequests(req.Namespace)
	last := req
	var final error
	err := wait.PollUntilContextTimeout(ctx, requestPollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		cur, err := crs.Get(ctx, req.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			final = fmt.Errorf("CertificateRequest %s/%s was deleted while waiting for it to be signed", req.Namespace, req.Name)
			return true, nil
		case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
			final = fmt.Errorf("error when waiting for CertificateRequest to be signed: %w", err)
			return true, nil
		case err != nil:
			return false, nil // a passing failure: look again
		}
		if cur.UID != req.UID {
			final = fmt.Errorf("CertificateRequest %s/%s was replaced by another while waiting for it to be signed", req.Namespace, req.Name)
			return true, nil
		}
		last = cur
		done, err := requestOutcome(cur)
		final = err
		return done, nil
	})
	if final != nil {
		return nil, final
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("error when waiting for CertificateRequest to be signed: %w", ctx.Err())
		}
		return nil, fmt.Errorf("error when waiting for CertificateRequest to be signed: timed out after %s; CertificateRequest %s/%s is %s", timeout, req.Namespace, req.Name, requestProgress(last))
	}
	return last, nil
}

func requestCondition(cr *cmapi.CertificateRequest, typ cmapi.CertificateRequestConditionType) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == typ {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

// requestOutcome tells whether waiting for cr is over: done with no error when it is
// signed (Ready and a certificate), done with an error that gives the request's reason
// and message when it was denied, failed or is invalid.
func requestOutcome(cr *cmapi.CertificateRequest) (done bool, err error) {
	where := cr.Namespace + "/" + cr.Name
	if d := requestCondition(cr, cmapi.CertificateRequestConditionDenied); d != nil && d.Status == cmmeta.ConditionTrue {
		return true, fmt.Errorf("CertificateRequest %s was denied: %s", where, reasonMessage(d.Reason, d.Message))
	}
	if inv := requestCondition(cr, cmapi.CertificateRequestConditionInvalidRequest); inv != nil && inv.Status == cmmeta.ConditionTrue {
		return true, fmt.Errorf("CertificateRequest %s is invalid: %s", where, reasonMessage(inv.Reason, inv.Message))
	}
	r := requestCondition(cr, cmapi.CertificateRequestConditionReady)
	switch {
	case r == nil:
		return false, nil
	case r.Status == cmmeta.ConditionTrue && len(cr.Status.Certificate) > 0:
		return true, nil
	case r.Status == cmmeta.ConditionFalse && r.Reason == cmapi.CertificateRequestReasonFailed:
		return true, fmt.Errorf("CertificateRequest %s failed: %s", where, reasonMessage(r.Reason, r.Message))
	case r.Status == cmmeta.ConditionFalse && r.Reason == cmapi.CertificateRequestReasonDenied:
		return true, fmt.Errorf("CertificateRequest %s was denied: %s", where, reasonMessage(r.Reason, r.Message))
	}
	return false, nil
}

// requestProgress says where a request that is not signed yet stands, for a timeout.
func requestProgress(cr *cmapi.CertificateRequest) string {
	var parts []string
	if a := requestCondition(cr, cmapi.CertificateRequestConditionApproved); a != nil && a.Status == cmmeta.ConditionTrue {
		parts = append(parts, "approved")
	} else {
		parts = append(parts, "not approved")
	}
	if r := requestCondition(cr, cmapi.CertificateRequestConditionReady); r != nil {
		parts = append(parts, fmt.Sprintf("Ready=%s %s", r.Status, reasonMessage(r.Reason, r.Message)))
	} else {
		parts = append(parts, "with no Ready condition")
	}
	return strings.Join(parts, ", ")
}

func reasonMessage(reason, message string) string {
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}
