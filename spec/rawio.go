package spec

import (
	"io/fs"
	"math/rand/v2"
	"strconv"

	"golang.org/x/sys/unix"
)

// The hot path reads and writes a handful of small regular files. These
// helpers do it with plain system calls instead of *os.File, which sets up
// the runtime's poller (epoll_create, an eventfd, an epoll_ctl and four
// fcntls for each file, all useless on regular files) and pulls cold code
// into a process that lives a few milliseconds. Errors are *fs.PathError
// wrapping the errno, so errors.Is(err, fs.ErrNotExist) works as with os.

// ReadFile returns the content of the file at path, as os.ReadFile does.
// A file that reports size 0 (those of /proc) is read 4 KiB at a time, so
// that a status file takes one read.
func ReadFile(path string) ([]byte, error) {
	fd, err := openFD("open", path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer rawClose(fd)
	var st unix.Stat_t
	if err := rawFstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	size := st.Size
	if size == 0 {
		size = 4095
	}
	return readFD(fd, path, size, -1)
}

// readFD reads fd to its end into a buffer sized for size bytes (+1, to
// see the end without growing); with limit >= 0 more than limit bytes is
// errTooLarge.
func readFD(fd int, path string, size, limit int64) ([]byte, error) {
	if size < 0 || limit >= 0 && size > limit {
		size = 0
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rawRead(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if limit >= 0 && int64(len(buf)) > limit {
			return nil, errTooLarge
		}
	}
}

// WriteFile opens path with flag (unix.O_CREAT|unix.O_EXCL, unix.O_APPEND,
// ...; O_WRONLY and O_CLOEXEC are added) and perm, writes data and closes
// it. A file it created and could not fill is removed.
func WriteFile(path string, data []byte, flag int, perm uint32) error {
	fd, err := openFD("open", path, unix.O_WRONLY|flag, perm)
	if err != nil {
		return err
	}
	err = writeFD(fd, path, data)
	if cerr := rawClose(fd); err == nil && cerr != nil {
		err = &fs.PathError{Op: "close", Path: path, Err: cerr}
	}
	if err != nil && flag&unix.O_EXCL != 0 {
		rawUnlink(path)
	}
	return err
}

func writeFD(fd int, path string, data []byte) error {
	for len(data) > 0 {
		n, err := rawWrite(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "write", Path: path, Err: err}
		}
		data = data[n:]
	}
	return nil
}

func openFD(op, path string, flag int, perm uint32) (int, error) {
	for {
		fd, err := rawOpen(path, flag|unix.O_CLOEXEC, perm)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: op, Path: path, Err: err}
		}
		return fd, nil
	}
}

// createTemp creates a new file next to path, named
// ".BASE.secshim-RANDOM", mode 0600, as os.CreateTemp does.
func createTemp(dir, base string) (fd int, name string, err error) {
	for try := 0; ; try++ {
		name = dir + "/." + base + ".secshim-" + strconv.FormatUint(uint64(rand.Uint32()), 10)
		fd, err = openFD("open", name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL, 0o600)
		if err == nil || try == 100 || !isExist(err) {
			return fd, name, err
		}
	}
}

func isExist(err error) bool {
	pe, ok := err.(*fs.PathError)
	return ok && pe.Err == unix.EEXIST
}

// ReadDirNames lists the names in dir (without "." and ".."), unsorted,
// as os.ReadDir would but without an *os.File (see above).
func ReadDirNames(dir string) ([]string, error) {
	fd, err := openFD("open", dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer rawClose(fd)
	var names []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readdirent", Path: dir, Err: err}
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
