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
	// Namespaces are the runtime-spec types the container gets anew
	// (linux.namespaces entries without a path): none may be the host's.
	Namespaces []string
	// Pids and Memory are linux.resources' pids and memory limits (0:
	// none promised): the cgroup must hold one at least as low.
	Pids, Memory int64
	// SELinuxLabel and AppArmorProfile are process.selinuxLabel and
	// process.apparmorProfile.
	SELinuxLabel, AppArmorProfile string
}

// promiseOf reads the promise from the hardened spec.
func promiseOf(doc *spec.Object, res *hardening.Result) (promise, error) {
	p := promise{Caps: res.Caps, NoNewPrivs: res.NoNewPrivileges}
	if proc, ok, err := doc.Object("process"); err != nil {
		return p, err
	} else if ok {
		if p.SELinuxLabel, _, err = proc.String("selinuxLabel"); err != nil {
			return p, err
		}
		if p.AppArmorProfile, _, err = proc.String("apparmorProfile"); err != nil {
			return p, err
		}
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
		nss, _, err := linux.Array("namespaces")
		if err != nil {
			return p, err
		}
		for _, raw := range nss {
			ns, err := spec.ParseObject(raw)
			if err != nil {
				return p, fmt.Errorf("linux.namespaces: %w", err)
			}
			typ, _, err := ns.String("type")
			if err != nil {
				return p, err
			}
			if path, _, err := ns.String("path"); err != nil {
				return p, err
			} else if path == "" && hardening.ProcNSName(typ) != "" {
				p.Namespaces = append(p.Namespaces, typ)
			}
		}
		if res, ok, err := linux.Object("resources"); err != nil {
			return p, err
		} else if ok {
			for _, l := range []struct {
				key string
				dst *int64
			}{{"pids", &p.Pids}, {"memory", &p.Memory}} {
				o, ok, err := res.Object(l.key)
				if err != nil {
					return p, err
				}
				if !ok {
					continue
				}
				n, _, err := o.Int64("limit")
				if err != nil {
					return p, err
				}
				*l.dst = max(n, 0)
			}
		}
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
	if len(p.Namespaces) > 0 {
		a = append(a, "--ns", strings.Join(p.Namespaces, ","))
	}
	if p.Pids > 0 {
		a = append(a, "--pids", strconv.FormatInt(p.Pids, 10))
	}
	if p.Memory > 0 {
		a = append(a, "--memory", strconv.FormatInt(p.Memory, 10))
	}
	if p.SELinuxLabel != "" {
		a = append(a, "--selinux", p.SELinuxLabel)
	}
	if p.AppArmorProfile != "" {
		a = append(a, "--apparmor", p.AppArmorProfile)
	}
	return a
}

// injectAttest adds the attestation hook to a hardened spec at create and
// returns what the create line says of attestation: "pending" (the hook
// will report), "not_attestable" (sandbox backend: no hook), "off" or
// "none" (a pass-through profile promises nothing).
func (r *call) injectAttest(doc *spec.Object, p *hardening.Policy, res *hardening.Result, root string, d *Decision) (*attestVerdict, error) {
	mode := r.cfg.attestMode()
	v := &attestVerdict{Mode: mode}
	switch {
	case mode == AttestOff:
		v.Verdict = verdictOff
		return v, nil
	case p.PassThrough:
		v.Verdict, v.Reason = verdictNone, "profile "+p.Name+" is a pass-through: it promises nothing"
		return v, nil
	case sandboxBackend(r.backend):
		v.Verdict = verdictNotAttestable
		v.Reason = "not attestable on sandbox backend " + r.backend.Name + ": the container's capabilities, seccomp and no_new_privs live in the guest, which the host cannot read"
		return v, nil
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
	v.Verdict = verdictPending
	return v, nil
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

// Verdicts.
const (
	verdictPass          = "pass"
	verdictFail          = "fail"
	verdictExited        = "exited"         // the process was gone before it could be read
	verdictError         = "error"          // attest could not read the process
	verdictNotAttestable = "not_attestable" // sandbox or VM backend
	// States the create line gives before any hook ran.
	verdictPending = "pending" // the hook is in the spec and will report
	verdictOff     = "off"     // [policy] attest = "off"
	verdictNone    = "none"    // a pass-through profile: nothing promised
)

// attestVerdict is what a decision line says of attestation: the create
// line's state of it (pending, not_attestable, off, none) or the hook's
// verdict (the "attest" line).
type attestVerdict struct {
	Mode       string
	Pid        int
	Verdict    string
	Reason     string
	Action     string // "killed", "logged" or ""
	Mismatches []mismatch
	// Unchecked names the promises this host cannot check, each with why.
	Unchecked []string
	Elapsed   time.Duration
}

// failed: a verdict that is not a clean pass or a known state.
func (v *attestVerdict) failed() bool {
	return v.Verdict == verdictFail || v.Verdict == verdictError
}

// appendAttest appends v as the "attest" member of a decision line
// (docs/attestation.md).
func appendAttest(b []byte, v *attestVerdict) []byte {
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
	b = append(b, ']')
	if len(v.Unchecked) > 0 {
		b = append(b, `,"unchecked":[`...)
		for i, u := range v.Unchecked {
			if i > 0 {
				b = append(b, ',')
			}
			b = spec.AppendString(b, u)
		}
		b = append(b, ']')
	}
	if v.Elapsed > 0 {
		b = append(b, `,"elapsed_us":`...)
		b = strconv.AppendInt(b, v.Elapsed.Microseconds(), 10)
	}
	return append(b, '}')
}

const attestUsage = `usage: secshim attest --id ID [--mode enforce|audit] [--caps HEX] [--ambient HEX]
                      [--nnp] [--seccomp] [--readonly-root] [--ns TYPE,...]
                      [--pids N] [--memory BYTES] [--selinux LABEL] [--apparmor PROFILE]
                      [--backend B] [--profile P] [--state-dir DIR] [--root ROOT]
                      [--config FILE] < state.json

The OCI poststart hook secshim adds at create; not meant to be run by hand.
Reads the container state (its pid) on stdin, compares /proc/<pid> (status;
mountinfo, ns/*, cgroup limits and the LSM label as promised) with the
promise in the flags, logs the verdict and notes it in secshim's record of
the container. enforce: a mismatch kills the container and exits 1, naming
each mismatch on stderr; audit: it is logged, exit 0.
`

// attestWait bounds how long a mismatch is re-read before it counts.
var attestWait = 100 * time.Millisecond

// maxState bounds the state JSON read from stdin.
const maxState = 1 << 20

// attestIn is the hook's stdin; a seam for tests.
var attestIn io.Reader = os.Stdin

// attestHost answers whether this host enforces an LSM; a seam for tests.
var attestHost = hardening.DefaultHost

// attest is `secshim attest`, run by the runtime as a poststart hook.
func (a *admin) attest(args []string) int {
	start := time.Now()
	flags, pos, err := parseAdminFlags(args, map[string]bool{"id": true, "mode": true, "backend": true,
		"profile": true, "state-dir": true, "root": true, "config": true, "caps": true, "ambient": true,
		"ns": true, "pids": true, "memory": true, "selinux": true, "apparmor": true,
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
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"pids", &pr.Pids}, {"memory", &pr.Memory}} {
		v, ok := flags[f.name]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return a.usage(attestUsage, "attest: --"+f.name+": not a positive limit")
		}
		*f.dst = n
	}
	if ns := flags["ns"]; ns != "" {
		for _, t := range strings.Split(ns, ",") {
			if hardening.ProcNSName(t) == "" {
				return a.usage(attestUsage, "attest: --ns: "+strconv.Quote(t)+" is not a namespace type")
			}
			pr.Namespaces = append(pr.Namespaces, t)
		}
	}
	_, pr.NoNewPrivs = flags["nnp"]
	_, pr.Seccomp = flags["seccomp"]
	_, pr.ReadonlyRoot = flags["readonly-root"]
	pr.SELinuxLabel, pr.AppArmorProfile = flags["selinux"], flags["apparmor"]

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
	recPath := RecordPath(stateDir, flags["root"], flags["id"])
	rec, haveRec, _ := loadRecord(recPath)
	if haveRec {
		pr.Caps &= rec.Caps
		pr.NoNewPrivs = pr.NoNewPrivs || rec.NoNewPrivileges
	}

	d := Decision{ID: flags["id"], Verb: "attest", Backend: flags["backend"], Profile: flags["profile"],
		Attest: &attestVerdict{Mode: mode}}
	v := d.Attest
	// A label the host's LSM does not enforce cannot hold: say so rather
	// than fail a container the engine labelled on a host without it.
	host := attestHost()
	if pr.SELinuxLabel != "" && !host.SELinuxEnabled() {
		v.Unchecked = append(v.Unchecked, "process.selinuxLabel: SELinux is not enabled on this host")
		pr.SELinuxLabel = ""
	}
	if pr.AppArmorProfile != "" && (pr.AppArmorProfile == "unconfined" || !host.AppArmorEnabled()) {
		if pr.AppArmorProfile != "unconfined" {
			v.Unchecked = append(v.Unchecked, "process.apparmorProfile: AppArmor is not enabled on this host")
		}
		pr.AppArmorProfile = ""
	}
	msg, code := a.attestProcess(&d, pr)
	v.Elapsed = time.Since(start)
	LogDecision(cfg, d)
	if haveRec {
		if err := noteAttested(recPath, v.Verdict, msg); err != nil {
			fmt.Fprintf(a.stderr, "secshim: attest: warning: record: %v\n", err)
		}
	}
	return code
}

// attestProcess reads the state on stdin, checks the process and acts;
// d.Attest gets the verdict. msg is the failure as the hook reported it.
func (a *admin) attestProcess(d *Decision, pr promise) (msg string, code int) {
	v := d.Attest
	fail := func(reason string) (string, int) {
		v.Verdict, v.Reason = verdictError, reason
		msg := fmt.Sprintf("attestation of container %s failed: %s", d.ID, reason)
		if v.Mode == AttestEnforce {
			fmt.Fprintf(a.stderr, "secshim: %s\n", msg)
			return msg, exitRefused
		}
		fmt.Fprintf(a.stderr, "secshim: warning: attestation of container %s: %s\n", d.ID, reason)
		return msg, exitOK
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
	if st.ID != d.ID {
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
		return "", exitOK
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
			return "", exitOK
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
		return "", exitOK
	}
	v.Verdict = verdictFail
	var what []string
	for _, m := range v.Mismatches {
		what = append(what, m.String())
	}
	broken := fmt.Sprintf("container %s (backend %s, pid %d) does not hold what its spec promised: %s",
		d.ID, d.Backend, v.Pid, strings.Join(what, "; "))
	if v.Mode == AttestAudit {
		v.Action = "logged"
		fmt.Fprintf(a.stderr, "secshim: warning: attestation (audit): %s\n", broken)
		return "attestation (audit): " + broken, exitOK
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
	msg = "attestation failed, container killed: " + broken
	fmt.Fprintf(a.stderr, "secshim: %s\n", msg)
	return msg, exitRefused
}

// readAndCompare reads the process's state once; gone: it has exited
// (a zombie keeps its status, but its other state is going).
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
	if s.State == 'Z' || s.State == 'X' {
		return nil, true, nil
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
	if len(pr.Namespaces) > 0 {
		shared, unreadable := sharedNamespaces(proc, pr.Namespaces)
		for _, t := range shared {
			ms = append(ms, mismatch{"ns/" + hardening.ProcNSName(t), "its own " + t + " namespace", "the host's (the runtime's own)"})
		}
		for _, t := range unreadable {
			ms = append(ms, mismatch{"ns/" + hardening.ProcNSName(t), "its own " + t + " namespace", "unreadable"})
		}
	}
	if pr.Pids > 0 || pr.Memory > 0 {
		pids, mem, err := cgroupLimits(proc)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return nil, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		for _, c := range []struct {
			field   string
			limit   cgroupLimit
			promise int64
		}{{"pids.max", pids, pr.Pids}, {"memory limit", mem, pr.Memory}} {
			if c.promise > 0 && (!c.limit.Found || c.limit.Max < 0 || c.limit.Max > c.promise) {
				ms = append(ms, mismatch{c.field, "at most " + strconv.FormatInt(c.promise, 10), c.limit.String()})
			}
		}
	}
	// runc sets the label for the execve (attr/exec) before the hook runs;
	// crun runs the hook after it (attr/current).
	if l := pr.SELinuxLabel; l != "" {
		if cur := lsmAttr(proc, "selinux", "current"); cur != l && lsmAttr(proc, "selinux", "exec") != l {
			ms = append(ms, mismatch{"attr/current", "SELinux label " + l, "SELinux label " + orNone(cur)})
		}
	}
	if p := pr.AppArmorProfile; p != "" {
		cur := lsmAttr(proc, "apparmor", "current")
		if apparmorName(cur) != p && apparmorName(lsmAttr(proc, "apparmor", "exec")) != p {
			ms = append(ms, mismatch{"attr/current", "AppArmor profile " + p, "AppArmor label " + orNone(cur)})
		}
	}
	return ms, false, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// awaitsAttestation: the container's enforcing hook has not reported yet,
// so it will run inside `start` (crun runs poststart hooks there; runc
// 1.1 already ran it in create).
func (r *Record) awaitsAttestation() bool {
	return r != nil && r.Attest == AttestEnforce && r.Attested == ""
}

// startAttested serves `start` for a container whose hook runs inside it.
// crun follows the OCI rule that a failing poststart hook is only a
// warning, so the backend runs as a child and, once it returns, the record
// says what the hook found: a failure fails start with the hook's message
// (the hook already killed the container), and a hook that never reported
// has the container killed here. Either way the engine sees start fail.
func (r *call) startAttested(recPath string) error {
	argv, err := r.backendArgv()
	if err != nil {
		return err
	}
	code, err := runChild(r.backend, argv)
	if err != nil {
		return err
	}
	if code != 0 {
		os.Exit(code)
	}
	rec, ok, err := loadRecord(recPath)
	switch {
	case err == nil && ok && rec.Attested != "":
		if rec.Attested == verdictFail || rec.Attested == verdictError {
			if rec.AttestError != "" {
				return errors.New(rec.AttestError)
			}
			return fmt.Errorf("attestation of container %s: %s", r.inv.ID, rec.Attested)
		}
		os.Exit(0)
	case err == nil && !ok:
		err = errors.New("its record is gone")
	case err == nil:
		err = errors.New("the attestation hook did not report (does the backend run poststart hooks?)")
	}
	// Fail closed: a container whose enforced attestation did not run
	// must not keep running.
	kill := append(r.inv.globalTokens(), r.backend.Args...)
	kill = append(kill, "kill", r.inv.ID, "KILL")
	if _, kerr := runChild(r.backend, kill); kerr != nil {
		return fmt.Errorf("container %s started unattested (%v), and killing it failed: %v", r.inv.ID, err, kerr)
	}
	return fmt.Errorf("container %s killed: started unattested: %v", r.inv.ID, err)
}
