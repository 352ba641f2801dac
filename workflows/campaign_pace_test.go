package workflows

import (
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Rate
		wantErr string
	}{
		{in: "20/s", want: Rate{20, time.Second}},
		{in: "20", want: Rate{20, time.Second}},
		{in: " 100/m ", want: Rate{100, time.Minute}},
		{in: "5/h", want: Rate{5, time.Hour}},
		{in: "1000/s", want: Rate{1000, time.Second}},
		{in: "1001/s", wantErr: "above the limit"},
		{in: "0/s", wantErr: "positive whole number"},
		{in: "-3/s", wantErr: "positive whole number"},
		{in: "2.5/s", wantErr: "positive whole number"},
		{in: "20/d", wantErr: "unit after /"},
		{in: "", wantErr: "positive whole number"},
		{in: "fast", wantErr: "positive whole number"},
	} {
		got, err := ParseRate(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseRate(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := ParseRate(got.String()); err != nil || back != got {
			t.Errorf("ParseRate(%q.String()=%q) = %v, %v", tc.in, got.String(), back, err)
		}
	}
}

func TestPace(t *testing.T) {
	for _, tc := range []struct {
		rate         Rate
		wantBatch    int
		wantInterval time.Duration
	}{
		{Rate{20, time.Second}, 20, time.Second},
		{Rate{50, time.Second}, 50, time.Second},
		{Rate{1, time.Second}, 1, time.Second},
		{Rate{1000, time.Second}, 100, 100 * time.Millisecond},
		{Rate{250, time.Second}, 100, 400 * time.Millisecond},
		{Rate{120, time.Minute}, 2, time.Second},
		{Rate{30, time.Minute}, 1, 2 * time.Second},
		{Rate{5, time.Hour}, 1, 12 * time.Minute},
		{Rate{90, time.Minute}, 2, 1333333333 * time.Nanosecond},
		{Rate{}, 1, time.Second},
	} {
		batch, interval := pace(tc.rate)
		if batch != tc.wantBatch || interval != tc.wantInterval {
			t.Errorf("pace(%v) = %d every %v, want %d every %v", tc.rate, batch, interval, tc.wantBatch, tc.wantInterval)
		}
	}
}

func TestCampaignProgress(t *testing.T) {
	start := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		total     int
		done      int
		failed    int
		cancelled bool
		want      CampaignProgress
	}{
		{name: "running", total: 10, done: 3, failed: 1,
			want: CampaignProgress{State: CampaignRunning, Total: 10, Done: 3, Failed: 1, Remaining: 6}},
		{name: "more met than counted", total: 2, done: 3, failed: 1,
			want: CampaignProgress{State: CampaignRunning, Total: 4, Done: 3, Failed: 1, Remaining: 0}},
		{name: "finished with fewer than counted (some deleted)", total: 10, done: 7, failed: 1, cancelled: false,
			want: CampaignProgress{State: CampaignFinished, Total: 8, Done: 7, Failed: 1, Remaining: 0, Finished: &start}},
		{name: "cancelled leaves the rest remaining", total: 10, done: 4, cancelled: true,
			want: CampaignProgress{State: CampaignCancelled, Total: 10, Done: 4, Remaining: 6, Finished: &start}},
		{name: "more than 50 failures are counted, 50 named", total: 60, failed: 60,
			want: CampaignProgress{State: CampaignRunning, Total: 60, Failed: 60, Remaining: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := CampaignProgress{State: CampaignRunning, Total: tc.total}
			for range tc.done {
				p.recordDone()
			}
			for i := range tc.failed {
				p.recordFailure("ns/c"+string(rune('a'+i%26)), "gone")
			}
			if tc.want.State != CampaignRunning {
				p.finish(tc.cancelled, start)
			}
			if len(p.Failures) != min(tc.failed, maxCampaignFailures) {
				t.Errorf("%d failures named, want %d", len(p.Failures), min(tc.failed, maxCampaignFailures))
			}
			p.Failures = nil
			if p.State != tc.want.State || p.Total != tc.want.Total || p.Done != tc.want.Done || p.Failed != tc.want.Failed ||
				p.Remaining != tc.want.Remaining || (p.Finished == nil) != (tc.want.Finished == nil) {
				t.Errorf("progress %+v, want %+v", p, tc.want)
			}
		})
	}
	p := CampaignProgress{State: CampaignPaused, Total: 500, Done: 120, Failed: 2, Remaining: 378, Rate: "50/s"}
	if got, want := p.Summary(), "Paused: 120 of 500 done, 2 failed, 378 remaining at 50/s"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}
