package runtimes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Family is how a backend parses its command line.
type Family int

const (
	// FamilyRunc is runc and crun (and runc look-alikes). runc parses with
	// urfave/cli v1 on Go's flag package, crun with GNU argp (getopt_long);
	// secshim accepts only the spellings both read the same way:
	// "--name value", "--name=value" and "-x value" (-x a one-letter
	// alias). Refused, because the two disagree:
	//   - "-b=X": runc reads bundle "X", crun bundle "=X";
	//   - "-bundle X": runc reads bundle "X", crun -b with value "undle";
	//   - "-bX", "-dt": crun reads -b "X" and -d -t, runc refuses;
	//   - "--detach=true" on a flag without value: runc parses the bool
	//     (ParseBool: "0" is false), crun refuses or, for exec --tty, has
	//     its own rule ("no" is false, "0" true);
	//   - abbreviations such as "--bun": getopt completes them, runc refuses.
	FamilyRunc Family = iota
	// FamilyRunsc is runsc: Go's flag package at the top level and again
	// for the verb. "-name" and "--name" are the same, "-name=value" and,
	// unless the flag is a bool, "-name value"; a bool takes a value only
	// as "-name=true|false".
	FamilyRunsc
)

func (f Family) String() string {
	switch f {
	case FamilyRunc:
		return "runc"
	case FamilyRunsc:
		return "runsc"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// Flag is one flag as given on the command line.
type Flag struct {
	Name     string   // canonical long name without dashes: -b is "bundle", -v "version"
	Value    string   // "" for a bool given without "=value"
	HasValue bool     // a value was given, possibly ""
	Tokens   []string // the original token(s), for rebuilding argv byte for byte
}

// Invocation is a parsed runtime command line:
//
//	<globals> <verb> <verb flags> [--] <positionals>
//
// The verb is the first token that is not a global flag or a global
// flag's value: secshim never looks for a verb name elsewhere, so a flag
// value or an ID spelled "create" is just that.
type Invocation struct {
	Family      Family
	Args        []string // original argv[1:]
	Globals     []Flag   // flags before the verb, in order
	Verb        string   // canonical verb ("h" is "help"); "" when argv holds only help/version globals
	Flags       []Flag   // the verb's flags, in order
	Positionals []string // what follows the verb's flags: the ID first, then kill's signal, exec's command...
	ID          string   // container ID, "" for verbs without one (list, spec, features, help...)

	verbTok string // the verb as given
	dashes  bool   // a "--" ended the verb's flags
}

// Parse parses argv[1:] of a runtime invocation. Whatever the backend
// might read differently from secshim is an error, never passed through:
// an unknown verb or flag, a flag missing its value, a spelling the
// backends of the family disagree on, an extra positional, a flag-like
// token after the container ID (runc's urfave/cli would move it back among
// the flags), an unsafe ID.
func Parse(args []string, fam Family) (*Invocation, error) {
	fs := familyOf(fam)
	if fs == nil {
		return nil, fmt.Errorf("secshim: unknown runtime family %v", fam)
	}
	inv := &Invocation{Family: fam, Args: append([]string(nil), args...)}
	if len(args) == 0 {
		return nil, errors.New("secshim: no command")
	}
	i := 0
	globals := fs.globalTable()
	for i < len(args) && isFlag(args[i]) {
		if args[i] == "--" {
			return nil, errors.New(`secshim: "--" before the command`)
		}
		f, n, err := globals.parse(fam, args[i:])
		if err != nil {
			return nil, fmt.Errorf("secshim: global flags: %w", err)
		}
		inv.Globals = append(inv.Globals, f)
		i += n
	}
	if i == len(args) {
		if !inv.HelpOnly() {
			return nil, errors.New("secshim: no command")
		}
		return inv, nil
	}

	inv.verbTok = args[i]
	inv.Verb = fs.canonicalVerb(args[i])
	v := fs.verb(inv.Verb)
	if v == nil {
		return nil, fmt.Errorf("secshim: unknown command %q", args[i])
	}
	flags := fs.table(v, "")
	for i++; i < len(args) && isFlag(args[i]); {
		if args[i] == "--" {
			inv.dashes = true
			i++
			break
		}
		f, n, err := flags.parse(fam, args[i:])
		if err != nil {
			return nil, fmt.Errorf("secshim: %s: %w", inv.Verb, err)
		}
		inv.Flags = append(inv.Flags, f)
		i += n
	}
	inv.Positionals = append([]string{}, args[i:]...)
	if err := inv.checkPositionals(v.args); err != nil {
		return nil, fmt.Errorf("secshim: %s: %w", inv.Verb, err)
	}
	return inv, nil
}

// isFlag reports whether a token in flag position is a flag: both Go's
// flag package and getopt take a lone "-" as an argument.
func isFlag(tok string) bool { return len(tok) > 1 && tok[0] == '-' }

// parse reads the flag starting args[0] and says how many tokens it used.
// A value flag takes the next token whatever it looks like ("-r -" is
// resources "-"), as both getopt and Go's flag package do.
func (t *flagTable) parse(fam Family, args []string) (Flag, int, error) {
	tok := args[0]
	var name, val string
	var eq bool
	if fam == FamilyRunc && !strings.HasPrefix(tok, "--") {
		if len(tok) != 2 {
			return Flag{}, 0, fmt.Errorf("flag %q: write it --name value (runc and crun read single-dash words and attached values differently)", tok)
		}
		long, ok := t.longOf(tok[1])
		if !ok {
			return Flag{}, 0, fmt.Errorf("unknown flag %q", tok)
		}
		name = long
	} else {
		name = strings.TrimPrefix(tok[1:], "-")
		if name == "" || name[0] == '-' || name[0] == '=' {
			return Flag{}, 0, fmt.Errorf("bad flag syntax %q", tok)
		}
		name, val, eq = strings.Cut(name, "=")
	}
	kind, ok := t.kindOf(name)
	if !ok {
		return Flag{}, 0, fmt.Errorf("unknown flag %q", tok)
	}
	f := Flag{Name: name, Value: val, HasValue: eq, Tokens: []string{tok}}
	switch kind {
	case kindValue:
		if eq {
			return f, 1, nil
		}
		if len(args) < 2 {
			return Flag{}, 0, fmt.Errorf("flag %q needs a value", tok)
		}
		f.Value, f.HasValue, f.Tokens = args[1], true, []string{tok, args[1]}
		return f, 2, nil
	case kindEq:
		if !eq {
			return Flag{}, 0, fmt.Errorf("flag %q: write it -%s=value (its type differs between runsc releases)", tok, name)
		}
		return f, 1, nil
	case kindHelp:
		if eq {
			return Flag{}, 0, fmt.Errorf("flag %q takes no value", tok)
		}
		return f, 1, nil
	}
	if eq {
		if fam == FamilyRunc {
			return Flag{}, 0, fmt.Errorf("flag %q takes no value", tok)
		}
		if _, err := strconv.ParseBool(val); err != nil {
			return Flag{}, 0, fmt.Errorf("flag %q: invalid boolean value", tok)
		}
	}
	return f, 1, nil
}

// checkPositionals applies the verb's argSpec. With a help flag the
// backend only prints help, so the ID may be missing.
func (inv *Invocation) checkPositionals(a argSpec) error {
	rest := inv.Positionals
	if a.id {
		if len(rest) == 0 {
			if inv.HelpOnly() {
				return nil
			}
			return errors.New("missing container ID")
		}
		if err := checkID(rest[0]); err != nil {
			return err
		}
		inv.ID, rest = rest[0], rest[1:]
	}
	if !a.verbatim {
		for _, p := range rest {
			if strings.HasPrefix(p, "-") {
				return fmt.Errorf("flag-like argument %q after the positional arguments: flags go before them", p)
			}
		}
	}
	if len(rest) < a.min && !inv.HelpOnly() {
		return errors.New("missing argument")
	}
	if a.max >= 0 && len(rest) > a.max {
		return fmt.Errorf("unexpected argument %q", rest[a.max])
	}
	return nil
}

// checkID accepts runc's and runsc's ID alphabet (^[\w+,.-]+$): an ID
// becomes a file name under --root and under secshim's state dir. "." and
// "..", and a leading '-' (only reachable after "--"), are refused too.
func checkID(id string) error {
	if id == "" || id == "." || id == ".." || id[0] == '-' {
		return fmt.Errorf("invalid container ID %q", id)
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+,.-", c) >= 0
		if !ok {
			return fmt.Errorf("invalid container ID %q", id)
		}
	}
	return nil
}

// globalKind and verbKind look a flag up in the invocation's tables.
func (inv *Invocation) globalKind(name string) (flagKind, bool) {
	if fs := familyOf(inv.Family); fs != nil {
		return fs.globalTable().kindOf(name)
	}
	return 0, false
}

func (inv *Invocation) verbKind(name string) (flagKind, bool) {
	if fs := familyOf(inv.Family); fs != nil && fs.verb(inv.Verb) != nil {
		return fs.table(fs.verb(inv.Verb), "").kindOf(name)
	}
	return 0, false
}

// HelpOnly reports whether the backend will only print help, usage or
// version text and exit: a help or version flag was given (in flag
// position, not as a value or in exec's command), or the verb is help
// (runsc: also flags). Nothing is created or run then, and the verb's
// bundle and ID need not exist.
func (inv *Invocation) HelpOnly() bool {
	if inv.Verb == "help" || inv.Family == FamilyRunsc && inv.Verb == "flags" {
		return true
	}
	for _, f := range inv.Globals {
		if k, _ := inv.globalKind(f.Name); k == kindHelp {
			return true
		}
	}
	for _, f := range inv.Flags {
		if k, _ := inv.verbKind(f.Name); k == kindHelp {
			return true
		}
	}
	return false
}

func last(flags []Flag, name string) (string, bool) {
	for i := len(flags) - 1; i >= 0; i-- {
		if flags[i].Name == name {
			return flags[i].Value, true
		}
	}
	return "", false
}

// Global returns a global flag's value; the last occurrence wins, as in
// every backend. A bool reads ("", true) when given bare.
func (inv *Invocation) Global(name string) (string, bool) { return last(inv.Globals, name) }

// Flag returns a verb flag's value; the last occurrence wins.
func (inv *Invocation) Flag(name string) (string, bool) { return last(inv.Flags, name) }

// FlagAll returns every value of a repeatable verb flag (exec --cap, --env).
func (inv *Invocation) FlagAll(name string) []string {
	var vals []string
	for _, f := range inv.Flags {
		if f.Name == name {
			vals = append(vals, f.Value)
		}
	}
	return vals
}

// GlobalBool reports whether a bool global flag is on: given bare, or as
// runsc's "-name=true" ("-oci-seccomp=false" is off, though Global finds it).
func (inv *Invocation) GlobalBool(name string) bool { return isOn(inv.Globals, name) }

// FlagBool is GlobalBool for a verb flag.
func (inv *Invocation) FlagBool(name string) bool { return isOn(inv.Flags, name) }

func isOn(flags []Flag, name string) bool {
	for i := len(flags) - 1; i >= 0; i-- {
		if f := flags[i]; f.Name == name {
			b, err := strconv.ParseBool(f.Value)
			return !f.HasValue || err == nil && b
		}
	}
	return false
}

// Argv rebuilds the command line from the parsed tokens; untouched, it is
// Args exactly.
func (inv *Invocation) Argv() []string { return inv.ArgvWith(nil) }

// ArgvWith is Argv with extra global flags (the backend's own, e.g.
// runsc's --oci-seccomp) inserted just before the verb.
func (inv *Invocation) ArgvWith(extraGlobals []string) []string {
	out := make([]string, 0, len(inv.Args)+len(extraGlobals)+2)
	for _, f := range inv.Globals {
		out = append(out, f.Tokens...)
	}
	out = append(out, extraGlobals...)
	verb := inv.verbTok
	if verb == "" {
		verb = inv.Verb
	}
	if verb == "" {
		return out
	}
	out = append(out, verb)
	for _, f := range inv.Flags {
		out = append(out, f.Tokens...)
	}
	if inv.dashes {
		out = append(out, "--")
	}
	return append(out, inv.Positionals...)
}

// newFlag makes the single token "--name=value" ("--name" for a bool given
// value ""), which every backend reads the same way. Naming a flag the verb
// does not have, or giving a FamilyRunc bool a value, is a bug in secshim:
// it panics rather than build an argv the backend would read otherwise.
func (inv *Invocation) newFlag(name, value string) Flag {
	k, ok := inv.verbKind(name)
	switch {
	case !ok || k == kindHelp:
		panic(fmt.Sprintf("runtimes: %s %s has no flag --%s", inv.Family, inv.Verb, name))
	case k == kindBool && value == "":
		return Flag{Name: name, Tokens: []string{"--" + name}}
	case k == kindBool && inv.Family == FamilyRunc:
		panic(fmt.Sprintf("runtimes: %s %s --%s takes no value", inv.Family, inv.Verb, name))
	}
	return Flag{Name: name, Value: value, HasValue: true, Tokens: []string{"--" + name + "=" + value}}
}

// SetFlag replaces every occurrence of a verb flag with one "--name=value"
// token where the first one was, or appends it when absent: e.g. to point
// update --resources at a rewritten file.
func (inv *Invocation) SetFlag(name, value string) {
	nf := inv.newFlag(name, value)
	out := inv.Flags[:0:0]
	set := false
	for _, f := range inv.Flags {
		if f.Name != name {
			out = append(out, f)
		} else if !set {
			out, set = append(out, nf), true
		}
	}
	if !set {
		out = append(out, nf)
	}
	inv.Flags = out
}

// RemoveFlag drops every occurrence of a verb flag.
func (inv *Invocation) RemoveFlag(name string) {
	inv.dropFlags(func(f Flag) bool { return f.Name == name })
}

// RemoveFlagValue drops the occurrences of a verb flag with that value,
// e.g. one disallowed exec --cap.
func (inv *Invocation) RemoveFlagValue(name, value string) {
	inv.dropFlags(func(f Flag) bool { return f.Name == name && f.Value == value })
}

func (inv *Invocation) dropFlags(drop func(Flag) bool) {
	out := inv.Flags[:0:0]
	for _, f := range inv.Flags {
		if !drop(f) {
			out = append(out, f)
		}
	}
	inv.Flags = out
}

// AddFlag appends a verb flag after the others, before any "--" and the
// positionals; value "" makes a bare bool.
func (inv *Invocation) AddFlag(name, value string) {
	inv.Flags = append(inv.Flags, inv.newFlag(name, value))
}

// bundleVerb reports the verbs that read a bundle, in every family.
func bundleVerb(v string) bool { return v == "create" || v == "run" || v == "restore" }

// Bundle returns the bundle directory of create, run or restore: the last
// --bundle/-b made absolute against the working directory, or that
// directory (cwd is only called then). Paths are not resolved
// through symlinks: the backends resolve ".." physically (runc chdir()s
// into the bundle, crun realpath()s it) while runsc joins lexically, so a
// path with a ".." element could name two different directories and is
// refused. An empty --bundle is refused too (runc and runsc read it as
// cwd, crun fails).
func (inv *Invocation) Bundle(cwd WorkDir) (string, error) {
	if !bundleVerb(inv.Verb) {
		return "", fmt.Errorf("secshim: %s takes no bundle", inv.Verb)
	}
	b, ok := inv.Flag("bundle")
	if ok {
		if err := checkPath("bundle", b); err != nil {
			return "", err
		}
		if filepath.IsAbs(b) {
			return filepath.Clean(b), nil
		}
	}
	dir, err := cwd.get()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, b), nil
}

// WorkDir gives the working directory to path resolution, which asks
// only for a relative path: os.Getwd stats "." and $PWD, and engines pass
// absolute paths.
type WorkDir func() (string, error)

// CurrentWorkDir is the process's working directory, read at most once.
func CurrentWorkDir() WorkDir { return sync.OnceValues(os.Getwd) }

// FixedWorkDir is dir as the working directory.
func FixedWorkDir(dir string) WorkDir { return func() (string, error) { return dir, nil } }

// get returns the directory, which must be absolute and clean of "..".
func (cwd WorkDir) get() (string, error) {
	dir, err := cwd()
	if err != nil {
		return "", err
	}
	if err := checkDir("working directory", dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Resolve makes a path from the command line absolute against cwd.
func (cwd WorkDir) Resolve(p string) (string, error) {
	if filepath.IsAbs(p) {
		return p, nil
	}
	dir, err := cwd.get()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, p), nil
}

// SpecPath returns the config.json the backend will load for create, run
// or restore: <bundle>/config.json, or crun's create/run --config/-f FILE.
// crun (src/create.c, src/run.c, checked with strace on 1.8.1) resolves a
// relative FILE against the working directory, before it chdir()s into
// the bundle, except the literal "config.json", which it opens after the
// chdir, i.e. in the bundle. runc has no --config and refuses it.
func (inv *Invocation) SpecPath(cwd WorkDir) (string, error) {
	bundle, err := inv.Bundle(cwd)
	if err != nil {
		return "", err
	}
	cfg, ok := inv.Flag("config")
	if !ok || cfg == "config.json" {
		return filepath.Join(bundle, "config.json"), nil
	}
	if err := checkPath("config", cfg); err != nil {
		return "", err
	}
	p, err := cwd.Resolve(cfg)
	return filepath.Clean(p), err
}

func checkDir(what, p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("secshim: %s %q is not absolute", what, p)
	}
	return checkPath(what, p)
}

func checkPath(what, p string) error {
	if p == "" {
		return fmt.Errorf("secshim: empty %s path", what)
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return fmt.Errorf("secshim: %s path %q contains \"..\"", what, p)
		}
	}
	return nil
}
