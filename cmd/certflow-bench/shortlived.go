package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	cmapi "github.com/certflow/certflow/api/certmanager/v1"
	"github.com/certflow/certflow/client/informers/externalversions"
	"github.com/certflow/certflow/internal/localstack"
	"github.com/certflow/certflow/policy"
	"github.com/certflow/certflow/workflows"
)

// Short-lived mode (issue 16, item 2): N Certificates from an ACME ClusterIssuer with
// the "shortlived" profile live for a simulated month on the local stack. Time is
// compressed through the validity of Pebble's shortlived profile: with compression C,
// a 160-hour certificate lives 160 h / C, and the month 30 days / C.
const (
	// shortLivedLifetime is the validity of Let's Encrypt's shortlived profile.
	shortLivedLifetime = 160 * time.Hour
	// simulatedMonth is how long the Certificates live, in simulated time.
	simulatedMonth = 30 * 24 * time.Hour
	// defaultCompression is one simulated day per real minute: a certificate lives
	// 400 s, renews about every 267 s, and the month takes 30 minutes.
	defaultCompression = 1440.0
)

// compression is the time scale of short-lived mode.
type compression struct {
	Factor float64 `json:"factor"`
	// Validity is the real validity of a certificate: what Pebble's shortlived profile
	// is given (whole seconds; Pebble's NotAfter is NotBefore + Validity - 1 s).
	Validity time.Duration `json:"-"`
	// Month is the real length of the simulated month.
	Month time.Duration `json:"-"`
}

// newCompression computes the real validity and month of a compression factor.
func newCompression(factor float64) (compression, error) {
	if !(factor >= 1) {
		return compression{}, fmt.Errorf("--compression %v: want a factor of at least 1", factor)
	}
	v := time.Duration(float64(shortLivedLifetime) / factor).Truncate(time.Second)
	if v < 30*time.Second {
		return compression{}, fmt.Errorf("--compression %v: certificates would live %s; want at least 30 s", factor, v)
	}
	return compression{Factor: factor, Validity: v, Month: time.Duration(float64(simulatedMonth) / factor).Truncate(time.Second)}, nil
}

// renewalInterval is certflow's default renewal interval in real time: 2/3 of the
// certificate's life (policy.RenewalTime without renewBefore).
func (c compression) renewalInterval() time.Duration {
	nb := time.Unix(0, 0)
	na := nb.Add(c.Validity - time.Second)
	return policy.RenewalTime(nb, na, nil, nil).Sub(nb)
}

// requiredRate is the renewals per second that n Certificates need at the default
// renewal interval.
func (c compression) requiredRate(n int) float64 {
	return float64(n) / c.renewalInterval().Seconds()
}

// simulated turns a real duration into simulated time.
func (c compression) simulated(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.Factor)
}

// issuedCert is one certificate a Secret held.
type issuedCert struct {
	Serial              string
	NotBefore, NotAfter time.Time
	// Seen is when the bench's informer first saw it in the Secret.
	Seen time.Time
	// Due is the renewal time the Certificate's status gave for it (the 2/3 point or
	// what ARI said); zero when the bench never saw one, then the 2/3 point counts.
	Due time.Time
}

// due is when this certificate should have been renewed.
func (c issuedCert) due() time.Time {
	if !c.Due.IsZero() {
		return c.Due
	}
	return policy.RenewalTime(c.NotBefore, c.NotAfter, nil, nil)
}

// renewalTracker follows, through informers, the certificate in every Secret and the
// renewal time in every Certificate's status of one namespace.
type renewalTracker struct {
	mu    sync.Mutex
	lines map[string][]issuedCert
	// due is the latest status.renewalTime by Certificate name and status.notAfter.
	due map[string]map[int64]time.Time
	// badSecrets counts Secret updates whose tls.crt did not parse.
	badSecrets int
}

func newRenewalTracker() *renewalTracker {
	return &renewalTracker{lines: map[string][]issuedCert{}, due: map[string]map[int64]time.Time{}}
}

