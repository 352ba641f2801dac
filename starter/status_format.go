package starter

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	acmev1 "github.com/certflow/certflow/api/acme/v1"
	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/pki"
	"github.com/certflow/certflow/workflows"
)

// nowFunc is the clock of the commands' relative times (ages, "in 2h").
var nowFunc = time.Now

// certificateStatus is everything status certificate shows, read beforehand: String
// only formats it, so it is tested without servers.
type certificateStatus struct {
	Now         time.Time
	Certificate *cmapi.Certificate
	Events      []corev1.Event
	Issuer      issuerSection
	Secret      secretSection
	Request     requestSection
	// ACME is set when the issuer is an ACME one and a request was found: the Order
	// and Challenges sections are shown.
	ACME          bool
	Order         *acmev1.Order
	OrderErr      error
	Challenges    []acmev1.Challenge
	ChallengesErr error
	Workflow      workflowSection
}

type issuerSection struct {
	Name, Kind, Group string
	Object            cmapi.GenericIssuer
	Err               error
	Events            []corev1.Event
}

type secretSection struct {
	Name   string
	Object *corev1.Secret
	Err    error
	Events []corev1.Event
}

type requestSection struct {
	Object *cmapi.CertificateRequest
	Err    error
	Events []corev1.Event
}

type workflowSection struct {
	ID, RunID, ExecutionStatus, URL string
	// Err says why the workflow's state could not be read (Temporal unreachable, no
	// such workflow, encrypted state...).
	Err string
	// Retrying are the pending activities that failed at least once, with their last
	// failure.
	Retrying []string
	Status   *workflows.Status
	// Children are the workflows of the ACME Order and its Challenges, when there are.
	Children []workflowSection
}

