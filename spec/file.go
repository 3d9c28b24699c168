package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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

// rename is os.Rename; tests replace it to simulate a failure late in
// WriteAtomic.
var rename = os.Rename

// WriteAtomic replaces path with data: it writes a temporary file in the
// same directory, sets its mode, and renames it over path, so readers see
// either the old or the new content, never a mix. On any error the temporary
// file is removed and path is left untouched. It refuses to replace a symlink
// or anything but a regular file.
//
// There is deliberately no fsync: rename is already atomic for every reader
// on a running system, and a bundle does not outlive a host crash (the
// runtime state it belongs to is gone after a reboot), so paying for
// durability on every container start would buy nothing.
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
