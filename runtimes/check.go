package runtimes

// secshim check: a compliance report on a spec (a bundle or config.json)
// or on a running container (its record, its backend's `state`, its
// bundle's config.json and, for native backends, the kernel's view of its
// init process). docs/check.md describes the checks, the output and the
// exit status; docs/check.schema.json is the schema of --json.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

const checkUsage = `usage: secshim check [--json] [--fail-on warn|fail] [--config FILE] [--root R]
                     <bundle dir | config.json | container-id> | --all

Reports the checks a security reviewer asks for (CIS Docker Benchmark 1.6
and Kubernetes Pod Security Standards references, pass/warn/fail each) on
a spec, or on a running container: its config.json as hardened, and for
runc/crun its init process as the kernel shows it (/proc/PID). Runs
nothing but the backend's state verb; writes nothing.

  --json          one JSON object (schema: docs/check.schema.json)
  --fail-on LVL   exit 1 when any check is at or above LVL (default fail)
  --config FILE   the secshim config (state_dir) to use
  --root R        the backend --root the container was created with
                  (records are kept per root; Podman passes none)
  --all           every container secshim has a record of

Exit status: 0 every check below --fail-on, 1 one at or above it,
2 usage error or a target that cannot be read.
`

// Verdicts, weakest first.
const (
	chkPass = "pass"
	chkWarn = "warn"
	chkFail = "fail"
)

// chkRank orders verdicts, weakest first.
func chkRank(verdict string) int {
	switch verdict {
	case chkWarn:
		return 1
	case chkFail:
		return 2
	}
	return 0
}

type checkRef struct {
	CIS string `json:"cis"`
	PSS string `json:"pss"`
}

type checkResult struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Reference checkRef `json:"reference"`
	Verdict   string   `json:"verdict"`
	Detail    string   `json:"detail"`
}

type checkTarget struct {
	Kind    string `json:"kind"` // "spec" or "container"
	Spec    string `json:"spec,omitempty"`
	ID      string `json:"id,omitempty"`
	Root    string `json:"root,omitempty"`
	Backend string `json:"backend,omitempty"`
	Profile string `json:"profile,omitempty"`
	Status  string `json:"status,omitempty"`
	Pid     int    `json:"pid,omitempty"`
	Bundle  string `json:"bundle,omitempty"`
}

type checkSummary struct {
	Pass    int    `json:"pass"`
	Warn    int    `json:"warn"`
	Fail    int    `json:"fail"`
	Verdict string `json:"verdict"` // the worst verdict
}

type checkReport struct {
	Target  checkTarget   `json:"target"`
	Checks  []checkResult `json:"checks"`
	Summary checkSummary  `json:"summary"`
}

// checkAll is the --all report.
type checkAll struct {
	Reports []*checkReport `json:"reports"`
	Summary checkSummary   `json:"summary"`
}

func (r *checkReport) add(id, title, cis, pss, verdict, detail string) {
	r.Checks = append(r.Checks, checkResult{ID: id, Title: title, Reference: checkRef{cis, pss}, Verdict: verdict, Detail: detail})
}

func chkSummarize(checks []checkResult) checkSummary {
	s := checkSummary{Verdict: chkPass}
	for _, c := range checks {
		switch c.Verdict {
		case chkPass:
			s.Pass++
		case chkWarn:
			s.Warn++
		case chkFail:
			s.Fail++
		}
		if chkRank(c.Verdict) > chkRank(s.Verdict) {
			s.Verdict = c.Verdict
		}
	}
	return s
}

func (a *admin) check(args []string) int {
	flags, pos, err := parseAdminFlags(args, map[string]bool{"json": false, "fail-on": true, "config": true, "root": true, "all": false, "help": false})
	if err != nil {
		return a.usage(checkUsage, "check: "+err.Error())
	}
	if _, ok := flags["help"]; ok {
		fmt.Fprint(a.stdout, checkUsage)
		return exitOK
	}
	failOn := chkFail
	if v, ok := flags["fail-on"]; ok {
		if v != chkWarn && v != chkFail {
			return a.usage(checkUsage, fmt.Sprintf("check: --fail-on: %q is not warn or fail", v))
		}
		failOn = v
	}
	_, all := flags["all"]
	if all && len(pos) != 0 || !all && len(pos) != 1 {
		return a.usage(checkUsage, "check: expected one bundle directory, config.json or container ID, or --all")
	}
	root := flags["root"]
	if all {
		cfg, err := a.loadConfig(flags)
		if err != nil {
			fmt.Fprintln(a.stderr, "secshim: check:", err)
			return exitUsage
		}
		reports, err := a.checkAllContainers(cfg, root)
		if err != nil {
			fmt.Fprintln(a.stderr, "secshim: check:", err)
			return exitUsage
		}
		out := checkAll{Reports: reports}
		for _, r := range reports {
			out.Summary = chkAddSummary(out.Summary, r.Summary)
		}
		if out.Summary.Verdict == "" {
			out.Summary.Verdict = chkPass
		}
		return a.printCheck(flags, out, reports, out.Summary, failOn)
	}
	target := pos[0]
	var rep *checkReport
	if chkLooksLikeSpec(target) {
		if _, ok := flags["root"]; ok {
			return a.usage(checkUsage, "check: --root applies to a container ID, not to a spec")
		}
		rep, err = a.checkSpecPath(target)
	} else {
		cfg, cerr := a.loadConfig(flags)
		if cerr != nil {
			fmt.Fprintln(a.stderr, "secshim: check:", cerr)
			return exitUsage
		}
		rep, err = a.checkContainer(cfg, root, target)
	}
	if err != nil {
		fmt.Fprintln(a.stderr, "secshim: check:", err)
		return exitUsage
	}
	return a.printCheck(flags, rep, []*checkReport{rep}, rep.Summary, failOn)
}

