package runtimes

// secshim's own verbs, for the person who writes the policy:
//
//	secshim explain [--config FILE] [--profile P] [--json] <bundle dir | config.json>
//	secshim policy check [FILE]
//
// Main hands them over before parsing a runtime command line. Unlike the
// runtime path, which never writes to stdout because engines parse the
// backend's, admin verbs are run by people and scripts: their report goes
// to stdout, usage and config errors to stderr. Exit status: 0 fine, 1 the
// container would be refused / the policy has errors, 2 usage or config
// errors. Neither verb writes a file, logs a decision or runs a backend.
// docs/explain.md describes both, and the JSON schema of explain --json.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// adminVerbs are secshim's own verbs. None may be a verb of any backend
// (admin_test checks the flag tables), or secshim would shadow it.
var adminVerbs = []string{"explain", "policy", "log", "check", "attest"}

func isAdminVerb(v string) bool { return slices.Contains(adminVerbs, v) }

const (
	exitOK      = 0
	exitRefused = 1 // explain: would be refused; policy check: errors found
	exitUsage   = 2
)

// admin runs one admin verb. Its fields are the seams tests use.
type admin struct {
	stdout, stderr io.Writer
	// host answers rules' questions about the machine; nil is the real one.
	host *hardening.Host
	// backend resolves a backend name; nil is Config.Backend.
	backend func(c *Config, name string) (*Backend, error)
}

// adminMain runs `secshim explain ...` or `secshim policy ...` (args[0] is
// the verb) and returns the exit status.
func adminMain(args []string) int {
	a := &admin{stdout: os.Stdout, stderr: os.Stderr}
	return a.run(args)
}

func (a *admin) run(args []string) int {
	switch args[0] {
	case "explain":
		return a.explain(args[1:])
	case "log":
		return a.log(args[1:])
	case "check":
		return a.check(args[1:])
	case "attest":
		return a.attest(args[1:])
	case "policy":
		if len(args) >= 2 && args[1] == "check" {
			return a.policyCheck(args[2:])
		}
		if len(args) >= 2 && isHelp(args[1]) {
			fmt.Fprint(a.stdout, policyUsage)
			return exitOK
		}
		return a.usage(policyUsage, "policy: expected the subcommand check")
	}
	return a.usage("", "unknown admin verb "+args[0])
}

const explainUsage = `usage: secshim explain [--config FILE] [--profile P] [--json] <bundle dir | config.json>

Shows what secshim would do to this container at create: the profile it
gets and why, the floor, the backend, every decision, and the resulting
change to config.json. Runs nothing and writes nothing.

  --config FILE  the config to explain with (default: the one secshim loads)
  --profile P    explain under profile P, as if the container had asked for
                 it (P need not be selectable); the floor still applies
  --json         one JSON object (schema: docs/explain.md)

Exit status: 0 the container would start, 1 it would be refused,
2 usage or config error.
`

const policyUsage = `usage: secshim policy check [FILE]

Validates a config file (default: the one secshim loads) and every profile
in it. Prints one error per line as FILE:LINE: message and exits 1 if
there is any, else prints "ok: FILE: N profiles" and exits 0; 2 when the
file cannot be read.
`

func isHelp(s string) bool { return s == "-h" || s == "--help" || s == "-help" || s == "help" }

func (a *admin) usage(text, msg string) int {
	fmt.Fprintf(a.stderr, "secshim: %s\n%s", msg, text)
	return exitUsage
}

// parseAdminFlags reads "--name value", "--name=value" and boolean
// "--name" anywhere on the line (until "--"); takesValue lists the known
// flags and whether each takes a value.
func parseAdminFlags(args []string, takesValue map[string]bool) (map[string]string, []string, error) {
	flags := map[string]string{}
	var pos []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			pos = append(pos, arg)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if name == "h" {
			name = "help"
		}
		wants, known := takesValue[name]
		switch {
		case !known:
			return nil, nil, fmt.Errorf("unknown flag %s", arg)
		case wants && !hasVal:
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag %s needs a value", arg)
			}
			i++
			val = args[i]
		case !wants && hasVal:
			return nil, nil, fmt.Errorf("flag --%s takes no value", name)
		}
		flags[name] = val
	}
	return flags, pos, nil
}

// configSource is the config file secshim would load: SECSHIM_CONFIG, else
// DefaultConfigPath; explicit says whether a missing file is an error
// (see LoadConfig).
func configSource() (path string, explicit bool) {
	path, explicit = os.LookupEnv("SECSHIM_CONFIG")
	if !explicit || path == "" {
		return DefaultConfigPath, false
	}
	return path, true
}

// ---- explain ----