func (s *certificateStatus) String() string {
	var b strings.Builder
	w := &b
	cert := s.Certificate
	fmt.Fprintf(w, "Name: %s\nNamespace: %s\nCreated at: %s\n", cert.Name, cert.Namespace, formatTime(&cert.CreationTimestamp))
	b.WriteString("Conditions:\n")
	if len(cert.Status.Conditions) == 0 {
		b.WriteString("  No Conditions set\n")
	}
	for _, c := range cert.Status.Conditions {
		fmt.Fprintf(w, "  %s: %s, Reason: %s, Message: %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	b.WriteString("DNS Names:\n")
	for _, n := range cert.Spec.DNSNames {
		fmt.Fprintf(w, "- %s\n", n)
	}
	writeEvents(w, s.Events, 0, s.Now)

	s.writeIssuer(w)
	s.writeSecret(w)

	fmt.Fprintf(w, "Not Before: %s\nNot After: %s\nRenewal Time: %s\n",
		formatTime(cert.Status.NotBefore), formatTime(cert.Status.NotAfter), formatTime(cert.Status.RenewalTime))
	if cert.Status.Revision != nil {
		fmt.Fprintf(w, "Revision: %d\n", *cert.Status.Revision)
	}
	if n := cert.Status.FailedIssuanceAttempts; n != nil && *n > 0 {
		fmt.Fprintf(w, "Failed Issuance Attempts: %d (last at %s)\n", *n, formatTime(cert.Status.LastFailureTime))
	}

	s.writeRequest(w)
	if s.ACME {
		s.writeOrder(w)
	}
	s.writeWorkflow(w)
	return b.String()
}

func (s *certificateStatus) writeIssuer(w *strings.Builder) {
	is := s.Issuer
	w.WriteString("Issuer:\n")
	fmt.Fprintf(w, "  Name: %s\n  Kind: %s\n", is.Name, is.Kind)
	if is.Group != "" && is.Group != cmapi.SchemeGroupVersion.Group {
		fmt.Fprintf(w, "  Group: %s (an issuer of another group: its status is not read; try kubectl describe)\n", is.Group)
		return
	}
	if is.Err != nil {
		fmt.Fprintf(w, "  Error: error when getting %s: %v\n", is.Kind, is.Err)
		return
	}
	w.WriteString("  Conditions:\n")
	conds := is.Object.GetStatus().Conditions
	if len(conds) == 0 {
		w.WriteString("    No Conditions set\n")
	}
	for _, c := range conds {
		fmt.Fprintf(w, "    %s: %s, Reason: %s, Message: %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	writeEvents(w, is.Events, 1, s.Now)
}

func (s *certificateStatus) writeSecret(w *strings.Builder) {
	sec := s.Secret
	w.WriteString("Secret:\n")
	fmt.Fprintf(w, "  Name: %s\n", sec.Name)
	if sec.Err != nil {
		fmt.Fprintf(w, "  Error: error when finding Secret %q: %v\n", sec.Name, sec.Err)
		return
	}
	fmt.Fprintf(w, "  Type: %s\n", sec.Object.Type)
	data := sec.Object.Data[corev1.TLSCertKey]
	leaf, err := pki.FirstCertificate(data)
	switch {
	case len(data) == 0:
		fmt.Fprintf(w, "  Error: %v\n", errNoCertificate)
	case err != nil:
		fmt.Fprintf(w, "  Error: error when parsing 'tls.crt': %s\n", pki.SafeErrorMessage(err))
	default:
		writeSecretCertificate(w, leaf)
	}
	writeEvents(w, sec.Events, 1, s.Now)
}

// writeSecretCertificate writes the facts of the Secret's certificate that cmctl shows,
// and its dates and revocation endpoints.
func writeSecretCertificate(w *strings.Builder, c *x509.Certificate) {
	fmt.Fprintf(w, "  Issuer Country: %s\n", strings.Join(c.Issuer.Country, ", "))
	fmt.Fprintf(w, "  Issuer Organisation: %s\n", strings.Join(c.Issuer.Organization, ", "))
	fmt.Fprintf(w, "  Issuer Common Name: %s\n", c.Issuer.CommonName)
	fmt.Fprintf(w, "  Key Usage: %s\n", keyUsageText(c.KeyUsage))
	fmt.Fprintf(w, "  Extended Key Usages: %s\n", extKeyUsageText(c.ExtKeyUsage, len(c.UnknownExtKeyUsage)))
	fmt.Fprintf(w, "  Public Key Algorithm: %s\n", c.PublicKeyAlgorithm)
	fmt.Fprintf(w, "  Signature Algorithm: %s\n", c.SignatureAlgorithm)
	fmt.Fprintf(w, "  Subject Key ID: %s\n", hex.EncodeToString(c.SubjectKeyId))
	fmt.Fprintf(w, "  Authority Key ID: %s\n", hex.EncodeToString(c.AuthorityKeyId))
	serial := ""
	if c.SerialNumber != nil {
		serial = hex.EncodeToString(c.SerialNumber.Bytes())
	}
	fmt.Fprintf(w, "  Serial Number: %s\n", serial)
	fmt.Fprintf(w, "  Not Before: %s\n  Not After: %s\n", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  OCSP: %s\n  CRL: %s\n", listOrNone(c.OCSPServer), listOrNone(c.CRLDistributionPoints))
}

func (s *certificateStatus) writeRequest(w *strings.Builder) {
	r := s.Request
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "CertificateRequest:\n  Error: error when finding CertificateRequest: %v\n", r.Err)
		return
	case r.Object == nil:
		w.WriteString("CertificateRequest:\n  No CertificateRequest found for this Certificate\n")
		return
	}
	req := r.Object
	fmt.Fprintf(w, "CertificateRequest:\n  Name: %s\n  Namespace: %s\n", req.Name, req.Namespace)
	w.WriteString("  Conditions:\n")
	if len(req.Status.Conditions) == 0 {
		w.WriteString("    No Conditions set\n")
	}
	for _, c := range req.Status.Conditions {
		fmt.Fprintf(w, "    %s: %s, Reason: %s, Message: %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	writeEvents(w, r.Events, 1, s.Now)
}

func (s *certificateStatus) writeOrder(w *strings.Builder) {
	switch {
	case s.OrderErr != nil:
		fmt.Fprintf(w, "Order:\n  Error: error when finding Order: %v\n", s.OrderErr)
		return
	case s.Order == nil:
		w.WriteString("Order:\n  No Order found for this Certificate\n")
		return
	}
	o := s.Order
	fmt.Fprintf(w, "Order:\n  Name: %s\n  State: %s, Reason: %s\n", o.Name, o.Status.State, o.Status.Reason)
	if len(o.Status.Authorizations) == 0 {
		w.WriteString("  No Authorizations for this Order\n")
	} else {
		w.WriteString("  Authorizations:\n")
	}
	for _, a := range o.Status.Authorizations {
		wildcard := "nil (bool pointer not set)"
		if a.Wildcard != nil {
			wildcard = fmt.Sprint(*a.Wildcard)
		}
		fmt.Fprintf(w, "    URL: %s, Identifier: %s, Initial State: %s, Wildcard: %s\n", a.URL, a.Identifier, a.InitialState, wildcard)
	}
	if o.Status.FailureTime != nil {
		fmt.Fprintf(w, "  FailureTime: %s\n", formatTime(o.Status.FailureTime))
	}
	switch {
	case s.ChallengesErr != nil:
		fmt.Fprintf(w, "Challenges:\n  Error: error when finding Challenges: %v\n", s.ChallengesErr)
	case len(s.Challenges) == 0:
		w.WriteString("Challenges:\n  No Challenges found for this Certificate\n")
	default:
		w.WriteString("Challenges:\n")
		for _, ch := range s.Challenges {
			fmt.Fprintf(w, "- Name: %s, Type: %s, Token: %s, Key: %s, State: %s, Reason: %s, Processing: %t, Presented: %t\n",
				ch.Name, ch.Spec.Type, ch.Spec.Token, ch.Spec.Key, ch.Status.State, ch.Status.Reason, ch.Status.Processing, ch.Status.Presented)
		}
	}
}

func (s *certificateStatus) writeWorkflow(w *strings.Builder) {
	wf := s.Workflow
	fmt.Fprintf(w, "Workflow:\n  ID: %s\n", wf.ID)
	writeWorkflowState(w, wf, "  ", s.Now)
	for _, child := range wf.Children {
		kind := "Order"
		if strings.HasPrefix(child.ID, "challenge/") {
			kind = "Challenge"
		}
		fmt.Fprintf(w, "  %s Workflow: %s\n", kind, child.ID)
		writeWorkflowState(w, child, "    ", s.Now)
	}
	if wf.URL != "" {
		fmt.Fprintf(w, "  Web UI: %s\n", wf.URL)
	}
}

// writeWorkflowState writes what is known of one workflow's run, indented.
func writeWorkflowState(w *strings.Builder, wf workflowSection, indent string, now time.Time) {
	if wf.RunID != "" {
		fmt.Fprintf(w, "%sRun ID: %s\n", indent, wf.RunID)
	}
	if wf.ExecutionStatus != "" {
		fmt.Fprintf(w, "%sExecution Status: %s\n", indent, wf.ExecutionStatus)
	}
	if wf.Err != "" {
		fmt.Fprintf(w, "%sError: %s\n", indent, wf.Err)
	}
	if st := wf.Status; st != nil {
		fmt.Fprintf(w, "%sPhase: %s\n", indent, st.Phase)
		if st.WaitingFor != "" {
			fmt.Fprintf(w, "%sWaiting for: %s\n", indent, st.WaitingFor)
		}
		if st.Until != nil {
			fmt.Fprintf(w, "%sUntil: %s (%s)\n", indent, st.Until.UTC().Format(time.RFC3339), relative(*st.Until, now))
		}
		if st.RenewalRule != "" {
			fmt.Fprintf(w, "%sRenewal Time Set By: %s\n", indent, st.RenewalRule)
		}
		if st.FailedAttempts > 0 {
			fmt.Fprintf(w, "%sFailed Attempts: %d\n", indent, st.FailedAttempts)
		}
		if st.LastError != "" {
			fmt.Fprintf(w, "%sLast Error: %s\n", indent, st.LastError)
		}
	}
	for _, r := range wf.Retrying {
		fmt.Fprintf(w, "%sRetrying: %s\n", indent, r)
	}
}

// relative says how far t is from now: "in 2h3m" or "4m10s ago".
func relative(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d >= 0 {
		return "in " + shortDuration(d)
	}
	return shortDuration(-d) + " ago"
}

// shortDuration is d in its two largest units (days at most): 59d23h, 15h0m, 4m10s, 7s.
func shortDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 2*day:
		return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/day), int(d%day/time.Hour))
}

// writeEvents writes Events as cmctl (and kubectl describe) do, indented by level.
func writeEvents(w *strings.Builder, events []corev1.Event, level int, now time.Time) {
	indent := strings.Repeat("  ", level)
	if len(events) == 0 {
		fmt.Fprintf(w, "%sEvents:  <none>\n", indent)
		return
	}
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	fmt.Fprintf(w, "%sEvents:\n", indent)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	inner := indent + "  "
	fmt.Fprintf(tw, "%sType\tReason\tAge\tFrom\tMessage\n", inner)
	fmt.Fprintf(tw, "%s----\t------\t----\t----\t-------\n", inner)
	for _, e := range events {
		age := since(e.FirstTimestamp, now)
		if e.Count > 1 {
			age = fmt.Sprintf("%s (x%d over %s)", since(e.LastTimestamp, now), e.Count, since(e.FirstTimestamp, now))
		}
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		if e.Source.Host != "" {
			from += ", " + e.Source.Host
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\n", inner, e.Type, e.Reason, age, from, strings.TrimSpace(e.Message))
	}
	_ = tw.Flush()
}

// eventTime is when an Event last happened, for ordering.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func formatTime(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return "<none>"
	}
	return t.UTC().Format(time.RFC3339)
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "<none>"
	}
	return strings.Join(l, ", ")
}

