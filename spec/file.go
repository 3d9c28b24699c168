package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxSize is the largest document Load accepts; real configs are ~10 KB.
const MaxSize = 4 << 20

// File is a JSON document loaded from (and saved back to) Path.
type File struct {
	Path string
	Mode os.FileMode // permission bits to save with
	Orig []byte      // the bytes as loaded
	Root *Object
}

// Load reads and parses the JSON object at path. It refuses symlinks,
// anything but a regular file, and files larger than MaxSize.
func Load(path string) (*File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	// O_NOFOLLOW: the path may have become a symlink since Lstat; O_NONBLOCK:
	// or a FIFO, whose open would block. Neither affects a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s: is a symlink, refusing to follow it", path)
		}
		return nil, err
	}
	defer f.Close()
	// Check again on what was actually opened.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	data, err := readAll(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file, err := LoadBytes(path, data)
	if err != nil {
		return nil, err
	}
	file.Mode = fi.Mode().Perm()
	return file, nil
}

func checkFile(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s: is a symlink, refusing to follow it", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: is %s, not a regular file", path, typeName(fi.Mode()))
	case fi.Size() > MaxSize:
		return fmt.Errorf("%s: too large (%d bytes, limit %d)", path, fi.Size(), MaxSize)
	}
	return nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// readAll reads f, whose size was size when checked, refusing to read more
// than MaxSize if it grows meanwhile.
func readAll(f *os.File, size int64) ([]byte, error) {
	buf := make([]byte, 0, size+1) // +1: see EOF without growing
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxSize {
			return nil, fmt.Errorf("too large (over %d bytes)", MaxSize)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// LoadBytes parses data (for example read from stdin) as the document to be
// saved to path, with mode 0644.
func LoadBytes(path string, data []byte) (*File, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: too large (%d bytes, limit %d)", path, len(data), MaxSize)
	}
	root, err := ParseObject(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{Path: path, Mode: 0o644, Orig: data, Root: root}, nil
}

// Save writes the document back atomically if it was edited, and does
// nothing otherwise.
func (f *File) Save() error {
	if !f.Root.Changed() {
		return nil
	}
	return WriteAtomic(f.Path, f.Root.Bytes(), f.Mode)
}

// rename puts the complete temporary file in place (replace); tests
// replace it to simulate a failure late in WriteAtomic.
var rename = replace

// replace moves tmp to path, atomically for readers. When path exists the
// two are swapped (renameat2 RENAME_EXCHANGE) and the old content, now at
// tmp, is unlinked: on ext4 a rename that replaces a file starts writeback
// of the new file's data (auto_da_alloc, its guard against zero-length
// files after a crash), which costs about 0.1 ms, more than all the rest of
// a config.json save; the exchange is as atomic for readers and does not.
// Where the file system or kernel cannot exchange, or path does not exist,
// it is a plain rename.
func replace(tmp, path string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
	switch err {
	case nil:
	case unix.ENOENT, unix.EINVAL, unix.ENOSYS, unix.EXDEV:
		// rename(2) itself: os.Rename would first lstat path again.
		if err := syscall.Rename(tmp, path); err != nil {
			return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
		}
		return nil
	default:
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	// tmp now holds what was at path: the old file, unless path became a
	// directory since WriteAtomic checked it, which a rename would not
	// replace either. If it cannot go, swap back and fail, so that path
	// keeps its old content as on every other failure.
	if err := syscall.Unlink(tmp); err != nil {
		unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	return nil
}

// WriteAtomic replaces path with data: it writes a temporary file in the
// same directory, sets its mode, and renames it over path, so readers see
// either the old or the new content, never a mix. On any error the temporary
// file is removed and path is left untouched. It refuses to replace a symlink
// or anything but a regular file.
//
// There is deliberately no fsync: rename is already atomic for every reader
// on a running system, and a bundle does not outlive a host crash (the
// runtime state it belongs to is gone after a reboot), so paying for
// durability on every container start would buy nothing. (fsync costs
// 0.3 to 0.5 ms here, with multi-ms tails; see bench/.) For the same reason
// an existing file is exchanged rather than renamed over (see replace): a
// host crash right after may leave it empty, which nothing needs to
// survive.
func WriteAtomic(path string, data []byte, mode os.FileMode) error {
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: is a symlink, refusing to replace it", path)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: is %s, not a regular file, refusing to replace it", path, typeName(fi.Mode()))
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	// os.CreateTemp opens with O_CREATE|O_EXCL and mode 0600, with a random
	// suffix replacing the "*".
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".secshim-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode) // fchmod: exact mode, unaffected by the umask
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: write: %w", path, err)
	}
	return nil
}
