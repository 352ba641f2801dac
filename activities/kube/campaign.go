package kube

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
)

// CampaignSelection says which Certificates a campaign re-issues: those of the issuer
// (when IssuerName is set), matching the label selector, in the namespaces (none: all).
type CampaignSelection struct {
	IssuerName    string   `json:",omitempty"`
	IssuerKind    string   `json:",omitempty"` // Issuer (default) or ClusterIssuer
	LabelSelector string   `json:",omitempty"`
	Namespaces    []string `json:",omitempty"`
}

// String describes the selection in words, for step summaries and the CLI.
func (s CampaignSelection) String() string {
	var parts []string
	if s.IssuerName != "" {
		parts = append(parts, fmt.Sprintf("of %s %s", s.issuerKind(), s.IssuerName))
	}
	if s.LabelSelector != "" {
		parts = append(parts, fmt.Sprintf("labelled %s", s.LabelSelector))
	}
	if len(s.Namespaces) == 0 {
		parts = append(parts, "in all namespaces")
	} else {
		parts = append(parts, "in namespace "+strings.Join(s.Namespaces, ", "))
	}
	return strings.Join(parts, " ")
}

func (s CampaignSelection) issuerKind() string {
	if s.IssuerKind == "" {
		return cmapi.IssuerKind
	}
	return s.IssuerKind
}

// Validate refuses a selection that cannot be listed.
func (s CampaignSelection) Validate() error {
	if s.IssuerName != "" && s.issuerKind() != cmapi.IssuerKind && s.issuerKind() != cmapi.ClusterIssuerKind {
		return fmt.Errorf("issuer kind %q: want %s or %s", s.IssuerKind, cmapi.IssuerKind, cmapi.ClusterIssuerKind)
	}
	if s.IssuerName != "" && s.issuerKind() == cmapi.IssuerKind && len(s.Namespaces) == 0 {
		return errors.New("an Issuer is namespaced: name its namespace")
	}
	if _, err := labels.Parse(s.LabelSelector); err != nil {
		return fmt.Errorf("label selector %q: %w", s.LabelSelector, err)
	}
	return nil
}

// Matches says whether cert is of the selection's issuer (the label selector and the
// namespaces are the API server's to apply).
func (s CampaignSelection) Matches(cert *cmapi.Certificate) bool {
	if s.IssuerName == "" {
		return true
	}
	ref := cert.Spec.IssuerRef
	kind := ref.Kind
	if kind == "" {
		kind = cmapi.IssuerKind
	}
	return ref.Name == s.IssuerName && kind == s.issuerKind() && (ref.Group == "" || ref.Group == cmapi.SchemeGroupVersion.Group)
}

// CampaignPageInput asks for one page of a campaign's Certificates after Continue
// (empty: the first page).
type CampaignPageInput struct {
	Selection CampaignSelection
	Continue  string `json:",omitempty"`
	Limit     int64
}

// CampaignPage is one page: the matching Certificates as namespace/name, and where the
// next page starts ("" when this was the last).
type CampaignPage struct {
	Certificates []string `json:",omitempty"`
	Continue     string   `json:",omitempty"`
}

// ListCampaignTargets lists one page of the Certificates a campaign re-issues. The
// continue token is "<namespace index>|<the API server's continue token>"; one that
// expired (a campaign paused for longer than etcd keeps revisions) goes on from the
// same key with the token the API server offers for it, so no Certificate is met twice.
func (a *Activities) ListCampaignTargets(ctx context.Context, in CampaignPageInput) (CampaignPage, error) {
	if err := in.Selection.Validate(); err != nil {
		return CampaignPage{}, nonRetryable("BadInput", "%v", err)
	}
	nsIndex, token, err := parseCampaignContinue(in.Continue)
	if err != nil {
		return CampaignPage{}, nonRetryable("BadInput", "%v", err)
	}
	namespaces := in.Selection.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	if nsIndex >= len(namespaces) {
		return CampaignPage{}, nil
	}
	limit := in.Limit
	if limit <= 0 || limit > 1000 {
		limit = 250
	}
	opts := metav1.ListOptions{LabelSelector: in.Selection.LabelSelector, Limit: limit, Continue: token}
	list, err := a.CertFlow.CertmanagerV1().Certificates(namespaces[nsIndex]).List(ctx, opts)
	var status apierrors.APIStatus
	if apierrors.IsResourceExpired(err) && errors.As(err, &status) && status.Status().ListMeta.Continue != "" {
		opts.Continue = status.Status().ListMeta.Continue
		list, err = a.CertFlow.CertmanagerV1().Certificates(namespaces[nsIndex]).List(ctx, opts)
	}
	if err != nil {
		return CampaignPage{}, fmt.Errorf("list Certificates %s: %w", in.Selection, err)
	}
	var page CampaignPage
	for i := range list.Items {
		if in.Selection.Matches(&list.Items[i]) {
			page.Certificates = append(page.Certificates, list.Items[i].Namespace+"/"+list.Items[i].Name)
		}
	}
	switch {
	case list.Continue != "":
		page.Continue = strconv.Itoa(nsIndex) + "|" + list.Continue
	case nsIndex+1 < len(namespaces):
		page.Continue = strconv.Itoa(nsIndex+1) + "|"
	}
	return page, nil
}

// CountCampaignTargets counts the Certificates of a selection (the campaign's total).
func (a *Activities) CountCampaignTargets(ctx context.Context, sel CampaignSelection) (int, error) {
	n, next := 0, ""
	for {
		page, err := a.ListCampaignTargets(ctx, CampaignPageInput{Selection: sel, Continue: next, Limit: 500})
		if err != nil {
			return 0, err
		}
		n += len(page.Certificates)
		if page.Continue == "" {
			return n, nil
		}
		next = page.Continue
	}
}

func parseCampaignContinue(s string) (nsIndex int, token string, err error) {
	if s == "" {
		return 0, "", nil
	}
	idx, token, ok := strings.Cut(s, "|")
	n, err := strconv.Atoi(idx)
	if !ok || err != nil || n < 0 {
		return 0, "", fmt.Errorf("campaign continue token %q is not <index>|<token>", s)
	}
	return n, token, nil
}
