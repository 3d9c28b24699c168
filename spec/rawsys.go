package spec

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The file system calls of create's path go in without telling the Go
// scheduler (syscall.RawSyscall6 rather than Syscall). On a VM a file
// create, rename or unlink on ext4 takes tens of microseconds, past the
// 20 µs after which the runtime's monitor takes the P from a thread in a
// syscall, and the thread must win a P back on its way out. A secshim
// process runs one goroutine, so keeping the P through the call loses
// nothing (about 50 µs a create on the development VM). Only for calls on
// regular files and directories, which do not block indefinitely (Load
// opens with O_NONBLOCK in case the path became a FIFO).

func rawPath(p string) (*byte, error) { return unix.BytePtrFromString(p) }

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawOpen(path string, flag int, perm uint32) (int, error) {
	p, err := rawPath(path)
	if err != nil {
		return -1, err
	}
	dirfd := unix.AT_FDCWD
	r, _, e := syscall.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flag), uintptr(perm), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func rawRead(fd int, b []byte) (int, error)  { return rawIO(unix.SYS_READ, fd, b) }
func rawWrite(fd int, b []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, b) }

// rawIO is read(2) or write(2) of b.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	r, _, e := syscall.RawSyscall6(trap, uintptr(fd), uintptr(p), uintptr(len(b)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func rawClose(fd int) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_CLOSE, uintptr(fd), 0, 0, 0, 0, 0)
	return errnoErr(e)
}

func rawFstat(fd int, st *unix.Stat_t) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(st)), 0, 0, 0, 0)
	return errnoErr(e)
}

func rawLstat(path string, st *unix.Stat_t) error {
	p, err := rawPath(path)
	if err != nil {
		return err
	}
	dirfd := unix.AT_FDCWD
	_, _, e := syscall.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	return errnoErr(e)
}

func rawFchmod(fd int, mode uint32) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_FCHMOD, uintptr(fd), uintptr(mode), 0, 0, 0, 0)
	return errnoErr(e)
}

func rawRenameat2(from, to string, flags uint) error {
	p1, err := rawPath(from)
	if err != nil {
		return err
	}
	p2, err := rawPath(to)
	if err != nil {
		return err
	}
	dirfd := unix.AT_FDCWD
	_, _, e := syscall.RawSyscall6(unix.SYS_RENAMEAT2, uintptr(dirfd), uintptr(unsafe.Pointer(p1)), uintptr(dirfd), uintptr(unsafe.Pointer(p2)), uintptr(flags), 0)
	return errnoErr(e)
}

func rawUnlink(path string) error {
	p, err := rawPath(path)
	if err != nil {
		return err
	}
	dirfd := unix.AT_FDCWD
	_, _, e := syscall.RawSyscall6(unix.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), 0, 0, 0, 0)
	return errnoErr(e)
}
