package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Default location of the persistent crun mount namespace.
const (
	CrunNSDir  = "/run/secshim-test"
	CrunNSFile = CrunNSDir + "/mntns"
)

// CrunNS is a persistent mount namespace in which crun 1.8 works on a host in
// cgroups hybrid mode.
//
// crun 1.8 refuses hybrid mode ("cgroups in hybrid mode not supported, drop
// all controllers from cgroupv2"): it sees cgroup2 mounted at
// /sys/fs/cgroup/unified. The namespace is a private copy of the host's
// mounts with a tmpfs over /sys/fs/cgroup/unified, so crun sees plain cgroup
// v1. It is bound to the file CrunNSFile (on a private bind mount of
// CrunNSDir), outlives the test process, and is entered with
// `nsenter --mount=CrunNSFile`, so that separate podman commands (run -d,
// exec, stop, rm) all act in the same namespace: conmon, the container's
// mounts and its network namespace file live there. Use it for a container's
// whole life; the host namespace does not see the container's mounts.
//
// Containers and images are shared with the host namespace (same storage),
// so the image built on the host is usable inside.
type CrunNS struct {
	// Path is the namespace file; "" when the host needs no namespace for
	// crun (pure cgroup v1 or v2), in which case Prefix is empty.
	Path string
	// Hybrid reports whether the host is in cgroups hybrid mode.
	Hybrid bool
}

// Prefix returns the command prefix that runs a program inside the
// namespace: ["nsenter", "--mount=" + Path], or nil when none is needed.
func (n *CrunNS) Prefix() []string {
	if n == nil || n.Path == "" {
		return nil
	}
	return []string{lookPathOr("nsenter", "/usr/bin/nsenter"), "--mount=" + n.Path}
}

// Command returns an exec.Cmd running name with args inside the namespace
// (e.g. crun directly, for benchmarks). Environment is inherited.
func (n *CrunNS) Command(name string, args ...string) *exec.Cmd {
	argv := append(n.Prefix(), name)
	argv = append(argv, args...)
	return exec.Command(argv[0], argv[1:]...)
}

var crunNS struct {
	once sync.Once
	ns   *CrunNS
	err  error
}

// CrunNamespace returns the crun mount namespace, creating it if it does not
// exist or is not valid (idempotent; safe across concurrent test processes,
// which serialise on a lock file). It fails the test on error; call
// RequireRuntime(t, "crun") first to skip where crun is missing.
func CrunNamespace(t testing.TB) *CrunNS {
	t.Helper()
	crunNS.once.Do(func() { crunNS.ns, crunNS.err = EnsureCrunNS(CrunNSDir) })
	if crunNS.err != nil {
		t.Fatalf("testenv: crun mount namespace: %v", crunNS.err)
	}
	return crunNS.ns
}

// hideSize bounds the tmpfs that hides the unified hierarchy: crun leaves
// a small directory in it per container, so it must hold thousands.
const hideSize = "size=16m"

// EnsureCrunNS makes sure a valid crun mount namespace is bound to dir/mntns
// and returns it. Needs root. On a host that is not in cgroups hybrid mode it
// creates nothing and returns a CrunNS with an empty Path.
//
// Steps (the equivalent shell):
//
//	mkdir -p DIR; mount --bind DIR DIR; mount --make-private DIR
//	touch DIR/mntns
//	unshare --mount=DIR/mntns --propagation private \
//	        mount -t tmpfs secshim-hide /sys/fs/cgroup/unified
func EnsureCrunNS(dir string) (*CrunNS, error) {
	hybrid, err := cgroupHybrid()
	if err != nil {
		return nil, err
	}
	if !hybrid {
		return &CrunNS{}, nil
	}
	nsFile := filepath.Join(dir, "mntns")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// unshare --mount=FILE needs FILE on a mount with private propagation.
	mi, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	if !mi.isMountpoint(dir) {
		if err := run("mount", "--bind", dir, dir); err != nil {
			return nil, err
		}
	}
	if err := run("mount", "--make-private", dir); err != nil {
		return nil, err
	}

	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("flock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	ns := &CrunNS{Path: nsFile, Hybrid: true}
	if err := ns.check(); err == nil {
		// crun 1.8 still writes each container's cgroup.procs below the
		// hidden unified hierarchy and leaves the directory behind; a
		// namespace made with the old 64k tmpfs fills up after a few
		// dozen containers (ENOSPC on every crun create).
		if err := run(lookPathOr("nsenter", "/usr/bin/nsenter"), "--mount="+nsFile,
			lookPathOr("mount", "/usr/bin/mount"), "-o", "remount,"+hideSize, "/sys/fs/cgroup/unified"); err != nil {
			return nil, err
		}
		return ns, nil
	}
	// Missing or stale: (re)create.
	mi, err = readMountinfo("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	if mi.isMountpoint(nsFile) {
		if err := run("umount", nsFile); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(nsFile, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := run(lookPathOr("unshare", "/usr/bin/unshare"), "--mount="+nsFile, "--propagation", "private",
		lookPathOr("mount", "/usr/bin/mount"), "-t", "tmpfs", "-o", hideSize+",mode=0755", "secshim-hide", "/sys/fs/cgroup/unified"); err != nil {
		return nil, err
	}
	if err := ns.check(); err != nil {
		return nil, fmt.Errorf("namespace %s created but not usable: %w", nsFile, err)
	}
	return ns, nil
}

// check verifies that Path holds a mount namespace in which
// /sys/fs/cgroup/unified is (topmost) a tmpfs.
func (n *CrunNS) check() error {
	mi, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	if mi.fstype(n.Path) != "nsfs" {
		return fmt.Errorf("%s is not a bound namespace", n.Path)
	}
	out, err := exec.Command(lookPathOr("nsenter", "/usr/bin/nsenter"), "--mount="+n.Path, "cat", "/proc/self/mountinfo").Output()
	if err != nil {
		return fmt.Errorf("nsenter --mount=%s: %w", n.Path, err)
	}
	inner := parseMountinfo(out)
	if t := inner.fstype("/sys/fs/cgroup/unified"); t != "tmpfs" {
		return fmt.Errorf("in %s, /sys/fs/cgroup/unified is %q, want tmpfs", n.Path, t)
	}
	return nil
}

// cgroupHybrid reports whether cgroup2 is mounted at /sys/fs/cgroup/unified
// beside v1 controllers (systemd's "hybrid" layout).
func cgroupHybrid() (bool, error) {
	mi, err := readMountinfo("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	return mi.fstype("/sys/fs/cgroup") != "cgroup2" && mi.fstype("/sys/fs/cgroup/unified") == "cgroup2", nil
}

type mountEntry struct{ mountpoint, fstype string }
type mountinfo []mountEntry

func readMountinfo(path string) (mountinfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseMountinfo(b), nil
}

// parseMountinfo parses /proc/<pid>/mountinfo (see proc(5)).
func parseMountinfo(b []byte) mountinfo {
	var mi mountinfo
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 {
			continue
		}
		mi = append(mi, mountEntry{mountpoint: unescapeMount(f[4]), fstype: g[0]})
	}
	return mi
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (mi mountinfo) isMountpoint(p string) bool { return mi.fstype(p) != "" }

// fstype returns the type of the topmost mount at p, "" if p is no mountpoint.
func (mi mountinfo) fstype(p string) string {
	t := ""
	for _, e := range mi {
		if e.mountpoint == p {
			t = e.fstype
		}
	}
	return t
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