// explanation is `secshim explain`'s report; with --json it is printed
// as one JSON object, this schema (also in docs/explain.md):
//
//	{
//	  "config":  "/etc/secshim/secshim.toml",   // "" for the built-in config
//	  "spec":    "bundle/config.json",           // the file explained
//	  "profile": {"name": "restricted", "reason": "annotation", "detail": "..."},
//	             // reason: "default" (policy.profile), "annotation"
//	             // (io.secshim.profile) or "flag" (--profile)
//	  "floor":   {"name": "baseline", "applied": true},
//	             // applied: false when the profile is the floor itself
//	  "backend": {"name": "runc", "path": "/usr/sbin/runc", "reason": "default_backend"},
//	             // reason: "annotation", "profile", "default_backend" or "auto"
//	  "stages": [                                // floor (when applied), then profile
//	    {"stage": "floor", "profile": "baseline",
//	     "pass_through": false,                  // a pass-through profile applies no rule
//	     "changes":  [{"control", "field", "from", "to", "mode"}],
//	                 // mode: "" for enforce (applied), "audit" (logged
//	                 // only) or "deny" (refuses the container)
//	     "refusals": [{"control", "field", "value", "why"}],
//	     "reports":  [{"control", "field", "value", "note"}],
//	     "error":    "..."}                      // this stage refused the spec
//	  ],
//	  "diff": [{"path", "op", "from", "to", "id", "summary"}],
//	             // config.json before -> after; empty when refused (nothing
//	             // is written then). op: "set" (member added: to), "unset"
//	             // (member removed: from), "change" (from, to), "add" /
//	             // "remove" (an array element: to / from), "reorder".
//	             // path: dotted, keys with dots quoted (linux.sysctl["a.b"]),
//	             // array entries by their identity (mounts[/tmp]).
//	             // id: an array entry's identity (mounts: destination,
//	             // devices: path, namespaces: type).
//	             // summary: from/to are a one-line summary (linux.seccomp)
//	  "notes":   ["..."],                        // e.g. --profile P is not selectable
//	  "start":   true,                           // false: exit status 1
//	  "refused": "why"                           // when start is false
//	}
type explanation struct {
	Config  string          `json:"config"`
	Spec    string          `json:"spec"`
	Profile explainProfile  `json:"profile"`
	Floor   *explainFloor   `json:"floor"`
	Backend *explainBackend `json:"backend"`
	Stages  []explainStage  `json:"stages"`
	Diff    []diffEntry     `json:"diff"`
	Notes   []string        `json:"notes,omitempty"`
	Start   bool            `json:"start"`
	Refused string          `json:"refused,omitempty"`
}

type explainProfile struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

type explainFloor struct {
	Name    string `json:"name"`
	Applied bool   `json:"applied"`
}

type explainBackend struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

type explainStage struct {
	Stage       string             `json:"stage"`
	Profile     string             `json:"profile"`
	PassThrough bool               `json:"pass_through"`
	Changes     []hardening.Change `json:"changes"`
	Refusals    []refusal          `json:"refusals"`
	Reports     []report           `json:"reports"`
	Error       string             `json:"error,omitempty"`
}

type refusal struct {
	Control string `json:"control"`
	Field   string `json:"field"`
	Value   string `json:"value"`
	Why     string `json:"why"`
}

type report struct {
	Control string `json:"control"`
	Field   string `json:"field"`
	Value   string `json:"value"`
	Note    string `json:"note"`
}

func (a *admin) explain(args []string) int {
	flags, pos, err := parseAdminFlags(args, map[string]bool{"config": true, "profile": true, "json": false, "help": false})
	if err != nil {
		return a.usage(explainUsage, "explain: "+err.Error())
	}
	if _, ok := flags["help"]; ok {
		fmt.Fprint(a.stdout, explainUsage)
		return exitOK
	}
	if len(pos) != 1 {
		return a.usage(explainUsage, "explain: expected one bundle directory or config.json")
	}
	cfg, err := a.loadConfig(flags)
	if err != nil {
		fmt.Fprintln(a.stderr, "secshim: explain:", err)
		return exitUsage
	}
	path := pos[0]
	fi, err := os.Stat(path)
	if err != nil {
		fmt.Fprintln(a.stderr, "secshim: explain:", err)
		return exitUsage
	}
	if fi.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	if _, err := os.Lstat(path); err != nil {
		fmt.Fprintln(a.stderr, "secshim: explain:", err)
		return exitUsage
	}
	profileFlag, hasProfile := flags["profile"]
	if hasProfile && profileFlag == "" {
		return a.usage(explainUsage, "explain: --profile needs a profile name")
	}
	if hasProfile {
		if _, err := cfg.profiles().Resolve(profileFlag); err != nil {
			fmt.Fprintln(a.stderr, "secshim: explain: --profile:", err)
			return exitUsage
		}
	}
	x, err := a.explainFile(cfg, path, profileFlag)
	if err != nil {
		fmt.Fprintln(a.stderr, "secshim: explain:", err)
		return exitUsage
	}
	if _, ok := flags["json"]; ok {
		out, err := json.MarshalIndent(x, "", "  ")
		if err != nil {
			fmt.Fprintln(a.stderr, "secshim: explain:", err)
			return exitUsage
		}
		a.stdout.Write(append(out, '\n'))
	} else {
		x.writeText(a.stdout)
	}
	if !x.Start {
		return exitRefused
	}
	return exitOK
}

