package hardening

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/spec"
)

// mountsControl keeps the host's sensitive paths out of containers and takes
// the dangerous flags off the mounts it lets through.
var mountsControl = Rule{Control: "mounts", Apply: mountsRule, Validate: validateMounts}

// mountsRule refuses bind mounts of denied host paths and shared
// propagation, forces the policy's options onto every bind mount, and makes
// sysfs and cgroupfs read-only.
func mountsRule(c *Context) error {
	p := &c.Policy.Mounts
	if p.RefuseSharedPropagation {
		if err := refuseSharedRootfs(c); err != nil {
			return err
		}
	}
	hp := newHostPaths(p, c.Env.StateDir)
	if len(hp.deny) == 0 && len(p.BindOptions) == 0 && !p.RefuseSharedPropagation && !p.ReadOnlySysfs {
		return nil
	}
	ms, err := c.mounts()
	if err != nil {
		return err
	}
	dirty := false
	for i := range ms {
		m := &ms[i]
		field := "mounts[" + strconv.Itoa(i) + "]"
		bind := m.isBind()
		if bind && len(hp.deny) > 0 {
			if why := hp.check(m.src); why != "" {
				c.refuse("mounts", field+".source", m.src, why+"; mounted at "+m.dest)
			}
		}
		if p.RefuseSharedPropagation {
			for _, o := range m.opts {
				if o == "shared" || o == "rshared" {
					c.refuse("mounts", field+".options", o, "shared propagation lets mounts cross between the container and the host (mounts.refuse_shared_propagation)")
				}
			}
		}
		want := m.opts
		if bind {
			want = forceOptions(want, p.BindOptions)
		}
		if p.ReadOnlySysfs && (m.typ == "sysfs" || m.typ == "cgroup" || m.typ == "cgroup2") {
			want = forceOptions(want, []string{"ro"})
		}
		if !slices.Equal(want, m.opts) {
			if err := m.obj.SetStrings("options", want); err != nil {
				return fmt.Errorf("%s: %w", field, err)
			}
			c.changed("mounts", field+".options", strings.Join(m.opts, ","), strings.Join(want, ","))
			m.opts = want
			dirty = true
		}
	}
	if dirty {
		return c.writeMounts(ms)
	}
	return nil
}

// refuseSharedRootfs refuses shared propagation of the root mount: with it,
// mounts made inside the container's mount namespace show on the host.
func refuseSharedRootfs(c *Context) error {
	linux, ok, err := c.Doc.Object("linux")
	if err != nil || !ok {
		return err
	}
	prop, _, err := linux.String("rootfsPropagation")
	if err != nil {
		return err
	}
	if prop == "shared" || prop == "rshared" {
		c.refuse("mounts", "linux.rootfsPropagation", prop, "shared propagation lets mounts cross between the container and the host (mounts.refuse_shared_propagation)")
	}
	return nil
}

// mountEntry is one element of config.json's mounts, parsed for editing;
// obj keeps every field, known or not.
type mountEntry struct {
	obj            *spec.Object
	dest, typ, src string
	opts           []string
}

// isBind reports whether the mount is a bind mount. runc and crun bind on
// the option alone, whatever the type says.
func (m *mountEntry) isBind() bool {
	return m.typ == "bind" || slices.Contains(m.opts, "bind") || slices.Contains(m.opts, "rbind")
}

// parsedMounts remembers a document's parsed mounts: several rules read
// them (privileged, rootfs, mounts), and parsing every mount again for
// each costs a create more than the rules' own work.
type parsedMounts struct {
	doc *spec.Object
	raw []byte // the mounts member they were parsed from, or written as
	ms  []mountEntry
}

// mounts is c.Doc's mounts, parsed once while the document's mounts stay
// what they were. The slice is the caller's; the entries' objects are
// shared, so a rule that edits one writes the list with c.writeMounts.
func (c *Context) mounts() ([]mountEntry, error) {
	raw, _ := c.Doc.Raw("mounts")
	if p := &c.parsed; p.doc == c.Doc && p.ms != nil && sameBytes(p.raw, raw) {
		return slices.Clone(p.ms), nil
	}
	ms, err := readMounts(c.Doc)
	if err != nil {
		return nil, err
	}
	c.parsed = parsedMounts{doc: c.Doc, raw: raw, ms: ms}
	return slices.Clone(ms), nil
}

