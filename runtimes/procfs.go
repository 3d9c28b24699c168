package runtimes

// Reading a process's kernel state under /proc, shared by attestation (the
// poststart hook) and `secshim check`. Each reader reads one file and
// nothing it was not asked for: the hook runs once per container start.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// procRoot is where /proc is, cgroupRoot where the host mounts its cgroup
// hierarchies. Seams for tests (the reader's own namespaces come from
// attestHost).
var (
	procRoot   = "/proc"
	cgroupRoot = "/sys/fs/cgroup"
)

// readProc reads a /proc file (spec.ReadFile reads it 4 KiB at a time).
func readProc(path string) ([]byte, error) { return spec.ReadFile(path) }

// procState is what attestation reads of /proc/<pid>/status.
type procState struct {
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64
	NoNewPrivs, Seccomp, Threads           int
	State                                  byte // 'R', 'S', ... 'Z' for a zombie
}

var statusKeys = []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Threads", "State"}

// parseStatus reads the fields of procState; each must be present.
func parseStatus(b []byte) (procState, error) {
	var s procState
	seen := 0
	for len(b) > 0 && seen != 1<<len(statusKeys)-1 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(k) < 5 || (k[0] != 'C' && k[0] != 'N' && k[0] != 'S' && k[0] != 'T') {
			continue
		}
		idx := -1
		for i, key := range statusKeys {
			if string(k) == key {
				idx = i
				break
			}
		}
		if idx < 0 {
			continue
		}
		v = bytes.TrimSpace(v)
		if idx == 8 {
			if len(v) == 0 {
				return s, fmt.Errorf("State: empty")
			}
			s.State = v[0]
		} else if idx < 5 {
			n, err := strconv.ParseUint(string(v), 16, 64)
			if err != nil {
				return s, fmt.Errorf("%s: %q: %v", k, v, err)
			}
			*[]*uint64{&s.CapInh, &s.CapPrm, &s.CapEff, &s.CapBnd, &s.CapAmb}[idx] = n
		} else {
			n, err := strconv.Atoi(string(v))
			if err != nil {
				return s, fmt.Errorf("%s: %q: %v", k, v, err)
			}
			*[]*int{&s.NoNewPrivs, &s.Seccomp, &s.Threads}[idx-5] = n
		}
		seen |= 1 << idx
	}
	if seen != 1<<len(statusKeys)-1 {
		var missing []string
		for i, k := range statusKeys {
			if seen&(1<<i) == 0 {
				missing = append(missing, k)
			}
		}
		return s, fmt.Errorf("no %s line", strings.Join(missing, ", "))
	}
	return s, nil
}

// pfExiting is the kernel's PF_EXITING task flag (include/linux/sched.h).
const pfExiting = 0x4

// exiting reports whether the task of a /proc/PID directory has begun to
// exit (PF_EXITING in /proc/PID/stat's flags): its namespaces and cgroup
// are being taken apart, and it runs no more code of its own.
func exiting(proc string) (bool, error) {
	b, err := readProc(proc + "/stat")
	if err != nil {
		return false, err
	}
	// "PID (COMM) STATE PPID PGRP SESSION TTY TPGID FLAGS ...": COMM may
	// hold anything, so fields count from its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false, fmt.Errorf("%s/stat: no command field", proc)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 7 {
		return false, fmt.Errorf("%s/stat: %d fields after the command", proc, len(f))
	}
	flags, err := strconv.ParseUint(string(f[6]), 10, 64)
	if err != nil {
		return false, fmt.Errorf("%s/stat: flags: %v", proc, err)
	}
	return flags&pfExiting != 0, nil
}

// rootReadonly reads from mountinfo whether the process's root mount is
// read-only: the last mount on "/" is the one the process sees.
func rootReadonly(mountinfo []byte) (bool, error) {
	found, ro := false, false
	for _, line := range bytes.Split(mountinfo, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 6 || string(f[4]) != "/" {
			continue
		}
		found, ro = true, false
		for _, o := range bytes.Split(f[5], []byte(",")) {
			if string(o) == "ro" {
				ro = true
			}
		}
	}
	if !found {
		return false, errors.New("no mount on / in mountinfo")
	}
	return ro, nil
}

