package workflows

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The pure part of the CampaignWorkflow: the rate and how it becomes batches on a timer,
// and the progress a campaign reports. No I/O, no clock: table-tested in
// campaign_pace_test.go.

// Rate is how many Certificates a campaign re-issues per period: Count per Per.
type Rate struct {
	Count int
	Per   time.Duration
}

// ParseRate reads "20/s", "100/m", "5/h" or a bare "20" (per second).
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	num, unit, found := strings.Cut(s, "/")
	per := time.Second
	if found {
		switch strings.TrimSpace(unit) {
		case "s", "sec", "second":
		case "m", "min", "minute":
			per = time.Minute
		case "h", "hour":
			per = time.Hour
		default:
			return Rate{}, fmt.Errorf("rate %q: the unit after / must be s, m or h (e.g. 20/s)", s)
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want a positive whole number of Certificates per s, m or h (e.g. 20/s)", s)
	}
	if n > MaxCampaignRatePerSecond*int(per/time.Second) {
		return Rate{}, fmt.Errorf("rate %q is above the limit of %d/s", s, MaxCampaignRatePerSecond)
	}
	return Rate{Count: n, Per: per}, nil
}

// MaxCampaignRatePerSecond bounds a campaign's rate: each re-issuance is an issuance
// the workers and the issuer do, and a signal in the campaign's history.
const MaxCampaignRatePerSecond = 1000

// String renders the rate as ParseRate reads it.
func (r Rate) String() string {
	unit := "s"
	switch r.Per {
	case time.Minute:
		unit = "m"
	case time.Hour:
		unit = "h"
	case time.Second:
	default:
		return fmt.Sprintf("%d/%s", r.Count, r.Per)
	}
	return fmt.Sprintf("%d/%s", r.Count, unit)
}

// maxCampaignBatch bounds the signals a campaign sends in one workflow task.
const maxCampaignBatch = 100

// pace turns a rate into a batch size sent every interval: about one batch a second,
// at most maxCampaignBatch at a time, and one Certificate at a time below 1/s.
func pace(r Rate) (batch int, interval time.Duration) {
	if r.Count <= 0 || r.Per <= 0 {
		return 1, time.Second
	}
	perSecond := float64(r.Count) / r.Per.Seconds()
	batch = int(math.Round(perSecond))
	batch = max(1, min(batch, maxCampaignBatch))
	interval = time.Duration(float64(r.Per) * float64(batch) / float64(r.Count))
	return batch, interval
}

// Campaign states, in CampaignProgress.State.
const (
	CampaignCounting  = "Counting"
	CampaignRunning   = "Running"
	CampaignPaused    = "Paused"
	CampaignCancelled = "Cancelled"
	CampaignFinished  = "Finished"
)

// maxCampaignFailures bounds the failures a campaign lists by name (all are counted).
const maxCampaignFailures = 50

// CampaignFailure is one Certificate the campaign could not re-issue, and why.
type CampaignFailure struct {
	Certificate string // namespace/name
	Reason      string
}

// CampaignProgress is the answer to the `progress` query and the campaign's result.
type CampaignProgress struct {
	State string
	// Selection says which Certificates, in words.
	Selection string `json:",omitempty"`
	// Total is the number of Certificates the selection matched when the campaign
	// counted them; Certificates made or deleted since move it when they are met.
	Total     int
	Done      int
	Failed    int
	Remaining int
	// InFlight counts renew signals sent and not yet delivered (counted in neither
	// Done nor Failed yet).
	InFlight int `json:",omitempty"`
	// Failures lists the first failures by name (at most 50); Failed counts them all.
	Failures []CampaignFailure `json:",omitempty"`
	Paused   bool
	Rate     string
	Started  time.Time
	Finished *time.Time `json:",omitempty"`
}

// recordDone counts one Certificate whose workflow took the renewal.
func (p *CampaignProgress) recordDone() {
	p.Done++
	p.settle()
}

// recordFailure counts one Certificate the campaign could not re-issue.
func (p *CampaignProgress) recordFailure(cert, reason string) {
	p.Failed++
	if len(p.Failures) < maxCampaignFailures {
		p.Failures = append(p.Failures, CampaignFailure{Certificate: cert, Reason: reason})
	}
	p.settle()
}

// settle keeps Total at least what was met, and Remaining what is left of it.
func (p *CampaignProgress) settle() {
	p.Total = max(p.Total, p.Done+p.Failed)
	p.Remaining = p.Total - p.Done - p.Failed
}

// finish ends the campaign: a finished one met every Certificate there was (Total is
// what it met), a cancelled one leaves the rest Remaining.
func (p *CampaignProgress) finish(cancelled bool, now time.Time) {
	if cancelled {
		p.State = CampaignCancelled
	} else {
		p.State = CampaignFinished
		p.Total = p.Done + p.Failed
	}
	p.Paused = false
	p.settle()
	p.Finished = &now
}

// Summary is the progress in one line, as the Web UI and the CLI show it.
func (p CampaignProgress) Summary() string {
	s := fmt.Sprintf("%s: %d of %d done, %d failed, %d remaining", p.State, p.Done, p.Total, p.Failed, p.Remaining)
	if p.InFlight > 0 {
		s += fmt.Sprintf(" (%d being signalled)", p.InFlight)
	}
	if p.Rate != "" {
		s += " at " + p.Rate
	}
	return s
}
