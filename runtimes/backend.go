package runtimes

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/hardening"
)

// Backend is a resolved OCI runtime: an absolute path secshim can exec
// even when the engine gave it no PATH.
type Backend struct {
	Name string
	Path string
	Args []string
}

// Family is the command-line dialect the backend parses.
func (b *Backend) Family() Family {
	if b.Name == "runsc" || strings.Contains(filepath.Base(b.Path), "runsc") {
		return FamilyRunsc
	}
	return FamilyRunc
}

// What secshim assumes of a backend's behaviour follows from the name of
// its binary (and, for the sandboxes, also from the name it is configured
// under); every such assumption is one of these methods.

// isSandbox reports whether the backend runs the container in a sandbox
// or VM whose state the host cannot read (gVisor, Kata).
func (b *Backend) isSandbox() bool {
	return b.Family() == FamilyRunsc || b.Name == "kata" || strings.Contains(filepath.Base(b.Path), "kata")
}

// finalBeforeStart reports whether the backend is known to apply every
// promised setting before start (runc: its init waits on the exec fifo
// with the filter loaded and capabilities dropped). There a mismatch
// before start is final, and the container is killed before the user's
// process ever runs. Any other backend is checked before start and, unless
// it passes there, again after.
func (b *Backend) finalBeforeStart() bool {
	return filepath.Base(b.Path) == "runc"
}

// stateRoot is where the backend keeps a container's state directory
// (ROOT/ID), for the backends whose layout secshim knows (runc, crun, run
// by root, no --root of their own in the backend's args); "" for any other,
// whose records are removed only by a delete run as a child.
func (b *Backend) stateRoot(root string) string {
	if slices.ContainsFunc(b.Args, func(a string) bool { return strings.HasPrefix(strings.TrimLeft(a, "-"), "root") }) {
		return ""
	}
	base := filepath.Base(b.Path)
	switch {
	case base != "runc" && base != "crun" || os.Geteuid() != 0:
		return ""
	case root != "":
		return root
	}
	return "/run/" + base
}

// runsWithoutCgroups reports whether the backend can run a container with
// --cgroup-manager disabled (crun).
func (b *Backend) runsWithoutCgroups() bool {
	return b.Name == "crun" || strings.HasSuffix(b.Path, "/crun")
}

// systemDirs are searched after PATH, which engines often leave empty.
var systemDirs = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// Backend resolves a backend by name; "" means the default one.
func (c *Config) Backend(name string) (*Backend, error) {
	if name == "" {
		name = c.DefaultBackend
	}
	if name == "" {
		// No choice made: crun if installed, else runc.
		if b, err := c.Backend("crun"); err == nil {
			return b, nil
		}
		name = "runc"
	}
	bc, ok := c.Backends[name]
	if !ok {
		return nil, fmt.Errorf("unknown backend %q", name)
	}
	path, st, err := lookPath(bc.Path)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w", name, err)
	}
	if isSelf(st) {
		return nil, fmt.Errorf("backend %s: %s is secshim itself; point it at the real runtime", name, path)
	}
	return &Backend{Name: name, Path: path, Args: bc.Args}, nil
}

func lookPath(p string) (string, *unix.Stat_t, error) {
	if strings.Contains(p, "/") {
		if !filepath.IsAbs(p) {
			return "", nil, fmt.Errorf("path %q is not absolute", p)
		}
		st, err := executable(p)
		if err != nil {
			return "", nil, err
		}
		return p, st, nil
	}
	dirs := append(filepath.SplitList(os.Getenv("PATH")), systemDirs...)
	for _, d := range dirs {
		if !filepath.IsAbs(d) {
			continue // a relative PATH entry would depend on the engine's cwd
		}
		cand := filepath.Join(d, p)
		if st, err := executable(cand); err == nil {
			return cand, st, nil
		}
	}
	return "", nil, fmt.Errorf("%s: not found in PATH or %s", p, strings.Join(systemDirs, ":"))
}

func executable(p string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return nil, fmt.Errorf("%s: not an executable file", p)
	}
	return &st, nil
}

// isSelf reports whether the file st describes is this very binary,
// which would loop.
func isSelf(st *unix.Stat_t) bool {
	self, err := hardening.SelfExe()
	return err == nil && self.Dev == st.Dev && self.Ino == st.Ino
}

// execBackend replaces this process with the backend: stdin, tty,
// inherited fds (--preserve-fds, conmon's _OCI_*PIPE), signals and exit
// status are the backend's own from here on.
func execBackend(b *Backend, argv []string) error {
	full := append([]string{b.Path}, argv...)
	err := syscall.Exec(b.Path, full, os.Environ())
	return fmt.Errorf("exec %s: %w", b.Path, err)
}
