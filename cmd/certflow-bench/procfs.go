package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
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
	st, err := parseStat(b)
	return st.utime + st.stime, err
}

// statFields are the fields of a /proc/<pid>/stat line the bench reads.
type statFields struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

func parseStat(b []byte) (statFields, error) {
	// The command name (field 2) is in parentheses and may hold spaces or ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return statFields{}, fmt.Errorf("malformed stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
	if len(f) < 15 {
		return statFields{}, fmt.Errorf("short stat %q", b)
	}
	var st statFields
	var errs [5]error
	st.ppid, errs[0] = strconv.Atoi(f[1])
	st.utime, errs[1] = strconv.ParseInt(f[11], 10, 64)
	st.stime, errs[2] = strconv.ParseInt(f[12], 10, 64)
	st.cutime, errs[3] = strconv.ParseInt(f[13], 10, 64)
	st.cstime, errs[4] = strconv.ParseInt(f[14], 10, 64)
	for _, err := range errs {
		if err != nil {
			return statFields{}, fmt.Errorf("stat %q: %w", b, err)
		}
	}
	return st, nil
}

// readTreeCPU returns the CPU time, in clock ticks, of a process and its live
// descendants, and of the children they have reaped (cutime, cstime). PostgreSQL serves
// each connection from a process its postmaster forks (in a session of its own, so
// not in the postmaster's process group).
func readTreeCPU(root int) (int64, error) {
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	procs := map[int]statFields{}
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		if st, err := parseStat(b); err == nil {
			procs[pid] = st
		}
	}
	return treeCPU(procs, root)
}

// treeCPU sums the CPU of root and its descendants among procs.
func treeCPU(procs map[int]statFields, root int) (int64, error) {
	if _, ok := procs[root]; !ok {
		return 0, fmt.Errorf("no process %d", root)
	}
	children := map[int][]int{}
	for pid, st := range procs {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var total int64
	for todo := []int{root}; len(todo) > 0; {
		pid := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		st := procs[pid]
		total += st.utime + st.stime + st.cutime + st.cstime
		todo = append(todo, children[pid]...)
	}
	return total, nil
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
