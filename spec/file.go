package spec

import (
	"errors"
	"fmt"
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
	var st unix.Stat_t
	if err := rawLstat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	if err := checkFile(path, &st); err != nil {
		return nil, err
	}
	// O_NOFOLLOW: the path may have become a symlink since Lstat; O_NONBLOCK:
	// or a FIFO, whose open would block. Neither affects a regular file.
	fd, err := openFD("open", path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s: is a symlink, refusing to follow it", path)
		}
		return nil, err
	}
	defer rawClose(fd)
	// Check again on what was actually opened.
	if err := rawFstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if err := checkFile(path, &st); err != nil {
		return nil, err
	}
	data, err := readFD(fd, path, st.Size, MaxSize)
	if err == errTooLarge {
		err = fmt.Errorf("too large (over %d bytes)", MaxSize)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	file, err := LoadBytes(path, data)
	if err != nil {
		return nil, err
	}
	file.Mode = os.FileMode(st.Mode & 0o777)
	return file, nil
}

var errTooLarge = errors.New("too large")

func checkFile(path string, st *unix.Stat_t) error {
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("%s: is a symlink, refusing to follow it", path)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s: is %s, not a regular file", path, typeName(st.Mode))
	case st.Size > MaxSize:
		return fmt.Errorf("%s: too large (%d bytes, limit %d)", path, st.Size, MaxSize)
	}
	return nil
}

func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return "a special file"
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
	err := rawRenameat2(tmp, path, unix.RENAME_EXCHANGE)
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
	if err := rawUnlink(tmp); err != nil {
		rawRenameat2(tmp, path, unix.RENAME_EXCHANGE)
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
	var st unix.Stat_t
	switch err := rawLstat(path, &st); err {
	case nil:
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return fmt.Errorf("%s: is a symlink, refusing to replace it", path)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("%s: is %s, not a regular file, refusing to replace it", path, typeName(st.Mode))
		}
	case unix.ENOENT:
	default:
		return &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	fd, tmp, err := createTemp(filepath.Dir(path), filepath.Base(path))
	if err != nil {
		return err
	}
	err = writeFD(fd, tmp, data)
	if err == nil {
		// fchmod: exact mode, unaffected by the umask.
		if cerr := rawFchmod(fd, uint32(mode.Perm())); cerr != nil {
			err = &fs.PathError{Op: "chmod", Path: tmp, Err: cerr}
		}
	}
	if cerr := rawClose(fd); err == nil && cerr != nil {
		err = &fs.PathError{Op: "close", Path: tmp, Err: cerr}
	}
	if err == nil {
		err = rename(tmp, path)
	}
	if err != nil {
		rawUnlink(tmp)
		return fmt.Errorf("%s: write: %w", path, err)
	}
	return nil
}