func chkAddSummary(a, b checkSummary) checkSummary {
	a.Pass, a.Warn, a.Fail = a.Pass+b.Pass, a.Warn+b.Warn, a.Fail+b.Fail
	if a.Verdict == "" || chkRank(b.Verdict) > chkRank(a.Verdict) {
		a.Verdict = b.Verdict
	}
	return a
}

// chkLooksLikeSpec: an existing path, or anything with a slash or a .json
// suffix, is a spec; everything else is a container ID.
func chkLooksLikeSpec(s string) bool {
	if strings.ContainsRune(s, '/') || strings.HasSuffix(s, ".json") {
		return true
	}
	_, err := os.Stat(s)
	return err == nil
}

func (a *admin) printCheck(flags map[string]string, v any, reports []*checkReport, sum checkSummary, failOn string) int {
	if _, ok := flags["json"]; ok {
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fmt.Fprintln(a.stderr, "secshim: check:", err)
			return exitUsage
		}
		a.stdout.Write(append(out, '\n'))
	} else {
		color := chkIsTerminal(a.stdout)
		for i, r := range reports {
			if i > 0 {
				fmt.Fprintln(a.stdout)
			}
			r.writeText(a.stdout, color)
		}
		if len(reports) != 1 {
			if len(reports) > 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "%d containers: %d pass, %d warn, %d fail\n", len(reports), sum.Pass, sum.Warn, sum.Fail)
		}
	}
	if sum.Verdict != "" && chkRank(sum.Verdict) >= chkRank(failOn) && (sum.Warn+sum.Fail) > 0 {
		return exitRefused
	}
	return exitOK
}

func chkIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (r *checkReport) writeText(w io.Writer, color bool) {
	t := r.Target
	switch t.Kind {
	case "spec":
		fmt.Fprintf(w, "spec %s\n", t.Spec)
	default:
		fmt.Fprintf(w, "container %s (backend %s, profile %s, status %s, pid %d)\n", t.ID, chkOrDash(t.Backend), chkOrDash(t.Profile), chkOrDash(t.Status), t.Pid)
		if t.Bundle != "" {
			fmt.Fprintf(w, "bundle %s\n", t.Bundle)
		}
	}
	idW, refW := len("CHECK"), len("REFERENCE")
	refs := make([]string, len(r.Checks))
	for i, c := range r.Checks {
		refs[i] = chkRefText(c.Reference)
		idW = max(idW, len(c.ID))
		refW = max(refW, len(refs[i]))
	}
	fmt.Fprintf(w, "%-4s  %-*s  %-*s  %s\n", "", idW, "CHECK", refW, "REFERENCE", "DETAIL")
	for i, c := range r.Checks {
		v := fmt.Sprintf("%-4s", strings.ToUpper(c.Verdict))
		if color {
			code := map[string]string{chkPass: "32", chkWarn: "33", chkFail: "31"}[c.Verdict]
			v = "\x1b[" + code + "m" + v + "\x1b[0m"
		}
		fmt.Fprintf(w, "%s  %-*s  %-*s  %s\n", v, idW, c.ID, refW, refs[i], c.Detail)
	}
	s := r.Summary
	fmt.Fprintf(w, "summary: %d pass, %d warn, %d fail\n", s.Pass, s.Warn, s.Fail)
}

