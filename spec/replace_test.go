package spec

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	tmp, path := filepath.Join(dir, ".tmp"), filepath.Join(dir, "config.json")

	// Over an existing file: swapped in, the old one gone.
	writeFile(t, path, "old", 0o644)
	writeFile(t, tmp, "new", 0o600)
	ino := inode(t, tmp)
	if err := replace(tmp, path); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" || inode(t, path) != ino {
		t.Fatalf("path = %q (inode %d, want %d)", got, inode(t, path), ino)
	}
	onlyFiles(t, dir, "config.json")

	// To a new name: a rename.
	writeFile(t, tmp, "fresh", 0o600)
	if err := replace(tmp, filepath.Join(dir, "record")); err != nil {
		t.Fatal(err)
	}
	onlyFiles(t, dir, "config.json", "record")

	// Over a directory (path changed after WriteAtomic checked it): refused,
	// both left as they were.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, tmp, "x", 0o600)
	if err := replace(tmp, sub); err == nil {
		t.Fatal("replaced a directory")
	}
	if fi, err := os.Lstat(sub); err != nil || !fi.IsDir() {
		t.Fatalf("directory gone: %v, %v", fi, err)
	}
	if got, _ := os.ReadFile(tmp); string(got) != "x" {
		t.Fatalf("temporary file = %q", got)
	}
}