// Names of the key usage bits and extended key usages as cmctl's status prints them.
var (
	keyUsageTexts = []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "Digital Signature"},
		{x509.KeyUsageContentCommitment, "Content Commitment"},
		{x509.KeyUsageKeyEncipherment, "Key Encipherment"},
		{x509.KeyUsageDataEncipherment, "Data Encipherment"},
		{x509.KeyUsageKeyAgreement, "Key Agreement"},
		{x509.KeyUsageCertSign, "Cert Sign"},
		{x509.KeyUsageCRLSign, "CRL Sign"},
		{x509.KeyUsageEncipherOnly, "Encipher Only"},
		{x509.KeyUsageDecipherOnly, "Decipher Only"},
	}
	extKeyUsageTexts = map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny:                            "Any",
		x509.ExtKeyUsageServerAuth:                     "Server Authentication",
		x509.ExtKeyUsageClientAuth:                     "Client Authentication",
		x509.ExtKeyUsageCodeSigning:                    "Code Signing",
		x509.ExtKeyUsageEmailProtection:                "Email Protection",
		x509.ExtKeyUsageIPSECEndSystem:                 "IPSEC End System",
		x509.ExtKeyUsageIPSECTunnel:                    "IPSEC Tunnel",
		x509.ExtKeyUsageIPSECUser:                      "IPSEC User",
		x509.ExtKeyUsageTimeStamping:                   "Time Stamping",
		x509.ExtKeyUsageOCSPSigning:                    "OCSP Signing",
		x509.ExtKeyUsageMicrosoftServerGatedCrypto:     "Microsoft Server Gated Crypto",
		x509.ExtKeyUsageNetscapeServerGatedCrypto:      "Netscape Server Gated Crypto",
		x509.ExtKeyUsageMicrosoftCommercialCodeSigning: "Microsoft Commercial Code Signing",
		x509.ExtKeyUsageMicrosoftKernelCodeSigning:     "Microsoft Kernel Code Signing",
	}
)

func keyUsageText(ku x509.KeyUsage) string {
	var out []string
	for _, k := range keyUsageTexts {
		if ku&k.bit != 0 {
			out = append(out, k.name)
		}
	}
	return strings.Join(out, ", ")
}

func extKeyUsageText(ekus []x509.ExtKeyUsage, unknown int) string {
	var out []string
	for _, e := range ekus {
		if n, ok := extKeyUsageTexts[e]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("unknown (%d)", e))
		}
	}
	if unknown > 0 {
		out = append(out, fmt.Sprintf("%d not known by name", unknown))
	}
	return strings.Join(out, ", ")
}
