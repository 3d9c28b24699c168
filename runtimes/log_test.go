package runtimes

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// noSyslog keeps unit tests off the host's /dev/log.
func noSyslog(t *testing.T) {
	t.Helper()
	old := SyslogSocket
	SyslogSocket = ""
	t.Cleanup(func() { SyslogSocket = old })
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// parseLine checks that b is exactly one line holding one JSON object.
func parseLine(t *testing.T, b []byte) map[string]any {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\n")) || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", b)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("not JSON: %v: %q", err, b)
	}
	if dec.More() {
		t.Fatalf("more than one value: %q", b)
	}
	return m
}

func TestDecisionLineFormat(t *testing.T) {
	oddID := "a\"b\\c\nd\te\x00f\x7f</script>\u2028\xff"
	msg := "policy denies: \"quoted\"\nsecond line \x1b[31m"
	before, after := hexSum([]byte("{}")), hexSum([]byte(`{"a":1}`))
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	d := Decision{ID: oddID, Verb: "create", Backend: "runc", Profile: "baseline",
		SpecBefore: before, SpecAfter: after,
		Changes: []hardening.Change{
			{Control: "capabilities", Field: "process.capabilities.bounding", From: "CAP_SYS_ADMIN", To: "dropped"},
			{Control: "seccomp", Field: "linux.seccomp", From: "", To: "docker default", Mode: hardening.Audit},
		}}
	d.refusal(fmt.Errorf("wrapped: %w", &hardening.DeniedError{Changes: []hardening.Change{
		{Control: "namespaces", Field: "linux.namespaces[pid]", From: "host", To: "private"}}}))
	d.Error = msg
	m := parseLine(t, decisionLine(d, now))
	want := map[string]any{
		"time": "2024-05-06T06:08:09.123456789Z", "id": strings.ToValidUTF8(oddID, "\uFFFD"), "verb": "create",
		"backend": "runc", "profile": "baseline", "spec_sha256_before": before, "spec_sha256_after": after, "refused": msg,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	ch, _ := m["changes"].([]any)
	if len(ch) != 2 {
		t.Fatalf("changes = %#v", m["changes"])
	}
	if c := ch[1].(map[string]any); c["control"] != "seccomp" || c["mode"] != "audit" || c["to"] != "docker default" {
		t.Errorf("changes[1] = %#v", c)
	}
	rf, _ := m["refusals"].([]any)
	if len(rf) != 1 || rf[0].(map[string]any)["control"] != "namespaces" || rf[0].(map[string]any)["field"] != "linux.namespaces[pid]" {
		t.Errorf("refusals = %#v", m["refusals"])
	}

	// No spec, no refusal: no hash or refusal keys, changes always an array.
	m = parseLine(t, decisionLine(Decision{ID: "x", Verb: "exec", Backend: "crun"}, now))
	for _, k := range []string{"spec_sha256_before", "spec_sha256_after", "refused", "refusals", "profile"} {
		if _, ok := m[k]; ok {
			t.Errorf("key %s present: %v", k, m)
		}
	}
	if c, ok := m["changes"].([]any); !ok || len(c) != 0 {
		t.Errorf("changes = %#v, want []", m["changes"])
	}
	// An error that is no deny-mode refusal has a message and no list.
	var d2 Decision
	d2.refusal(errors.New("bad"))
	if m = parseLine(t, decisionLine(d2, now)); m["refused"] != "bad" || m["refusals"] != nil {
		t.Errorf("plain refusal: %v", m)
	}
}

func TestSaveSpecHashes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	orig := []byte("{\"ociVersion\": \"1.0.2\",  \"process\": {\"noNewPrivileges\": false}}\n")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var d Decision
	if err := saveSpec(f, &d); err != nil {
		t.Fatal(err)
	}
	if d.SpecBefore != hexSum(orig) || d.SpecAfter != d.SpecBefore {
		t.Errorf("unchanged: before %s after %s, want both %s", d.SpecBefore, d.SpecAfter, hexSum(orig))
	}
	proc, _, _ := f.Root.Object("process")
	if err := proc.SetBool("noNewPrivileges", true); err != nil {
		t.Fatal(err)
	}
	if err := saveSpec(f, &d); err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(path)
	if bytes.Equal(onDisk, orig) {
		t.Fatal("spec not rewritten")
	}
	if d.SpecBefore != hexSum(orig) || d.SpecAfter != hexSum(onDisk) {
		t.Errorf("changed: before %s after %s, want %s %s", d.SpecBefore, d.SpecAfter, hexSum(orig), hexSum(onDisk))
	}
}

