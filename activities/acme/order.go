package acme

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	legoacme "github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	"github.com/certflow/certflow/api/conventions"
	"github.com/certflow/certflow/pki"
)

// OrderRef names an Order object.
type OrderRef struct {
	Namespace string
	Name      string
	UID       string `json:",omitempty"`
}

// OrderState is an ACME order as the server last described it.
type OrderState struct {
	URL            string
	FinalizeURL    string
	CertificateURL string   `json:",omitempty"`
	Status         string   // pending, ready, processing, valid, invalid
	Authorizations []string `json:",omitempty"`
	// Error is the server's problem document for an invalid order, in words.
	Error string `json:",omitempty"`
	// Created is when the server had created the order (EnsureOrder's new order):
	// the account's scheduler counts it in its windows from then.
	Created *time.Time `json:",omitempty"`
}

// EnsureOrderInput asks for the ACME order behind one Order object.
type EnsureOrderInput struct {
	Account AccountRef
	Order   OrderRef
	// Identifiers are the DNS names and IP addresses to order.
	Identifiers []string
	Profile     string `json:",omitempty"`
	// NotAfter is asked for when the issuer enables the duration feature.
	NotAfter *time.Time `json:",omitempty"`
	// ReportRateLimit makes the server's rateLimited answer to a new order final for
	// the step (ErrTypeRateLimited with the Retry-After delay as its details), for the
	// account's scheduler to pause the account, instead of retried after the delay.
	ReportRateLimit bool `json:",omitempty"`
	// Replaces is the ARI identifier of the certificate this order renews (RFC 9773
	// §5), sent when the server offers renewal information.
	Replaces string `json:",omitempty"`
}

// EnsureOrder returns the ACME order of an Order object, creating it at the server
// only when the object records none: the order URL is written to the object's
// status right after the server answers, so a retried or replayed step (or a worker
// that died in between any later step) resumes the same order instead of creating
// another one.
func (a *Activities) EnsureOrder(ctx context.Context, in EnsureOrderInput) (OrderState, error) {
	orders := a.CertFlow.AcmeV1().Orders(in.Order.Namespace)
	obj, err := orders.Get(ctx, in.Order.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && in.Order.UID != "" && string(obj.UID) != in.Order.UID) {
		return OrderState{}, nonRetryable(ErrTypeOrderGone, "Order %s/%s was deleted or replaced", in.Order.Namespace, in.Order.Name)
	}
	if err != nil {
		return OrderState{}, fmt.Errorf("get Order %s/%s: %w", in.Order.Namespace, in.Order.Name, err)
	}
	core, _, err := a.client(ctx, in.Account)
	if err != nil {
		return OrderState{}, err
	}
	if obj.Status.URL != "" {
		o, err := core.Orders.Get(obj.Status.URL)
		if err != nil {
			return OrderState{}, classify("get ACME order "+obj.Status.URL, err)
		}
		return stateOf(obj.Status.URL, o), nil
	}
	opts := &api.OrderOptions{Profile: a.profile(core, in.Profile)}
	if in.NotAfter != nil {
		opts.NotAfter = *in.NotAfter
	}
	opts.ReplacesCertID = in.Replaces
	o, err := core.Orders.NewWithOptions(orderIdentifiers(in.Identifiers), opts)
	if err != nil && replacesRefused(in.Replaces, err) {
		// lego orders again without it when the certificate was already replaced
		// (alreadyReplaced); any other refusal of an order naming what it replaces
		// (a certificate the server does not know, ...) is tried once more the same way:
		// the renewal matters more than the link.
		opts.ReplacesCertID = ""
		o, err = core.Orders.NewWithOptions(orderIdentifiers(in.Identifiers), opts)
	}
	if err != nil {
		return OrderState{}, reportRateLimit(in.ReportRateLimit, classify("create ACME order", err))
	}
	st := stateOf(o.Location, o)
	created := time.Now()
	st.Created = &created
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := orders.Get(ctx, in.Order.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Status.URL != "" {
			return nil // another attempt of this step got there first
		}
		cur = cur.DeepCopy()
		cur.Status.URL, cur.Status.FinalizeURL, cur.Status.State = st.URL, st.FinalizeURL, acmev1.State(st.Status)
		for _, u := range st.Authorizations {
			cur.Status.Authorizations = append(cur.Status.Authorizations, acmev1.ACMEAuthorization{URL: u})
		}
		_, err = orders.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: conventions.FieldManager})
		return err
	})
	if err != nil {
		return OrderState{}, fmt.Errorf("record ACME order %s on Order %s/%s: %w", st.URL, in.Order.Namespace, in.Order.Name, err)
	}
	return st, nil
}

// replacesRefused reports whether an order naming the certificate it replaces was
// refused with a problem that ordering without it may avoid: a 4xx answer other than a
// rate limit or an account the server does not know.
func replacesRefused(replaces string, err error) bool {
	if replaces == "" {
		return false
	}
	var rl *legoacme.RateLimitedError
	if errors.As(err, &rl) {
		return false
	}
	var pd *legoacme.ProblemDetails
	return errors.As(err, &pd) && pd.HTTPStatus >= 400 && pd.HTTPStatus < 500 && !accountUnknown(pd)
}

