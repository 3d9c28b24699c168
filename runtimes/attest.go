package runtimes

// Attestation: once the container's process exists, read what the kernel
// says it holds and compare it with what the hardened spec promised.
//
// At create secshim appends an OCI poststart hook to config.json that runs
// secshim itself: `secshim attest --id ID --mode M ...`, the promise in its
// arguments. The runtime runs it with the container state (its pid) on
// stdin; secshim is not resident in between. Where the hook runs depends
// on the backend (measured with Podman):
//
//   - runc 1.1.5 runs poststart hooks during `create`, while the init
//     process waits on the exec fifo: capabilities, no_new_privs and the
//     seccomp filter are already in force there.
//   - crun 1.8.1 runs them in `start`, after the user's execve.
//
// A failing hook fails runc's create (so `podman run` fails with the
// message); crun only warns about a failing poststart hook, so there the
// kill is what enforces (podman run exits 137). Settings only
// tighten until the execve, so a pass is final; a mismatch is re-read for
// a short while (attestWait) before it counts, for a runtime that runs the
// hook before it has applied everything.
//
// Sandbox and VM backends (runsc, kata) report the sandbox's pid: the
// guest's state is not visible from the host. No hook is injected there;
// create logs an explicit "not_attestable" verdict instead.
//
// docs/attestation.md describes the modes, the checks and the log line.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// Attestation modes, [policy] attest.
const (
	AttestEnforce = "enforce" // a mismatch kills the container and fails the hook
	AttestAudit   = "audit"   // a mismatch is logged, the container runs
	AttestOff     = "off"     // no hook
)

// attestMode is the configured mode; the default is enforce.
func (c *Config) attestMode() string {
	if c.Policy.Attest == "" {
		return AttestEnforce
	}
	return c.Policy.Attest
}

func validAttestMode(m string) bool {
	return m == "" || m == AttestEnforce || m == AttestAudit || m == AttestOff
}

// sandboxBackend reports whether the backend runs the container in a
// sandbox or VM whose state the host cannot read (gVisor, Kata).
func sandboxBackend(b *Backend) bool {
	return b.Family() == FamilyRunsc || b.Name == "kata" || strings.Contains(filepath.Base(b.Path), "kata")
}

// promise is what the hardened spec promises about the container process.
type promise struct {
	// Caps bounds every capability set but the ambient one: the
	// bounding set the container ended with (Record.Caps).
	Caps hardening.CapSet
	// Ambient bounds the ambient set (process.capabilities.ambient).
	Ambient      hardening.CapSet
	NoNewPrivs   bool
	Seccomp      bool // linux.seccomp is set: a filter must be loaded
	ReadonlyRoot bool // root.readonly
}

// promiseOf reads the promise from the hardened spec.
func promiseOf(doc *spec.Object, res *hardening.Result) (promise, error) {
	p := promise{Caps: res.Caps, NoNewPrivs: res.NoNewPrivileges}
	if proc, ok, err := doc.Object("process"); err != nil {
		return p, err
	} else if ok {
		if caps, ok, err := proc.Object("capabilities"); err != nil {
			return p, err
		} else if ok {
			amb, _, err := caps.Strings("ambient")
			if err != nil {
				return p, err
			}
			// Unknown names cannot be checked; they only widen the set.
			if p.Ambient, err = hardening.ParseCapSet("process.capabilities.ambient", amb); err != nil {
				p.Ambient = hardening.CapSet(^uint64(0))
			}
		}
	}
	if linux, ok, err := doc.Object("linux"); err != nil {
		return p, err
	} else if ok {
		raw, has := linux.Raw("seccomp")
		p.Seccomp = has && !bytes.Equal(raw, []byte("null"))
	}
	if root, ok, err := doc.Object("root"); err != nil {
		return p, err
	} else if ok {
		ro, _, err := root.Bool("readonly")
		if err != nil {
			return p, err
		}
		p.ReadonlyRoot = ro
	}
	return p, nil
}