// loadConfig reads --config FILE, or the config secshim would load.
func (a *admin) loadConfig(flags map[string]string) (*Config, error) {
	path, ok := flags["config"]
	if !ok {
		cfg, err := LoadConfig()
		if err == nil && cfg.Policy.Floor == "" {
			// ParseConfig defaults the floor to the profile; the
			// built-in config (no file) does not go through it.
			cfg.Policy.Floor = cfg.Policy.Profile
		}
		return cfg, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return ParseConfig(path, data)
}

// explainFile hardens a copy of the spec in memory exactly as create
// would: selection, backend, floor, profile. The returned error is for
// problems explain itself has (exit 2); everything create would refuse is
// in the explanation.
func (a *admin) explainFile(cfg *Config, path, profileFlag string) (*explanation, error) {
	x := &explanation{Config: cfg.Path, Spec: path, Diff: []diffEntry{}, Stages: []explainStage{}}
	f, err := spec.Load(path)
	if err != nil {
		x.refuse(err.Error())
		return x, nil
	}
	before, err := decodeJSON(f.Orig)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sel, err := a.choose(cfg, f.Root, profileFlag, x)
	if err != nil {
		x.refuse(fmt.Sprintf("%s: %v", path, err))
		return x, nil
	}
	resolve := a.backend
	if resolve == nil {
		resolve = (*Config).Backend
	}
	if b, err := resolve(cfg, sel.Backend); err != nil {
		x.refuse(err.Error())
	} else {
		x.Backend.Name, x.Backend.Path = b.Name, b.Path
	}
	// No container ID and no state dir: rules that reserve or record
	// something (SELinux MCS pairs) must treat this as a dry run.
	env := hardening.Env{Host: a.host}
	for _, p := range sel.Stages() {
		name := "profile"
		if p == sel.Floor {
			name = "floor"
		}
		st := explainStage{Stage: name, Profile: p.Name, PassThrough: p.PassThrough,
			Changes: []hardening.Change{}, Refusals: []refusal{}, Reports: []report{}}
		// create runs Harden, which is Apply plus checks of the result but
		// merges the findings of every kind. Apply on the document keeps
		// them apart; Harden then runs on a copy of the hardened document
		// for its checks, where the rules, idempotent, change nothing more.
		ctx, err := hardening.Apply(p, hardening.CreateRules, f.Root, env)
		st.Changes = append(st.Changes, ctx.Changes...)
		for _, r := range ctx.Refusals {
			st.Refusals = append(st.Refusals, refusal{r.Control, r.Field, r.From, r.To})
		}
		for _, r := range ctx.Reports {
			st.Reports = append(st.Reports, report{r.Control, r.Field, r.From, r.To})
		}
		if err == nil {
			_, err = hardening.Harden(p, f.Root.Clone(), env)
		}
		if err != nil {
			st.Error = err.Error()
		}
		x.Stages = append(x.Stages, st)
		var denied *hardening.DeniedError
		if errors.As(err, &denied) {
			// The stage lists each finding; the verdict only counts them.
			x.refuse(fmt.Sprintf("%s: profile %s denies this container: %d findings (marked deny or refused above)", path, p.Name, len(denied.Changes)))
			return x, nil
		}
		if err != nil {
			x.refuse(fmt.Sprintf("%s: %v", path, err))
			return x, nil
		}
	}
	if x.Refused != "" {
		return x, nil
	}
	after, err := decodeJSON(f.Root.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s after hardening: %w", path, err)
	}
	diffValues("", before, after, &x.Diff)
	x.Start = true
	return x, nil
}

func (x *explanation) refuse(why string) {
	x.Start = false
	if x.Refused == "" {
		x.Refused = why
	} else {
		x.Refused += "; " + why
	}
}

// choose is selectFor (which create uses) plus the reasons behind its
// choices; with --profile it picks that profile instead, bypassing the
// selectable list but not the floor.
func (a *admin) choose(cfg *Config, doc *spec.Object, profileFlag string, x *explanation) (*Selection, error) {
	ann, err := annotations(doc)
	if err != nil {
		return nil, err
	}
	want, asked := ann[AnnotationProfile]
	var sel *Selection
	if profileFlag == "" {
		if sel, err = cfg.Select(doc); err != nil {
			return nil, err
		}
		switch {
		case asked:
			x.Profile = explainProfile{sel.Profile.Name, "annotation", AnnotationProfile + "=" + want}
		case cfg.Path == "":
			x.Profile = explainProfile{sel.Profile.Name, "default", "built-in default profile"}
		default:
			x.Profile = explainProfile{sel.Profile.Name, "default", "policy.profile"}
		}
	} else {
		ps := cfg.profiles()
		sel = &Selection{}
		if sel.Profile, err = ps.Resolve(profileFlag); err != nil {
			return nil, err
		}
		if cfg.Policy.Floor != profileFlag {
			if sel.Floor, err = ps.Resolve(cfg.Policy.Floor); err != nil {
				return nil, err
			}
		}
		detail := "--profile " + profileFlag
		if asked {
			detail += ", overriding " + AnnotationProfile + "=" + want
		}
		x.Profile = explainProfile{profileFlag, "flag", detail}
		if profileFlag != cfg.Policy.Profile && !slices.Contains(cfg.Policy.Selectable, profileFlag) {
			x.Notes = append(x.Notes, fmt.Sprintf("profile %q is not in policy.selectable: no container can ask for it", profileFlag))
		}
		sel.Backend = sel.Profile.Backend
		if iso, ok := ann[AnnotationIsolation]; ok {
			b, known := cfg.Policy.Isolation[iso]
			if !known {
				return nil, fmt.Errorf("annotation %s=%s: unknown isolation (known: %s)", AnnotationIsolation, iso, strings.Join(sortedKeys(cfg.Policy.Isolation), ", "))
			}
			sel.Backend = b
		}
	}
	x.Floor = &explainFloor{Name: cfg.Policy.Floor, Applied: sel.Floor != nil}
	x.Backend = &explainBackend{Name: sel.Backend}
	switch iso, ok := ann[AnnotationIsolation]; {
	case ok:
		x.Backend.Reason, x.Backend.Detail = "annotation", AnnotationIsolation+"="+iso
	case sel.Backend != "":
		x.Backend.Reason, x.Backend.Detail = "profile", "profiles."+sel.Profile.Name+".backend"
	case cfg.DefaultBackend != "":
		x.Backend.Reason, x.Backend.Detail = "default_backend", "default_backend"
		x.Backend.Name = cfg.DefaultBackend
	default:
		x.Backend.Reason, x.Backend.Detail = "auto", "no default_backend: crun if installed, else runc"
	}
	return sel, nil
}

// writeText prints the explanation for a person.
func (x *explanation) writeText(w io.Writer) {
	var b strings.Builder
	cfg := x.Config
	if cfg == "" {
		cfg = "built-in (no config file)"
	}
	fmt.Fprintf(&b, "config:  %s\nspec:    %s\n", cfg, x.Spec)
	if x.Profile.Name != "" {
		fmt.Fprintf(&b, "profile: %s (%s)\n", x.Profile.Name, x.Profile.Detail)
	}
	if x.Floor != nil {
		if x.Floor.Applied {
			fmt.Fprintf(&b, "floor:   %s (applied first)\n", x.Floor.Name)
		} else {
			fmt.Fprintf(&b, "floor:   %s (the profile itself)\n", x.Floor.Name)
		}
	}
	if x.Backend != nil {
		name := x.Backend.Name
		if name == "" {
			name = "(unresolved)"
		}
		if x.Backend.Path != "" {
			name += " " + x.Backend.Path
		}
		fmt.Fprintf(&b, "backend: %s (%s)\n", name, x.Backend.Detail)
	}
	for _, n := range x.Notes {
		fmt.Fprintf(&b, "note:    %s\n", n)
	}
	for _, s := range x.Stages {
		fmt.Fprintf(&b, "\n%s %s:\n", s.Stage, s.Profile)
		if s.PassThrough {
			b.WriteString("  pass-through: no rule applies\n")
		}
		for _, c := range s.Changes {
			fmt.Fprintf(&b, "  %s", c)
			if c.Mode != "" {
				fmt.Fprintf(&b, " [%s]", c.Mode)
			}
			b.WriteByte('\n')
		}
		for _, r := range s.Refusals {
			fmt.Fprintf(&b, "  refused: %s: %s: %s: %s\n", r.Control, r.Field, r.Value, r.Why)
		}
		for _, r := range s.Reports {
			fmt.Fprintf(&b, "  report: %s: %s: %s: %s\n", r.Control, r.Field, r.Value, r.Note)
		}
		if !s.PassThrough && len(s.Changes)+len(s.Refusals)+len(s.Reports) == 0 {
			b.WriteString("  no finding\n")
		}
	}
	if x.Start {
		b.WriteString("\nconfig.json diff:\n")
		if len(x.Diff) == 0 {
			b.WriteString("  (unchanged)\n")
		}
		for _, line := range diffLines(x.Diff) {
			fmt.Fprintf(&b, "  %s\n", line)
		}
		b.WriteString("\nresult: would start\n")
	} else {
		fmt.Fprintf(&b, "\nresult: would be refused (config.json left unchanged): %s\n", x.Refused)
	}
	io.WriteString(w, b.String())
}

// ---- spec diff ----

// diffEntry is one difference between config.json before and after.
type diffEntry struct {
	Path string `json:"path"`
	Op   string `json:"op"`
	From any    `json:"from,omitempty"`
	To   any    `json:"to,omitempty"`
	// ID is an array entry's identity (a mount's destination, a device's
	// path), which the text diff shows for a removed entry.
	ID      string `json:"id,omitempty"`
	Summary bool   `json:"summary,omitempty"`
}

// decodeJSON decodes a whole document for diffing (never on the hot
// path); numbers stay exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// summarized returns how to summarize the subtree at path, when it is too
// large to diff usefully: a rendered seccomp filter is hundreds of rules.
func summarized(path string) (func(any) string, bool) {
	if path != "linux.seccomp" {
		return nil, false
	}
	return func(v any) string {
		m, ok := v.(map[string]any)
		if !ok {
			return renderValue(v)
		}
		rules, _ := m["syscalls"].([]any)
		arches, _ := m["architectures"].([]any)
		return fmt.Sprintf("defaultAction %v, %d architectures, %d syscall rules", m["defaultAction"], len(arches), len(rules))
	}, true
}

func diffValues(path string, a, b any, out *[]diffEntry) {
	if reflect.DeepEqual(a, b) {
		return
	}
	if sum, ok := summarized(path); ok {
		e := diffEntry{Path: path, Op: "change", Summary: true}
		switch {
		case a == nil:
			e.Op, e.To = "set", sum(b)
		case b == nil:
			e.Op, e.From = "unset", sum(a)
		default:
			e.From, e.To = sum(a), sum(b)
			if e.From == e.To {
				e.To = e.To.(string) + " (rules changed)"
			}
		}
		*out = append(*out, e)
		return
	}
	am, aObj := a.(map[string]any)
	bm, bObj := b.(map[string]any)
	if aObj && bObj {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			av, inA := am[k]
			bv, inB := bm[k]
			p := joinPath(path, k)
			switch {
			case !inA:
				if sum, ok := summarized(p); ok {
					*out = append(*out, diffEntry{Path: p, Op: "set", To: sum(bv), Summary: true})
				} else {
					*out = append(*out, diffEntry{Path: p, Op: "set", To: bv})
				}
			case !inB:
				if sum, ok := summarized(p); ok {
					*out = append(*out, diffEntry{Path: p, Op: "unset", From: sum(av), Summary: true})
				} else {
					*out = append(*out, diffEntry{Path: p, Op: "unset", From: av})
				}
			default:
				diffValues(p, av, bv, out)
			}
		}
		return
	}
	aa, aArr := a.([]any)
	ba, bArr := b.([]any)
	if aArr && bArr {
		diffArrays(path, aa, ba, out)
		return
	}
	*out = append(*out, diffEntry{Path: path, Op: "change", From: a, To: b})
}

