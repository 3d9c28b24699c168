package hardening

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32SyscallBit marks a system call of the x32 ABI (__X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

// inertArchesOfKernel asks the kernel whether it runs the x32 ABI, with
// x32's getpid: ENOSYS means it has no x32 entry (CONFIG_X86_X32_ABI
// unset, as on most distributions' kernels, or turned off at boot). The
// probe is made only when no seccomp filter confines secshim itself: a
// filter may kill a process for an x32 call, and its answer would not be
// the kernel's anyway. Confined, or asked and answered, x32 is kept. The
// 32-bit x86 ABI is always kept: probing it means an int 0x80, which a
// kernel without it answers with a fault.
func inertArchesOfKernel() []string {
	if mode, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil || mode != 0 {
		return nil
	}
	if _, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0); errno == unix.ENOSYS {
		return []string{string(specs.ArchX32)}
	}
	return nil
}
