// Command benchplot turns the runs of hack/bench-curve.sh (certflow-bench JSON files,
// one per Temporal setup and N) into the cost curve: a summary JSON with one row per
// run, a PNG of CPU per certificate and throughput against N for each setup, and the
// summary as a Markdown table on stdout (for docs/bench.md and the README).
//
//	go run ./tools/benchplot -in out/curve -json docs/bench-curve.json -png docs/bench-curve.png
//	go run ./tools/benchplot -from docs/bench-curve.json -png docs/bench-curve.png
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// run is what the bench wrote that the curve shows.
type run struct {
	Mode     string `json:"mode"`
	N        int    `json:"n"`
	Temporal string `json:"temporal"`
	Workers  int    `json:"workers"`
	Error    string `json:"error"`
	Machine  struct {
		Cores         int       `json:"cores"`
		LoadavgStart  []float64 `json:"loadavg_start"`
		LoadavgFinish []float64 `json:"loadavg_end"`
	} `json:"machine"`
	Issuance *struct {
		CertsPerSecond float64            `json:"certs_per_s"`
		CPUPerCert     map[string]float64 `json:"cpu_per_cert_ms"`
		CPUTotal       float64            `json:"cpu_per_cert_ms_total"`
		P50            float64            `json:"latency_p50_s"`
		P99            float64            `json:"latency_p99_s"`
	} `json:"issuance"`
	API *struct {
		Writes float64 `json:"writes_per_cert"`
		Reads  float64 `json:"reads_per_cert"`
	} `json:"api"`
	History *struct {
		Events float64 `json:"events_per_cert"`
	} `json:"history"`
}

// Row is one run of the curve.
type Row struct {
	Setup   string  `json:"setup"` // "dev server, 1 worker", "PostgreSQL, 2 workers"
	N       int     `json:"n"`
	CertsPS float64 `json:"certs_per_s"`
	// CPU per certificate in ms: all processes but the bench, Temporal's share
	// (server and PostgreSQL), kube-apiserver with etcd, and certflow's own processes.
	CPUms          float64   `json:"cpu_per_cert_ms"`
	TemporalCPUms  float64   `json:"temporal_cpu_per_cert_ms"`
	KubeCPUms      float64   `json:"kube_cpu_per_cert_ms"`
	CertflowCPUms  float64   `json:"certflow_cpu_per_cert_ms"`
	Writes         float64   `json:"api_writes_per_cert"`
	Reads          float64   `json:"api_reads_per_cert"`
	HistoryEvents  float64   `json:"history_events_per_cert"`
	LatencyP50s    float64   `json:"latency_p50_s"`
	LatencyP99s    float64   `json:"latency_p99_s"`
	LoadavgAtStart []float64 `json:"loadavg_start"`
}

func setupName(temporal string, workers int) string {
	s := "dev server"
	if temporal == "postgres" {
		s = "PostgreSQL"
	}
	if workers == 1 {
		return s + ", 1 worker"
	}
	return fmt.Sprintf("%s, %d workers", s, workers)
}

// rowOf summarizes a run; an unfinished run (an error, no issuance) is an error.
func rowOf(r run) (Row, error) {
	if r.Error != "" || r.Issuance == nil || r.API == nil {
		return Row{}, fmt.Errorf("run %s N=%d did not finish: %s", r.Temporal, r.N, r.Error)
	}
	if r.Mode != "throughput" {
		return Row{}, fmt.Errorf("run %s N=%d: mode %q, want throughput", r.Temporal, r.N, r.Mode)
	}
	temporal, workers := r.Temporal, r.Workers
	if temporal == "" {
		temporal = "dev"
	}
	if workers == 0 {
		workers = 1
	}
	row := Row{
		Setup: setupName(temporal, workers), N: r.N, CertsPS: r.Issuance.CertsPerSecond,
		CPUms: r.Issuance.CPUTotal, Writes: r.API.Writes, Reads: r.API.Reads,
		LatencyP50s: r.Issuance.P50, LatencyP99s: r.Issuance.P99, LoadavgAtStart: r.Machine.LoadavgStart,
	}
	if r.History != nil {
		row.HistoryEvents = r.History.Events
	}
	for proc, ms := range r.Issuance.CPUPerCert {
		switch {
		case proc == "temporal" || proc == "postgres":
			row.TemporalCPUms += ms
		case proc == "kube-apiserver" || proc == "etcd":
			row.KubeCPUms += ms
		case strings.HasPrefix(proc, "certflow-") && proc != "certflow-bench":
			row.CertflowCPUms += ms
		}
	}
	return row, nil
}