func (t *renewalTracker) start(ctx context.Context, b *bench) error {
	sf := informers.NewSharedInformerFactoryWithOptions(b.kc, 0, informers.WithNamespace(benchNS),
		informers.WithTransform(func(o any) (any, error) {
			if s, ok := o.(*corev1.Secret); ok {
				s.ManagedFields = nil
			}
			return o, nil
		}))
	si := sf.Core().V1().Secrets().Informer()
	if _, err := si.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    t.observeSecret,
		UpdateFunc: func(_, o any) { t.observeSecret(o) },
	}); err != nil {
		return err
	}
	cf := externalversions.NewSharedInformerFactoryWithOptions(b.cf, 0, externalversions.WithNamespace(benchNS),
		externalversions.WithTransform(func(o any) (any, error) {
			if c, ok := o.(*cmapi.Certificate); ok {
				c.ManagedFields = nil
			}
			return o, nil
		}))
	ci := cf.Certmanager().V1().Certificates().Informer()
	if _, err := ci.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    t.observeCertificate,
		UpdateFunc: func(_, o any) { t.observeCertificate(o) },
	}); err != nil {
		return err
	}
	sf.Start(ctx.Done())
	cf.Start(ctx.Done())
	for typ, ok := range sf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer %v did not sync", typ)
		}
	}
	for typ, ok := range cf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("informer %v did not sync", typ)
		}
	}
	return nil
}

func (t *renewalTracker) observeSecret(o any) {
	s, ok := o.(*corev1.Secret)
	if !ok || len(s.Data[corev1.TLSCertKey]) == 0 {
		return
	}
	now := time.Now()
	name := s.Annotations[cmapi.CertificateNameKey]
	if name == "" {
		name = strings.TrimSuffix(s.Name, "-tls")
	}
	blk, _ := pem.Decode(s.Data[corev1.TLSCertKey])
	var cert *x509.Certificate
	var err error
	if blk != nil {
		cert, err = x509.ParseCertificate(blk.Bytes)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if blk == nil || err != nil {
		t.badSecrets++
		return
	}
	t.record(name, issuedCert{Serial: cert.SerialNumber.Text(16), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Seen: now})
}

// record appends c to name's line unless it is the certificate already there.
func (t *renewalTracker) record(name string, c issuedCert) {
	line := t.lines[name]
	for _, prev := range line {
		if prev.Serial == c.Serial {
			return
		}
	}
	t.lines[name] = append(line, c)
}

func (t *renewalTracker) observeCertificate(o any) {
	c, ok := o.(*cmapi.Certificate)
	if !ok || c.Status.NotAfter == nil || c.Status.RenewalTime == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.due[c.Name]
	if m == nil {
		m = map[int64]time.Time{}
		t.due[c.Name] = m
	}
	m[c.Status.NotAfter.Unix()] = c.Status.RenewalTime.Time
}

// snapshot returns every line with the renewal times from the Certificates' status.
func (t *renewalTracker) snapshot() map[string][]issuedCert {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string][]issuedCert, len(t.lines))
	for name, line := range t.lines {
		l := slices.Clone(line)
		for i := range l {
			if d, ok := t.due[name][l[i].NotAfter.Unix()]; ok {
				l[i].Due = d
			}
		}
		out[name] = l
	}
	return out
}

// renewalFigures is the on-time accounting of every renewal over the run.
type renewalFigures struct {
	Certificates int `json:"certificates"`
	// Renewals are certificates replaced in a Secret by a newer one.
	Renewals int `json:"renewals"`
	// DueFromStatus counts renewals whose renewal time came from the Certificate's
	// status (the rest used the 2/3 point).
	DueFromStatus int `json:"due_from_status"`
	// Late renewals came more than the tolerance after their renewal time (and
	// Overdue certificates are past that at the end without a renewal; they count as
	// late too).
	ToleranceSeconds float64 `json:"tolerance_s"`
	Late             int     `json:"late"`
	Overdue          int     `json:"overdue_at_end"`
	// Early renewals came more than the tolerance before their renewal time.
	Early int `json:"early"`
	// Expired counts certificates that were still in their Secret after their NotAfter
	// (replaced too late, or not replaced by the end): must be 0.
	Expired int `json:"expired_while_serving"`
	// Lateness is renewal seen minus renewal time, over all renewals.
	LatenessP50Seconds   float64 `json:"lateness_p50_s"`
	LatenessP99Seconds   float64 `json:"lateness_p99_s"`
	LatenessMaxSeconds   float64 `json:"lateness_max_s"`
	WorstLate            string  `json:"worst_late,omitempty"`
	WorstExpiredSeconds  float64 `json:"worst_expired_s,omitempty"`
	RenewalsPerCertMin   int     `json:"renewals_per_cert_min"`
	RenewalsPerCertMax   int     `json:"renewals_per_cert_max"`
	UnparsedSecretWrites int     `json:"unparsed_secret_writes,omitempty"`
}