// writeMounts replaces c.Doc's mounts with ms and remembers them parsed.
func (c *Context) writeMounts(ms []mountEntry) error {
	if err := writeMounts(c.Doc, ms); err != nil {
		return err
	}
	raw, _ := c.Doc.Raw("mounts")
	c.parsed = parsedMounts{doc: c.Doc, raw: raw, ms: slices.Clone(ms)}
	return nil
}

// sameBytes reports whether a and b are the same bytes in memory: a
// member's value is never modified in place, so this says it is the
// value the entries were parsed from.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func readMounts(doc *spec.Object) ([]mountEntry, error) {
	elems, _, err := doc.Array("mounts")
	if err != nil {
		return nil, err
	}
	ms := make([]mountEntry, len(elems))
	for i, e := range elems {
		o, err := spec.ParseElement(e)
		if err != nil {
			return nil, fmt.Errorf("mounts[%d]: %w", i, err)
		}
		m := mountEntry{obj: o}
		if m.dest, _, err = o.String("destination"); err == nil {
			if m.typ, _, err = o.String("type"); err == nil {
				if m.src, _, err = o.String("source"); err == nil {
					m.opts, _, err = o.Strings("options")
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("mounts[%d].%w", i, err)
		}
		ms[i] = m
	}
	return ms, nil
}

func writeMounts(doc *spec.Object, ms []mountEntry) error {
	elems := make([][]byte, len(ms))
	for i := range ms {
		elems[i] = ms[i].obj.Bytes()
	}
	return doc.SetArray("mounts", elems)
}

// forceOptions adds each of force missing from opts and drops the options
// that would undo it, recursive ones included ("rsuid" clears nosuid on
// the whole tree after the mount, whatever the other flags say).
func forceOptions(opts, force []string) []string {
	out := opts
	for _, f := range force {
		undo := undoers(f)
		if slices.Contains(out, f) && !slices.ContainsFunc(out, func(o string) bool { return slices.Contains(undo, o) }) {
			continue
		}
		next := make([]string, 0, len(out)+1)
		for _, o := range out {
			if !slices.Contains(undo, o) {
				next = append(next, o)
			}
		}
		if !slices.Contains(next, f) {
			next = append(next, f)
		}
		out = next
	}
	return out
}

// undoers are the mount options that cancel a forced one.
func undoers(opt string) []string {
	if opt == "ro" {
		return []string{"rw", "rrw"}
	}
	base := strings.TrimPrefix(opt, "no")
	return []string{base, "r" + base}
}

// bindOptions are the options a policy may force onto bind mounts.
var bindOptions = []string{"nosuid", "nodev", "noexec", "ro"}

// hostPaths decides which host paths a bind mount may expose.
type hostPaths struct {
	deny, allow []string
	// denyAll and allowAll add the policy's paths as the host resolves
	// them, filled on first need: a bind of /run/docker.sock must not slip
	// past a deny entry written /var/run/docker.sock.
	denyAll, allowAll []string
	resolved          bool
	// res resolves host paths for this one create, sharing the work
	// between paths with a common directory (/var/run/podman and
	// /var/run/dbus both go through /var/run).
	res resolver
}

func newHostPaths(p *MountPolicy, stateDir string) *hostPaths {
	hp := &hostPaths{deny: p.DenyHostPaths, allow: p.AllowHostPaths}
	if stateDir != "" {
		// secshim's own records (the capabilities exec clamps to) must
		// stay out of reach of the containers they describe.
		hp.deny = append(slices.Clip(hp.deny), filepath.Clean(stateDir))
	}
	return hp
}

// check returns why a bind mount of src is refused, or "". src is judged
// as written (cleaned) and as the host resolves it, so neither "/var/../etc"
// nor a symlink to /etc passes.
func (hp *hostPaths) check(src string) string {
	if !strings.HasPrefix(src, "/") {
		return "a bind mount source must be an absolute host path"
	}
	clean := filepath.Clean(src)
	real, err := hp.res.resolve(clean)
	if err != nil {
		return fmt.Sprintf("cannot resolve the host path: %v", err)
	}
	cands := []string{clean}
	if real != clean {
		cands = append(cands, real)
	}
	for _, cand := range cands {
		d, ok := DeniedHostPath(cand, hp.deny, hp.allow)
		// Engine storage (below an allow entry) is judged against the
		// policy as written: its sources are on every container's path,
		// and resolving the policy's paths costs tens of microseconds.
		if !ok || !slices.ContainsFunc(hp.allow, func(a string) bool { return under(cand, a) }) {
			hp.resolve()
			d, ok = DeniedHostPath(cand, hp.denyAll, hp.allowAll)
		}
		if ok {
			continue
		}
		if cand != clean {
			return fmt.Sprintf("host path %s (%s with symlinks resolved) exposes %s (mounts.deny_host_paths)", clean, cand, d)
		}
		return fmt.Sprintf("host path %s exposes %s (mounts.deny_host_paths)", cand, d)
	}
	return ""
}

// DeniedHostPath returns a deny entry that path (clean, resolved) exposes
// without an allow entry excusing it, and ok == false; ok == true when
// path exposes none. A path
// exposes a deny entry when it is the entry, lies under it, or holds it
// (a bind of /run hands over /run/podman): only the host root itself is
// denied by "/", or nothing could be mounted. An allow entry excuses
// paths strictly below it from the deny entries it lies in: the more
// specific entry wins, so engine storage under /var/lib/containers is
// allowed while /var/lib/containers itself, or a path holding it, is not.
func DeniedHostPath(path string, deny, allow []string) (string, bool) {
	for _, d := range deny {
		exposes := path == d
		if d != "/" {
			exposes = exposes || under(path, d) || under(d, path)
		}
		if !exposes {
			continue
		}
		excused := slices.ContainsFunc(allow, func(a string) bool {
			return under(path, a) && (a == d || under(a, d))
		})
		if !excused {
			return d, false
		}
	}
	return "", true
}

// resolve adds the policy's paths as the host resolves them, once.
func (hp *hostPaths) resolve() {
	if hp.resolved {
		return
	}
	hp.resolved = true
	hp.denyAll, hp.allowAll = hp.res.withResolved(hp.deny), hp.res.withResolved(hp.allow)
}

// withResolved returns paths followed by those of them the host resolves
// to somewhere else.
func (r *resolver) withResolved(paths []string) []string {
	out := slices.Clone(paths)
	for _, p := range paths {
		if rp, err := r.resolve(p); err == nil && rp != p {
			out = append(out, rp)
		}
	}
	return out
}

// under reports whether path lies strictly below dir (both clean).
func under(path, dir string) bool {
	if dir == "/" {
		return path != "/" && strings.HasPrefix(path, "/")
	}
	return len(path) > len(dir) && path[len(dir)] == '/' && strings.HasPrefix(path, dir)
}

// resolver resolves clean absolute host paths the way resolvePath does,
// remembering each result (and its parents', when it had to walk up) for
// the rest of one create.
type resolver struct {
	memo map[string]resolved
}

type resolved struct {
	path string
	err  error
}

// resolve is resolvePath(p), memoised.
func (r *resolver) resolve(p string) (string, error) {
	if v, ok := r.memo[p]; ok {
		return v.path, v.err
	}
	rp, err := r.resolveUncached(p)
	if r.memo == nil {
		r.memo = make(map[string]resolved)
	}
	r.memo[p] = resolved{rp, err}
	return rp, err
}

// resolvePath resolves the symlinks of a clean absolute path as far as it
// exists: a missing tail is kept as written, under its resolved parent
// (a bind source created after the check still lands where we judged it).
// A dangling symlink is an error: where it leads is not known yet.
func resolvePath(p string) (string, error) {
	var r resolver
	return r.resolveUncached(p)
}

// resolveUncached first asks the kernel whether p has a symlink anywhere
// on it (openat2 with RESOLVE_NO_SYMLINKS: one system call, two when p
// exists): most host paths have none and so resolve to themselves, found
// or not (ENOENT means the walk reached a missing component through real
// directories only, and the missing tail is kept as written). Otherwise
// the kernel resolves the path (an O_PATH open, then its /proc/self/fd
// link): three system calls, where filepath.EvalSymlinks makes one per
// component; a missing path has its parent resolved the same way.
func (r *resolver) resolveUncached(p string) (string, error) {
	if p == "/" {
		return p, nil
	}
	if noSymlinks(p) {
		return p, nil
	}
	fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err == nil {
		rp, rerr := readlinkFD(fd)
		unix.Close(fd)
		if rerr == nil && strings.HasPrefix(rp, "/") && !strings.HasSuffix(rp, " (deleted)") {
			return rp, nil
		}
		return filepath.EvalSymlinks(p) // no /proc, or the path just went away
	}
	if err != unix.ENOENT {
		return "", &fs.PathError{Op: "open", Path: p, Err: err}
	}
	if _, lerr := os.Lstat(p); lerr == nil {
		return "", fmt.Errorf("%s is a dangling symlink", p)
	}
	parent, err := r.resolve(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, filepath.Base(p)), nil
}

// readlinkFD reads the path /proc/self/fd/FD names. The first try uses a
// small buffer: a PathMax array in this frame would grow the goroutine's
// stack past its first 8 KB, which costs every create a stack copy.
func readlinkFD(fd int) (string, error) {
	link := "/proc/self/fd/" + strconv.Itoa(fd)
	var small [256]byte
	n, err := unix.Readlink(link, small[:])
	if err != nil || n < len(small) {
		return string(small[:max(n, 0)]), err
	}
	big := make([]byte, unix.PathMax)
	n, err = unix.Readlink(link, big)
	return string(big[:max(n, 0)]), err
}

// openat2Missing is set once openat2 is found unusable (a kernel before
// 5.6, or a seccomp filter refusing it): resolveUncached then always
// takes the long way.
var openat2Missing atomic.Bool

// noSymlinks reports whether the walk of p (clean, absolute) meets no
// symlink, its last component included, and ends either at p or at a
// missing component: p then resolves to itself. false means "not known".
func noSymlinks(p string) bool {
	if openat2Missing.Load() {
		return false
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS}
	for {
		fd, err := unix.Openat2(unix.AT_FDCWD, p, &how)
		switch err {
		case nil:
			unix.Close(fd)
			return true
		case unix.ENOENT:
			return true
		case unix.EINTR:
			continue
		case unix.ENOSYS, unix.EPERM:
			openat2Missing.Store(true)
		}
		// ELOOP (a symlink on the way), ENOTDIR, EACCES...: the long
		// way, which also gives the errors their usual form.
		return false
	}
}

func validateMounts(p *Policy) error {
	m := &p.Mounts
	for _, l := range []struct {
		field string
		paths []string
	}{{"mounts.deny_host_paths", m.DenyHostPaths}, {"mounts.allow_host_paths", m.AllowHostPaths}} {
		for _, path := range l.paths {
			if err := checkCleanPath(path); err != nil {
				return fmt.Errorf("%s: %w", l.field, err)
			}
		}
	}
	if slices.Contains(m.AllowHostPaths, "/") {
		return fmt.Errorf("mounts.allow_host_paths: \"/\" would allow every host path (empty mounts.deny_host_paths instead)")
	}
	for _, o := range m.BindOptions {
		if !slices.Contains(bindOptions, o) {
			return fmt.Errorf("mounts.bind_options: %q is not one of %s", o, strings.Join(bindOptions, ", "))
		}
	}
	return nil
}

// checkCleanPath accepts absolute paths written in their clean form, so that
// rules compare them as they are, without cleaning them on every call.
func checkCleanPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q is not an absolute path", p)
	}
	if c := filepath.Clean(p); c != p {
		return fmt.Errorf("%q is not a clean path (write %q)", p, c)
	}
	return nil
}
