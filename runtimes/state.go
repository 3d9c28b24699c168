package runtimes

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// Record is what secshim remembers of a container between verbs: the
// backend chosen at create (every later verb goes to the same one) and
// what the container was allowed, which exec may never exceed.
type Record struct {
	Backend         Backend
	Profile         string
	Caps            hardening.CapSet
	NoNewPrivileges bool
	// RootMapped: the container's user namespace maps root to a non-zero
	// host uid, so root inside may stay root in exec'd processes.
	RootMapped bool
	// Attest is the attestation mode and Promise the promise (as
	// `secshim attest` flags) that the first start checks; empty when
	// nothing is attested at start (attest.go).
	Attest  string
	Promise []string
	// PidFile is the --pid-file the engine gave create: where start finds
	// the container's pid without asking the backend.
	PidFile string
}

// recordPath names a container's record. Engines keep separate state
// roots (--root), and the same ID may exist in two of them.
func RecordPath(stateDir, root, id string) string {
	key := "default"
	if root != "" {
		sum := sha256.Sum256([]byte(root))
		key = hex.EncodeToString(sum[:8])
	}
	return filepath.Join(stateDir, key, id)
}

// saveRecord writes a record. A new container's record is created with
// O_EXCL and one write (nothing reads it before create returns); one that
// already exists (an ID reused after a crash) is replaced atomically, so
// a reader sees the old or the new one, never a torn file.
func SaveRecord(path string, r *Record) error {
	// One value a line: a line break in a value (a label from the spec
	// ends up in the promise) would let it write lines of its own, such
	// as a wider "caps".
	for _, v := range append(append([]string{r.Backend.Name, r.Backend.Path, r.Profile, r.Attest, r.PidFile}, r.Backend.Args...), r.Promise...) {
		if strings.ContainsAny(v, "\n\r") {
			return fmt.Errorf("state: %q: a line break cannot be recorded", v)
		}
	}
	b := make([]byte, 0, 256)
	b = append(append(append(b, "backend "...), r.Backend.Name...), '\n')
	b = append(append(append(b, "path "...), r.Backend.Path...), '\n')
	b = append(append(append(b, "profile "...), r.Profile...), '\n')
	for _, a := range r.Backend.Args {
		b = append(append(append(b, "arg "...), a...), '\n')
	}
	b = strconv.AppendUint(append(b, "caps "...), uint64(r.Caps), 16)
	b = strconv.AppendBool(append(b, "\nnnp "...), r.NoNewPrivileges)
	b = strconv.AppendBool(append(b, "\nrootmapped "...), r.RootMapped)
	b = append(b, '\n')
	if r.Attest != "" {
		b = append(append(append(b, "attest "...), r.Attest...), '\n')
	}
	for _, a := range r.Promise {
		b = append(append(append(b, "promise "...), a...), '\n')
	}
	if r.PidFile != "" {
		b = append(append(append(b, "pidfile "...), r.PidFile...), '\n')
	}
	const create = unix.O_CREAT | unix.O_EXCL
	err := spec.WriteFile(path, b, create, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = spec.WriteFile(path, b, create, 0o600)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		err = spec.WriteAtomic(path, b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	// The same ID created again: the old container's tombstone is done.
	unix.Unlink(tombPath(path))
	return nil
}

// tombstone prepares a delete that execs the backend: where no SELinux
// pair can be reserved and the backend's state layout is known, the
// container's record becomes a tombstone, and the tombstones of other
// containers the backend no longer has are swept. Until its own sweep a
// failed delete's container keeps its record. done is false where this
// does not apply: the backend must run as a child.
func tombstone(stateDir, root, path string, b *Backend, id string) (done bool, err error) {
	sr := b.stateRoot(root)
	if sr == "" || hardening.MCSInUse(stateDir) {
		return false, nil
	}
	// The sweep reads "ROOT/ID is gone" as "deleted". That holds only if
	// the backend really keeps the container there, which a binary named
	// runc that is a wrapper with a root of its own would not: the layout
	// is trusted for a container only when its state directory is seen
	// before the delete.
	var st unix.Stat_t
	if unix.Lstat(filepath.Join(sr, id), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return false, nil
	}
	tomb := tombPath(path)
	// rename(2) itself: os.Rename would lstat the tombstone first.
	err = unix.Rename(path, tomb)
	if err == unix.ENOENT {
		if unix.Lstat(path, &st) == nil { // the first delete here
			if err = unix.Mkdir(filepath.Dir(tomb), 0o700); err == nil || err == unix.EEXIST {
				err = unix.Rename(path, tomb)
			}
		} else {
			err = nil // already a tombstone: a delete tried again
		}
	}
	if err != nil {
		return false, fmt.Errorf("state: %w", &os.LinkError{Op: "rename", Old: path, New: tomb, Err: err})
	}
	sweepTombstones(filepath.Dir(path), root, id)
	return true, nil
}

// sweepTombstones removes the tombstones in dir (one --root's records)
// whose containers the backend no longer has: their deletes succeeded.
// A container still there keeps its tombstone, so its record still serves.
func sweepTombstones(dir, root, except string) {
	ids, err := spec.ReadDirNames(filepath.Join(dir, tombDir))
	if err != nil {
		return
	}
	for _, id := range ids {
		if id == except {
			continue
		}
		tomb := filepath.Join(dir, tombDir, id)
		// Only a backend whose state root is known gets tombstones (see
		// tombstone); with --root given, that root is ROOT itself, so the
		// record need not be read.
		sr := root
		if sr == "" {
			rec, found, err := loadRecord(tomb)
			if err != nil || !found {
				continue
			}
			if sr = rec.Backend.stateRoot(root); sr == "" {
				continue
			}
		}
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(sr, id), &st) == unix.ENOENT {
			unix.Unlink(tomb)
		}
	}
}

// tombDir holds, next to one --root's records, the records of containers
// whose delete was handed to the backend ('@' is not in the container ID
// alphabet, so it names no record). Until sweepTombstones finds such a
// container gone, its record still serves: a delete that failed leaves the
// container its backend and its exec clamps.
const tombDir = "deleted@"

// tombPath is where a record goes when its container is being deleted.
func tombPath(path string) string {
	return filepath.Join(filepath.Dir(path), tombDir, filepath.Base(path))
}

// loadRecord reads a record, or its tombstone; ok is false when there is
// neither. runtimes/preentry/preentry.c reads records too (parserec).
func loadRecord(path string) (r *Record, ok bool, err error) {
	data, err := spec.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = spec.ReadFile(tombPath(path))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: %w", err)
	}
	r = &Record{}
	// Lists are sized up front: growing them allocates in several size
	// classes, and each new one costs a short-lived process fresh pages.
	var nPromise, nArg int
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "promise ") {
			nPromise++
		} else if strings.HasPrefix(line, "arg ") {
			nArg++
		}
	}
	if nPromise > 0 {
		r.Promise = make([]string, 0, nPromise)
	}
	if nArg > 0 {
		r.Backend.Args = make([]string, 0, nArg)
	}
	for line := range strings.Lines(string(data)) {
		key, val, _ := strings.Cut(trimEOL(line), " ")
		switch key {
		case "backend":
			r.Backend.Name = val
		case "path":
			r.Backend.Path = val
		case "profile":
			r.Profile = val
		case "arg":
			r.Backend.Args = append(r.Backend.Args, val)
		case "caps":
			n, err := strconv.ParseUint(val, 16, 64)
			if err != nil {
				return nil, false, fmt.Errorf("state %s: caps: %w", path, err)
			}
			r.Caps = hardening.CapSet(n)
		case "nnp":
			r.NoNewPrivileges = val == "true"
		case "rootmapped":
			r.RootMapped = val == "true"
		case "attest":
			r.Attest = val
		case "promise":
			r.Promise = append(r.Promise, val)
		case "pidfile":
			r.PidFile = val
		}
	}
	if r.Backend.Path == "" || !filepath.IsAbs(r.Backend.Path) {
		return nil, false, fmt.Errorf("state %s: no absolute backend path", path)
	}
	return r, true, nil
}

// trimEOL drops a line's "\n" or "\r\n", as bufio.ScanLines does.
func trimEOL(line string) string {
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r")
}

// profile is the recorded profile name; "" without a record.
func (r *Record) profile() string {
	if r == nil {
		return ""
	}
	return r.Profile
}

// rootMapped is the recorded user-namespace finding; false without a record.
func (r *Record) rootMapped() bool { return r != nil && r.RootMapped }