// sharedNamespaces compares the process's namespaces of the given
// runtime-spec types with the reader's own: shared lists those it shares,
// unreadable those that could not be compared.
func sharedNamespaces(procDir string, types []string) (shared, unreadable []string) {
	host := attestHost()
	for _, t := range types {
		name := hardening.ProcNSName(t)
		if name == "" {
			unreadable = append(unreadable, t)
			continue
		}
		theirs, err1 := host.NamespaceID(filepath.Join(procDir, "ns", name))
		ours, err2 := host.RuntimeNamespace(t)
		switch {
		case err1 != nil || err2 != nil:
			unreadable = append(unreadable, t)
		case theirs == ours:
			shared = append(shared, t)
		}
	}
	return shared, unreadable
}

// cgroupLimit is one controller's limit as the kernel holds it for a
// process's cgroup.
type cgroupLimit struct {
	Found bool   // the process's cgroup of that controller was found
	Max   int64  // the limit; -1 when unlimited
	File  string // the file it was read from
}

func (l cgroupLimit) String() string {
	switch {
	case !l.Found:
		return "no cgroup found"
	case l.Max < 0:
		return "unlimited"
	}
	return strconv.FormatInt(l.Max, 10)
}

// v1Unlimited: cgroup v1 shows "no memory limit" as the largest page
// multiple (0x7ffffffffffff000); anything this large is no limit.
const v1Unlimited = 1 << 62

// cgroupLimits reads the pids and memory limits of the process's cgroups
// from /proc/PID/cgroup: a v1 hierarchy of the controller where there is
// one, else the unified (v2) hierarchy when it is mounted at cgroupRoot.
// Paths are as the reader's cgroup namespace sees them: read from the host.
func cgroupLimits(procDir string) (pids, memory cgroupLimit, err error) {
	data, err := readProc(filepath.Join(procDir, "cgroup"))
	if err != nil {
		return pids, memory, err
	}
	var pidsV1, memV1, v2 string
	var hasPidsV1, hasMemV1, hasV2 bool
	for _, line := range strings.Split(string(data), "\n") {
		hier, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		ctrls, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if hier == "0" && ctrls == "" {
			v2, hasV2 = path, true
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			switch c {
			case "pids":
				pidsV1, hasPidsV1 = path, true
			case "memory":
				memV1, hasMemV1 = path, true
			}
		}
	}
	unified := false
	if hasV2 && (!hasPidsV1 || !hasMemV1) {
		_, serr := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
		unified = serr == nil
	}
	read := func(v1Path string, hasV1 bool, ctrl, v1File, v2File string) (cgroupLimit, error) {
		var l cgroupLimit
		switch {
		case hasV1:
			l.File = filepath.Join(cgroupRoot, ctrl, v1Path, v1File)
		case unified:
			l.File = filepath.Join(cgroupRoot, v2, v2File)
		default:
			return l, nil
		}
		b, err := readProc(l.File)
		if errors.Is(err, fs.ErrNotExist) {
			// A hierarchy not mounted where expected: not found. The
			// root cgroup has no limit file: unlimited.
			if _, serr := os.Stat(filepath.Dir(l.File)); serr == nil {
				l.Found, l.Max = true, -1
			}
			return l, nil
		}
		if err != nil {
			return l, err
		}
		v := strings.TrimSpace(string(b))
		l.Found = true
		if v == "max" {
			l.Max = -1
			return l, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return l, fmt.Errorf("%s: %q is not a limit", l.File, v)
		}
		if n >= v1Unlimited {
			n = -1
		}
		l.Max = n
		return l, nil
	}
	if pids, err = read(pidsV1, hasPidsV1, "pids", "pids.max", "pids.max"); err != nil {
		return pids, memory, err
	}
	memory, err = read(memV1, hasMemV1, "memory", "memory.limit_in_bytes", "memory.max")
	return pids, memory, err
}

// lsmAttr reads one of the process's LSM attributes ("current": its
// label; "exec": the label its next execve takes), preferring the LSM's
// own directory (attr/apparmor/current) where the kernel has one.
func lsmAttr(procDir, lsm, attr string) string {
	b, err := readProc(filepath.Join(procDir, "attr", lsm, attr))
	if err != nil {
		b, _ = readProc(filepath.Join(procDir, "attr", attr))
	}
	return strings.TrimRight(string(b), "\x00\n")
}

// apparmorName is the profile name of an AppArmor label ("NAME (MODE)").
func apparmorName(label string) string {
	if i := strings.LastIndex(label, " ("); i >= 0 && strings.HasSuffix(label, ")") {
		return label[:i]
	}
	return label
}
