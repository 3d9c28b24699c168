package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

// TestAuditConcurrentCreates starts 32 containers through Podman at once:
// each create is one JSON line of its own in the decision log, with the
// spec's hashes before and after, and no line is torn or interleaved.
func TestAuditConcurrentCreates(t *testing.T) {
	if testing.Short() {
		t.Skip("32 containers through Podman")
	}
	s := newSetup(t, backends()[0], "")
	const n = 32
	names := make([]string, n)
	cidDir := t.TempDir()
	for i := range names {
		names[i] = fmt.Sprintf("secshim-audit-%d-%d", os.Getpid(), i)
	}
	s.pm.RemoveOnCleanup(names...)
	cidFile := func(i int) string { return filepath.Join(cidDir, fmt.Sprint(i)) }
	var wg sync.WaitGroup
	fails := make([]string, n)
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(s.runArgs("--name", name, "--cidfile", cidFile(i)), testenv.Image, "true")
			if out, errOut, code := s.pm.Run(args...); code != 0 {
				fails[i] = fmt.Sprintf("%s: exit %d\n%s%s", name, code, out, errOut)
			}
		}()
	}
	wg.Wait()
	for _, f := range fails {
		if f != "" {
			t.Error(f)
		}
	}
	raw, err := os.ReadFile(s.logFile())
	if err != nil {
		t.Fatalf("decision log: %v", err)
	}
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		t.Fatalf("decision log does not end in a newline")
	}
	hash := regexp.MustCompile(`^[0-9a-f]{64}$`)
	creates := map[string]int{}
	for i, line := range bytes.Split(raw[:len(raw)-1], []byte("\n")) {
		var d struct {
			ID      string            `json:"id"`
			Verb    string            `json:"verb"`
			Backend string            `json:"backend"`
			Profile string            `json:"profile"`
			Before  string            `json:"spec_sha256_before"`
			After   string            `json:"spec_sha256_after"`
			Changes []json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal(line, &d); err != nil || !json.Valid(line) || line[0] != '{' {
			t.Errorf("line %d is not one JSON object (%v): %q", i+1, err, line)
			continue
		}
		if d.Verb != "create" {
			continue
		}
		creates[d.ID]++
		if d.Backend != s.bc.name || d.Profile != "baseline" || !hash.MatchString(d.Before) || !hash.MatchString(d.After) {
			t.Errorf("create line %d: backend %q profile %q hashes %q %q", i+1, d.Backend, d.Profile, d.Before, d.After)
		}
		// Podman's default spec always gets hardened under the baseline.
		if d.Before == d.After || len(d.Changes) == 0 {
			t.Errorf("create line %d: no change recorded (before %s after %s, %d changes)", i+1, d.Before, d.After, len(d.Changes))
		}
	}
	for i, name := range names {
		cid, err := os.ReadFile(cidFile(i))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		id := string(bytes.TrimSpace(cid))
		if creates[id] != 1 {
			t.Errorf("%s (%s): %d create lines, want 1", name, id, creates[id])
		}
	}
	if len(creates) != n {
		t.Errorf("%d containers have create lines, want %d", len(creates), n)
	}
}
