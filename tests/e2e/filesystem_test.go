package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secshim/secshim/tests/testenv"
)

// mountsCmd prints the container's mount table after a marker, so that a
// script's own output comes first.
const mountsCmd = "echo ---mountinfo; cat /proc/self/mountinfo"

// mountInfo is one /proc/self/mountinfo line: the mount options (per mount)
// and the filesystem's own options.
type mountInfo struct {
	fstype      string
	opts, super []string
}

// parseMountinfo maps each mount point to its topmost mount.
func parseMountinfo(t *testing.T, out string) (script string, mounts map[string]mountInfo) {
	t.Helper()
	script, table, ok := strings.Cut(out, "---mountinfo\n")
	if !ok {
		t.Fatalf("no mount table in output:\n%s", out)
	}
	mounts = map[string]mountInfo{}
	for _, line := range strings.Split(table, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			continue
		}
		mp := strings.ReplaceAll(f[4], `\040`, " ")
		mounts[mp] = mountInfo{fstype: g[0], opts: strings.Split(f[5], ","), super: strings.Split(g[2], ",")}
	}
	if len(mounts) == 0 {
		t.Fatalf("empty mount table:\n%s", out)
	}
	return script, mounts
}

func (m mountInfo) has(opt string) bool { return slices.Contains(m.opts, opt) }

// maskedCmd prints the size of each masked file the host has, as
// "path=bytes/exit status"; masked, each reads as /dev/null: empty, no error.
const maskedCmd = "for f in /proc/kcore /proc/keys /proc/timer_list; do echo $f=$(head -c 4 $f 2>/dev/null | wc -c)/$?; done; "

// checkMasked checks maskedCmd's output and mounts for each masked file.
func checkMasked(t *testing.T, got string, mounts map[string]mountInfo) {
	t.Helper()
	for _, f := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, err := os.Stat(f); err != nil {
			// This kernel has no such file (e.g. CONFIG_PROC_KCORE off):
			// the runtime skips masking what does not exist.
			t.Logf("skipping %s: not on this host (%v)", f, err)
			continue
		}
		if _, ok := mounts[f]; !ok || !strings.Contains(got, f+"=0/0\n") {
			t.Errorf("%s not masked: mounted %v, read %q", f, ok, got)
		}
	}
}