// identityKeys name the member that identifies an entry of an array of
// objects: mounts by destination, devices by path, namespaces and
// rlimits by type.
var identityKeys = []string{"destination", "path", "type"}

func diffArrays(path string, a, b []any, out *[]diffEntry) {
	if key := identityKey(a, b); key != "" {
		id := func(v any) string { return v.(map[string]any)[key].(string) }
		inB := map[string]any{}
		for _, v := range b {
			inB[id(v)] = v
		}
		inA := map[string]any{}
		var commonA, commonB []string
		for _, v := range a {
			inA[id(v)] = v
			if _, ok := inB[id(v)]; !ok {
				*out = append(*out, diffEntry{Path: path, Op: "remove", From: v, ID: id(v)})
			} else {
				commonA = append(commonA, id(v))
			}
		}
		for _, v := range b {
			if _, ok := inA[id(v)]; !ok {
				*out = append(*out, diffEntry{Path: path, Op: "add", To: v, ID: id(v)})
			} else {
				commonB = append(commonB, id(v))
			}
		}
		for _, k := range commonA {
			diffValues(path+"["+k+"]", inA[k], inB[k], out)
		}
		if !slices.Equal(commonA, commonB) {
			*out = append(*out, diffEntry{Path: path, Op: "reorder"})
		}
		return
	}
	// Anything else compares as a multiset of canonical JSON values,
	// listed in canonical order so that the diff does not depend on the
	// order a rule happened to write them in.
	canon := func(v any) string { s, _ := json.Marshal(v); return string(s) }
	removed, added := missingFrom(a, b, canon), missingFrom(b, a, canon)
	for _, v := range removed {
		*out = append(*out, diffEntry{Path: path, Op: "remove", From: v})
	}
	for _, v := range added {
		*out = append(*out, diffEntry{Path: path, Op: "add", To: v})
	}
	if len(removed)+len(added) == 0 {
		*out = append(*out, diffEntry{Path: path, Op: "reorder"})
	}
}

