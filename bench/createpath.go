package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
// default path), timing each. The steps unexported in runtimes, the
// profile selection (without annotations), the sticky record and the
// decision-log line, are reproduced by Selected, WriteRecord and
// WriteDecision with the same calls. The record is
// removed afterwards, so that repeated calls stay alike.
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
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	path, err := inv.SpecPath(cwd)
	if err != nil {
		return nil, err
	}
	f, err := spec.Load(path)
	if err != nil {
		return nil, err
	}
	mark("spec_load")
	profile, floor, err := Selected(cfg)
	if err != nil {
		return nil, err
	}
	mark("profile")
	b, err := cfg.Backend(profile.Backend)
	if err != nil {
		return nil, err
	}
	mark("backend")
	res, err := Harden(cfg, profile, floor, f.Root, inv.ID)
	if err != nil {
		return nil, err
	}
	mark("harden")
	root, _ := inv.Global("root")
	recPath := RecordPath(cfg.StateDir, root, inv.ID)
	if err := WriteRecord(recPath, b, profile.Name, res); err != nil {
		return nil, err
	}
	mark("record")
	wrote := f.Root.Changed()
	if err := f.Save(); err != nil {
		return nil, err
	}
	mark("spec_write")
	if err := WriteDecision(cfg.Log.File, inv.ID, inv.Verb, b.Name, profile.Name, res.Changes); err != nil {
		return nil, err
	}
	mark("log")
	os.Remove(recPath)
	return &CreateResult{Times: t, Wrote: wrote, Changes: len(res.Changes)}, nil
}

// RecordPath is runtimes.recordPath.
func RecordPath(stateDir, root, id string) string {
	key := "default"
	if root != "" {
		sum := sha256.Sum256([]byte(root))
		key = hex.EncodeToString(sum[:8])
	}
	return filepath.Join(stateDir, key, id)
}

// WriteRecord is runtimes.saveRecord.
func WriteRecord(path string, b *runtimes.Backend, profile string, res *hardening.Result) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "backend %s\npath %s\nprofile %s\n", b.Name, b.Path, profile)
	for _, a := range b.Args {
		fmt.Fprintf(&buf, "arg %s\n", a)
	}
	fmt.Fprintf(&buf, "caps %x\nnnp %t\n", uint64(res.Caps), res.NoNewPrivileges)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return spec.WriteAtomic(path, buf.Bytes(), 0o600)
}

// WriteDecision is runtimes.logDecision: one JSON line appended with one
// write. An empty file name disables it.
func WriteDecision(file, id, verb, backend, profile string, changes []hardening.Change) error {
	if file == "" {
		return nil
	}
	line := []byte(`{"time":`)
	line = spec.AppendString(line, time.Now().UTC().Format(time.RFC3339Nano))
	for _, kv := range [][2]string{{"id", id}, {"verb", verb}, {"backend", backend}, {"profile", profile}} {
		line = appendField(line, kv[0], kv[1])
	}
	line = append(line, `,"changes":[`...)
	for i, c := range changes {
		if i > 0 {
			line = append(line, ',')
		}
		line = append(line, `{"control":`...)
		line = spec.AppendString(line, c.Control)
		line = appendField(line, "field", c.Field)
		line = appendField(line, "from", c.From)
		line = appendField(line, "to", c.To)
		if c.Mode != "" {
			line = appendField(line, "mode", string(c.Mode))
		}
		line = append(line, '}')
	}
	line = append(line, "]}\n"...)
	lf, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	_, err = lf.Write(line)
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	return err
}

func appendField(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return spec.AppendString(b, val)
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
