package hardening

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/spec"
)

// selinuxControl labels the container's process and its mounts with a
// type from the policy and an MCS category pair no other running container
// holds, so that two containers of the same type cannot touch each other's
// files.
var selinuxControl = Rule{Control: "selinux", Apply: selinuxRule, Validate: validateSELinux}

// mcsCategories is the number of MCS categories pairs are drawn from
// (c0..c1023, as container-selinux and Podman use). Tests shrink it to
// make collisions likely.
var mcsCategories = 1024

// mcsFile and mcsLock are the reservation table and its lock, under the
// state dir. The lock is a separate file because the table is replaced by
// rename (a crash mid-write must not leave a torn table), and a lock held
// on a replaced inode would lock nothing.
const (
	mcsFile = "selinux-mcs"
	mcsLock = "selinux-mcs.lock"
)

func validateSELinux(p *Policy) error {
	s := p.SELinux
	if !s.Enable && !s.Force {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"user", s.User}, {"role", s.Role}, {"type", s.Type}, {"mount_type", s.MountType}} {
		if !selinuxIdent(f.v) {
			return fmt.Errorf("selinux.%s: %q is not an SELinux identifier (letters, digits, _ . -)", f.name, f.v)
		}
	}
	for _, t := range s.RefuseTypes {
		if !selinuxIdent(t) {
			return fmt.Errorf("selinux.refuse_types: %q is not an SELinux type", t)
		}
	}
	if contains(s.RefuseTypes, s.Type) {
		return fmt.Errorf("selinux.type: %q is one of refuse_types", s.Type)
	}
	return nil
}

func selinuxIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

// seLabel is a context user:role:type:level; level keeps its colons
// (s0:c1,c2).
type seLabel struct{ user, role, typ, level string }

func (l seLabel) String() string { return l.user + ":" + l.role + ":" + l.typ + ":" + l.level }

func parseSELabel(field, s string) (seLabel, error) {
	parts := strings.SplitN(s, ":", 4)
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return seLabel{}, fmt.Errorf("%s: %q is not an SELinux context user:role:type:level", field, s)
	}
	return seLabel{parts[0], parts[1], parts[2], parts[3]}, nil
}

// mcsPair is two distinct categories, lo < hi.
type mcsPair struct{ lo, hi int }

func (p mcsPair) String() string { return fmt.Sprintf("c%d,c%d", p.lo, p.hi) }
func (p mcsPair) level() string  { return "s0:" + p.String() }

// parseLevel reads a level that is exactly s0 with one category pair, or
// plain s0 (no categories: ok is false, and the caller adds a pair).
func parseLevel(level string) (p mcsPair, ok bool, err error) {
	if level == "s0" {
		return mcsPair{}, false, nil
	}
	cats, found := strings.CutPrefix(level, "s0:")
	a, b, two := strings.Cut(cats, ",")
	if found && two {
		x, ex := parseCategory(a)
		y, ey := parseCategory(b)
		if ex == nil && ey == nil && x != y {
			return mcsPair{min(x, y), max(x, y)}, true, nil
		}
	}
	return mcsPair{}, false, fmt.Errorf("level %q is not s0 with one MCS category pair (s0:cX,cY)", level)
}

func parseCategory(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "c"))
	if err != nil || !strings.HasPrefix(s, "c") || n < 0 || n >= mcsCategories || strconv.Itoa(n) != s[1:] {
		return 0, fmt.Errorf("bad category %q", s)
	}
	return n, nil
}

