package main

import (
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"
)

// watched are the processes whose CPU and memory the bench reports, by name.
type watched map[string]int

// cpuSnap is the CPU time of every watched process and of the machine at one moment.
type cpuSnap struct {
	at                 time.Time
	ticks              map[string]int64
	machBusy, machTime int64
}

// forking names the processes whose CPU includes their descendants': servers that
// fork their workers.
var forking = map[string]bool{"postgres": true}

func snapCPU(w watched) cpuSnap {
	s := cpuSnap{at: time.Now(), ticks: map[string]int64{}}
	for name, pid := range w {
		read := readProcCPU
		if forking[name] {
			read = readTreeCPU
		}
		if t, err := read(pid); err == nil {
			s.ticks[name] = t
		}
	}
	s.machBusy, s.machTime, _ = machineCPU()
	return s
}

// procFigures are one process's figures over a phase. Memory in MiB.
type procFigures struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPercent is CPU time over wall time: 100 = one core busy for the whole phase.
	CPUPercent float64 `json:"cpu_pct"`
	RSSMiB     float64 `json:"rss_mib"`      // VmRSS at the end of the phase
	PeakRSSMiB float64 `json:"peak_rss_mib"` // VmHWM: the highest RSS since the process started
	// Sampled RSS during the phase (sampled every SampleEvery).
	MaxSampledRSSMiB  float64 `json:"max_sampled_rss_mib,omitempty"`
	MeanSampledRSSMiB float64 `json:"mean_sampled_rss_mib,omitempty"`
}

// phaseFigures is CPU and memory of the watched processes over one phase.
type phaseFigures struct {
	WallSeconds float64                 `json:"wall_s"`
	Processes   map[string]*procFigures `json:"processes"`
	// MachineBusySeconds is the CPU time all cores spent busy (from /proc/stat), and
	// OtherBusySeconds the part not spent in the watched processes: other users of the
	// machine, the kernel's own threads.
	MachineBusySeconds float64 `json:"machine_busy_s"`
	OtherBusySeconds   float64 `json:"other_busy_s"`
	MachineCapacity    float64 `json:"machine_capacity_s"` // wall time x cores
	SampleEvery        string  `json:"sample_every,omitempty"`
}

// rssSampler samples the VmRSS of the watched processes until stopped.
type rssSampler struct {
	stopCh chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	max    map[string]int64
	sum    map[string]int64
	n      map[string]int
	every  time.Duration
}

func startSampler(w watched, every time.Duration) *rssSampler {
	s := &rssSampler{stopCh: make(chan struct{}), done: make(chan struct{}), max: map[string]int64{}, sum: map[string]int64{}, n: map[string]int{}, every: every}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample(w)
			select {
			case <-s.stopCh:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) sample(w watched) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, pid := range w {
		m, err := readProcMem(pid)
		if err != nil {
			continue
		}
		s.max[name] = max(s.max[name], m.RSS)
		s.sum[name] += m.RSS
		s.n[name]++
	}
}

func (s *rssSampler) stop() {
	close(s.stopCh)
	<-s.done
}

func kibToMiB(k int64) float64 { return round(float64(k)/1024, 1) }

// phase computes the figures between two snapshots; sampler may be nil.
func phase(w watched, a, b cpuSnap, s *rssSampler, cores int) phaseFigures {
	wall := b.at.Sub(a.at).Seconds()
	f := phaseFigures{WallSeconds: round(wall, 3), Processes: map[string]*procFigures{}}
	ours := 0.0
	for name, pid := range w {
		p := &procFigures{PID: pid}
		if t0, ok := a.ticks[name]; ok {
			if t1, ok := b.ticks[name]; ok {
				sec := float64(t1-t0) / clockTicks
				ours += sec
				p.CPUSeconds = round(sec, 2)
				if wall > 0 {
					p.CPUPercent = round(100*sec/wall, 2)
				}
			}
		}
		if m, err := readProcMem(pid); err == nil {
			p.RSSMiB, p.PeakRSSMiB = kibToMiB(m.RSS), kibToMiB(m.HWM)
		}
		if s != nil {
			s.mu.Lock()
			if s.n[name] > 0 {
				p.MaxSampledRSSMiB = kibToMiB(s.max[name])
				p.MeanSampledRSSMiB = kibToMiB(s.sum[name] / int64(s.n[name]))
			}
			s.mu.Unlock()
			f.SampleEvery = s.every.String()
		}
		f.Processes[name] = p
	}
	if b.machBusy > 0 {
		busy := float64(b.machBusy-a.machBusy) / clockTicks
		f.MachineBusySeconds = round(busy, 2)
		f.OtherBusySeconds = round(math.Max(busy-ours, 0), 2)
	}
	f.MachineCapacity = round(wall*float64(cores), 2)
	return f
}

// byCPU returns the process names, busiest first.
func (f phaseFigures) byCPU() []string {
	names := slices.Sorted(maps.Keys(f.Processes))
	sort.SliceStable(names, func(i, j int) bool {
		return f.Processes[names[i]].CPUSeconds > f.Processes[names[j]].CPUSeconds
	})
	return names
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