// missingFrom is the elements of a that b lacks (as multisets), sorted
// by their canonical form.
func missingFrom(a, b []any, canon func(any) string) []any {
	count := map[string]int{}
	for _, v := range b {
		count[canon(v)]++
	}
	var out []any
	for _, v := range a {
		if k := canon(v); count[k] > 0 {
			count[k]--
		} else {
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return canon(out[i]) < canon(out[j]) })
	return out
}

// identityKey is the first of identityKeys that every element of both
// arrays has, as a string unique within each array; "" if none.
func identityKey(a, b []any) string {
	if len(a) == 0 && len(b) == 0 {
		return ""
	}
next:
	for _, key := range identityKeys {
		for _, list := range [][]any{a, b} {
			seen := map[string]bool{}
			for _, v := range list {
				m, ok := v.(map[string]any)
				if !ok {
					return ""
				}
				s, ok := m[key].(string)
				if !ok || seen[s] {
					continue next
				}
				seen[s] = true
			}
		}
		return key
	}
	return ""
}

// plain reports whether s is non-empty and made only of ASCII letters,
// digits and the bytes in extra. (No regexp compiled at package init: the
// runtime path would pay for it on every container start.)
func plain(s, extra string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

func joinPath(path, key string) string {
	if !plain(key, "_-") {
		k, _ := json.Marshal(key)
		return path + "[" + string(k) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// maxRendered bounds a value on a text diff line; --json has it whole.
const maxRendered = 240

// renderValue writes a diff value on one line: a plain string bare,
// anything else as compact JSON.
func renderValue(v any) string {
	if s, ok := v.(string); ok && plain(s, "_./:=,@+-") {
		return s
	}
	out, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(out) > maxRendered {
		return fmt.Sprintf("%s... (%d bytes)", out[:maxRendered], len(out))
	}
	return string(out)
}

// diffLines renders the diff, one line per path; consecutive additions
// and removals of one array share a line ("path: -A -B +C").
func diffLines(diff []diffEntry) []string {
	var lines []string
	lastArray := ""
	for _, e := range diff {
		val := func(v any) string {
			if e.Summary {
				return fmt.Sprint(v)
			}
			return renderValue(v)
		}
		var item string
		switch e.Op {
		case "add":
			item = "+" + val(e.To)
		case "remove":
			item = "-" + val(e.From)
			if e.ID != "" {
				item = "-" + renderValue(e.ID)
			}
		}
		if item != "" && e.Path == lastArray {
			lines[len(lines)-1] += " " + item
			continue
		}
		lastArray = ""
		switch e.Op {
		case "add", "remove":
			lines = append(lines, e.Path+": "+item)
			lastArray = e.Path
		case "set":
			lines = append(lines, e.Path+": (unset) -> "+val(e.To))
		case "unset":
			lines = append(lines, e.Path+": "+val(e.From)+" -> (unset)")
		case "change":
			lines = append(lines, e.Path+": "+val(e.From)+" -> "+val(e.To))
		case "reorder":
			lines = append(lines, e.Path+": reordered")
		}
	}
	return lines
}

// ---- policy check ----

// policyError is one finding of policy check; line 0 when it has none in
// the file (a built-in profile).
type policyError struct {
	line int
	msg  string
}

func (a *admin) policyCheck(args []string) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(a.stdout, policyUsage)
		return exitOK
	}
	if len(args) > 1 || len(args) == 1 && strings.HasPrefix(args[0], "-") {
		return a.usage(policyUsage, "policy check: expected at most one file")
	}
	var path string
	explicit := true
	if len(args) == 1 {
		path = args[0]
	} else {
		path, explicit = configSource()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			errs, n := checkPolicyData("", nil)
			if len(errs) == 0 {
				fmt.Fprintf(a.stdout, "ok: no %s, the built-in config: %d profiles\n", path, n)
				return exitOK
			}
			for _, e := range errs {
				fmt.Fprintf(a.stdout, "built-in: %s\n", e.msg)
			}
			return exitRefused
		}
		fmt.Fprintln(a.stderr, "secshim: policy check:", err)
		return exitUsage
	}
	errs, n := checkPolicyData(path, data)
	for _, e := range errs {
		if e.line > 0 {
			fmt.Fprintf(a.stdout, "%s:%d: %s\n", path, e.line, e.msg)
		} else {
			fmt.Fprintf(a.stdout, "%s: %s\n", path, e.msg)
		}
	}
	if len(errs) > 0 {
		return exitRefused
	}
	fmt.Fprintf(a.stdout, "ok: %s: %d profiles\n", path, n)
	return exitOK
}