// args is the promise as attest flags.
func (p promise) args() []string {
	a := []string{"--caps", strconv.FormatUint(uint64(p.Caps), 16), "--ambient", strconv.FormatUint(uint64(p.Ambient), 16)}
	if p.NoNewPrivs {
		a = append(a, "--nnp")
	}
	if p.Seccomp {
		a = append(a, "--seccomp")
	}
	if p.ReadonlyRoot {
		a = append(a, "--readonly-root")
	}
	return a
}

// injectAttest adds the attestation hook to a hardened spec at create.
// For a sandbox backend it adds nothing and returns the verdict create
// logs instead. Pass-through profiles promise nothing: no hook.
func (r *call) injectAttest(doc *spec.Object, p *hardening.Policy, res *hardening.Result, root string, d *Decision) (*attestVerdict, error) {
	mode := r.cfg.attestMode()
	if mode == AttestOff || p.PassThrough {
		return nil, nil
	}
	if sandboxBackend(r.backend) {
		return &attestVerdict{ID: r.inv.ID, Backend: r.backend.Name, Profile: p.Name, Mode: mode,
			Verdict: verdictNotAttestable,
			Reason:  "not attestable on sandbox backend " + r.backend.Name + ": the container's capabilities, seccomp and no_new_privs live in the guest, which the host cannot read"}, nil
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot resolve secshim's own path for the hook: %w", err)
	}
	pr, err := promiseOf(doc, res)
	if err != nil {
		return nil, err
	}
	args := []string{"secshim", "attest", "--id", r.inv.ID, "--mode", mode, "--backend", r.backend.Name,
		"--profile", p.Name, "--state-dir", r.cfg.StateDir}
	if root != "" {
		args = append(args, "--root", root)
	}
	if r.cfg.Path != "" {
		args = append(args, "--config", r.cfg.Path)
	}
	args = append(args, pr.args()...)
	hook := make([]byte, 0, 512)
	hook = append(hook, `{"path":`...)
	hook = spec.AppendString(hook, self)
	hook = append(hook, `,"args":[`...)
	for i, a := range args {
		if i > 0 {
			hook = append(hook, ',')
		}
		hook = spec.AppendString(hook, a)
	}
	hook = append(hook, `],"timeout":10}`...)
	hooks, err := doc.EnsureObject("hooks")
	if err != nil {
		return nil, err
	}
	elems, _, err := hooks.Array("poststart")
	if err != nil {
		return nil, err
	}
	if err := hooks.SetArray("poststart", append(elems, hook)); err != nil {
		return nil, err
	}
	d.Changes = append(d.Changes, hardening.Change{Control: "attest", Field: "hooks.poststart", To: "secshim attest (" + mode + ")"})
	return nil, nil
}

// procState is what attestation reads of /proc/<pid>/status.
type procState struct {
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64
	NoNewPrivs, Seccomp                    int
}

var statusKeys = []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"}

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
		if !ok || len(k) < 6 || (k[0] != 'C' && k[0] != 'N' && k[0] != 'S') {
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
		if idx < 5 {
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
			*[]*int{&s.NoNewPrivs, &s.Seccomp}[idx-5] = n
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

// mismatch is one promise the process does not keep.
type mismatch struct {
	Field    string `json:"field"`
	Promised string `json:"promised"`
	Got      string `json:"got"`
}

func (m mismatch) String() string {
	return m.Field + " is " + m.Got + ", promised " + m.Promised
}

func capNamesOf(s uint64) string {
	names := hardening.CapSet(s).Names()
	if rest := s &^ uint64(hardening.AllCaps); rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(rest, 16))
	}
	return strings.Join(names, ",")
}

