package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procMem is what /proc/<pid>/status says about a process's memory, in KiB.
type procMem struct {
	RSS, HWM int64 // VmRSS (now), VmHWM (peak since start)
}

// readProcMem reads VmRSS and VmHWM from /proc/<pid>/status.
func readProcMem(pid int) (procMem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (procMem, error) {
	var m procMem
	found := 0
	for line := range bytes.Lines(b) {
		var dst *int64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &m.RSS
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &m.HWM
		default:
			continue
		}
		f := strings.Fields(string(line))
		if len(f) < 2 {
			return m, fmt.Errorf("status line %q", line)
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return m, fmt.Errorf("status line %q: %w", line, err)
		}
		*dst = v
		found++
	}
	if found != 2 {
		return m, fmt.Errorf("no VmRSS/VmHWM in status (process exited?)")
	}
	return m, nil
}

// readProcCPU returns the user+system CPU time of a process in clock ticks, from
// /proc/<pid>/stat (fields 14 and 15).
func readProcCPU(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

func parseStatCPU(b []byte) (int64, error) {
	// The command name (field 2) is in parentheses and may hold spaces or ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat %q", b)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat utime/stime %q %q", f[11], f[12])
	}
	return u + s, nil
}

// machineCPU reads the first line of /proc/stat: busy and total ticks of all cores.
func machineCPU() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseMachineCPU(b)
}

func parseMachineCPU(b []byte) (busy, total int64, err error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("malformed /proc/stat line %q", line)
	}
	// user nice system idle iowait irq softirq steal guest guest_nice; guest time is
	// already counted in user, so stop at steal.
	for i, s := range f[1:] {
		if i >= 8 {
			break
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// clockTicks is the kernel's USER_HZ (AT_CLKTCK from the auxiliary vector); almost
// always 100.
var clockTicks = readClockTicks()

func readClockTicks() float64 {
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	for i := 0; i+16 <= len(b); i += 16 {
		k := binary.NativeEndian.Uint64(b[i:])
		v := binary.NativeEndian.Uint64(b[i+8:])
		if k == atClkTck && v > 0 {
			return float64(v)
		}
		if k == 0 {
			break
		}
	}
	return 100
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute load averages.
type loadAvg [3]float64

func readLoadAvg() (loadAvg, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return loadAvg{}, err
	}
	return parseLoadAvg(b)
}

func parseLoadAvg(b []byte) (loadAvg, error) {
	var l loadAvg
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return l, fmt.Errorf("malformed loadavg %q", b)
	}
	for i := range 3 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return l, err
		}
		l[i] = v
	}
	return l, nil
}

func (l loadAvg) String() string { return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2]) }