// TestFilesystemRestricted: under restricted, the root is read-only and the
// writable paths are tmpfs that cannot run programs; on runc and on crun.
func TestFilesystemRestricted(t *testing.T) {
	for _, bc := range backends()[:2] {
		t.Run(bc.name, func(t *testing.T) {
			s := newSetup(t, bc, "[policy]\nprofile = \"restricted\"\n")
			const script = `touch /x; echo touch=$?; echo hi > /tmp/f && cat /tmp/f; echo hi > /var/tmp/f && echo var-tmp-ok; ` +
				`echo hi > /run/f && echo run-ok; cp /bin/busybox /tmp/bb && /tmp/bb true; echo exec=$?; ` +
				`test -e /run/.containerenv && echo containerenv-ok; id -u; `
			out := s.pm.MustRun(append(s.runArgs(), testenv.Image, "sh", "-c", "exec 2>&1; "+script+mountsCmd)...)
			got, mounts := parseMountinfo(t, out)
			if root := mounts["/"]; !root.has("ro") {
				t.Errorf("root mounted %v, want ro", root.opts)
			}
			if !strings.Contains(got, "Read-only file system") || !strings.Contains(got, "touch=1") {
				t.Errorf("touch /x did not fail read-only:\n%s", got)
			}
			for _, want := range []string{"hi\n", "var-tmp-ok", "run-ok", "containerenv-ok", "65534"} {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			// Copying works (the tmpfs is writable), running does not.
			if !strings.Contains(got, "exec=126") {
				t.Errorf("a program copied to /tmp ran (want exit 126, noexec):\n%s", got)
			}
			for _, dir := range []string{"/tmp", "/run", "/var/tmp"} {
				m := mounts[dir]
				if m.fstype != "tmpfs" || !m.has("noexec") || !m.has("nosuid") || !m.has("nodev") || !slices.Contains(m.super, "size=65536k") {
					t.Errorf("%s: %s %v %v, want tmpfs nosuid,nodev,noexec size=65536k", dir, m.fstype, m.opts, m.super)
				}
			}

			// The same container on the backend alone: the root is
			// writable and /tmp is the image's, so the above is secshim's.
			direct := bc.podman(s.env).WithRuntime(bc.name)
			out = direct.MustRun(append(s.runArgs(), testenv.Image, "sh", "-c", "touch /x; echo touch=$?; "+mountsCmd)...)
			got, mounts = parseMountinfo(t, out)
			if mounts["/"].has("ro") || !strings.Contains(got, "touch=0") {
				t.Errorf("control: root is read-only on %s alone; the test proves nothing", bc.name)
			}
			if _, ok := mounts["/tmp"]; ok {
				t.Errorf("control: /tmp is a mount on %s alone; the test proves nothing", bc.name)
			}
		})
	}
}

func TestFilesystemBaseline(t *testing.T) {
	bc := backends()[0]
	s := newSetup(t, bc, "")
	direct := bc.podman(s.env).WithRuntime(bc.name)

	// Podman sends no masked or read-only paths with either flag: what
	// the container gets is secshim's doing, and each control shows it.
	for _, flag := range []string{"--privileged", "--security-opt=unmask=ALL"} {
		t.Run(flag, func(t *testing.T) {
			got, mounts := parseMountinfo(t, s.pm.MustRun(append(s.runArgs(flag), testenv.Image, "sh", "-c", maskedCmd+mountsCmd)...))
			checkMasked(t, got, mounts)
			for _, dir := range []string{"/proc/sys", "/proc/bus", "/proc/irq", "/sys"} {
				if m, ok := mounts[dir]; !ok || !m.has("ro") {
					t.Errorf("%s: %v, want read-only", dir, m.opts)
				}
			}
			for dir, m := range mounts {
				if strings.HasPrefix(m.fstype, "cgroup") && !m.has("ro") {
					t.Errorf("%s (%s): %v, want read-only", dir, m.fstype, m.opts)
				}
			}
			_, mounts = parseMountinfo(t, direct.MustRun(append(s.runArgs(flag), testenv.Image, "sh", "-c", mountsCmd)...))
			for _, dir := range []string{"/proc/keys", "/proc/sys"} {
				if _, ok := mounts[dir]; ok {
					t.Errorf("control: %s is a mount with %s on %s alone; the test proves nothing", dir, flag, bc.name)
				}
			}
			if flag == "--privileged" && mounts["/sys"].has("ro") {
				t.Errorf("control: /sys is read-only with --privileged on %s alone; the test proves nothing", bc.name)
			}
		})
	}

	t.Run("bind mount of /etc refused", func(t *testing.T) {
		_, stderr, code := s.pm.Run(append(s.runArgs("-v", "/etc:/host-etc"), testenv.Image, "true")...)
		if code == 0 {
			t.Fatal("a container with /etc mounted started")
		}
		for _, want := range []string{"mounts", "/etc", "deny_host_paths", "/host-etc"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("podman's error lacks %q:\n%s", want, stderr)
			}
		}
	})

	t.Run("bind mount of a host dir: allowed, nosuid and nodev", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "in"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// suid and dev asked for explicitly: secshim replaces them.
		flags := []string{"-v", dir + ":/data:suid,dev"}
		got, mounts := parseMountinfo(t, s.pm.MustRun(append(s.runArgs(flags...), testenv.Image, "sh", "-c", "cat /data/in; echo x > /data/out; "+mountsCmd)...))
		if m, ok := mounts["/data"]; !ok || !m.has("nosuid") || !m.has("nodev") {
			t.Errorf("/data mounted %v, want nosuid,nodev", m.opts)
		}
		if !strings.Contains(got, "from-host") {
			t.Errorf("host file not visible: %q", got)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "out")); err != nil || string(b) != "x\n" {
			t.Errorf("write through the bind mount: %q, %v", b, err)
		}
		_, mounts = parseMountinfo(t, direct.MustRun(append(s.runArgs(flags...), testenv.Image, "sh", "-c", mountsCmd)...))
		if m := mounts["/data"]; m.has("nosuid") || m.has("nodev") {
			t.Errorf("control: /data is %v on %s alone; the test proves nothing", m.opts, bc.name)
		}
	})

	t.Run("unsafe sysctl removed", func(t *testing.T) {
		args := append(s.runArgs("--sysctl", "kernel.msgmax=65536"), testenv.Image, "cat", "/proc/sys/kernel/msgmax")
		if got := s.pm.MustRun(args...); got == "65536" || got == "" {
			t.Errorf("kernel.msgmax = %q, want the kernel's default", got)
		}
		if got := direct.MustRun(args...); got != "65536" {
			t.Errorf("control: kernel.msgmax = %q on %s alone; the test proves nothing", got, bc.name)
		}
		log, _ := os.ReadFile(s.logFile())
		if !strings.Contains(string(log), "kernel.msgmax=65536") {
			t.Errorf("removal not in the decision log:\n%s", log)
		}
	})
}