// orderIdentifiers are the identifiers to order as the server will write them back:
// DNS names lower-cased (they are case-insensitive, and Let's Encrypt and Pebble
// lower-case them; the client refuses an order whose identifiers came back changed),
// IP addresses in their canonical form, each once, in their first order. The CSR and
// the Order object keep the names as the spec says them: servers compare the CSR's
// names with the order's case-insensitively, and the Challenges are named after the
// server's authorizations.
func orderIdentifiers(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if ip, err := netip.ParseAddr(n); err == nil && ip.Zone() == "" {
			n = ip.Unmap().String()
		} else {
			n = strings.ToLower(n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// profile is the issuer's profile or, when it names none and the server offers a
// profile called "default", that one: Pebble picks a random profile otherwise, some of
// which issue certificates valid for days.
func (a *Activities) profile(core *api.Core, want string) string {
	if want != "" {
		return want
	}
	if _, ok := core.GetDirectory().Meta.Profiles["default"]; ok {
		return "default"
	}
	return ""
}

func stateOf(url string, o legoacme.ExtendedOrder) OrderState {
	st := OrderState{URL: url, FinalizeURL: o.Finalize, CertificateURL: o.Certificate, Status: o.Status, Authorizations: o.Authorizations}
	if o.Error != nil {
		st.Error = problemMessage(o.Error)
	}
	return st
}

// OrderURLInput names an order of an account.
type OrderURLInput struct {
	Account AccountRef
	URL     string
}

// GetOrder reads an order's current state (one request; the workflow polls on timers).
func (a *Activities) GetOrder(ctx context.Context, in OrderURLInput) (OrderState, error) {
	_, o, err := a.getOrder(ctx, in.Account, in.URL)
	if err != nil {
		return OrderState{}, err
	}
	return stateOf(in.URL, o), nil
}

// getOrder reads an order as the account, returning the client for further calls.
func (a *Activities) getOrder(ctx context.Context, account AccountRef, url string) (*api.Core, legoacme.ExtendedOrder, error) {
	core, _, err := a.client(ctx, account)
	if err != nil {
		return nil, legoacme.ExtendedOrder{}, err
	}
	o, err := core.Orders.Get(url)
	if err != nil {
		return nil, legoacme.ExtendedOrder{}, classify("get ACME order "+url, err)
	}
	return core, o, nil
}

// FinalizeInput finalizes an order with the CertificateRequest's CSR.
type FinalizeInput struct {
	Account     AccountRef
	URL         string
	FinalizeURL string
	CSRPEM      []byte
	// SettleFor reads the order again, for at most this long, while the server is
	// still processing the CSR (0: the finalize's answer as it is).
	SettleFor time.Duration `json:",omitempty"`
}

// FinalizeOrder sends the CSR once the order is ready. An order already processing or
// valid (a retried step) is returned as it is.
func (a *Activities) FinalizeOrder(ctx context.Context, in FinalizeInput) (OrderState, error) {
	core, o, err := a.getOrder(ctx, in.Account, in.URL)
	if err != nil {
		return OrderState{}, err
	}
	if o.Status != legoacme.StatusReady {
		return stateOf(in.URL, o), nil
	}
	blk, _ := pem.Decode(in.CSRPEM)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return OrderState{}, nonRetryable(ErrTypeConfig, "the CertificateRequest holds no PEM certificate request")
	}
	o, err = core.Orders.UpdateForCSR(in.FinalizeURL, blk.Bytes)
	if err != nil {
		return OrderState{}, classify("finalize ACME order "+in.URL, err)
	}
	for s := newSettle(in.SettleFor); o.Status == legoacme.StatusProcessing && s.wait(ctx); {
		if o, err = core.Orders.Get(in.URL); err != nil {
			return OrderState{}, classify("get ACME order "+in.URL, err)
		}
	}
	return stateOf(in.URL, o), nil
}

// FetchInput downloads an issued certificate.
type FetchInput struct {
	Account        AccountRef
	CertificateURL string
	// PreferredChain picks the chain whose top-most certificate is issued by (or is) a
	// CA with this common name, as upstream's preferredChain; "" = the default chain.
	PreferredChain string `json:",omitempty"`
}

// Chain is an issued certificate: the leaf followed by its intermediates, PEM.
type Chain struct {
	CertificatePEM []byte
}

// FetchCertificate downloads the certificate chain, honouring preferredChain.
func (a *Activities) FetchCertificate(ctx context.Context, in FetchInput) (Chain, error) {
	core, _, err := a.client(ctx, in.Account)
	if err != nil {
		return Chain{}, err
	}
	all, err := core.Certificates.GetAll(in.CertificateURL, true)
	if err != nil {
		return Chain{}, classify("download certificate "+in.CertificateURL, err)
	}
	def, ok := all[in.CertificateURL]
	if !ok {
		return Chain{}, fmt.Errorf("ACME server returned no certificate at %s", in.CertificateURL)
	}
	if in.PreferredChain != "" {
		if alt := preferredChain(all, in.CertificateURL, in.PreferredChain); alt != nil {
			def = alt
		}
	}
	return Chain{CertificatePEM: def.Cert}, nil
}

// preferredChain returns the first chain (the default one first, then the alternates
// by URL) whose top-most certificate has the wanted issuer or subject common name.
func preferredChain(all map[string]*legoacme.RawCertificate, defURL, name string) *legoacme.RawCertificate {
	urls := make([]string, 0, len(all))
	for u := range all {
		if u != defURL {
			urls = append(urls, u)
		}
	}
	sort.Strings(urls)
	urls = append([]string{defURL}, urls...)
	for _, u := range urls {
		certs, err := pki.ParseCertificates(all[u].Cert)
		if err != nil || len(certs) == 0 {
			continue
		}
		top := certs[len(certs)-1]
		if top.Issuer.CommonName == name || top.Subject.CommonName == name {
			return all[u]
		}
	}
	return nil
}
