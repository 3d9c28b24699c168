package runtimes

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// Nothing here ever writes to stdout: engines parse the backend's stdout
// (state, features, ps), and it must stay the backend's alone.

// engineLog is the engine's --log file in its --log-format, where Podman
// and containerd look for the reason a runtime call failed.
type engineLog struct {
	path   string
	format string
}

// errorLine writes msg to the engine's log, best effort.
func (l engineLog) errorLine(msg string) {
	if l.path == "" {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var line []byte
	if l.format == "json" {
		line = append(line, `{"level":"error","msg":`...)
		line = spec.AppendString(line, msg)
		line = append(line, `,"time":`...)
		line = spec.AppendString(line, now)
		line = append(line, "}\n"...)
	} else {
		line = fmt.Appendf(nil, "time=%q level=error msg=%q\n", now, msg)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	f.Write(line)
	f.Close()
}

// decision is one line of secshim's own log.
type decision struct {
	ID      string
	Verb    string
	Backend string
	Profile string
	Changes []hardening.Change
	Error   string
}

// logDecision appends one JSON line per decision. A log that cannot be
// written is a warning on stderr, never a refusal.
func logDecision(cfg *Config, d decision) {
	if cfg.Log.File == "" {
		return
	}
	b := []byte(`{"time":`)
	b = spec.AppendString(b, time.Now().UTC().Format(time.RFC3339Nano))
	b = appendField(b, "id", d.ID)
	b = appendField(b, "verb", d.Verb)
	b = appendField(b, "backend", d.Backend)
	if d.Profile != "" {
		b = appendField(b, "profile", d.Profile)
	}
	if d.Error != "" {
		b = appendField(b, "refused", d.Error)
	}
	b = append(b, `,"changes":[`...)
	for i, c := range d.Changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"control":`...)
		b = spec.AppendString(b, c.Control)
		b = appendField(b, "field", c.Field)
		b = appendField(b, "from", c.From)
		b = appendField(b, "to", c.To)
		if c.Mode != "" {
			b = appendField(b, "mode", string(c.Mode))
		}
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	if err := appendLine(cfg.Log.File, b); err != nil {
		fmt.Fprintf(os.Stderr, "secshim: warning: decision log: %v\n", err)
	}
}

func appendField(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return spec.AppendString(b, val)
}

// appendLine writes one line with a single write on an O_APPEND file, so
// lines from concurrent secshim processes never interleave.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if os.IsNotExist(err) {
		if err = os.MkdirAll(filepath.Dir(path), 0o750); err == nil {
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		}
	}
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
