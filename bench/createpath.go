package bench

import (
	"os"
	"path/filepath"
	"time"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/runtimes"
	"github.com/secshim/secshim/spec"
)

// Stages of secshim's create path, in the order runtimes' create runs them
// (the hand-off, an execve, is left out).
var Stages = []string{"args", "config", "spec_load", "profile", "backend", "harden", "record", "spec_write", "log"}

// StageTimes is how long each stage took.
type StageTimes map[string]time.Duration

// CreateResult is what one CreatePath did.
type CreateResult struct {
	Times   StageTimes
	Wrote   bool // config.json was rewritten
	Changes int
}

// CreatePath runs create's stages with secshim's own packages, as
// runtimes.Main does for `create` (config from SECSHIM_CONFIG, else the
// default path), timing each, through the same runtimes functions. The
// record is removed afterwards, so that repeated calls stay alike.
func CreatePath(args []string) (*CreateResult, error) {
	t := StageTimes{}
	last := time.Now()
	mark := func(name string) {
		now := time.Now()
		t[name] = now.Sub(last)
		last = now
	}
	inv, err := runtimes.Parse(args, runtimes.FamilyRunc)
	if err != nil {
		return nil, err
	}
	mark("args")
	cfg, err := runtimes.LoadConfig()
	if err != nil {
		return nil, err
	}
	mark("config")
	path, err := inv.SpecPath(runtimes.CurrentWorkDir())
	if err != nil {
		return nil, err
	}
	f, err := spec.Load(path)
	if err != nil {
		return nil, err
	}
	mark("spec_load")
	sel, err := cfg.Select(f.Root)
	if err != nil {
		return nil, err
	}
	mark("profile")
	b, err := cfg.Backend(sel.Backend)
	if err != nil {
		return nil, err
	}
	mark("backend")
	res, err := sel.Harden(f.Root, hardening.Env{ContainerID: inv.ID, StateDir: cfg.StateDir})
	if err != nil {
		return nil, err
	}
	mark("harden")
	root, _ := inv.Global("root")
	recPath := runtimes.RecordPath(cfg.StateDir, root, inv.ID)
	if err := runtimes.SaveRecord(recPath, &runtimes.Record{Backend: *b, Profile: sel.Profile.Name, Caps: res.Caps, NoNewPrivileges: res.NoNewPrivileges}); err != nil {
		return nil, err
	}
	mark("record")
	wrote := f.Root.Changed()
	if err := f.Save(); err != nil {
		return nil, err
	}
	mark("spec_write")
	runtimes.LogDecision(cfg, runtimes.Decision{ID: inv.ID, Verb: inv.Verb, Backend: b.Name, Profile: sel.Profile.Name, Changes: res.Changes})
	mark("log")
	os.Remove(recPath)
	return &CreateResult{Times: t, Wrote: wrote, Changes: len(res.Changes)}, nil
}

// CreateArgs is the argument list Podman 4.3 (through conmon) gives a
// runtime for create (tests/golden/ARGV.md), plus --root when root is set.
func CreateArgs(root, logFile, bundle, id string) []string {
	var a []string
	if root != "" {
		a = []string{"--root", root}
	}
	return append(a, "--log-format=json", "--log", logFile,
		"create", "--bundle", bundle, "--pid-file", filepath.Join(bundle, "pidfile"), id)
}
