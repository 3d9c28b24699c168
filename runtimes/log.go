package runtimes

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

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

// decision is one line of secshim's own log; docs/audit.md documents
// every field.
type Decision struct {
	ID      string
	Verb    string
	Backend string
	Profile string
	// SpecBefore and SpecAfter are the hex SHA-256 of the spec (config.json,
	// exec's --process file, update's --resources) as read and as handed to
	// the backend: equal when nothing changed, "" when the verb had none.
	SpecBefore, SpecAfter string
	Changes               []hardening.Change
	Error                 string
	// Refusals are the findings of a deny-mode control that refused the
	// call, each with its control and field.
	Refusals []hardening.Change
	// Attest is attestation's state at create, or the hook's verdict.
	Attest *attestVerdict
}

// SyslogSocket is the unix datagram socket that also gets each decision
// line ("" disables it); where it does not exist nothing is sent. The
// config's [log] section may set it before the first decision.
var SyslogSocket = "/dev/log"

// Syslog priorities: facility authpriv (10), severity info (6) for a
// decision, warning (4) for a refusal.
const (
	syslogInfo    = 10<<3 | 6
	syslogWarning = 10<<3 | 4
)

// logDecision appends one JSON line per decision to the log file and sends
// the same line to syslog. A log that cannot be written is a warning on
// stderr, never a refusal.
func LogDecision(cfg *Config, d Decision) {
	if cfg.Log.File == "" && SyslogSocket == "" {
		return
	}
	now := time.Now()
	b := decisionLine(d, now)
	if cfg.Log.File != "" {
		if err := appendLine(cfg.Log.File, b); err != nil {
			fmt.Fprintf(os.Stderr, "secshim: warning: decision log: %v\n", err)
		}
	}
	if SyslogSocket != "" {
		pri := syslogInfo
		if d.Error != "" || d.Attest != nil && d.Attest.failed() {
			pri = syslogWarning
		}
		if err := sendSyslog(SyslogSocket, pri, b[:len(b)-1]); err != nil {
			fmt.Fprintf(os.Stderr, "secshim: warning: syslog %s: %v\n", SyslogSocket, err)
		}
	}
}

// decisionLine is d as one JSON object and a newline, written by hand
// without reflection: every create goes through here.
func decisionLine(d Decision, now time.Time) []byte {
	b := make([]byte, 0, 256+128*len(d.Changes))
	b = append(b, `{"time":`...)
	b = spec.AppendString(b, now.UTC().Format(time.RFC3339Nano))
	b = appendField(b, "id", d.ID)
	b = appendField(b, "verb", d.Verb)
	b = appendField(b, "backend", d.Backend)
	if d.Profile != "" {
		b = appendField(b, "profile", d.Profile)
	}
	if d.SpecBefore != "" {
		b = appendField(b, "spec_sha256_before", d.SpecBefore)
		b = appendField(b, "spec_sha256_after", d.SpecAfter)
	}
	if d.Error != "" {
		b = appendField(b, "refused", d.Error)
		if len(d.Refusals) > 0 {
			b = appendChanges(b, "refusals", d.Refusals)
		}
	}
	if d.Attest != nil {
		b = appendAttest(b, d.Attest)
	}
	b = appendChanges(b, "changes", d.Changes)
	return append(b, "}\n"...)
}

func appendChanges(b []byte, key string, cs []hardening.Change) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, c := range cs {
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
	return append(b, ']')
}

// refusal fills d's refusal from err: its message and, for a deny-mode
// refusal, each control and field refused.
func (d *Decision) refusal(err error) {
	d.Error = err.Error()
	var denied *hardening.DeniedError
	if errors.As(err, &denied) {
		d.Refusals = denied.Changes
	}
}

// hashSpec sets d's spec hashes from what was read and what goes to the
// backend.
func (d *Decision) hashSpec(before, after []byte) {
	d.SpecBefore = sha256Hex(before)
	d.SpecAfter = d.SpecBefore
	if !bytes.Equal(before, after) {
		d.SpecAfter = sha256Hex(after)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// saveSpec writes f back if it changed (as File.Save does, serializing
// once) and records its hashes before and after in d.
func saveSpec(f *spec.File, d *Decision) error {
	out := f.Root.Bytes()
	d.hashSpec(f.Orig, out)
	if !f.Root.Changed() {
		return nil
	}
	return spec.WriteAtomic(f.Path, out, f.Mode)
}

// sendSyslog sends msg as one RFC 3164 datagram without the optional
// timestamp: "<PRI>secshim[PID]: MSG", which rsyslog, syslog-ng and
// journald all read. They stamp a message from the local socket on
// receipt (journald always, rsyslog's imuxsock by default ignores a sent
// timestamp); a timestamp of our own would need the local time zone, one
// more file read and parse on every create. One socket, one non-blocking
// sendto, no retry: a stalled or missing daemon must not stall a create.
// A socket that is not there (no syslog on this host) is not an error.
func sendSyslog(path string, pri int, msg []byte) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	b := make([]byte, 0, len(msg)+48)
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, ">secshim["...)
	b = strconv.AppendInt(b, int64(os.Getpid()), 10)
	b = append(b, "]: "...)
	b = append(b, msg...)
	err = unix.Sendto(fd, b, 0, &unix.SockaddrUnix{Name: path})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
		return nil
	}
	return err
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
	const flag = unix.O_APPEND | unix.O_CREAT
	err := spec.WriteFile(path, line, flag, 0o640)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o750); err == nil {
			err = spec.WriteFile(path, line, flag, 0o640)
		}
	}
	return err
}

