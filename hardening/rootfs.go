package hardening

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/secshim/secshim/spec"
)

// rootfsControl makes the root filesystem read-only and gives the paths
// applications write to a small tmpfs of their own.
var rootfsControl = Rule{Control: "rootfs", Apply: rootfsRule, Validate: validateRootFS}

// rootfsRule sets root.readonly and mounts a tmpfs on each writable path
// the spec does not already mount something on.
func rootfsRule(c *Context) error {
	p := &c.Policy.RootFS
	if !p.ReadOnly {
		return nil
	}
	root, err := c.Doc.EnsureObject("root")
	if err != nil {
		return err
	}
	ro, present, err := root.Bool("readonly")
	if err != nil {
		return err
	}
	if !ro {
		if err := root.SetBool("readonly", true); err != nil {
			return err
		}
		from := ""
		if present {
			from = "false"
		}
		c.changed("rootfs", "root.readonly", from, "true")
	}
	if len(p.Tmpfs) == 0 {
		return nil
	}
	ms, err := c.mounts()
	if err != nil {
		return err
	}
	var added []string
	for _, path := range p.Tmpfs {
		if slices.ContainsFunc(ms, func(m mountEntry) bool { return mountPoint(m.dest) == path }) {
			continue
		}
		opts := slices.Clone(p.TmpfsOptions)
		if p.TmpfsSize != "" {
			opts = append(opts, "size="+p.TmpfsSize)
		}
		if (path == "/tmp" || path == "/var/tmp") && !slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(o, "mode=") }) {
			opts = append(opts, "mode=1777")
		}
		obj, err := newTmpfs(path, opts)
		if err != nil {
			return err
		}
		// Before the first mount below it, which it would hide.
		at := slices.IndexFunc(ms, func(m mountEntry) bool { return under(mountPoint(m.dest), path) })
		if at < 0 {
			at = len(ms)
		}
		ms = slices.Insert(ms, at, mountEntry{obj: obj, dest: path, typ: "tmpfs", src: "tmpfs", opts: opts})
		added = append(added, path)
	}
	if len(added) == 0 {
		return nil
	}
	for i, m := range ms {
		if m.typ == "tmpfs" && slices.Contains(added, m.dest) {
			c.changed("rootfs", fmt.Sprintf("mounts[%d]", i), "", "tmpfs on "+m.dest+" ("+strings.Join(m.opts, ",")+")")
		}
	}
	return c.writeMounts(ms)
}

// mountPoint is a mount destination as a clean absolute path (runc takes a
// relative destination as relative to the container's root).
func mountPoint(dest string) string {
	return filepath.Clean("/" + dest)
}

func newTmpfs(path string, opts []string) (*spec.Object, error) {
	o, err := spec.ParseObject([]byte("{}"))
	if err != nil {
		return nil, err
	}
	for _, kv := range [][2]string{{"destination", path}, {"type", "tmpfs"}, {"source", "tmpfs"}} {
		if err := o.SetString(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return o, o.SetStrings("options", opts)
}

// tmpfsFlags are the option words a policy may give its tmpfs mounts.
var tmpfsFlags = []string{
	"nosuid", "nodev", "noexec", "suid", "dev", "exec", "rw",
	"noatime", "atime", "relatime", "norelatime", "strictatime", "nostrictatime", "nodiratime", "diratime",
	"sync", "async", "dirsync", "private", "rprivate", "slave", "rslave", "unbindable", "runbindable",
	"tmpcopyup", "notmpcopyup",
}

func validateRootFS(p *Policy) error {
	r := &p.RootFS
	for i, path := range r.Tmpfs {
		if err := checkCleanPath(path); err != nil {
			return fmt.Errorf("rootfs.tmpfs: %w", err)
		}
		if path == "/" {
			return fmt.Errorf("rootfs.tmpfs: \"/\" would hide the whole image")
		}
		if slices.Contains(r.Tmpfs[:i], path) {
			return fmt.Errorf("rootfs.tmpfs: %q is listed twice", path)
		}
	}
	if r.TmpfsSize != "" || (r.ReadOnly && len(r.Tmpfs) > 0) {
		if err := checkTmpfsSize(r.TmpfsSize); err != nil {
			return fmt.Errorf("rootfs.tmpfs_size: %w", err)
		}
	}
	for _, o := range r.TmpfsOptions {
		if err := checkTmpfsOption(o); err != nil {
			return fmt.Errorf("rootfs.tmpfs_options: %w", err)
		}
	}
	return nil
}

// checkTmpfsSize accepts the kernel's tmpfs size syntax: bytes with an
// optional k, m, g, t, p or e suffix, or a percentage of RAM. Zero would
// mean no limit at all, and a leading zero would make the kernel read the
// number in octal.
func checkTmpfsSize(s string) error {
	if s == "" {
		return fmt.Errorf("required when the root is read-only and rootfs.tmpfs lists paths (without it a tmpfs may fill half the host's memory)")
	}
	num := strings.TrimRight(s, "kKmMgGtTpPeE%")
	suffix := s[len(num):]
	n, err := strconv.ParseUint(num, 10, 64)
	switch {
	case err != nil || len(suffix) > 1 || num[0] == '0' && len(num) > 1:
		return fmt.Errorf("%q is not a size such as \"64m\", \"1g\" or \"10%%\"", s)
	case n == 0:
		return fmt.Errorf("%q: a zero size means an unlimited tmpfs", s)
	case suffix == "%" && n > 100:
		return fmt.Errorf("%q: more than 100%% of the host's memory", s)
	}
	return nil
}

func checkTmpfsOption(o string) error {
	key, val, kv := strings.Cut(o, "=")
	if !kv {
		switch {
		case slices.Contains(tmpfsFlags, o):
			return nil
		case o == "ro":
			return fmt.Errorf("%q: a read-only tmpfs is not a writable path", o)
		case o == "shared" || o == "rshared":
			return fmt.Errorf("%q: shared propagation lets mounts cross between the container and the host", o)
		}
		return fmt.Errorf("unknown option %q", o)
	}
	var err error
	switch key {
	case "size":
		return fmt.Errorf("%q: set rootfs.tmpfs_size instead", o)
	case "mode":
		var m uint64
		if m, err = strconv.ParseUint(val, 8, 32); err == nil && m > 0o7777 {
			err = fmt.Errorf("above 07777")
		}
	case "uid", "gid":
		_, err = strconv.ParseUint(val, 10, 32)
	case "nr_inodes", "nr_blocks":
		err = checkTmpfsSize(val)
	case "huge":
		if !slices.Contains([]string{"never", "always", "within_size", "advise"}, val) {
			err = fmt.Errorf("not one of never, always, within_size, advise")
		}
	default:
		return fmt.Errorf("unknown option %q", o)
	}
	if err != nil {
		return fmt.Errorf("%q: %v", o, err)
	}
	return nil
}
