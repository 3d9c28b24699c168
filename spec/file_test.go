package spec

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
}

// onlyFiles fails unless dir contains exactly the named entries (no temp files).
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("directory holds %q, want %q", got, names)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "config.json")
	writeFile(t, good, `{"ociVersion":"1.2.0"}`, 0o640)
	f, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != good || f.Mode != 0o640 || string(f.Orig) != `{"ociVersion":"1.2.0"}` {
		t.Fatalf("Load = %+v", f)
	}
	if v, _, _ := f.Root.String("ociVersion"); v != "1.2.0" {
		t.Fatalf("ociVersion = %q", v)
	}

	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	writeFile(t, big, "", 0o644)
	if err := os.Truncate(big, MaxSize+1); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, `{"a":1,"A":2}`, 0o644)
	arr := filepath.Join(dir, "arr.json")
	writeFile(t, arr, `[]`, 0o644)

	tests := []struct{ path, err string }{
		{link, link + ": is a symlink, refusing to follow it"},
		{dir, dir + ": is a directory, not a regular file"},
		{fifo, fifo + ": is a FIFO, not a regular file"},
		{big, big + ": too large (4194305 bytes, limit 4194304)"},
		{bad, bad + `: keys "a" and "A" differ only in case (runc would read them as the same key)`},
		{arr, arr + ": top-level value is array, not an object"},
		{filepath.Join(dir, "missing"), "lstat " + filepath.Join(dir, "missing") + ": no such file or directory"},
	}
	for _, tt := range tests {
		if _, err := Load(tt.path); errString(err) != tt.err {
			t.Errorf("Load(%s) err = %v\nwant %s", filepath.Base(tt.path), err, tt.err)
		}
	}
}

func TestLoadBytes(t *testing.T) {
	f, err := LoadBytes("process.json", []byte(`{"args":["sh"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Mode != 0o644 || f.Path != "process.json" {
		t.Fatalf("LoadBytes = %+v", f)
	}
	if _, err := LoadBytes("process.json", []byte(`{"args":`)); err == nil || !strings.HasPrefix(err.Error(), "process.json: invalid JSON") {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadBytes("p", make([]byte, MaxSize+1)); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v", err)
	}
}

func TestSave(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o640, 0o666, 0o755} {
		dir := t.TempDir()
		p := filepath.Join(dir, "config.json")
		const in = "{\n\t\"process\": {\"cwd\": \"/\"},\n\t\"x\": [1, 2]\n}\n"
		writeFile(t, p, in, mode)
		ino := inode(t, p)

		f, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		// No edits: nothing is written.
		if err := f.Save(); err != nil {
			t.Fatal(err)
		}
		if inode(t, p) != ino {
			t.Fatal("Save without edits rewrote the file")
		}

		if err := path(t, f.Root, "process").SetBool("noNewPrivileges", true); err != nil {
			t.Fatal(err)
		}
		if err := f.Save(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want := "{\"process\":{\"cwd\":\"/\",\"noNewPrivileges\":true},\"x\":[1, 2]}\n"
		if string(got) != want {
			t.Fatalf("saved %q, want %q", got, want)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode {
			t.Errorf("mode after Save = %v, want %v", fi.Mode(), mode)
		}
		if inode(t, p) == ino {
			t.Error("Save wrote in place instead of renaming a new file over it")
		}
		onlyFiles(t, dir, "config.json")
	}
}

func TestWriteAtomicNewFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "new.json")
	if err := WriteAtomic(p, []byte(`{}`), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode() != 0o640 {
		t.Fatalf("stat = %v, %v", fi, err)
	}
	onlyFiles(t, dir, "new.json")
}

func TestWriteAtomicRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.json")
	writeFile(t, target, `{"orig":1}`, 0o644)
	link := filepath.Join(dir, "config.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	err := WriteAtomic(link, []byte(`{}`), 0o644)
	if errString(err) != link+": is a symlink, refusing to replace it" {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(target); string(got) != `{"orig":1}` {
		t.Fatalf("symlink target modified: %s", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink replaced")
	}
	onlyFiles(t, dir, "config.json", "target.json")
}

func TestWriteAtomicFailure(t *testing.T) {
	const orig = "{\"orig\": true}\n"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, p string) // prepares the failure
		err   string                            // substring
		files []string                          // expected directory contents
	}{
		{
			name: "targetIsDirectory",
			setup: func(t *testing.T, dir, p string) {
				if err := os.Mkdir(p, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			err:   "is a directory, not a regular file",
			files: []string{"config.json"},
		},
		{
			name: "renameFails",
			setup: func(t *testing.T, dir, p string) {
				writeFile(t, p, orig, 0o644)
				rename = func(oldpath, newpath string) error {
					// The temp file is complete and in place at this point.
					if got, err := os.ReadFile(oldpath); err != nil || string(got) != `{"new":1}` {
						t.Errorf("temp file = %q, %v", got, err)
					}
					return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EIO}
				}
				t.Cleanup(func() { rename = os.Rename })
			},
			err:   "input/output error",
			files: []string{"config.json"},
		},
		{
			name: "dirMissing",
			setup: func(t *testing.T, dir, p string) {
				if err := os.Remove(dir); err != nil {
					t.Fatal(err)
				}
			},
			err: "no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bundle")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "config.json")
			tt.setup(t, dir, p)
			before, _ := os.ReadFile(p)

			err := WriteAtomic(p, []byte(`{"new":1}`), 0o600)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
				t.Fatalf("original modified: %q -> %q", before, after)
			}
			if tt.files != nil {
				onlyFiles(t, dir, tt.files...)
			} else if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("directory appeared")
			}
		})
	}
}

func TestReadDirNames(t *testing.T) {
	dir := t.TempDir()
	want := []string{"a", "b@c", "d"}
	for _, n := range want {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "d2"), 0o700)
	want = append(want, "d2")
	got, err := ReadDirNames(dir)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ReadDirNames = %q, %v; want %q", got, err, want)
	}
	if _, err := ReadDirNames(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}