func chkRefText(r checkRef) string {
	var parts []string
	if r.CIS != "" {
		parts = append(parts, "CIS "+r.CIS)
	}
	if r.PSS != "" {
		parts = append(parts, "PSS "+r.PSS)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func chkOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- spec ----

func (a *admin) checkSpecPath(path string) (*checkReport, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	rep := &checkReport{Target: checkTarget{Kind: "spec", Spec: path}}
	if err := a.checkSpecFile(rep, path); err != nil {
		return nil, err
	}
	rep.Summary = chkSummarize(rep.Checks)
	return rep, nil
}

func (a *admin) checkSpecFile(rep *checkReport, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return a.checkSpec(rep, path, data)
}

func (a *admin) chkHost() *hardening.Host {
	if a.host != nil {
		return a.host
	}
	return hardening.DefaultHost()
}

// checkSpec appends the spec checks of config.json (data) to rep.
func (a *admin) checkSpec(rep *checkReport, path string, data []byte) error {
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	doc, err := spec.ParseObject(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	host := a.chkHost()
	proc := s.Process
	if proc == nil {
		proc = &specs.Process{}
	}
	linux := s.Linux
	if linux == nil {
		linux = &specs.Linux{}
	}

	// user
	uid, gid := proc.User.UID, proc.User.GID
	switch {
	case uid != 0:
		v, d := chkPass, fmt.Sprintf("uid %d, gid %d", uid, gid)
		if gid == 0 || slices.Contains(proc.User.AdditionalGids, 0) {
			v, d = chkWarn, d+"; in group 0 (root)"
		}
		rep.add("user", "non-root user", "4.1", "Running as Non-root", v, d)
	case chkMapsRootAway(linux):
		rep.add("user", "non-root user", "4.1", "Running as Non-root", chkPass, "uid 0 inside a user namespace that maps it to a non-root host uid")
	default:
		rep.add("user", "non-root user", "4.1", "Running as Non-root", chkFail, "process.user.uid is 0: the container runs as root")
	}

	// read-only root
	if s.Root != nil && s.Root.Readonly {
		rep.add("rootfs", "read-only root filesystem", "5.12", "", chkPass, "root.readonly is true")
	} else {
		rep.add("rootfs", "read-only root filesystem", "5.12", "", chkWarn, "root filesystem is writable (root.readonly is not set)")
	}

	// capabilities
	rep.add(chkCapabilities("capabilities", "config.json", chkCapsOfSpec(proc.Capabilities), proc.Capabilities != nil && len(proc.Capabilities.Ambient) > 0))

	// privileged pattern, with hardening's own recognition
	found, err := chkRuleFindings(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if found.privileged != "" {
		rep.add("privileged", "privileged pattern", "5.4", "Privileged Containers", chkFail, "privileged pattern: "+found.privileged)
	} else {
		rep.add("privileged", "privileged pattern", "5.4", "Privileged Containers", chkPass, "not the privileged pattern")
	}

	// seccomp
	switch sc := linux.Seccomp; {
	case sc == nil:
		rep.add("seccomp", "seccomp filter", "5.21", "Seccomp", chkFail, "no seccomp filter (linux.seccomp missing)")
	case sc.DefaultAction == specs.ActAllow || sc.DefaultAction == specs.ActLog || sc.DefaultAction == "":
		rep.add("seccomp", "seccomp filter", "5.21", "Seccomp", chkFail, fmt.Sprintf("seccomp default action %s lets every syscall through", chkOrDash(string(sc.DefaultAction))))
	default:
		rep.add("seccomp", "seccomp filter", "5.21", "Seccomp", chkPass, fmt.Sprintf("default action %s, %d syscall rules", sc.DefaultAction, len(sc.Syscalls)))
	}

	// no_new_privileges
	if proc.NoNewPrivileges {
		rep.add("no_new_privileges", "no_new_privileges", "5.25", "Privilege Escalation", chkPass, "process.noNewPrivileges is true")
	} else {
		rep.add("no_new_privileges", "no_new_privileges", "5.25", "Privilege Escalation", chkFail, "process.noNewPrivileges is not set: setuid binaries and file capabilities can raise privileges")
	}

	// LSM
	v, d := chkLSM(host, proc.ApparmorProfile, proc.SelinuxLabel)
	rep.add("lsm", "LSM label (AppArmor/SELinux)", "5.1, 5.2", "AppArmor, SELinux", v, d)

	// host namespaces
	v, d = chkSpecNamespaces(host, linux.Namespaces)
	rep.add("namespaces", "host namespaces", "5.9, 5.15, 5.16, 5.20, 5.30", "Host Namespaces", v, d)

	// mounts and sockets
	v, d = chkMounts(s.Mounts, linux.RootfsPropagation)
	rep.add("mounts", "sensitive host mounts and sockets", "5.5, 5.19, 5.31", "HostPath Volumes", v, d)

	// devices
	v, d = chkDevices(linux)
	rep.add("devices", "host devices", "5.17", "", v, d)

	// resources
	res := linux.Resources
	if res == nil {
		res = &specs.LinuxResources{}
	}
	if m := res.Memory; m != nil && m.Limit != nil && *m.Limit > 0 {
		rep.add("memory", "memory limit", "5.10", "", chkPass, fmt.Sprintf("memory limit %d bytes", *m.Limit))
	} else {
		rep.add("memory", "memory limit", "5.10", "", chkWarn, "no memory limit")
	}
	switch c := res.CPU; {
	case c != nil && c.Quota != nil && *c.Quota > 0:
		period := uint64(100000)
		if c.Period != nil && *c.Period > 0 {
			period = *c.Period
		}
		rep.add("cpu", "CPU limit", "5.11", "", chkPass, fmt.Sprintf("quota %d us per %d us", *c.Quota, period))
	case c != nil && c.Shares != nil && *c.Shares > 0:
		rep.add("cpu", "CPU limit", "5.11", "", chkPass, fmt.Sprintf("cpu shares %d (relative weight, no cap)", *c.Shares))
	default:
		rep.add("cpu", "CPU limit", "5.11", "", chkWarn, "no CPU quota or shares")
	}
	if p := res.Pids; p != nil && p.Limit != nil && *p.Limit > 0 {
		rep.add("pids", "pids limit", "5.28", "", chkPass, fmt.Sprintf("pids limit %d", *p.Limit))
	} else {
		rep.add("pids", "pids limit", "5.28", "", chkWarn, "no pids limit: a fork bomb reaches the host's")
	}

	// rlimits
	v, d = chkRlimits(proc.Rlimits)
	rep.add("rlimits", "rlimits", "5.18", "", v, d)

	// masked and read-only kernel paths
	switch {
	case len(linux.MaskedPaths) == 0:
		rep.add("masked_paths", "masked and read-only /proc and /sys paths", "", "/proc Mount Type", chkFail, "linux.maskedPaths is empty: /proc/kcore, /proc/keys, /sys/firmware... are visible (an unmasked /proc)")
	case len(found.paths) > 0:
		rep.add("masked_paths", "masked and read-only /proc and /sys paths", "", "/proc Mount Type", chkWarn, "not masked or read-only as the baseline profile has them: "+strings.Join(found.paths, "; "))
	default:
		rep.add("masked_paths", "masked and read-only /proc and /sys paths", "", "/proc Mount Type", chkPass, fmt.Sprintf("%d masked, %d read-only paths: the baseline profile's all included", len(linux.MaskedPaths), len(linux.ReadonlyPaths)))
	}

	// sysctls
	if len(found.sysctls) > 0 {
		rep.add("sysctls", "sysctls", "", "Sysctls", chkFail, "outside the safe set: "+strings.Join(found.sysctls, ", "))
	} else {
		d := fmt.Sprintf("%d sysctls, all in the safe set", len(linux.Sysctl))
		switch len(linux.Sysctl) {
		case 0:
			d = "no sysctl set"
		case 1:
			d = "1 sysctl, in the safe set"
		}
		rep.add("sysctls", "sysctls", "", "Sysctls", chkPass, d)
	}

	// credentials in the environment
	if secrets := found.secrets; len(secrets) > 0 {
		rep.add("secrets", "credentials in the environment", "", "", chkWarn, "credential-like variables (values not shown): "+strings.Join(secrets, ", "))
	} else {
		rep.add("secrets", "credentials in the environment", "", "", chkPass, "no credential-like variable in process.env")
	}
	return nil
}

// chkFindings is what hardening's own rules find in a spec.
type chkFindings struct {
	privileged string   // the privileged pattern's indicators
	secrets    []string // credential-like variable names
	paths      []string // masked/readonly paths the baseline would add ("linux.maskedPaths: +/proc/kcore")
	sysctls    []string // sysctls outside the baseline's allowed set ("kernel.msgmax=1")
}

// chkRuleFindings runs hardening's privileged, secrets, paths and sysctls
// rules (the default profile's settings) on a copy of doc, to reuse their
// recognition without changing anything.
func chkRuleFindings(doc *spec.Object) (f chkFindings, err error) {
	var rules []hardening.Rule
	for _, r := range hardening.CreateRules {
		switch r.Control {
		case "privileged", "secrets", "paths", "sysctls":
			rules = append(rules, r)
		}
	}
	p := hardening.Default()
	p.Privileged.Action = "neutralise"
	p.Secrets.Action = "report"
	ctx, err := hardening.Apply(p, rules, doc.Clone(), hardening.Env{})
	if err != nil {
		return f, err
	}
	for _, r := range ctx.Reports {
		switch r.Control {
		case "privileged":
			f.privileged = r.From
		case "secrets":
			if !slices.Contains(f.secrets, r.From) {
				f.secrets = append(f.secrets, r.From)
			}
		}
	}
	for _, c := range ctx.Changes {
		switch c.Control {
		case "paths":
			f.paths = append(f.paths, c.Field+": "+c.To)
		case "sysctls":
			f.sysctls = append(f.sysctls, c.From)
		}
	}
	return f, nil
}

func chkMapsRootAway(l *specs.Linux) bool {
	hasUser := false
	for _, ns := range l.Namespaces {
		if ns.Type == specs.UserNamespace {
			hasUser = true
		}
	}
	if !hasUser || len(l.UIDMappings) == 0 {
		return false
	}
	for _, m := range l.UIDMappings {
		if m.ContainerID == 0 && m.HostID == 0 {
			return false
		}
		if m.HostID == 0 && m.Size > 0 {
			return false // some container uid is host root
		}
	}
	return true
}

func chkCapsOfSpec(c *specs.LinuxCapabilities) hardening.CapSet {
	if c == nil {
		return 0
	}
	var set hardening.CapSet
	for _, list := range [][]string{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		for _, n := range list {
			if i, ok := hardening.CapNumber(n); ok {
				set |= 1 << i
			}
		}
	}
	return set
}

// chkCapabilities judges a capability set: a dangerous one fails, one
// beyond Podman's default set warns.
func chkCapabilities(id, where string, set hardening.CapSet, ambient bool) (string, string, string, string, string, string) {
	var danger, extra []string
	for _, n := range set.Names() {
		switch {
		case slices.Contains(hardening.DangerousCaps, n):
			danger = append(danger, n)
		case !slices.Contains(hardening.PodmanDefaultCaps, n):
			extra = append(extra, n)
		}
	}
	title, cis, pss := "capabilities", "5.3", "Capabilities"
	names := set.Names()
	switch {
	case len(danger) > 0:
		return id, title, cis, pss, chkFail, fmt.Sprintf("%s: %d capabilities, dangerous: %s", where, len(names), strings.Join(danger, ", "))
	case len(extra) > 0:
		return id, title, cis, pss, chkWarn, fmt.Sprintf("%s: beyond Podman's default set: %s", where, strings.Join(extra, ", "))
	case ambient:
		return id, title, cis, pss, chkWarn, where + ": ambient capabilities are set"
	case len(names) == 0:
		return id, title, cis, pss, chkPass, where + ": no capabilities"
	}
	return id, title, cis, pss, chkPass, fmt.Sprintf("%s: %s (none dangerous)", where, strings.Join(names, ", "))
}

func chkLSM(host *hardening.Host, apparmor, selinux string) (string, string) {
	if apparmor == "unconfined" {
		return chkFail, "AppArmor profile unconfined"
	}
	if selinux != "" {
		parts := strings.Split(selinux, ":")
		if len(parts) >= 3 && (parts[2] == "spc_t" || parts[2] == "unconfined_t") {
			return chkFail, "SELinux type " + parts[2] + " is unconfined"
		}
	}
	var have []string
	if apparmor != "" {
		have = append(have, "AppArmor "+apparmor)
	}
	if selinux != "" {
		have = append(have, "SELinux "+selinux)
	}
	if len(have) > 0 {
		return chkPass, strings.Join(have, "; ")
	}
	var enabled []string
	if host.SELinuxEnabled != nil && host.SELinuxEnabled() {
		enabled = append(enabled, "SELinux")
	}
	if host.AppArmorEnabled != nil && host.AppArmorEnabled() {
		enabled = append(enabled, "AppArmor")
	}
	if len(enabled) > 0 {
		return chkFail, "no LSM label, although this host has " + strings.Join(enabled, " and ")
	}
	return chkWarn, "no LSM label; this host has neither SELinux nor AppArmor enabled, so nothing confines the container beyond capabilities and seccomp"
}

// chkNamespaceRefs are the namespaces a container must not share with the
// host, with their CIS numbers.
var chkNamespaceRefs = []struct{ typ, cis string }{
	{"network", "5.9"}, {"pid", "5.15"}, {"ipc", "5.16"}, {"uts", "5.20"}, {"mount", ""},
}

func chkSpecNamespaces(host *hardening.Host, nss []specs.LinuxNamespace) (string, string) {
	verdict := chkPass
	var notes []string
	byType := map[string]specs.LinuxNamespace{}
	for _, ns := range nss {
		byType[string(ns.Type)] = ns
	}
	for _, r := range chkNamespaceRefs {
		ns, ok := byType[r.typ]
		switch {
		case !ok:
			verdict = chkFail
			notes = append(notes, "shares the host's "+r.typ+" namespace")
		case ns.Path != "" && host.NamespaceID != nil && host.HostNamespace != nil:
			id, err := host.NamespaceID(ns.Path)
			if err != nil {
				verdict = chkWorse(verdict, chkWarn)
				notes = append(notes, fmt.Sprintf("%s: joins %s, which cannot be read here (%v)", r.typ, ns.Path, chkUnwrapPathErr(err)))
				continue
			}
			if hid, err := host.HostNamespace(r.typ); err == nil && hid == id {
				verdict = chkFail
				notes = append(notes, fmt.Sprintf("%s: joins the host's namespace (%s)", r.typ, ns.Path))
			}
		}
	}
	if _, ok := byType["user"]; !ok {
		notes = append(notes, "no user namespace (uid 0 inside is uid 0 on the host)")
	}
	if verdict == chkPass {
		notes = append([]string{"pid, network, ipc, uts and mount namespaces are the container's own"}, notes...)
	}
	return verdict, strings.Join(notes, "; ")
}

func chkUnwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func chkWorse(a, b string) string {
	if chkRank(b) > chkRank(a) {
		return b
	}
	return a
}

// chkEngineSockets are the control sockets whose bind hands over the host.
var chkEngineSockets = []string{"docker.sock", "podman.sock", "containerd.sock", "crio.sock", "dockershim.sock", "cri-dockerd.sock"}

// chkMounts judges bind mounts against the default profile's deny and
// allow lists. The matching copies hardening/mounts.go's hostPaths.check
// (unexported) in its simplest form: sources are cleaned but, unlike at
// create, not resolved through symlinks.
func chkMounts(ms []specs.Mount, rootProp string) (string, string) {
	p := hardening.Default().Mounts
	verdict := chkPass
	var notes []string
	for _, m := range ms {
		bind := m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
		if bind {
			src := filepath.Clean(m.Source)
			base := filepath.Base(src)
			switch {
			case slices.Contains(chkEngineSockets, base):
				verdict = chkFail
				notes = append(notes, fmt.Sprintf("engine socket %s mounted at %s", src, m.Destination))
			case chkDenied(src, p.DenyHostPaths, p.AllowHostPaths):
				verdict = chkFail
				notes = append(notes, fmt.Sprintf("sensitive host path %s mounted at %s", src, m.Destination))
			case chkIsSocket(src):
				verdict = chkWorse(verdict, chkWarn)
				notes = append(notes, fmt.Sprintf("host socket %s mounted at %s", src, m.Destination))
			}
		}
		for _, o := range m.Options {
			if o == "shared" || o == "rshared" {
				verdict = chkWorse(verdict, chkWarn)
				notes = append(notes, fmt.Sprintf("%s has %s propagation", m.Destination, o))
			}
		}
	}
	if rootProp == "shared" || rootProp == "rshared" {
		verdict = chkWorse(verdict, chkWarn)
		notes = append(notes, "linux.rootfsPropagation is "+rootProp)
	}
	if len(notes) == 0 {
		return chkPass, "no sensitive host path, socket or shared propagation"
	}
	return verdict, strings.Join(notes, "; ")
}

func chkIsSocket(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&fs.ModeSocket != 0
}

// chkDenied is the mounts control's host-path rule, on the path as written
// (check reads a spec; it does not resolve the host's symlinks).
func chkDenied(src string, deny, allow []string) bool {
	_, ok := hardening.DeniedHostPath(filepath.Clean(src), deny, allow)
	return !ok
}

func chkDevices(l *specs.Linux) (string, string) {
	var host []string
	for _, d := range l.Devices {
		if hardening.IsStandardDevice(d.Path, d.Major, d.Minor) {
			continue
		}
		host = append(host, fmt.Sprintf("%s (%s %d:%d)", d.Path, d.Type, d.Major, d.Minor))
	}
	allowAll := false
	if l.Resources != nil {
		for _, r := range l.Resources.Devices {
			if r.Allow && (r.Type == "" || r.Type == "a") && r.Major == nil && r.Minor == nil {
				allowAll = true
			}
		}
	}
	var notes []string
	if len(host) > 0 {
		shown := host
		if len(shown) > 5 {
			shown = append(slices.Clone(shown[:5]), fmt.Sprintf("and %d more", len(host)-5))
		}
		notes = append(notes, fmt.Sprintf("%d host devices: %s", len(host), strings.Join(shown, ", ")))
	}
	if allowAll {
		notes = append(notes, "the device cgroup allows every device")
	}
	if len(notes) > 0 {
		return chkFail, strings.Join(notes, "; ")
	}
	return chkPass, "only the standard devices; the device cgroup does not allow all"
}

func chkRlimits(rls []specs.POSIXRlimit) (string, string) {
	got := map[string]specs.POSIXRlimit{}
	for _, r := range rls {
		got[r.Type] = r
	}
	verdict := chkPass
	var notes []string
	for _, t := range []string{"RLIMIT_NOFILE", "RLIMIT_NPROC"} {
		r, ok := got[t]
		switch {
		case !ok:
			verdict = chkWorse(verdict, chkWarn)
			notes = append(notes, t+" not set (the runtime's inherited limit applies)")
		case r.Hard == math.MaxUint64:
			verdict = chkWorse(verdict, chkWarn)
			notes = append(notes, t+" unlimited")
		default:
			notes = append(notes, fmt.Sprintf("%s %d/%d", t, r.Soft, r.Hard))
		}
	}
	return verdict, strings.Join(notes, "; ")
}

// ---- running containers ----

// chkBackendState is what `<backend> state ID` prints that check needs.
type chkBackendState struct {
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

// chkRunState runs the container's recorded backend's state verb with the
// --root the record was keyed by.
var chkRunState = func(b *Backend, root, id string) (*chkBackendState, error) {
	var argv []string
	if root != "" {
		argv = append(argv, "--root", root)
	}
	argv = append(argv, b.Args...)
	argv = append(argv, "state", id)
	cmd := exec.Command(b.Path, argv...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return nil, fmt.Errorf("%s state %s: %s", b.Name, id, strings.TrimSpace(string(ee.Stderr)))
		}
		return nil, fmt.Errorf("%s state %s: %w", b.Name, id, err)
	}
	var st chkBackendState
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("%s state %s: %w", b.Name, id, err)
	}
	return &st, nil
}

func (a *admin) checkContainer(cfg *Config, root, id string) (*checkReport, error) {
	rec, ok, err := loadRecord(RecordPath(cfg.StateDir, root, id))
	if err != nil {
		return nil, err
	}
	if !ok {
		hint := ""
		if root == "" {
			hint = " (created with a --root? pass the same --root)"
		}
		return nil, fmt.Errorf("no container %q recorded under %s for --root %q%s", id, cfg.StateDir, root, hint)
	}
	return a.checkRecorded(rec, root, id), nil
}

// checkRecorded reports on a recorded container; what cannot be read is
// a check of its own, so that --all goes on.
func (a *admin) checkRecorded(rec *Record, root, id string) *checkReport {
	rep := &checkReport{Target: checkTarget{Kind: "container", ID: id, Root: root, Backend: rec.Backend.Name, Profile: rec.Profile}}
	defer func() { rep.Summary = chkSummarize(rep.Checks) }()
	st, err := chkRunState(&rec.Backend, root, id)
	if err != nil {
		rep.add("state", "container state", "", "", chkFail, "cannot read the container's state: "+err.Error())
		return rep
	}
	rep.Target.Status, rep.Target.Pid, rep.Target.Bundle = st.Status, st.Pid, st.Bundle
	if st.Bundle == "" {
		rep.add("state", "container state", "", "", chkFail, "the backend reports no bundle")
	} else if err := a.checkSpecFile(rep, filepath.Join(st.Bundle, "config.json")); err != nil {
		rep.add("spec", "config.json", "", "", chkFail, "cannot read config.json: "+err.Error())
	}
	switch {
	case st.Status != "running" && st.Status != "created" && st.Status != "paused" || st.Pid <= 0:
		rep.add("live", "kernel state of the container's process", "", "", chkWarn,
			fmt.Sprintf("status %s, pid %d: no process to inspect; config.json alone was checked", chkOrDash(st.Status), st.Pid))
	case rec.Backend.isSandbox():
		rep.add("live", "kernel state of the container's process", "", "", chkWarn,
			fmt.Sprintf("backend %s: pid %d is the sandbox, not the container; the guest's capabilities, seccomp, no_new_privs, LSM label, namespaces and mounts are not visible from the host, so only config.json was checked", rec.Backend.Name, st.Pid))
	default:
		a.checkProcess(rep, st.Pid)
	}
	return rep
}

// checkProcess adds the *.live checks: the kernel's view of pid.
func (a *admin) checkProcess(rep *checkReport, pid int) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	status, err := chkReadProcStatus(filepath.Join(dir, "status"))
	if err != nil {
		rep.add("live", "kernel state of the container's process", "", "", chkFail, fmt.Sprintf("cannot read /proc/%d/status: %v", pid, err))
		return
	}
	where := fmt.Sprintf("pid %d", pid)

	// user: the effective uid as the host sees it
	if f := strings.Fields(status["Uid"]); len(f) >= 2 {
		if f[1] == "0" {
			rep.add("user.live", "non-root user (process)", "4.1", "Running as Non-root", chkFail, where+": effective uid 0 on the host")
		} else {
			rep.add("user.live", "non-root user (process)", "4.1", "Running as Non-root", chkPass, where+": effective host uid "+f[1])
		}
	}

	// capabilities: effective and bounding
	var set hardening.CapSet
	bad := false
	for _, k := range []string{"CapEff", "CapBnd", "CapPrm", "CapAmb"} {
		if v, ok := status[k]; ok {
			n, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				bad = true
				continue
			}
			set |= hardening.CapSet(n) & hardening.AllCaps
		}
	}
	if bad {
		rep.add("capabilities.live", "capabilities (process)", "5.3", "Capabilities", chkFail, where+": unreadable capability sets")
	} else {
		amb, _ := strconv.ParseUint(status["CapAmb"], 16, 64)
		id, _, cis, pss, v, d := chkCapabilities("capabilities.live", where+" (CapEff|CapPrm|CapBnd|CapAmb)", set, amb != 0)
		rep.add(id, "capabilities (process)", cis, pss, v, d)
	}

	// seccomp
	switch s := status["Seccomp"]; s {
	case "2":
		d := where + ": Seccomp 2 (filter)"
		if n := status["Seccomp_filters"]; n != "" {
			d += ", " + n + " filters"
		}
		rep.add("seccomp.live", "seccomp filter (process)", "5.21", "Seccomp", chkPass, d)
	case "1":
		rep.add("seccomp.live", "seccomp filter (process)", "5.21", "Seccomp", chkPass, where+": Seccomp 1 (strict)")
	default:
		rep.add("seccomp.live", "seccomp filter (process)", "5.21", "Seccomp", chkFail, fmt.Sprintf("%s: Seccomp %s: no filter in force", where, chkOrDash(s)))
	}

	// no_new_privs
	if status["NoNewPrivs"] == "1" {
		rep.add("no_new_privileges.live", "no_new_privileges (process)", "5.25", "Privilege Escalation", chkPass, where+": NoNewPrivs 1")
	} else {
		rep.add("no_new_privileges.live", "no_new_privileges (process)", "5.25", "Privilege Escalation", chkFail, fmt.Sprintf("%s: NoNewPrivs %s", where, chkOrDash(status["NoNewPrivs"])))
	}

	// LSM label
	label, err := os.ReadFile(filepath.Join(dir, "attr", "current"))
	l := strings.TrimRight(string(label), "\x00\n")
	host := a.chkHost()
	switch {
	case err != nil || l == "":
		v, d := chkLSM(host, "", "")
		rep.add("lsm.live", "LSM label (process)", "5.1, 5.2", "AppArmor, SELinux", v, where+": "+d)
	case l == "unconfined" || strings.Contains(l, ":unconfined_t:") || strings.Contains(l, ":spc_t:"):
		rep.add("lsm.live", "LSM label (process)", "5.1, 5.2", "AppArmor, SELinux", chkFail, where+": label "+l+" is unconfined")
	default:
		rep.add("lsm.live", "LSM label (process)", "5.1, 5.2", "AppArmor, SELinux", chkPass, where+": label "+l)
	}

	// namespaces, against this process's own
	nss := []string{"network", "pid", "ipc", "uts", "mount"}
	shared, unreadable := sharedNamespaces(dir, nss)
	var notes []string
	for _, n := range shared {
		notes = append(notes, hardening.ProcNSName(n)+" is the host's")
	}
	for _, n := range unreadable {
		notes = append(notes, hardening.ProcNSName(n)+" unreadable")
	}
	switch {
	case len(shared) > 0:
		rep.add("namespaces.live", "host namespaces (process)", "5.9, 5.15, 5.16, 5.20", "Host Namespaces", chkFail, where+": "+strings.Join(notes, ", "))
	case len(unreadable) > 0:
		rep.add("namespaces.live", "host namespaces (process)", "5.9, 5.15, 5.16, 5.20", "Host Namespaces", chkWarn, where+": "+strings.Join(notes, ", "))
	default:
		rep.add("namespaces.live", "host namespaces (process)", "5.9, 5.15, 5.16, 5.20", "Host Namespaces", chkPass, where+": net, pid, ipc, uts and mnt differ from secshim check's own")
	}

	// read-only root, from the process's mountinfo
	mi, err := os.ReadFile(filepath.Join(dir, "mountinfo"))
	ro := false
	if err == nil {
		ro, err = rootReadonly(mi)
	}
	switch {
	case err != nil:
		rep.add("rootfs.live", "read-only root filesystem (process)", "5.12", "", chkWarn, fmt.Sprintf("%s: %v", where, err))
	case ro:
		rep.add("rootfs.live", "read-only root filesystem (process)", "5.12", "", chkPass, where+": / is mounted ro")
	default:
		rep.add("rootfs.live", "read-only root filesystem (process)", "5.12", "", chkWarn, where+": / is mounted rw")
	}

	// memory and pids limits, from the process's cgroups
	pids, mem, err := cgroupLimits(dir)
	for _, c := range []struct {
		id, title, cis, what string
		l                    cgroupLimit
	}{{"memory.live", "memory limit (cgroup)", "5.10", "memory limit", mem}, {"pids.live", "pids limit (cgroup)", "5.28", "pids limit", pids}} {
		switch {
		case err != nil:
			rep.add(c.id, c.title, c.cis, "", chkWarn, fmt.Sprintf("%s: cannot read its cgroups: %v", where, err))
		case !c.l.Found:
			rep.add(c.id, c.title, c.cis, "", chkWarn, where+": no "+c.what+" cgroup found")
		case c.l.Max < 0:
			rep.add(c.id, c.title, c.cis, "", chkWarn, fmt.Sprintf("%s: no %s in force (%s)", where, c.what, c.l.File))
		default:
			rep.add(c.id, c.title, c.cis, "", chkPass, fmt.Sprintf("%s: %s %d in force (%s)", where, c.what, c.l.Max, c.l.File))
		}
	}
}

// chkReadProcStatus reads every "Key: value" of a status file for display.
// Attestation's parseStatus is the strict one (it refuses a status missing
// a field it compares); check reports what it finds, "-" for what is not.
func chkReadProcStatus(path string) (map[string]string, error) {
	data, err := readProc(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// chkRootKey reports whether a state dir entry names one --root's records
// ("default", or the 16 hex digits RecordPath derives from a root).
func chkRootKey(name string) bool {
	if name == "default" {
		return true
	}
	if len(name) != 16 {
		return false
	}
	for _, c := range name {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkAllContainers reports on every record in the state dir. Records
// are kept per --root, under a hash of it: the "default" directory is
// the no---root one, --root R names one more, and a directory neither
// names is reported as a failed check (its root cannot be recovered).
func (a *admin) checkAllContainers(cfg *Config, root string) ([]*checkReport, error) {
	entries, err := os.ReadDir(cfg.StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return []*checkReport{}, nil
	}
	if err != nil {
		return nil, err
	}
	known := map[string]string{filepath.Base(filepath.Dir(RecordPath(cfg.StateDir, "", "x"))): ""}
	if root != "" {
		known[filepath.Base(filepath.Dir(RecordPath(cfg.StateDir, root, "x")))] = root
	}
	reports := []*checkReport{}
	for _, e := range entries {
		if !e.IsDir() || !chkRootKey(e.Name()) {
			continue // SELinux MCS table and its lock, the seccomp cache
		}
		r, ok := known[e.Name()]
		ids, err := os.ReadDir(filepath.Join(cfg.StateDir, e.Name()))
		if err != nil {
			return nil, err
		}
		for _, idEnt := range ids {
			if idEnt.IsDir() || strings.HasPrefix(idEnt.Name(), ".") {
				continue
			}
			id := idEnt.Name()
			if !ok {
				rep := &checkReport{Target: checkTarget{Kind: "container", ID: id}}
				rep.add("state", "container state", "", "", chkFail,
					fmt.Sprintf("recorded under an unknown --root (state key %s); run secshim check --all --root ROOT", e.Name()))
				rep.Summary = chkSummarize(rep.Checks)
				reports = append(reports, rep)
				continue
			}
			rec, found, err := loadRecord(filepath.Join(cfg.StateDir, e.Name(), id))
			if err != nil || !found {
				rep := &checkReport{Target: checkTarget{Kind: "container", ID: id, Root: r}}
				rep.add("state", "container state", "", "", chkFail, fmt.Sprintf("unreadable record: %v", err))
				rep.Summary = chkSummarize(rep.Checks)
				reports = append(reports, rep)
				continue
			}
			reports = append(reports, a.checkRecorded(rec, r, id))
		}
		if !ok {
			continue
		}
		// Tombstones: a deleted container awaiting the sweep is not
		// reported; one whose delete failed still exists and is.
		tombs, _ := os.ReadDir(filepath.Join(cfg.StateDir, e.Name(), tombDir))
		for _, t := range tombs {
			id := t.Name()
			if _, err := os.Stat(filepath.Join(cfg.StateDir, e.Name(), id)); err == nil {
				continue // its ID was created again: listed above
			}
			rec, found, err := loadRecord(filepath.Join(cfg.StateDir, e.Name(), id))
			if err != nil || !found {
				continue
			}
			if _, err := chkRunState(&rec.Backend, r, id); err != nil {
				continue
			}
			reports = append(reports, a.checkRecorded(rec, r, id))
		}
	}
	return reports, nil
}
