// Package logging is the binaries' log flags, as upstream's: --logging-format (text, or
// json for one JSON object per line) and -v (verbosity), applied to certflow's own lines
// and to client-go's (klog writes through the same handler).
package logging

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"k8s.io/klog/v2"
)

// Flags are the log flags.
type Flags struct {
	Format    string
	Verbosity int
}

// AddTo defines --logging-format and -v on fs.
func (f *Flags) AddTo(fs *flag.FlagSet) {
	fs.StringVar(&f.Format, "logging-format", "text", "log format: text, or json (one JSON object per line)")
	fs.IntVar(&f.Verbosity, "v", 0, "log verbosity, as klog's: 0 for info; 4 and above add debug lines")
}

// Args are the flags that differ from the defaults, for a child process.
func (f Flags) Args() []string {
	var a []string
	if f.Format != "" && f.Format != "text" {
		a = append(a, "--logging-format", f.Format)
	}
	if f.Verbosity != 0 {
		a = append(a, "-v", strconv.Itoa(f.Verbosity))
	}
	return a
}

// New returns the logger the flags ask for, writing to w, and makes klog (client-go's
// leader election, informers) write through it at the same verbosity.
func (f Flags) New(w io.Writer) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if f.Verbosity >= 4 {
		opts.Level = slog.LevelDebug
	}
	var h slog.Handler
	switch f.Format {
	case "", "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--logging-format %q: use text or json", f.Format)
	}
	l := slog.New(h)
	var kfs flag.FlagSet
	klog.InitFlags(&kfs)
	if err := kfs.Set("v", strconv.Itoa(f.Verbosity)); err != nil {
		return nil, err
	}
	klog.SetSlogLogger(l)
	return l, nil
}