// compare lists each promise s breaks.
func (p promise) compare(s procState) []mismatch {
	var out []mismatch
	for _, c := range []struct {
		name  string
		got   uint64
		limit hardening.CapSet
		what  string
	}{
		{"CapBnd", s.CapBnd, p.Caps, "the bounding set"},
		{"CapPrm", s.CapPrm, p.Caps, "the bounding set"},
		{"CapEff", s.CapEff, p.Caps, "the bounding set"},
		{"CapInh", s.CapInh, p.Caps, "the bounding set"},
		{"CapAmb", s.CapAmb, p.Ambient, "the ambient set"},
	} {
		if extra := c.got &^ uint64(c.limit); extra != 0 {
			out = append(out, mismatch{c.name, fmt.Sprintf("within %s %016x", c.what, uint64(c.limit)),
				fmt.Sprintf("%016x (+%s)", c.got, capNamesOf(extra))})
		}
	}
	if p.NoNewPrivs && s.NoNewPrivs != 1 {
		out = append(out, mismatch{"NoNewPrivs", "1", strconv.Itoa(s.NoNewPrivs)})
	}
	if p.Seccomp && s.Seccomp != 2 {
		out = append(out, mismatch{"Seccomp", "2 (filter)", strconv.Itoa(s.Seccomp)})
	}
	return out
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

// Verdicts.
const (
	verdictPass          = "pass"
	verdictFail          = "fail"
	verdictExited        = "exited"         // the process was gone before it could be read
	verdictError         = "error"          // attest could not read the process
	verdictNotAttestable = "not_attestable" // sandbox or VM backend
)

// attestVerdict is one attestation's result: one log line.
type attestVerdict struct {
	ID, Backend, Profile, Mode string
	Pid                        int
	Verdict                    string
	Reason                     string
	Action                     string // "killed", "logged" or ""
	Mismatches                 []mismatch
	Elapsed                    time.Duration
}

// line is the verdict as one JSON line of the decision log (verb
// "attest"; docs/attestation.md).
func (v *attestVerdict) line(now time.Time) []byte {
	b := make([]byte, 0, 256+128*len(v.Mismatches))
	b = append(b, `{"time":`...)
	b = spec.AppendString(b, now.UTC().Format(time.RFC3339Nano))
	b = appendField(b, "id", v.ID)
	b = appendField(b, "verb", "attest")
	b = appendField(b, "backend", v.Backend)
	if v.Profile != "" {
		b = appendField(b, "profile", v.Profile)
	}
	b = append(b, `,"attest":{"verdict":`...)
	b = spec.AppendString(b, v.Verdict)
	b = appendField(b, "mode", v.Mode)
	if v.Pid > 0 {
		b = append(b, `,"pid":`...)
		b = strconv.AppendInt(b, int64(v.Pid), 10)
	}
	if v.Action != "" {
		b = appendField(b, "action", v.Action)
	}
	if v.Reason != "" {
		b = appendField(b, "reason", v.Reason)
	}
	b = append(b, `,"mismatches":[`...)
	for i, m := range v.Mismatches {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = spec.AppendString(b, m.Field)
		b = appendField(b, "promised", m.Promised)
		b = appendField(b, "got", m.Got)
		b = append(b, '}')
	}
	b = append(b, `],"elapsed_us":`...)
	b = strconv.AppendInt(b, v.Elapsed.Microseconds(), 10)
	return append(b, "},\"changes\":[]}\n"...)
}

// logAttest writes the verdict to the log file and syslog, as
// logDecision does.
func logAttest(cfg *Config, v *attestVerdict) {
	now := time.Now()
	b := v.line(now)
	if cfg.Log.File != "" {
		if err := appendLine(cfg.Log.File, b); err != nil {
			fmt.Fprintf(os.Stderr, "secshim: warning: decision log: %v\n", err)
		}
	}
	if SyslogSocket != "" {
		pri := syslogInfo
		if v.Verdict != verdictPass {
			pri = syslogWarning
		}
		if err := sendSyslog(SyslogSocket, pri, now, b[:len(b)-1]); err != nil {
			fmt.Fprintf(os.Stderr, "secshim: warning: syslog %s: %v\n", SyslogSocket, err)
		}
	}
}

const attestUsage = `usage: secshim attest --id ID [--mode enforce|audit] [--caps HEX] [--ambient HEX]
                      [--nnp] [--seccomp] [--readonly-root] [--backend B] [--profile P]
                      [--state-dir DIR] [--root ROOT] [--config FILE] < state.json

The OCI poststart hook secshim adds at create; not meant to be run by hand.
Reads the container state (its pid) on stdin, compares /proc/<pid>/status
(and mountinfo with --readonly-root) with the promise in the flags, and
logs the verdict. enforce: a mismatch kills the container and exits 1,
naming each mismatch on stderr; audit: it is logged, exit 0.
`

// attestWait bounds how long a mismatch is re-read before it counts.
var attestWait = 100 * time.Millisecond

// maxState bounds the state JSON read from stdin.
const maxState = 1 << 20

// attestIn is the hook's stdin; a seam for tests.
var attestIn io.Reader = os.Stdin

// attest is `secshim attest`, run by the runtime as a poststart hook.
func (a *admin) attest(args []string) int {
	start := time.Now()
	flags, pos, err := parseAdminFlags(args, map[string]bool{"id": true, "mode": true, "backend": true,
		"profile": true, "state-dir": true, "root": true, "config": true, "caps": true, "ambient": true,
		"nnp": false, "seccomp": false, "readonly-root": false, "help": false})
	if err != nil {
		return a.usage(attestUsage, "attest: "+err.Error())
	}
	if _, ok := flags["help"]; ok {
		fmt.Fprint(a.stdout, attestUsage)
		return exitOK
	}
	if len(pos) != 0 || flags["id"] == "" {
		return a.usage(attestUsage, "attest: expected --id and no arguments")
	}
	mode := flags["mode"]
	if mode == "" {
		mode = AttestEnforce
	}
	if mode != AttestEnforce && mode != AttestAudit {
		return a.usage(attestUsage, "attest: --mode: "+strconv.Quote(mode)+" is not enforce or audit")
	}
	var pr promise
	for _, f := range []struct {
		name string
		dst  *hardening.CapSet
	}{{"caps", &pr.Caps}, {"ambient", &pr.Ambient}} {
		v, ok := flags[f.name]
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 16, 64)
		if err != nil {
			return a.usage(attestUsage, "attest: --"+f.name+": not a hex capability mask")
		}
		*f.dst = hardening.CapSet(n)
	}
	_, pr.NoNewPrivs = flags["nnp"]
	_, pr.Seccomp = flags["seccomp"]
	_, pr.ReadonlyRoot = flags["readonly-root"]

	// The config only says where to log: the mode was fixed at create.
	var cfg *Config
	if path, ok := flags["config"]; ok {
		data, rerr := os.ReadFile(path)
		if rerr == nil {
			cfg, err = ParseConfig(path, data)
		} else {
			err = rerr
		}
	} else {
		cfg, err = LoadConfig()
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "secshim: attest: warning: %v; logging to the default log\n", err)
		cfg = DefaultConfig()
	}
	SyslogSocket = cfg.Log.syslogSocket()
	stateDir := flags["state-dir"]
	if stateDir == "" {
		stateDir = cfg.StateDir
	}
	// The record (written by secshim, not in the bundle) is the stricter
	// source for what the container was allowed.
	if rec, ok, _ := loadRecord(RecordPath(stateDir, flags["root"], flags["id"])); ok {
		pr.Caps &= rec.Caps
		pr.NoNewPrivs = pr.NoNewPrivs || rec.NoNewPrivileges
	}

	v := &attestVerdict{ID: flags["id"], Backend: flags["backend"], Profile: flags["profile"], Mode: mode}
	code := a.attestProcess(v, pr)
	v.Elapsed = time.Since(start)
	logAttest(cfg, v)
	return code
}