const logUsage = `usage: secshim log [--config FILE] [--id ID] [--profile P] [--verb V]
                   [--since today|YYYY-MM-DD|RFC3339|DURATION] [--changed] [--refused]
                   [--json] [LOGFILE...]

Prints the decisions of the log files (default: the config's log.file),
oldest first, that match every filter given: --id matches a container ID or
its prefix, --verb create also matches run and restore, --changed keeps
decisions that changed something, --refused refusals. --json prints the
matching lines as they are; otherwise one line per decision, its changes
and refusals indented below. docs/audit.md has the field list and jq recipes.
`

// logEntry is a decision line as the log verb reads it back.
type logEntry struct {
	Time     time.Time          `json:"time"`
	ID       string             `json:"id"`
	Verb     string             `json:"verb"`
	Backend  string             `json:"backend"`
	Profile  string             `json:"profile"`
	Before   string             `json:"spec_sha256_before"`
	After    string             `json:"spec_sha256_after"`
	Refused  string             `json:"refused"`
	Refusals []hardening.Change `json:"refusals"`
	Changes  []hardening.Change `json:"changes"`
	Attest   *attestVerdict     `json:"attest"`
}

// log is `secshim log`: it answers "what did secshim change in container
// X" and "which containers ran with profile P since T" from the log files.
func (a *admin) log(args []string) int {
	flags, files, err := parseAdminFlags(args, map[string]bool{"config": true, "id": true, "profile": true,
		"verb": true, "since": true, "changed": false, "refused": false, "json": false, "help": false})
	if err != nil {
		return a.usage(logUsage, "log: "+err.Error())
	}
	if _, ok := flags["help"]; ok {
		fmt.Fprint(a.stdout, logUsage)
		return exitOK
	}
	var since time.Time
	if v, ok := flags["since"]; ok {
		if since, err = parseSince(v, time.Now()); err != nil {
			return a.usage(logUsage, "log: --since: "+err.Error())
		}
	}
	if len(files) == 0 {
		cfg, err := a.loadConfig(flags)
		if err != nil {
			fmt.Fprintf(a.stderr, "secshim: log: %v\n", err)
			return exitUsage
		}
		if cfg.Log.File == "" {
			fmt.Fprintf(a.stderr, "secshim: log: the config has no log.file; name the log files\n")
			return exitUsage
		}
		files = []string{cfg.Log.File}
	}
	_, changed := flags["changed"]
	_, refused := flags["refused"]
	_, asJSON := flags["json"]
	match := func(e *logEntry) bool {
		if id, ok := flags["id"]; ok && (id == "" || !strings.HasPrefix(e.ID, id)) {
			return false
		}
		if p, ok := flags["profile"]; ok && e.Profile != p {
			return false
		}
		if v, ok := flags["verb"]; ok && e.Verb != v && !(v == "create" && (e.Verb == "run" || e.Verb == "restore")) {
			return false
		}
		return !e.Time.Before(since) && (!changed || len(e.Changes) > 0) && (!refused || e.Refused != "")
	}
	status := exitOK
	out := bufio.NewWriter(a.stdout)
	defer out.Flush()
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(a.stderr, "secshim: log: %v\n", err)
			status = exitUsage
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for n := 1; sc.Scan(); n++ {
			var e logEntry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				fmt.Fprintf(a.stderr, "secshim: log: %s:%d: %v\n", name, n, err)
				status = exitRefused
				continue
			}
			if !match(&e) {
				continue
			}
			if asJSON {
				out.Write(sc.Bytes())
				out.WriteByte('\n')
				continue
			}
			writeLogEntry(out, &e)
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(a.stderr, "secshim: log: %s: %v\n", name, err)
			status = exitUsage
		}
		f.Close()
	}
	return status
}

func writeLogEntry(w io.Writer, e *logEntry) {
	profile := e.Profile
	if profile == "" {
		profile = "-"
	}
	hashes := ""
	switch {
	case e.Before == "":
	case e.Before == e.After:
		hashes = " spec unchanged " + short(e.Before)
	default:
		hashes = " spec " + short(e.Before) + " -> " + short(e.After)
	}
	fmt.Fprintf(w, "%s %s %s backend=%s profile=%s%s\n", e.Time.Local().Format(time.RFC3339), e.ID, e.Verb, e.Backend, profile, hashes)
	if e.Refused != "" {
		fmt.Fprintf(w, "  REFUSED: %s\n", e.Refused)
	}
	for _, c := range e.Refusals {
		fmt.Fprintf(w, "  refused %s\n", c)
	}
	if a := e.Attest; a != nil {
		line := "  attestation " + a.Verdict + " (" + a.Mode + ")"
		if a.Action != "" {
			line += ", " + a.Action
		}
		if a.Reason != "" {
			line += ": " + a.Reason
		}
		fmt.Fprintln(w, line)
		for _, m := range a.Mismatches {
			fmt.Fprintf(w, "    %s\n", m)
		}
		for _, u := range a.Unchecked {
			fmt.Fprintf(w, "    not checked: %s\n", u)
		}
	}
	for _, c := range e.Changes {
		mode := ""
		if c.Mode != "" {
			mode = " [" + string(c.Mode) + "]"
		}
		fmt.Fprintf(w, "  %s%s\n", c, mode)
	}
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// parseSince reads --since: "today" (local midnight), a date, an RFC 3339
// time, or a duration back from now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "today" {
		y, m, d := now.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, now.Location()), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", v, now.Location()); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not today, a date, an RFC 3339 time or a duration", v)
}
