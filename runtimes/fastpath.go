package runtimes

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/secshim/secshim/spec"
)

// hardeningVerb reports the verbs that read the policy; every other verb
// with a container ID only needs the container's sticky record.
func hardeningVerb(v string) bool { return bundleVerb(v) || v == "exec" || v == "update" }

// fastPassThrough hands a pass-through verb (start, kill, state, pause,
// ...) straight to the container's recorded backend without decoding the
// config: liveness probes call state and kill constantly, and the config
// decode is most of what secshim would add to them. It returns only when
// the fast path does not apply (no record, a debug log level, a config it
// cannot read simply); the caller then takes the full path.
//
// On linux/amd64, runtimes/preentry/preentry.c serves the plainest of
// these calls the same way before the Go runtime starts; what it does not
// serve arrives here. A change to what this path reads or execs (the
// config's state_dir, the record, the tombstone) must be made there too:
// TestPreEntryMatchesGo runs both over the same cases.
func fastPassThrough(inv *Invocation) error {
	if inv.ID == "" || hardeningVerb(inv.Verb) || inv.HelpOnly() {
		return nil
	}
	qc, ok := readQuickConfig()
	if !ok {
		return nil
	}
	stateDir, ok := qc.stateDir()
	if !ok {
		return nil
	}
	root, _ := inv.Global("root")
	recPath := RecordPath(stateDir, root, inv.ID)
	rec, found, err := loadRecord(recPath)
	if err != nil || !found {
		return nil
	}
	r := &call{inv: inv, backend: &rec.Backend}
	if inv.Verb == "start" && rec.attestsAtStart() {
		// The config was read once already: decode those bytes.
		if r.cfg, err = qc.load(); err != nil {
			return err
		}
		SyslogSocket = r.cfg.Log.syslogSocket()
		return r.startAttested(rec)
	}
	if inv.Verb == "delete" {
		if done, err := tombstone(stateDir, root, recPath, r.backend, inv.ID); err != nil || !done {
			return err // not done: the full path runs delete as a child
		}
	}
	argv, err := r.backendArgv()
	if err != nil {
		return err
	}
	return execBackend(r.backend, argv)
}

// quickConfig is the config file as the fast path read it: decoded only
// when a verb needs more than state_dir (an attested start).
type quickConfig struct {
	path string
	data []byte // nil: there is no config file, the defaults apply
}

// readQuickConfig reads the config file; ok is false when the fast path
// does not apply: the file cannot be read, or asks for debug logging
// (which logs pass-through verbs too).
func readQuickConfig() (*quickConfig, bool) {
	path := os.Getenv("SECSHIM_CONFIG")
	if path == "" {
		path = DefaultConfigPath
	}
	data, err := spec.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv("SECSHIM_CONFIG") == "" {
		return &quickConfig{path: path}, true
	}
	if err != nil || bytes.Contains(data, []byte("debug")) {
		return nil, false
	}
	return &quickConfig{path: path, data: data}, true
}

// load decodes the config as LoadConfig would have.
func (q *quickConfig) load() (*Config, error) {
	if q.data == nil {
		return DefaultConfig(), nil
	}
	return ParseConfig(q.path, q.data)
}

// stateDir reads state_dir from the config without decoding it: only a
// plain top-level `state_dir = "..."` line counts; anything it does not
// understand sends the call down the full path.
func (q *quickConfig) stateDir() (string, bool) {
	dir := DefaultConfig().StateDir
	for line := range strings.Lines(string(q.data)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			break // the top-level keys are over
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "state_dir" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || (val[0] != '"' && val[0] != '\'') || val[len(val)-1] != val[0] || strings.ContainsAny(val[1:len(val)-1], "\\\"'#") {
			return "", false
		}
		dir = val[1 : len(val)-1]
	}
	if !strings.HasPrefix(dir, "/") {
		return "", false
	}
	return dir, true
}