// setupOrder puts the dev server first, then PostgreSQL by workers, each by N.
func setupOrder(a, b Row) bool {
	rank := func(r Row) string {
		if strings.HasPrefix(r.Setup, "dev") {
			return "0" + r.Setup
		}
		return "1" + r.Setup
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	return a.N < b.N
}

func readRuns(dir string) ([]Row, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no run in %s (hack/bench-curve.sh writes them)", dir)
	}
	var rows []Row
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r run
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		row, err := rowOf(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return setupOrder(rows[i], rows[j]) })
	return rows, nil
}

// markdown writes the rows as a table.
func markdown(w io.Writer, rows []Row) {
	fmt.Fprintln(w, "| setup | N | certs/s | CPU per cert | Temporal (+PostgreSQL) | kube-apiserver + etcd | certflow | API writes | history events | latency p50 / p99 |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f | %.0f | %.1f s / %.1f s |\n",
			r.Setup, r.N, r.CertsPS, r.CPUms, r.TemporalCPUms, r.KubeCPUms, r.CertflowCPUms, r.Writes, r.HistoryEvents, r.LatencyP50s, r.LatencyP99s)
	}
}

// series groups the rows by setup, in row order.
func series(rows []Row) (names []string, by map[string][]Row) {
	by = map[string][]Row{}
	for _, r := range rows {
		if _, ok := by[r.Setup]; !ok {
			names = append(names, r.Setup)
		}
		by[r.Setup] = append(by[r.Setup], r)
	}
	return names, by
}

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
}

// panel draws one figure of the rows against N (log scale) per setup.
func panel(title, ylabel string, rows []Row, y func(Row) float64, dashed func(Row) float64, dashedLabel string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "Certificates created at once (N)"
	p.Y.Label.Text = ylabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	// Headroom above the highest point keeps the legend off the lines.
	top := 0.0
	for _, r := range rows {
		top = max(top, y(r))
	}
	p.Y.Max = top * 1.6
	names, by := series(rows)
	for i, name := range names {
		c := palette[i%len(palette)]
		add := func(f func(Row) float64, label string, dash bool) error {
			var pts plotter.XYs
			for _, r := range by[name] {
				pts = append(pts, plotter.XY{X: float64(r.N), Y: f(r)})
			}
			l, s, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			l.Color, s.Color, s.Shape = c, c, draw.CircleGlyph{}
			l.Width = vg.Points(1.5)
			if dash {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				s.Shape = draw.RingGlyph{}
			}
			p.Add(l, s)
			p.Legend.Add(label, l, s)
			return nil
		}
		if err := add(y, name, false); err != nil {
			return nil, err
		}
		if dashed != nil {
			if err := add(dashed, name+": "+dashedLabel, true); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func drawPNG(path string, rows []Row) error {
	cpu, err := panel("CPU per certificate (all processes but the bench)", "ms", rows,
		func(r Row) float64 { return r.CPUms }, func(r Row) float64 { return r.TemporalCPUms }, "Temporal (+PostgreSQL)")
	if err != nil {
		return err
	}
	tput, err := panel("Throughput (2 cores)", "certificates/s", rows, func(r Row) float64 { return r.CertsPS }, nil, "")
	if err != nil {
		return err
	}
	const w, h = 14 * vg.Inch, 5.5 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{cpu, tput}}, tiles, dc)
	cpu.Draw(canvases[0][0])
	tput.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func main() {
	in := flag.String("in", "", "directory of certflow-bench JSON runs (hack/bench-curve.sh's out/curve)")
	from := flag.String("from", "", "a summary JSON written before (instead of -in)")
	jsonOut := flag.String("json", "", "write the summary JSON here")
	pngOut := flag.String("png", "", "write the plot here")
	flag.Parse()
	if err := mainErr(*in, *from, *jsonOut, *pngOut); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

func mainErr(in, from, jsonOut, pngOut string) error {
	var rows []Row
	switch {
	case in != "" && from == "":
		var err error
		if rows, err = readRuns(in); err != nil {
			return err
		}
	case from != "" && in == "":
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &rows); err != nil {
			return fmt.Errorf("%s: %w", from, err)
		}
	default:
		return errors.New("give one of -in and -from")
	}
	if jsonOut != "" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if pngOut != "" {
		if err := drawPNG(pngOut, rows); err != nil {
			return err
		}
	}
	markdown(os.Stdout, rows)
	return nil
}