// checkPolicyData finds every error of a config file it can (ParseConfig
// stops at the first) and counts its profiles. data nil: the built-in
// config.
func checkPolicyData(path string, data []byte) ([]policyError, int) {
	pc := &policyChecker{}
	cfg := DefaultConfig()
	if data != nil {
		var syntax map[string]any
		if err := toml.Unmarshal(data, &syntax); err != nil {
			pc.decodeError(err)
			return pc.sorted(), 0
		}
		pc.index = indexTOML(data)
		dec := toml.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			var strict *toml.StrictMissingError
			if !errors.As(err, &strict) {
				pc.decodeError(err)
				return pc.sorted(), 0
			}
			for _, e := range strict.Errors {
				row, _ := e.Position()
				pc.add(row, strings.Join(e.Key(), ".")+": unknown key")
			}
		}
		cfg.Path = path
		for name, b := range builtinBackends() {
			if _, ok := cfg.Backends[name]; !ok {
				cfg.Backends[name] = b
			}
		}
	}
	pc.cfg = cfg
	pc.checkSettings()
	n := pc.checkProfiles()
	pc.checkSelection()
	if len(pc.errs) == 0 && data != nil {
		// Whatever this checker misses, secshim's own loading must not.
		if _, err := ParseConfig(path, data); err != nil {
			pc.add(0, strings.TrimPrefix(err.Error(), "config "+path+": "))
		}
	}
	return pc.sorted(), n
}

type policyChecker struct {
	cfg   *Config
	index tomlIndex
	errs  []policyError
	// broken are profiles with an error of their own or in their chain;
	// their descendants are not resolved again, which would only repeat it.
	broken map[string]bool
}

func (pc *policyChecker) add(line int, msg string) {
	pc.errs = append(pc.errs, policyError{line, msg})
}

// at is the line of a key (dotted path), or of its nearest enclosing
// table or key in the file.
func (pc *policyChecker) at(path ...string) int {
	line, _ := pc.index.locate(path)
	return line
}

func (pc *policyChecker) sorted() []policyError {
	sort.SliceStable(pc.errs, func(i, j int) bool { return pc.errs[i].line < pc.errs[j].line })
	return pc.errs
}

// decodeError reports a TOML error (syntax, or a value of the wrong type)
// at its position.
func (pc *policyChecker) decodeError(err error) {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			msg = strings.Join(k, ".") + ": " + friendlyTypeError(msg)
		}
		pc.add(row, msg)
		return
	}
	pc.add(0, err.Error())
}

// parseTypeError splits go-toml's "cannot decode TOML FOUND into ... of
// type WANT". Parsed by hand: the regexp package would add its Unicode
// tables to every secshim start (their maps are built at init).
func parseTypeError(msg string) (found, want string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "cannot decode TOML ")
	if !ok {
		return "", "", false
	}
	found, rest, ok = strings.Cut(rest, " into ")
	i := strings.LastIndex(rest, " of type ")
	if !ok || found == "" || strings.ContainsFunc(found, notWordRune) || i < 0 {
		return "", "", false
	}
	want = rest[i+len(" of type "):]
	if want == "" || strings.ContainsAny(want, " \t\n\v\f\r") {
		return "", "", false
	}
	return found, want, true
}

