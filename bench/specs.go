// Package bench holds secshim's start-time overhead benchmark: the Go
// benchmarks of each hot-path stage (stages_test.go), the spec fixtures
// they share with bench/run.sh (this file), and the programs under cmd/
// that run.sh builds (interleave, cold, rss, report...). See README.md.
package bench

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/secshim/secshim/spec"
)

// The three spec sizes of the benchmark.
const (
	SizeMinimal = "minimal" // `runc spec`, about 2.5 KB, no seccomp
	SizePodman  = "podman"  // Podman's default config, about 11 KB with its seccomp rules
	SizeLarge   = "large"   // Podman's, with a one-rule-per-syscall seccomp profile: about 40 KB
)

// Sizes lists them in order.
var Sizes = []string{SizeMinimal, SizePodman, SizeLarge}

// IDPlaceholder in a fixture is replaced by the container ID before each
// run (bench/cmd/interleave does it), so that every container gets its own
// cgroup.
const IDPlaceholder = "{id}"

// Minimal adjusts `runc spec` output to run /bin/true from rootfs without a
// terminal, with every rlimit at most maxRlimit (the benchmark host's hard
// RLIMIT_NOFILE may be lower than what the spec asks for).
func Minimal(runcSpec []byte, rootfs string, maxRlimit uint64) ([]byte, error) {
	o, err := spec.ParseObject(runcSpec)
	if err != nil {
		return nil, fmt.Errorf("runc spec: %w", err)
	}
	if err := common(o, rootfs); err != nil {
		return nil, err
	}
	proc, err := o.EnsureObject("process")
	if err != nil {
		return nil, err
	}
	if err := clampRlimits(proc, maxRlimit); err != nil {
		return nil, err
	}
	return o.Bytes(), nil
}

// Podman adjusts a config.json Podman generated (tests/golden/podman-default.json)
// to run /bin/true from rootfs outside Podman: its bind mounts come from
// userdata instead of Podman's per-container directories (the caller
// creates hosts, hostname, resolv.conf, .containerenv and shm/ there), the
// network namespace is a new one instead of Podman's, and the cgroup path
// is unique per container. Everything else, seccomp rules included, is
// left byte for byte.
func Podman(golden []byte, rootfs, userdata string, maxRlimit uint64) ([]byte, error) {
	o, err := spec.ParseObject(golden)
	if err != nil {
		return nil, fmt.Errorf("podman config: %w", err)
	}
	if err := common(o, rootfs); err != nil {
		return nil, err
	}
	proc, err := o.EnsureObject("process")
	if err != nil {
		return nil, err
	}
	if err := clampRlimits(proc, maxRlimit); err != nil {
		return nil, err
	}
	mounts, _, err := o.Array("mounts")
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, m := range mounts {
		mo, err := spec.ParseObject(m)
		if err != nil {
			return nil, err
		}
		typ, _, _ := mo.String("type")
		src, _, _ := mo.String("source")
		if typ == "bind" && (strings.Contains(src, "/containers/storage/") || strings.Contains(src, "/libpod/")) {
			if err := mo.SetString("source", filepath.Join(userdata, filepath.Base(src))); err != nil {
				return nil, err
			}
		}
		out = append(out, mo.Bytes())
	}
	if err := o.SetArray("mounts", out); err != nil {
		return nil, err
	}
	linux, err := o.EnsureObject("linux")
	if err != nil {
		return nil, err
	}
	if _, ok := linux.Raw("cgroupsPath"); ok {
		if err := linux.SetString("cgroupsPath", "/secshim-bench/"+IDPlaceholder); err != nil {
			return nil, err
		}
	}
	nss, _, err := linux.Array("namespaces")
	if err != nil {
		return nil, err
	}
	var ns [][]byte
	for _, n := range nss {
		no, err := spec.ParseObject(n)
		if err != nil {
			return nil, err
		}
		no.Delete("path") // Podman's netns file does not outlive its container
		ns = append(ns, no.Bytes())
	}
	if err := linux.SetArray("namespaces", ns); err != nil {
		return nil, err
	}
	return o.Bytes(), nil
}

// Large turns a Podman config into one with a large seccomp profile: every
// rule of Podman's profile split into one rule per syscall (437 rules
// instead of 22, the shape of generated per-syscall profiles), the profile
// indented with tabs as `runc spec` writes. About 40 KB.
func Large(podman []byte) ([]byte, error) {
	o, err := spec.ParseObject(podman)
	if err != nil {
		return nil, err
	}
	linux, err := o.EnsureObject("linux")
	if err != nil {
		return nil, err
	}
	raw, ok := linux.Raw("seccomp")
	if !ok {
		return nil, fmt.Errorf("large: the podman config has no seccomp profile")
	}
	var sec map[string]any
	if err := json.Unmarshal(raw, &sec); err != nil {
		return nil, err
	}
	rules, _ := sec["syscalls"].([]any)
	var split []any
	for _, r := range rules {
		rule := r.(map[string]any)
		names, _ := rule["names"].([]any)
		for _, n := range names {
			c := map[string]any{}
			for k, v := range rule {
				c[k] = v
			}
			c["names"] = []any{n}
			split = append(split, c)
		}
	}
	sec["syscalls"] = split
	b, err := json.MarshalIndent(sec, "\t", "\t")
	if err != nil {
		return nil, err
	}
	if err := linux.Set("seccomp", b); err != nil {
		return nil, err
	}
	return o.Bytes(), nil
}

func common(o *spec.Object, rootfs string) error {
	root, err := o.EnsureObject("root")
	if err != nil {
		return err
	}
	if err := root.SetString("path", rootfs); err != nil {
		return err
	}
	proc, err := o.EnsureObject("process")
	if err != nil {
		return err
	}
	if err := proc.SetBool("terminal", false); err != nil {
		return err
	}
	return proc.SetStrings("args", []string{"/bin/true"})
}

func clampRlimits(proc *spec.Object, max uint64) error {
	rl, ok, err := proc.Array("rlimits")
	if err != nil || !ok {
		return err
	}
	var out [][]byte
	for _, r := range rl {
		ro, err := spec.ParseObject(r)
		if err != nil {
			return err
		}
		for _, k := range []string{"hard", "soft"} {
			if v, ok, _ := ro.Int64(k); ok && (v < 0 || uint64(v) > max) {
				if err := ro.SetInt64(k, int64(max)); err != nil {
					return err
				}
			}
		}
		out = append(out, ro.Bytes())
	}
	return proc.SetArray("rlimits", out)
}