// attestProcess reads the state on stdin, checks the process and acts;
// v gets the verdict.
func (a *admin) attestProcess(v *attestVerdict, pr promise) int {
	fail := func(reason string) int {
		v.Verdict, v.Reason = verdictError, reason
		if v.Mode == AttestEnforce {
			fmt.Fprintf(a.stderr, "secshim: attestation of container %s failed: %s\n", v.ID, reason)
			return exitRefused
		}
		fmt.Fprintf(a.stderr, "secshim: warning: attestation of container %s: %s\n", v.ID, reason)
		return exitOK
	}
	data, err := io.ReadAll(io.LimitReader(attestIn, maxState+1))
	if err != nil || len(data) > maxState {
		return fail("cannot read the container state on stdin")
	}
	var st struct {
		ID  string `json:"id"`
		Pid int    `json:"pid"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return fail("container state on stdin: " + err.Error())
	}
	if st.ID != v.ID {
		return fail(fmt.Sprintf("the state on stdin is for container %q", st.ID))
	}
	if st.Pid <= 0 {
		return fail("the state on stdin has no pid")
	}
	v.Pid = st.Pid
	// A pidfd pins the process: the kill below cannot hit a reused pid.
	pidfd, err := unix.PidfdOpen(st.Pid, 0)
	if errors.Is(err, unix.ESRCH) {
		v.Verdict, v.Reason = verdictExited, "the process exited before it could be read"
		return exitOK
	}
	if err != nil {
		pidfd = -1
	} else {
		defer unix.Close(pidfd)
	}
	proc := "/proc/" + strconv.Itoa(st.Pid)
	deadline := time.Now().Add(attestWait)
	pause := time.Millisecond
	for {
		ms, gone, err := readAndCompare(proc, pr)
		if gone {
			v.Verdict, v.Reason = verdictExited, "the process exited before it could be read"
			return exitOK
		}
		if err != nil {
			return fail(err.Error())
		}
		v.Mismatches = ms
		if len(ms) == 0 || time.Now().After(deadline) {
			break
		}
		// A runtime may run the hook before it applied everything:
		// settings only tighten until the execve, look again.
		time.Sleep(pause)
		pause = min(2*pause, 32*time.Millisecond)
	}
	if len(v.Mismatches) == 0 {
		v.Verdict = verdictPass
		return exitOK
	}
	v.Verdict = verdictFail
	var what []string
	for _, m := range v.Mismatches {
		what = append(what, m.String())
	}
	msg := fmt.Sprintf("container %s (backend %s, pid %d) does not hold what its spec promised: %s",
		v.ID, v.Backend, v.Pid, strings.Join(what, "; "))
	if v.Mode == AttestAudit {
		v.Action = "logged"
		fmt.Fprintf(a.stderr, "secshim: warning: attestation (audit): %s\n", msg)
		return exitOK
	}
	if pidfd >= 0 {
		err = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	} else {
		err = unix.Kill(st.Pid, unix.SIGKILL)
	}
	v.Action = "killed"
	if err != nil && !errors.Is(err, unix.ESRCH) {
		v.Action = "kill failed: " + err.Error()
	}
	fmt.Fprintf(a.stderr, "secshim: attestation failed, container killed: %s\n", msg)
	return exitRefused
}

// readAndCompare reads the process's state once; gone: it no longer exists.
func readAndCompare(proc string, pr promise) (ms []mismatch, gone bool, err error) {
	b, err := os.ReadFile(proc + "/status")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	s, err := parseStatus(b)
	if err != nil {
		return nil, false, fmt.Errorf("%s/status: %v", proc, err)
	}
	ms = pr.compare(s)
	if pr.ReadonlyRoot {
		mi, err := os.ReadFile(proc + "/mountinfo")
		// A zombie has no mount namespace left: EINVAL, or nothing.
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EINVAL) || err == nil && len(mi) == 0 {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		ro, err := rootReadonly(mi)
		if err != nil {
			return nil, false, fmt.Errorf("%s/mountinfo: %v", proc, err)
		}
		if !ro {
			ms = append(ms, mismatch{"root", "read-only", "read-write"})
		}
	}
	return ms, false, nil
}