// selinuxRule sets process.selinuxLabel and linux.mountLabel when they are
// missing, and gives the container a pair of its own. An engine's label is
// kept when its user, role and type are allowed: its pair is the one the
// engine labelled the container's files with (Podman mounts the rootfs
// with context=<mountLabel>), so it is reserved for the container rather
// than replaced, and refused if another running container holds it.
func selinuxRule(c *Context) error {
	s := c.Policy.SELinux
	if !s.Force && !(s.Enable && hostOf(c).SELinuxEnabled()) {
		return nil
	}
	proc, err := c.Doc.EnsureObject("process")
	if err != nil {
		return err
	}
	linux, err := c.Doc.EnsureObject("linux")
	if err != nil {
		return err
	}
	procRaw, _, err := proc.String("selinuxLabel")
	if err != nil {
		return err
	}
	mountRaw, _, err := linux.String("mountLabel")
	if err != nil {
		return err
	}

	want := seLabel{s.User, s.Role, s.Type, ""}
	var pair mcsPair
	var havePair bool
	if procRaw != "" {
		l, err := parseSELabel("process.selinuxLabel", procRaw)
		if err != nil {
			return err
		}
		refused := false
		if contains(s.RefuseTypes, l.typ) {
			c.refuse("selinux", "process.selinuxLabel", procRaw, fmt.Sprintf("type %s is not allowed (it leaves the process unconfined)", l.typ))
			refused = true
		}
		if l.user != s.User {
			c.refuse("selinux", "process.selinuxLabel", procRaw, fmt.Sprintf("SELinux user %s is not the policy's %s", l.user, s.User))
			refused = true
		}
		if l.role != s.Role {
			c.refuse("selinux", "process.selinuxLabel", procRaw, fmt.Sprintf("SELinux role %s is not the policy's %s", l.role, s.Role))
			refused = true
		}
		if pair, havePair, err = parseLevel(l.level); err != nil {
			c.refuse("selinux", "process.selinuxLabel", procRaw, err.Error())
			refused = true
		}
		if refused {
			return nil
		}
		want.typ = l.typ
	}
	mountWant := seLabel{s.User, "object_r", s.MountType, ""}
	if mountRaw != "" {
		l, err := parseSELabel("linux.mountLabel", mountRaw)
		if err != nil {
			return err
		}
		mountWant = l
		if !havePair && procRaw == "" {
			// The engine labelled the mounts alone: the process must
			// dominate that pair to use them.
			if p, ok, err := parseLevel(l.level); err == nil && ok {
				pair, havePair = p, true
			}
		}
	}

	pair, err = reserveMCS(c.Env.StateDir, c.Env.ContainerID, pair, havePair, c.Policy.ModeOf("selinux") == Enforce)
	var held *mcsHeldError
	if errors.As(err, &held) {
		c.refuse("selinux", "process.selinuxLabel", procRaw, err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("MCS reservation: %w", err)
	}
	want.level, mountWant.level = pair.level(), pair.level()
	if w := want.String(); w != procRaw {
		c.changed("selinux", "process.selinuxLabel", procRaw, w)
		if err := proc.SetString("selinuxLabel", w); err != nil {
			return err
		}
	}
	if w := mountWant.String(); w != mountRaw {
		c.changed("selinux", "linux.mountLabel", mountRaw, w)
		if err := linux.SetString("mountLabel", w); err != nil {
			return err
		}
	}
	return nil
}

func hostOf(c *Context) *Host {
	if c.Env.Host == nil {
		c.Env.Host = DefaultHost()
	}
	return c.Env.Host
}

// mcsHeldError: the pair the engine chose is another container's.
type mcsHeldError struct {
	pair  mcsPair
	owner string
}

func (e *mcsHeldError) Error() string {
	return fmt.Sprintf("MCS pair %s is already held by running container %s", e.pair, e.owner)
}

// reserveMCS gives container id a pair no other container holds, recorded
// in stateDir under an exclusive lock, so separate secshim processes
// starting containers at once never hand out the same pair. With want it
// reserves that pair (or fails with *mcsHeldError); without, it keeps the
// pair id already holds (create is idempotent: the floor profile and the
// chosen profile both label the container, and an engine may create the
// same container again), else draws a free one at random.
//
// Without a container ID or state dir (a dry run such as explain: nothing
// will run with the label) the table is not read. When record is false
// (audit and deny modes, which must not change the host) it is read, so
// that a held pair is still found, but not written.
func reserveMCS(stateDir, id string, want mcsPair, haveWant, record bool) (mcsPair, error) {
	if id == "" || stateDir == "" {
		if haveWant {
			return want, nil
		}
		return randomPair(nil)
	}
	if strings.ContainsAny(id, " \t\r\n") {
		return mcsPair{}, fmt.Errorf("container ID %q contains white space", id)
	}
	var got mcsPair
	err := withMCSTable(stateDir, true, func(t map[mcsPair]string) (bool, error) {
		var mine []mcsPair
		for p, owner := range t {
			if owner == id {
				mine = append(mine, p)
			}
		}
		switch {
		case haveWant:
			if owner, ok := t[want]; ok && owner != id {
				return false, &mcsHeldError{want, owner}
			}
			got = want
		case len(mine) > 0:
			got = mine[0]
			for _, p := range mine[1:] { // keep one, deterministically
				if p.lo < got.lo || p.lo == got.lo && p.hi < got.hi {
					got = p
				}
			}
		default:
			p, err := randomPair(t)
			if err != nil {
				return false, err
			}
			got = p
		}
		if !record || len(mine) == 1 && mine[0] == got {
			return false, nil
		}
		for _, p := range mine {
			delete(t, p)
		}
		t[got] = id
		return true, nil
	})
	return got, err
}

// ReleaseMCS frees the MCS pair container id holds; call it from delete.
// A state dir without reservations (a host without SELinux) costs one
// failed stat.
// MCSInUse reports whether any MCS pair may be reserved under stateDir
// (the reservation table exists).
func MCSInUse(stateDir string) bool {
	_, err := os.Stat(filepath.Join(stateDir, mcsFile))
	return !errors.Is(err, fs.ErrNotExist)
}

func ReleaseMCS(stateDir, id string) error {
	if _, err := os.Stat(filepath.Join(stateDir, mcsFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return withMCSTable(stateDir, false, func(t map[mcsPair]string) (bool, error) {
		changed := false
		for p, owner := range t {
			if owner == id {
				delete(t, p)
				changed = true
			}
		}
		return changed, nil
	})
}

// randomPair draws a pair not in taken: random tries first (the table is
// sparse in practice), then a scan, so a nearly full table still finds the
// last free pairs.
func randomPair(taken map[mcsPair]string) (mcsPair, error) {
	for range 64 {
		x, y := rand.IntN(mcsCategories), rand.IntN(mcsCategories-1)
		if y >= x {
			y++
		}
		p := mcsPair{min(x, y), max(x, y)}
		if _, ok := taken[p]; !ok {
			return p, nil
		}
	}
	for lo := 0; lo < mcsCategories; lo++ {
		for hi := lo + 1; hi < mcsCategories; hi++ {
			if _, ok := taken[mcsPair{lo, hi}]; !ok {
				return mcsPair{lo, hi}, nil
			}
		}
	}
	return mcsPair{}, errors.New("every MCS category pair is held by a running container")
}

// withMCSTable runs edit on the reservation table under the lock, and
// writes the table back atomically when edit reports a change.
func withMCSTable(stateDir string, create bool, edit func(map[mcsPair]string) (bool, error)) error {
	if create {
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return err
		}
	}
	lock, err := os.OpenFile(filepath.Join(stateDir, mcsLock), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := flock(lock); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	path := filepath.Join(stateDir, mcsFile)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	t, err := parseMCSTable(path, data)
	if err != nil {
		return err
	}
	changed, err := edit(t)
	if err != nil || !changed {
		return err
	}
	return spec.WriteAtomic(path, formatMCSTable(t), 0o600)
}

func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}

// The table has one line per reservation: "LO HI CONTAINER-ID".
func parseMCSTable(path string, data []byte) (map[mcsPair]string, error) {
	t := map[mcsPair]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var lo, hi int
		var err error
		if len(f) == 3 {
			if lo, err = strconv.Atoi(f[0]); err == nil {
				hi, err = strconv.Atoi(f[1])
			}
		}
		if len(f) != 3 || err != nil || lo < 0 || lo >= hi || hi >= mcsCategories {
			return nil, fmt.Errorf("%s:%d: malformed reservation %q", path, n, sc.Text())
		}
		t[mcsPair{lo, hi}] = f[2]
	}
	return t, sc.Err()
}

func formatMCSTable(t map[mcsPair]string) []byte {
	var b bytes.Buffer
	for p, id := range t {
		fmt.Fprintf(&b, "%d %d %s\n", p.lo, p.hi, id)
	}
	return b.Bytes()
}