func notWordRune(r rune) bool {
	return !(r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
}

// friendlyTypeError rewords go-toml's "cannot decode TOML string into
// struct field hardening.Limit.Max of type int64" without Go type names.
func friendlyTypeError(msg string) string {
	found, want, ok := parseTypeError(msg)
	if !ok {
		return msg
	}
	switch {
	case strings.HasPrefix(want, "[]"):
		want = "an array"
	case strings.HasPrefix(want, "map["), strings.Contains(want, "Policy"), strings.Contains(want, "Config"), want == "hardening.Limit":
		want = "a table"
	case strings.Contains(want, "int"):
		want = "an integer"
	case want == "bool":
		want = "a boolean"
	case want == "string", want == "hardening.Mode":
		want = "a string"
	}
	return fmt.Sprintf("expected %s, found a TOML %s", want, found)
}

// checkSettings checks the keys outside [profiles], each on its own.
func (pc *policyChecker) checkSettings() {
	c := pc.cfg
	for _, name := range sortedBackendNames(c.Backends) {
		if c.Backends[name].Path == "" {
			pc.add(pc.at("backends", name, "path"), fmt.Sprintf("backends.%s.path: empty", name))
		}
	}
	if c.DefaultBackend != "" {
		if _, ok := c.Backends[c.DefaultBackend]; !ok {
			pc.add(pc.at("default_backend"), fmt.Sprintf("default_backend: unknown backend %q (known: %s)", c.DefaultBackend, strings.Join(sortedBackendNames(c.Backends), ", ")))
		}
	}
	switch c.Log.Level {
	case "", "info", "debug":
	default:
		pc.add(pc.at("log", "level"), fmt.Sprintf("log.level: %q is not one of info, debug", c.Log.Level))
	}
	if !strings.HasPrefix(c.StateDir, "/") {
		pc.add(pc.at("state_dir"), fmt.Sprintf("state_dir: %q is not an absolute path", c.StateDir))
	}
	for _, v := range sortedKeys(c.Policy.Isolation) {
		if b := c.Policy.Isolation[v]; !pc.knownBackend(b) {
			pc.add(pc.at("policy", "isolation", v), fmt.Sprintf("policy.isolation.%s: unknown backend %q (known: %s)", v, b, strings.Join(sortedBackendNames(c.Backends), ", ")))
		}
	}
}

func (pc *policyChecker) knownBackend(name string) bool {
	_, ok := pc.cfg.Backends[name]
	return ok
}

func sortedBackendNames(m map[string]BackendConfig) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkSelection checks [policy]: every profile named exists, and the
// floor is at or below the default profile and every selectable one.
func (pc *policyChecker) checkSelection() {
	c := pc.cfg
	ps := c.profiles()
	names := ps.Names()
	floor := c.Policy.Floor
	if floor == "" {
		floor = c.Policy.Profile
	}
	exists := func(key, name string) bool {
		if slices.Contains(names, name) {
			return true
		}
		pc.add(pc.at("policy", key), fmt.Sprintf("policy.%s: no profile %q (known: %s)", key, name, strings.Join(names, ", ")))
		return false
	}
	okProfile := exists("profile", c.Policy.Profile)
	okFloor := c.Policy.Floor == "" || exists("floor", c.Policy.Floor)
	var okSelectable []string
	for _, s := range c.Policy.Selectable {
		if exists("selectable", s) {
			okSelectable = append(okSelectable, s)
		}
	}
	if !okFloor || pc.broken[floor] {
		return
	}
	if okProfile && !pc.broken[c.Policy.Profile] && !ps.AtLeast(c.Policy.Profile, floor) {
		pc.add(pc.at("policy", "floor"), fmt.Sprintf("policy.floor: %q is above the default profile %q, which does not extend it", floor, c.Policy.Profile))
	}
	// The built-in selectable list is not the author's: only a list the
	// file sets is held to the floor.
	if pc.index.locateExact("policy", "selectable") == 0 {
		return
	}
	for _, s := range okSelectable {
		if !pc.broken[s] && !ps.AtLeast(s, floor) {
			pc.add(pc.at("policy", "selectable"), fmt.Sprintf("policy.selectable: %q is below the floor %q (does not extend it): a container asking for it would get the floor anyway", s, floor))
		}
	}
}

// checkProfiles checks every profile, built-in and user-defined: its
// extends chain, its own table's keys and types, then the resolved
// profile (what Compile and each rule's Validate refuse) and its backend.
// It returns how many profiles there are.
func (pc *policyChecker) checkProfiles() int {
	ps := pc.cfg.profiles()
	names := ps.Names()
	pc.broken = map[string]bool{}
	parents := map[string]string{}
	for _, n := range names {
		p, err := pc.parentOf(ps, n)
		if err != nil {
			pc.add(pc.extendsLine(n), err.Error())
			pc.broken[n] = true
			continue
		}
		parents[n] = p
	}
	pc.checkCycles(names, parents)
	// Ancestors first, so that a descendant of a broken profile is
	// skipped rather than reported again.
	depth := func(n string) int {
		d := 0
		for cur := n; cur != "" && d <= len(names); cur = parents[cur] {
			d++
		}
		return d
	}
	order := slices.Clone(names)
	sort.SliceStable(order, func(i, j int) bool { return depth(order[i]) < depth(order[j]) })
	for _, n := range order {
		if t, ok := ps.User[n]; ok && !pc.checkTable(n, t) {
			pc.broken[n] = true
		}
	}
	for _, n := range order {
		if pc.chainBroken(n, parents) {
			pc.broken[n] = true
			continue
		}
		p, err := ps.Resolve(n)
		if err != nil {
			pc.add(pc.resolveLine(n, err), err.Error())
			pc.broken[n] = true
			continue
		}
		if p.Backend != "" && !pc.knownBackend(p.Backend) {
			pc.add(pc.at("profiles", n, "backend"), fmt.Sprintf("profiles.%s.backend: unknown backend %q (known: %s)", n, p.Backend, strings.Join(sortedBackendNames(pc.cfg.Backends), ", ")))
		}
	}
	return len(names)
}

// chainBroken reports whether n or one of its ancestors is broken.
func (pc *policyChecker) chainBroken(n string, parents map[string]string) bool {
	seen := map[string]bool{}
	for cur := n; cur != ""; cur = parents[cur] {
		if pc.broken[cur] || seen[cur] {
			return true
		}
		seen[cur] = true
	}
	return false
}

// parentOf is the profile n extends, or the error in its own extends key;
// it follows hardening.Profiles.Chain, which Resolve still runs.
func (pc *policyChecker) parentOf(ps *hardening.Profiles, n string) (string, error) {
	known := func(s string) bool { return slices.Contains(ps.Names(), s) }
	t, isUser := ps.User[n]
	if isUser {
		if v, ok := t["extends"]; ok {
			s, ok := v.(string)
			switch {
			case !ok:
				return "", fmt.Errorf("profiles.%s.extends: not a string", n)
			case s == n:
				return "", fmt.Errorf("profiles.%s.extends: a profile cannot extend itself", n)
			case !known(s):
				return "", fmt.Errorf("profiles.%s.extends: no profile %q (known: %s)", n, s, strings.Join(ps.Names(), ", "))
			}
			return s, nil
		}
	}
	if slices.Contains(hardening.BuiltinProfiles, n) {
		chain, err := (&hardening.Profiles{}).Chain(n)
		if err != nil {
			return "", err
		}
		if len(chain) > 1 {
			return chain[1], nil
		}
		return "", nil
	}
	return "", fmt.Errorf("profiles.%s: extends is required (one of %s or another profile)", n, strings.Join(hardening.BuiltinProfiles, ", "))
}

// checkCycles reports each extends cycle once, at the extends key of its
// first member (by name) that has one.
func (pc *policyChecker) checkCycles(names []string, parents map[string]string) {
	done := map[string]bool{}
	for _, start := range names {
		var path []string
		onPath := map[string]int{}
		cur := start
		for cur != "" && !done[cur] && !pc.broken[cur] {
			if i, ok := onPath[cur]; ok {
				cycle := path[i:]
				first := slices.Min(cycle)
				for _, m := range slices.Sorted(slices.Values(cycle)) {
					if _, has := pc.cfg.Profiles[m]["extends"]; has {
						first = m
						break
					}
				}
				k := slices.Index(cycle, first)
				loop := append(append(slices.Clone(cycle[k:]), cycle[:k]...), first)
				pc.add(pc.extendsLine(first), fmt.Sprintf("profiles.%s.extends: extends forms a cycle: %s", first, strings.Join(loop, " -> ")))
				for _, m := range cycle {
					pc.broken[m] = true
				}
				break
			}
			onPath[cur] = len(path)
			path = append(path, cur)
			cur = parents[cur]
		}
		for _, m := range path {
			done[m] = true
		}
	}
}

func (pc *policyChecker) extendsLine(n string) int {
	if l := pc.index.locateExact("profiles", n, "extends"); l > 0 {
		return l
	}
	return pc.at("profiles", n)
}

// checkTable decodes one [profiles.NAME] table strictly on its own, so
// that every unknown key and the first wrongly typed value of each
// profile is reported at its line.
func (pc *policyChecker) checkTable(n string, t map[string]any) bool {
	b, err := toml.Marshal(t)
	if err != nil {
		pc.add(pc.at("profiles", n), fmt.Sprintf("profiles.%s: %v", n, err))
		return false
	}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(&hardening.Policy{})
	if err == nil {
		return true
	}
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case errors.As(err, &strict):
		for _, e := range strict.Errors {
			key := append([]string{"profiles", n}, e.Key()...)
			pc.add(pc.at(key...), strings.Join(key, ".")+": unknown key")
		}
	case errors.As(err, &de) && slices.Equal(de.Key(), []string{"extends"}):
		// parentOf reported it already.
	case errors.As(err, &de) && len(de.Key()) > 0:
		key := append([]string{"profiles", n}, de.Key()...)
		pc.add(pc.at(key...), strings.Join(key, ".")+": "+friendlyTypeError(strings.TrimPrefix(de.Error(), "toml: ")))
	default:
		pc.add(pc.at("profiles", n), fmt.Sprintf("profiles.%s: %v", n, err))
	}
	return false
}

