package hardening

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// kernelConfig is the running kernel's build configuration, where the
// kernel or the distribution publishes it.
func kernelConfig(t *testing.T) []byte {
	t.Helper()
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			if b, err := io.ReadAll(z); err == nil {
				return b
			}
		}
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		if b, err := os.ReadFile("/boot/config-" + unix.ByteSliceToString(u.Release[:])); err == nil {
			return b
		}
	}
	t.Skip("the kernel's configuration is published neither in /proc/config.gz nor in /boot")
	return nil
}

// The probe agrees with the kernel's configuration: a kernel built
// without x32 has it inert. One built with it may have it off at boot
// (Debian's syscall.x32=n), so only an x32 getpid that answers shows it
// live.
func TestProbeMatchesKernel(t *testing.T) {
	if mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil || mode != 0 {
		t.Skip("the test runs under a seccomp filter: the probe keeps x32 without asking")
	}
	got := inertArchesOfKernel()
	x32Inert := slices.Contains(got, string(specs.ArchX32))
	if slices.Contains(got, string(specs.ArchX86)) {
		t.Errorf("inert %v: x86 is never probed", got)
	}
	if bytes.Contains(kernelConfig(t), []byte("# CONFIG_X86_X32_ABI is not set")) {
		if !x32Inert {
			t.Errorf("kernel built without x32, probe says %v", got)
		}
		return
	}
	pid, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0)
	if live := errno == 0 && int(pid) == os.Getpid(); live == x32Inert {
		t.Errorf("x32 getpid answered %d (%v), probe says inert %v", pid, errno, strings.Join(got, ","))
	}
}