// Concurrent writers (goroutines here; processes in e2e) never interleave.
func TestLogDecisionConcurrent(t *testing.T) {
	noSyslog(t)
	cfg := &Config{Log: LogConfig{File: filepath.Join(t.TempDir(), "sub", "d.log")}}
	long := strings.Repeat("x", 9000) // beyond PIPE_BUF and a 4K page
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			LogDecision(cfg, Decision{ID: fmt.Sprint("c", i), Verb: "create", Backend: "runc",
				Changes: []hardening.Change{{Control: "env", Field: long}}})
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(cfg.Log.File)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		seen[parseLine(t, l)["id"].(string)] = true
	}
	if len(seen) != 64 {
		t.Errorf("%d distinct lines, want 64", len(seen))
	}
}

func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	old := SyslogSocket
	SyslogSocket = sock
	defer func() { SyslogSocket = old }()
	cfg := &Config{} // no file: syslog alone
	read := func() string {
		buf := make([]byte, 65536)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	LogDecision(cfg, Decision{ID: "c1", Verb: "create", Backend: "runc", Profile: "privileged"})
	got := read()
	head := fmt.Sprintf("<86>secshim[%d]: {", os.Getpid())
	if !strings.HasPrefix(got, head) || strings.HasSuffix(got, "\n") {
		t.Errorf("syslog datagram %q, want %q...", got, head)
	}
	_, msg, _ := strings.Cut(got, "]: ")
	parseLine(t, []byte(msg+"\n"))
	LogDecision(cfg, Decision{ID: "c2", Verb: "create", Backend: "runc", Error: "no"})
	if got = read(); !strings.HasPrefix(got, "<84>") {
		t.Errorf("refusal datagram %q, want priority <84>", got)
	}
	// A host without the socket: nothing sent, no error.
	if err := sendSyslog(filepath.Join(t.TempDir(), "none"), syslogInfo, []byte("{}")); err != nil {
		t.Errorf("missing socket: %v", err)
	}
}

func TestLogVerb(t *testing.T) {
	noSyslog(t)
	file := filepath.Join(t.TempDir(), "d.log")
	cfg := &Config{Log: LogConfig{File: file}}
	h := hexSum([]byte("x"))
	LogDecision(cfg, Decision{ID: "aaa111", Verb: "create", Backend: "runc", Profile: "privileged", SpecBefore: h, SpecAfter: h})
	LogDecision(cfg, Decision{ID: "bbb222", Verb: "create", Backend: "runc", Profile: "baseline", SpecBefore: h, SpecAfter: hexSum([]byte("y")),
		Changes: []hardening.Change{{Control: "capabilities", Field: "process.capabilities.bounding", From: "CAP_SYS_ADMIN", To: "dropped"}}})
	LogDecision(cfg, Decision{ID: "bbb222", Verb: "exec", Backend: "runc", Profile: "baseline"})
	LogDecision(cfg, Decision{ID: "ccc333", Verb: "run", Backend: "crun", Profile: "privileged"})
	LogDecision(cfg, Decision{ID: "bbb222", Verb: "attest", Backend: "crun", Profile: "baseline", Attest: &attestVerdict{Mode: "enforce", Pid: 9,
		Verdict: verdictFail, Action: "killed", Mismatches: []mismatch{{"Seccomp", "2 (filter)", "0"}}, Unchecked: []string{"process.selinuxLabel: SELinux is not enabled on this host"}}})
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := (&admin{stdout: &out, stderr: &errb}).run(append([]string{"log"}, args...))
		if errb.Len() > 0 {
			t.Logf("stderr: %s", errb.String())
		}
		return out.String(), code
	}
	out, code := run("--id", "bbb", "--changed", file)
	if code != 0 || !strings.Contains(out, "bbb222 create") || !strings.Contains(out, "CAP_SYS_ADMIN -> dropped") || strings.Contains(out, "exec") {
		t.Errorf("--id bbb --changed: exit %d\n%s", code, out)
	}
	out, code = run("--id", "bbb", "--verb", "attest", file)
	for _, want := range []string{"bbb222 attest", "attestation fail (enforce), killed", "    Seccomp is 0, promised 2 (filter)", "not checked: process.selinuxLabel"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--verb attest: exit %d, lacks %q\n%s", code, want, out)
		}
	}
	out, code = run("--profile", "privileged", "--since", "today", "--verb", "create", "--json", file)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], `"id":"aaa111"`) || !strings.Contains(lines[1], `"id":"ccc333"`) {
		t.Errorf("--profile privileged --since today: exit %d\n%s", code, out)
	}
	if out, _ = run("--since", "2999-01-01", file); out != "" {
		t.Errorf("--since future: %s", out)
	}
	if _, code = run("--since", "someday", file); code != exitUsage {
		t.Errorf("bad --since: exit %d", code)
	}
	os.WriteFile(file, []byte("{broken\n"), 0o600)
	if _, code = run(file); code != exitRefused {
		t.Errorf("broken line: exit %d, want %d", code, exitRefused)
	}
}
