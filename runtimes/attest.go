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
	"sync"
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
			ns, err := spec.ParseElement(raw)
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

// injectAttest arranges the attestation of a container being created and
// returns what the create line says of it: "pending" (it will be
// attested), "not_attestable" (sandbox backend), "off", or "none" (a
// pass-through profile promises nothing).
//
// For `create`, the engine's `start` comes next: the promise goes into
// secshim's record (promiseArgs) and start attests the process in-process
// (startAttested), which costs no extra process. `run` and `restore`
// start the container themselves: there the spec gets a poststart hook
// running `secshim attest` with the promise in its arguments.
func (r *call) injectAttest(doc *spec.Object, p *hardening.Policy, res *hardening.Result, d *Decision) (v *attestVerdict, promiseArgs []string, err error) {
	mode := r.cfg.attestMode()
	v = &attestVerdict{Mode: mode}
	switch {
	case mode == AttestOff:
		v.Verdict = verdictOff
		return v, nil, nil
	case p.PassThrough:
		v.Verdict, v.Reason = verdictNone, "profile "+p.Name+" is a pass-through: it promises nothing"
		return v, nil, nil
	case r.backend.isSandbox():
		v.Verdict = verdictNotAttestable
		v.Reason = "not attestable on sandbox backend " + r.backend.Name + ": the container's capabilities, seccomp and no_new_privs live in the guest, which the host cannot read"
		return v, nil, nil
	}
	pr, err := promiseOf(doc, res)
	if err != nil {
		return nil, nil, err
	}
	v.Verdict = verdictPending
	if r.inv.Verb == "create" {
		return v, pr.args(), nil
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot resolve secshim's own path for the hook: %w", err)
	}
	args := []string{"secshim", "attest", "--id", r.inv.ID, "--mode", mode, "--backend", r.backend.Name,
		"--profile", p.Name, "--state-dir", r.cfg.StateDir}
	if root, _ := r.inv.Global("root"); root != "" {
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
		return nil, nil, err
	}
	elems, _, err := hooks.Array("poststart")
	if err != nil {
		return nil, nil, err
	}
	if err := hooks.SetArray("poststart", append(elems, hook)); err != nil {
		return nil, nil, err
	}
	d.Changes = append(d.Changes, hardening.Change{Control: "attest", Field: "hooks.poststart", To: "secshim attest (" + mode + ")"})
	return v, nil, nil
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

// Seccomp modes as /proc/PID/status shows them.
const (
	seccompModeFilter = 2
	seccompModeDead   = 3
)

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
	// 3 is SECCOMP_MODE_DEAD (recent kernels, 6.18 here): the filter has
	// just killed the process, which only a loaded filter can do.
	if p.Seccomp && s.Seccomp != seccompModeFilter && s.Seccomp != seccompModeDead {
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
// line's state of it (pending, not_attestable, off, none) or the verdict of
// start, or of the hook (the "attest" line).
//
// It is written by appendAttest (no reflection on the hot path); the tags
// are for reading a line back (secshim log).
type attestVerdict struct {
	Mode       string     `json:"mode"`
	Pid        int        `json:"pid"`
	Verdict    string     `json:"verdict"`
	Reason     string     `json:"reason"`
	Action     string     `json:"action"` // "killed", "logged" or ""
	Mismatches []mismatch `json:"mismatches"`
	// Unchecked names the promises this host cannot check, each with why.
	Unchecked []string      `json:"unchecked"`
	Elapsed   time.Duration `json:"-"`
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

The OCI poststart hook secshim adds to a spec at run and restore; not meant
to be run by hand. Reads the container state (its pid) on stdin, compares
/proc/<pid> (status; mountinfo, ns/*, cgroup limits and the LSM label as
promised) with the promise in the flags and logs the verdict. enforce: a
mismatch kills the container and exits 1, naming each mismatch on stderr;
audit: it is logged, exit 0.
`

// attestWait bounds how long a mismatch is re-read before it counts.
var attestWait = 100 * time.Millisecond

// maxState bounds the state JSON read from stdin.
const maxState = 1 << 20

// attestIn is the hook's stdin; a seam for tests.
var attestIn io.Reader = os.Stdin

// attestHost answers whether this host enforces an LSM; a seam for tests.
var attestHost = hardening.DefaultHost

// promiseFlags are the flags promise.args writes (true: takes a value).
// Made on first use: package init runs on every call, state and kill too.
var promiseFlags = sync.OnceValue(func() map[string]bool {
	return map[string]bool{"caps": true, "ambient": true, "ns": true, "pids": true, "memory": true,
		"selinux": true, "apparmor": true, "nnp": false, "seccomp": false, "readonly-root": false}
})

// parsePromise reads a promise back from its flags.
func parsePromise(flags map[string]string) (promise, error) {
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
			return pr, fmt.Errorf("--%s: not a hex capability mask", f.name)
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
			return pr, fmt.Errorf("--%s: not a positive limit", f.name)
		}
		*f.dst = n
	}
	if ns := flags["ns"]; ns != "" {
		for _, t := range strings.Split(ns, ",") {
			if hardening.ProcNSName(t) == "" {
				return pr, fmt.Errorf("--ns: %q is not a namespace type", t)
			}
			pr.Namespaces = append(pr.Namespaces, t)
		}
	}
	_, pr.NoNewPrivs = flags["nnp"]
	_, pr.Seccomp = flags["seccomp"]
	_, pr.ReadonlyRoot = flags["readonly-root"]
	pr.SELinuxLabel, pr.AppArmorProfile = flags["selinux"], flags["apparmor"]
	return pr, nil
}

// dropUncheckable removes the label promises this host's LSMs cannot
// hold and says why: a label the host does not enforce is reported as
// unchecked rather than failing a container the engine labelled.
func (pr *promise) dropUncheckable(host *hardening.Host) (unchecked []string) {
	if pr.SELinuxLabel != "" && !host.SELinuxEnabled() {
		unchecked = append(unchecked, "process.selinuxLabel: SELinux is not enabled on this host")
		pr.SELinuxLabel = ""
	}
	if pr.AppArmorProfile == "unconfined" {
		pr.AppArmorProfile = ""
	}
	if pr.AppArmorProfile != "" && !host.AppArmorEnabled() {
		unchecked = append(unchecked, "process.apparmorProfile: AppArmor is not enabled on this host")
		pr.AppArmorProfile = ""
	}
	return unchecked
}

// attest is `secshim attest`, run by the runtime as a poststart hook.
func (a *admin) attest(args []string) int {
	start := time.Now()
	known := map[string]bool{"id": true, "mode": true, "backend": true, "profile": true, "config": true, "help": false,
		"state-dir": true, "root": true}
	for k, v := range promiseFlags() {
		known[k] = v
	}
	flags, pos, err := parseAdminFlags(args, known)
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
	pr, err := parsePromise(flags)
	if err != nil {
		return a.usage(attestUsage, "attest: "+err.Error())
	}

	// The config only says where to log: the mode was fixed at create.
	cfg, err := a.loadConfig(flags)
	if err != nil {
		fmt.Fprintf(a.stderr, "secshim: attest: warning: %v; logging to the default log\n", err)
		cfg = DefaultConfig()
	}
	SyslogSocket = cfg.Log.syslogSocket()
	stateDir := flags["state-dir"]
	if stateDir == "" {
		stateDir = cfg.StateDir
	}
	// The record (written by secshim, not in the bundle a later hook
	// could edit) is the stricter source for what the container was
	// allowed.
	if rec, ok, _ := loadRecord(RecordPath(stateDir, flags["root"], flags["id"])); ok {
		pr.Caps &= rec.Caps
		pr.NoNewPrivs = pr.NoNewPrivs || rec.NoNewPrivileges
	}

	d := Decision{ID: flags["id"], Verb: "attest", Backend: flags["backend"], Profile: flags["profile"],
		Attest: &attestVerdict{Mode: mode}}
	d.Attest.Unchecked = pr.dropUncheckable(attestHost())
	msg := a.attestState(&d, pr)
	d.Attest.Elapsed = time.Since(start)
	LogDecision(cfg, d)
	if msg == "" {
		return exitOK
	}
	if mode == AttestAudit {
		fmt.Fprintf(a.stderr, "secshim: warning: %s\n", msg)
		return exitOK
	}
	fmt.Fprintf(a.stderr, "secshim: %s\n", msg)
	return exitRefused
}

// attestState reads the container state on stdin and attests its pid;
// it returns the failure's message, "" for a pass or an exited process.
func (a *admin) attestState(d *Decision, pr promise) string {
	fail := func(reason string) string {
		d.Attest.Verdict, d.Attest.Reason = verdictError, reason
		return fmt.Sprintf("attestation of container %s failed: %s", d.ID, reason)
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
	return attestPid(d, st.Pid, pidfdOf(st.Pid), pr, attestWait, nil)
}

// pidfdOf pins a process so that a kill cannot hit a reused pid; -1 when
// it cannot (the process is gone, or an old kernel).
func pidfdOf(pid int) int {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1
	}
	return fd
}

// attestPid checks the process against pr, re-reading a mismatch for up
// to window before it counts, and fills d.Attest. In enforce mode a
// failure kills the process. It closes pidfd and returns the failure's
// message, "" for a pass or an exited process.
//
// With preExec (the init's executable before start, exeOf), the process is
// first waited for until it has exec'd the user's program, up to
// attestExecWait: from then on everything is applied and one read is
// final, however long a loaded host took to get there.
func attestPid(d *Decision, pid, pidfd int, pr promise, window time.Duration, preExec *fileID) string {
	v := d.Attest
	v.Pid = pid
	if pidfd >= 0 {
		defer unix.Close(pidfd)
	}
	proc := procRoot + "/" + strconv.Itoa(pid)
	pause := 100 * time.Microsecond
	if preExec != nil {
		began := time.Now()
		execDeadline := began.Add(attestExecWait)
		for {
			id, err := exeOf(proc)
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
				v.Verdict, v.Reason = verdictExited, "the process exited before it could be read"
				return ""
			}
			if err != nil {
				break // not comparable: the re-read window decides
			}
			if id != *preExec {
				window = 0 // exec'd: what it holds now is final
				break
			}
			if time.Now().After(execDeadline) {
				return attestFailed(d, pid, pidfd, fmt.Errorf("the container's process had not started its program %v after start", attestExecWait))
			}
			// The execve usually follows start within a millisecond or
			// two, and every sleep past it is start's latency: look every
			// 50 µs (a stat each) for the first 5 ms, then back off.
			if time.Since(began) < 5*time.Millisecond {
				time.Sleep(50 * time.Microsecond)
				continue
			}
			time.Sleep(pause)
			pause = min(2*pause, 32*time.Millisecond)
		}
	}
	deadline := time.Now().Add(window)
	pause = 100 * time.Microsecond
	var failure string
	for {
		ms, gone, err := readAndCompare(proc, pr)
		if gone {
			v.Verdict, v.Reason = verdictExited, "the process exited before it could be read"
			return ""
		}
		if err != nil {
			return attestFailed(d, pid, pidfd, err)
		}
		v.Mismatches = ms
		if len(ms) == 0 {
			v.Verdict = verdictPass
			return ""
		}
		if time.Now().After(deadline) {
			v.Verdict = verdictFail
			var what []string
			for _, m := range ms {
				what = append(what, m.String())
			}
			failure = fmt.Sprintf("container %s (backend %s, pid %d) does not hold what its spec promised: %s",
				d.ID, d.Backend, pid, strings.Join(what, "; "))
			break
		}
		// A runtime may apply a setting only at the execve: settings
		// only tighten until then, look again.
		time.Sleep(pause)
		pause = min(2*pause, 32*time.Millisecond)
	}
	return act(d, pid, pidfd, failure)
}

// attestFailed records err as the verdict "error" and acts on it.
func attestFailed(d *Decision, pid, pidfd int, err error) string {
	d.Attest.Verdict, d.Attest.Reason = verdictError, err.Error()
	return act(d, pid, pidfd, fmt.Sprintf("attestation of container %s failed: %s", d.ID, err))
}

// act carries out the mode on a failed attestation: audit logs, enforce
// kills the process. It returns the message for the verb's error.
func act(d *Decision, pid, pidfd int, failure string) string {
	v := d.Attest
	if v.Mode == AttestAudit {
		v.Action = "logged"
		return "attestation (audit): " + failure
	}
	var err error
	if pidfd >= 0 {
		err = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	} else {
		err = unix.Kill(pid, unix.SIGKILL)
	}
	v.Action = "killed"
	if err != nil && !errors.Is(err, unix.ESRCH) {
		v.Action = "kill failed: " + err.Error()
	}
	if v.Verdict == verdictFail {
		return "attestation failed, container killed: " + failure
	}
	return failure + "; container killed"
}

// fileID identifies a file: device and inode.
type fileID struct{ Dev, Ino uint64 }

// exeOf identifies the program a process runs (/proc/PID/exe, followed).
func exeOf(proc string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(proc+"/exe", &st); err != nil {
		return fileID{}, &os.PathError{Op: "stat", Path: proc + "/exe", Err: err}
	}
	return fileID{st.Dev, st.Ino}, nil
}

// attestExecWait bounds how long start waits for the container's process
// to exec its program before it counts as a failure.
var attestExecWait = 10 * time.Second

// statusHolds reports whether /proc/PID/status already shows what the
// promise asks of it (a pre-check's first step; any error is a no).
func statusHolds(proc string, pr promise) bool {
	b, err := readProc(proc + "/status")
	if err != nil {
		return false
	}
	s, err := parseStatus(b)
	return err == nil && len(pr.compare(s)) == 0
}

// readAndCompare reads the process's state once; gone: it has exited
// (a zombie keeps its status, but its other state is going).
func readAndCompare(proc string, pr promise) (ms []mismatch, gone bool, err error) {
	b, err := readProc(proc + "/status")
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
		mi, err := readProc(proc + "/mountinfo")
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
	// A process that is exiting shows its namespaces unreadable and its
	// cgroup as the root's: it has exited, not broken a promise. (Only a
	// single-threaded one: other threads of a process whose leader exits
	// still run.)
	if len(ms) > 0 && s.Threads <= 1 {
		if ex, err := exiting(proc); ex || errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return nil, true, nil
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

// attestsAtStart: the container's promise waits in its record for start.
func (r *Record) attestsAtStart() bool {
	return r != nil && r.Attest != "" && len(r.Promise) > 0
}

// startAttested serves the first `start` of a container whose promise is
// in its record, in this process: no hook, no extra process. r.cfg is
// set: the fast path decodes the config bytes it read, the full path has
// loaded it.
//
// Before start, runc 1.1 already shows the final capabilities, seccomp
// filter, no_new_privs, namespaces and cgroup limits in the init process
// that waits on its exec fifo (and the label in attr/exec): it is checked
// there and start is a plain exec (finalBeforeStart). On any other backend
// a pass before start is final too (settings only tighten until the
// execve), but crun loads the filter just before the user's execve, so
// there the check fails before start: then start runs as a child and the
// process is checked again once it returns, a mismatch re-read for
// attestWait. A failure in enforce mode kills the container and fails
// start with the reason; audit logs it.
func (r *call) startAttested(rec *Record) error {
	d := Decision{ID: r.inv.ID, Verb: "attest", Backend: rec.Backend.Name, Profile: rec.Profile,
		Attest: &attestVerdict{Mode: rec.Attest}}
	r.logged = &d
	v := d.Attest
	began := time.Now()
	fail := func(err error) error {
		v.Verdict, v.Reason = verdictError, err.Error()
		v.Elapsed = time.Since(began)
		LogDecision(r.cfg, d)
		if v.Mode == AttestAudit {
			fmt.Fprintf(os.Stderr, "secshim: warning: attestation of container %s: %v\n", r.inv.ID, err)
			return r.handOff()
		}
		return fmt.Errorf("attestation of container %s: %w; not started", r.inv.ID, err)
	}
	flags, pos, err := parseAdminFlags(rec.Promise, promiseFlags())
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected %q", pos[0])
	}
	var pr promise
	if err == nil {
		pr, err = parsePromise(flags)
	}
	if err != nil {
		return fail(fmt.Errorf("the promise in its record: %v", err))
	}
	v.Unchecked = pr.dropUncheckable(attestHost())
	pid, err := r.containerPid(rec)
	if err != nil {
		return fail(err)
	}
	pidfd := pidfdOf(pid)
	if rec.Backend.finalBeforeStart() {
		// Checked, and on a failure killed, before the user's process runs.
		msg := attestPid(&d, pid, pidfd, pr, attestWait, nil)
		v.Elapsed = time.Since(began)
		if err := r.settle(&d, msg); err != nil {
			return err
		}
		return r.handOff()
	}
	// Before start, a backend that applies some settings only at the
	// execve (crun loads the filter there) fails the status part already:
	// the rest of the pre-check is only read when that part passes.
	proc := procRoot + "/" + strconv.Itoa(pid)
	if statusHolds(proc, pr) {
		ms, gone, err := readAndCompare(proc, pr)
		if err == nil && !gone && len(ms) == 0 {
			if pidfd >= 0 {
				unix.Close(pidfd)
			}
			v.Verdict, v.Pid, v.Elapsed = verdictPass, pid, time.Since(began)
			LogDecision(r.cfg, d)
			return r.handOff()
		}
	}
	// The init's program before start: after start, attestation waits for
	// it to change (the execve), when every setting is in force.
	var preExec *fileID
	if id, err := exeOf(proc); err == nil {
		preExec = &id
	}
	pre := time.Since(began)
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
	after := time.Now()
	msg := attestPid(&d, pid, pidfd, pr, attestWait, preExec)
	v.Elapsed = pre + time.Since(after)
	if err := r.settle(&d, msg); err != nil {
		return err
	}
	os.Exit(0)
	return nil
}

// settle logs a start's attestation and turns attestPid's message into
// start's outcome: nil to go on (a pass, an exited process, or audit mode,
// which only warns), else the error that fails start.
func (r *call) settle(d *Decision, msg string) error {
	LogDecision(r.cfg, *d)
	switch {
	case msg == "":
	case d.Attest.Mode == AttestAudit:
		fmt.Fprintf(os.Stderr, "secshim: warning: %s\n", msg)
	default:
		return errors.New(msg)
	}
	return nil
}

// containerPid is the container's init pid: from the --pid-file the engine
// gave create (Podman, containerd and CRI-O all pass one), else from the
// backend's state.
func (r *call) containerPid(rec *Record) (int, error) {
	if rec.PidFile != "" {
		if b, err := spec.ReadFile(rec.PidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid, nil
			}
		}
	}
	root, _ := r.inv.Global("root")
	st, err := chkRunState(r.backend, root, r.inv.ID)
	if err != nil {
		return 0, err
	}
	if st.Pid <= 0 {
		return 0, fmt.Errorf("%s state %s: no pid (status %q)", r.backend.Name, r.inv.ID, st.Status)
	}
	return st.Pid, nil
}