// isField reports whether s looks like a policy field path
// ("capabilities.allow").
func isField(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" || strings.ToLower(part) != part || !plain(part, "_") {
			return false
		}
	}
	return s != "" && !(s[0] >= '0' && s[0] <= '9')
}

// resolveLine places an error of Resolve ("profiles.NAME: capabilities:
// capabilities.allow: unknown capability ...") on the line of the most
// specific field it names that the profile's table sets, else on the
// table itself.
func (pc *policyChecker) resolveLine(n string, err error) int {
	msg := strings.TrimPrefix(err.Error(), "profiles."+n+": ")
	best, bestDepth := pc.at("profiles", n), 0
	for _, seg := range strings.Split(msg, ": ") {
		if !isField(seg) {
			break
		}
		line, depth := pc.index.locate(append([]string{"profiles", n}, strings.Split(seg, ".")...))
		if depth > bestDepth {
			best, bestDepth = line, depth
		}
	}
	return best
}

// tomlIndex maps each key and table path of a TOML document to the line
// that first defines it.
type tomlIndex map[string]int

func indexKey(path []string) string { return strings.Join(path, "\x00") }

// indexTOML reads the document's tables and keys, inline tables included,
// with go-toml's own parser (the document already parsed, so it cannot fail).
func indexTOML(data []byte) tomlIndex {
	idx := tomlIndex{}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			it := e.Key()
			table = nil
			line := 0
			for it.Next() {
				k := it.Node()
				if line == 0 {
					line = p.Shape(k.Raw).Start.Line
				}
				table = append(table, string(k.Data))
			}
			idx.define(table, line)
		case unstable.KeyValue:
			idx.keyValue(&p, table, e)
		}
	}
	return idx
}

func (idx tomlIndex) keyValue(p *unstable.Parser, prefix []string, e *unstable.Node) {
	path := slices.Clone(prefix)
	line := 0
	it := e.Key()
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = p.Shape(k.Raw).Start.Line
		}
		path = append(path, string(k.Data))
	}
	idx.define(path, line)
	if v := e.Value(); v.Kind == unstable.InlineTable {
		kids := v.Children()
		for kids.Next() {
			if kv := kids.Node(); kv.Kind == unstable.KeyValue {
				idx.keyValue(p, path, kv)
			}
		}
	}
}

// define records line for path and for each of its prefixes not yet known.
func (idx tomlIndex) define(path []string, line int) {
	for i := 1; i <= len(path); i++ {
		k := indexKey(path[:i])
		if _, ok := idx[k]; !ok {
			idx[k] = line
		}
	}
}

// locate finds the line of path, else of its longest known prefix; depth
// is how many elements matched (0: none, line 0).
func (idx tomlIndex) locate(path []string) (line, depth int) {
	for i := len(path); i > 0; i-- {
		if l, ok := idx[indexKey(path[:i])]; ok {
			return l, i
		}
	}
	return 0, 0
}

// locateExact is the line of path itself, 0 when the file does not set it.
func (idx tomlIndex) locateExact(path ...string) int {
	return idx[indexKey(path)]
}