// checkRenewals accounts every renewal in lines (each Certificate's certificates in the
// order its Secret held them) at time end: a renewal is late when the new certificate
// was seen more than tol after the old one's renewal time, and the old one expired
// while serving when the new one came after its NotAfter; a last certificate past its
// renewal time plus tol at end is overdue (late), past its NotAfter expired.
func checkRenewals(lines map[string][]issuedCert, end time.Time, tol time.Duration) renewalFigures {
	f := renewalFigures{Certificates: len(lines), ToleranceSeconds: tol.Seconds(), RenewalsPerCertMin: -1}
	var lateness []time.Duration
	worst := time.Duration(-1 << 63)
	for _, name := range slices.Sorted(maps.Keys(lines)) {
		line := lines[name]
		renewals := max(len(line)-1, 0)
		f.Renewals += renewals
		if f.RenewalsPerCertMin < 0 || renewals < f.RenewalsPerCertMin {
			f.RenewalsPerCertMin = renewals
		}
		f.RenewalsPerCertMax = max(f.RenewalsPerCertMax, renewals)
		for i, c := range line {
			var at time.Time
			last := i == len(line)-1
			if last {
				at = end
			} else {
				at = line[i+1].Seen
				if !c.Due.IsZero() {
					f.DueFromStatus++
				}
			}
			if at.After(c.NotAfter) {
				f.Expired++
				f.WorstExpiredSeconds = max(f.WorstExpiredSeconds, round(at.Sub(c.NotAfter).Seconds(), 3))
			}
			l := at.Sub(c.due())
			if last {
				if l > tol {
					f.Overdue++
					f.Late++
				}
			} else {
				lateness = append(lateness, l)
				switch {
				case l > tol:
					f.Late++
				case l < -tol:
					f.Early++
				}
			}
			if (!last || l > tol) && l > worst {
				worst = l
				f.WorstLate = fmt.Sprintf("%s serial %s: renewal time %s, renewed %s", name, c.Serial, c.due().UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
				if last {
					f.WorstLate = fmt.Sprintf("%s serial %s: renewal time %s, not renewed at the end %s", name, c.Serial, c.due().UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
				}
			}
		}
	}
	f.RenewalsPerCertMin = max(f.RenewalsPerCertMin, 0)
	slices.Sort(lateness)
	if len(lateness) > 0 {
		f.LatenessP50Seconds = round(percentile(lateness, 0.5).Seconds(), 3)
		f.LatenessP99Seconds = round(percentile(lateness, 0.99).Seconds(), 3)
	}
	if worst > time.Duration(-1<<63) {
		f.LatenessMaxSeconds = round(worst.Seconds(), 3)
	}
	return f
}

// renewalsIn counts the renewals seen in [from, to).
func renewalsIn(lines map[string][]issuedCert, from, to time.Time) int {
	n := 0
	for _, line := range lines {
		for _, c := range line[min(1, len(line)):] {
			if !c.Seen.Before(from) && c.Seen.Before(to) {
				n++
			}
		}
	}
	return n
}

// shortLivedFigures are the figures of short-lived mode.
type shortLivedFigures struct {
	Compression     float64 `json:"compression"`
	ValiditySeconds float64 `json:"validity_s"`
	MonthSeconds    float64 `json:"month_s"`
	// RenewalIntervalSeconds is the default renewal interval (2/3 of the validity) and
	// RequiredRenewalsPerSecond what N Certificates need at it.
	RenewalIntervalSeconds    float64 `json:"renewal_interval_s"`
	RequiredRenewalsPerSecond float64 `json:"required_renewals_per_s"`
	// The steady part of the month: from all N first Ready to the month's end.
	SteadySeconds              float64 `json:"steady_s"`
	SteadyRenewals             int     `json:"steady_renewals"`
	SustainedRenewalsPerSecond float64 `json:"sustained_renewals_per_s"`
	// Per renewal over the steady part: CPU by process (ms), kube-apiserver requests,
	// Temporal history of the sampled Certificates (with their Order and Challenge
	// workflows).
	CPUPerRenewalMs      map[string]float64 `json:"cpu_per_renewal_ms"`
	CPUPerRenewalMsTotal float64            `json:"cpu_per_renewal_ms_total"`
	API                  apiFigures         `json:"api_per_renewal"`
	HistorySampled       int                `json:"history_sampled"`
	HistoryRenewals      int                `json:"history_sample_renewals"`
	EventsPerRenewal     float64            `json:"history_events_per_renewal"`
	BytesPerRenewal      float64            `json:"history_bytes_per_renewal"`
	TasksPerRenewal      float64            `json:"workflow_tasks_per_renewal"`
	ActivitiesPerRenewal float64            `json:"activities_per_renewal"`
	HistoryError         string             `json:"history_error,omitempty"`
	Phase                phaseFigures       `json:"phase"`
	Renewals             renewalFigures     `json:"renewals"`
}

// sampleTotals sums the Temporal histories (with children) of a sample of names.
func (b *bench) sampleTotals(ctx context.Context, sample []string) (historyCount, error) {
	total := historyCount{ByType: map[string]int{}, Activity: map[string]*activityTime{}}
	for _, name := range sample {
		h, err := countTree(ctx, b.tc, workflows.CertificateWorkflowID(benchNS, name))
		if err != nil {
			return total, err
		}
		total.add(h)
	}
	return total, nil
}

// evenSample is up to k of names, evenly spread.
func evenSample(names []string, k int) []string {
	k = min(k, len(names))
	out := make([]string, 0, k)
	for i := range k {
		out = append(out, names[i*len(names)/k])
	}
	return out
}

// shortlived is short-lived mode: N Certificates with the shortlived profile at once,
// then they live until the simulated month ends; every renewal is checked for time.
func (b *bench) shortlived(ctx context.Context) error {
	c, r := b.cfg, b.res
	comp := c.comp
	tol := c.tolerance
	rt := newRenewalTracker()
	if err := rt.start(ctx, b); err != nil {
		return err
	}
	f := &shortLivedFigures{
		Compression: comp.Factor, ValiditySeconds: comp.Validity.Seconds(), MonthSeconds: comp.Month.Seconds(),
		RenewalIntervalSeconds:    round(comp.renewalInterval().Seconds(), 1),
		RequiredRenewalsPerSecond: round(comp.requiredRate(c.n), 2),
	}
	r.ShortLived = f
	r.line("short-lived month: compression %.0f, a 160 h certificate lives %s, renewed every %s (2/3), the 30-day month takes %s; %d Certificates need %.2f renewals/s",
		comp.Factor, comp.Validity, comp.renewalInterval().Round(time.Second), comp.Month, c.n, f.RequiredRenewalsPerSecond)
	monthEnd := time.Now().Add(comp.Month)

	list, _, _, err := b.issueBatch(ctx, "short-lived ACME Certificates")
	if err != nil {
		return err
	}
	if time.Now().After(monthEnd) {
		return fmt.Errorf("issuing %d Certificates took longer than the month (%s): lower --compression or -n", c.n, comp.Month)
	}

	// The steady part: from all Ready to the month's end.
	sample := evenSample(list, c.historySample)
	h0, herr := b.sampleTotals(ctx, sample)
	api0, err := scrapeRequests(ctx, b.kc)
	if err != nil {
		return fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	ts := time.Now()
	cpu0 := snapCPU(b.procs)
	sampler := startSampler(b.procs, c.sampleEvery)
	progress("all %d Ready; living until the month ends in %s", c.n, time.Until(monthEnd).Round(time.Second))
	tick := time.NewTicker(15 * time.Second)
	for now := time.Now(); now.Before(monthEnd); now = time.Now() {
		select {
		case <-ctx.Done():
			tick.Stop()
			sampler.stop()
			return context.Cause(ctx)
		case <-tick.C:
		case <-time.After(time.Until(monthEnd)):
		}
		snap := rt.snapshot()
		rf := checkRenewals(snap, time.Now(), tol)
		progress("%s of the month left: %d renewals (%d since all Ready, %.2f/s), %d late (worst %.1f s), %d expired while serving",
			time.Until(monthEnd).Round(time.Second), rf.Renewals, renewalsIn(snap, ts, time.Now()),
			float64(renewalsIn(snap, ts, time.Now()))/time.Since(ts).Seconds(), rf.Late, rf.LatenessMaxSeconds, rf.Expired)
	}
	tick.Stop()
	te := time.Now()
	cpu1 := snapCPU(b.procs)
	sampler.stop()
	api1, err := scrapeRequests(ctx, b.kc)
	if err != nil {
		return fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	snap := rt.snapshot()
	h1, herr1 := b.sampleTotals(ctx, sample)

	rf := checkRenewals(snap, te, tol)
	rt.mu.Lock()
	rf.UnparsedSecretWrites = rt.badSecrets
	rt.mu.Unlock()
	f.Renewals = rf
	f.SteadySeconds = round(te.Sub(ts).Seconds(), 1)
	f.SteadyRenewals = renewalsIn(snap, ts, te)
	f.SustainedRenewalsPerSecond = round(float64(f.SteadyRenewals)/te.Sub(ts).Seconds(), 2)
	f.Phase = phase(b.procs, cpu0, cpu1, sampler, r.Machine.Cores)
	f.CPUPerRenewalMs = map[string]float64{}
	if f.SteadyRenewals > 0 {
		total := 0.0
		for name, p := range f.Phase.Processes {
			ms := 1000 * p.CPUSeconds / float64(f.SteadyRenewals)
			f.CPUPerRenewalMs[name] = round(ms, 1)
			if name != procBench {
				total += ms
			}
		}
		f.CPUPerRenewalMsTotal = round(total, 1)
		f.API = diffRequests(api0, api1, f.SteadyRenewals)
	}
	sampleLines := map[string][]issuedCert{}
	for _, name := range sample {
		sampleLines[name] = snap[name]
	}
	f.HistorySampled = len(sample)
	f.HistoryRenewals = renewalsIn(sampleLines, ts, te)
	if herr == nil {
		herr = herr1
	}
	if herr != nil {
		f.HistoryError = herr.Error()
	} else if n := float64(f.HistoryRenewals); n > 0 {
		f.EventsPerRenewal = round(float64(h1.Events-h0.Events)/n, 1)
		f.BytesPerRenewal = round(float64(h1.Bytes-h0.Bytes)/n, 0)
		f.TasksPerRenewal = round(float64(h1.ByType["WorkflowTaskCompleted"]-h0.ByType["WorkflowTaskCompleted"])/n, 1)
		f.ActivitiesPerRenewal = round(float64(h1.ByType["ActivityTaskScheduled"]-h0.ByType["ActivityTaskScheduled"])/n, 1)
	}

	r.line("renewals over the month: %d (%d to %d per Certificate), %d in the steady part (%.0f s): sustained %.2f renewals/s (needed %.2f)",
		rf.Renewals, rf.RenewalsPerCertMin, rf.RenewalsPerCertMax, f.SteadyRenewals, f.SteadySeconds, f.SustainedRenewalsPerSecond, f.RequiredRenewalsPerSecond)
	r.line("renewal lateness (renewed seen − renewal time; %d of %d renewal times from the Certificate status, the rest the 2/3 point): p50 %.1f s, p99 %.1f s, worst %.1f s (= %s simulated)",
		rf.DueFromStatus, rf.Renewals, rf.LatenessP50Seconds, rf.LatenessP99Seconds, rf.LatenessMaxSeconds,
		comp.simulated(time.Duration(rf.LatenessMaxSeconds*float64(time.Second))).Round(time.Minute))
	r.line("late renewals (over %.0f s = %s simulated after the renewal time): %d (%d overdue at the end), early %d; expired while serving %d (worst %.1f s)",
		tol.Seconds(), comp.simulated(tol).Round(time.Minute), rf.Late, rf.Overdue, rf.Early, rf.Expired, rf.WorstExpiredSeconds)
	if rf.WorstLate != "" && rf.LatenessMaxSeconds > tol.Seconds() {
		r.line("latest renewal: %s", rf.WorstLate)
	}
	var per []string
	for _, name := range f.Phase.byCPU() {
		per = append(per, fmt.Sprintf("%s %.1f", name, f.CPUPerRenewalMs[name]))
	}
	r.line("CPU per renewal %.1f ms without certflow-bench (%s ms); steady part %.0f s wall, other processes on the machine %.1f s",
		f.CPUPerRenewalMsTotal, strings.Join(per, ", "), f.Phase.WallSeconds, f.Phase.OtherBusySeconds)
	r.line("kube-apiserver requests per renewal: %.1f writes, %.1f reads (%s)", f.API.WritesPerCert, f.API.ReadsPerCert, topRequests(f.API.ByVerbResource, 8))
	if f.HistoryError != "" {
		r.line("Temporal history per renewal: %s", f.HistoryError)
	} else {
		r.line("Temporal history per renewal (sample of %d Certificates, %d renewals, with Order and Challenge workflows): %.1f workflow tasks, %.1f events, %.0f bytes, %.1f activities",
			f.HistorySampled, f.HistoryRenewals, f.TasksPerRenewal, f.EventsPerRenewal, f.BytesPerRenewal, f.ActivitiesPerRenewal)
	}
	r.line("RSS at the end: %s", rssList(f.Phase, false, append([]string{procWorker, procWatcher}, stackProcs...)...))

	r.Targets = append(r.Targets,
		target{Figure: "certificates expired while serving", Want: "== 0", Value: float64(rf.Expired), Met: rf.Expired == 0},
		target{Figure: "late renewals", Want: "== 0", Value: float64(rf.Late), Met: rf.Late == 0})
	// Late renewals are a figure (what the stack sustains); an expired certificate in
	// a Secret is a failure.
	if rf.Expired > 0 {
		return fmt.Errorf("%d certificates expired while serving (%d late renewals)", rf.Expired, rf.Late)
	}
	return nil
}

// shortLivedProfile is the profile of the ACME ClusterIssuer in short-lived mode.
const shortLivedProfile = localstack.ProfileShortLived
