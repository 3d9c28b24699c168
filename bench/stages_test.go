package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/runtimes"
	"github.com/secshim/secshim/spec"
)

// Benchmarks of each stage of secshim's create path, in-process and warm
// (testing.B amortises one-off costs; cmd/cold measures those). Run by
// bench/run.sh with -benchmem; alone:
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// With SECSHIM_BENCH_WORK set (run.sh sets it) the fixtures are the ones
// of the end-to-end runs; otherwise they are built here from `runc spec`
// (if runc is installed) and tests/golden/podman-default.json.

type fixtures struct {
	dir   string
	specs map[string][]byte // by size
	confs map[string][]byte // by profile, backend runc
}

var fx *fixtures

func getFixtures(tb testing.TB) *fixtures {
	tb.Helper()
	if fx != nil {
		return fx
	}
	dir, err := os.MkdirTemp("", "secshim-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixtures{dir: dir, specs: map[string][]byte{}, confs: map[string][]byte{}}
	state, logFile := filepath.Join(dir, "state"), filepath.Join(dir, "decisions.log")
	if w := os.Getenv("SECSHIM_BENCH_WORK"); w != "" {
		for _, s := range Sizes {
			if f.specs[s], err = os.ReadFile(filepath.Join(w, "specs", s+".json")); err != nil {
				tb.Fatal(err)
			}
		}
	} else {
		golden, err := os.ReadFile("../tests/golden/podman-default.json")
		if err != nil {
			golden, err = os.ReadFile("../spec/testdata/podman-default.json")
		}
		if err != nil {
			tb.Fatal(err)
		}
		// Bind sources where Podman keeps them (run.sh's fixtures too).
		if f.specs[SizePodman], err = Podman(golden, "/nonexistent", "/run/containers/storage/overlay-containers/secshim-bench/userdata", 1024); err != nil {
			tb.Fatal(err)
		}
		if f.specs[SizeLarge], err = Large(f.specs[SizePodman]); err != nil {
			tb.Fatal(err)
		}
		if runc, err := exec.LookPath("runc"); err == nil {
			sd := filepath.Join(dir, "runcspec")
			os.MkdirAll(sd, 0o755)
			if err := exec.Command(runc, "spec", "--bundle", sd).Run(); err == nil {
				rs, _ := os.ReadFile(filepath.Join(sd, "config.json"))
				if f.specs[SizeMinimal], err = Minimal(rs, "/nonexistent", 1024); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	for _, p := range Profiles {
		if f.confs[p], err = Profile(p, "runc", state, logFile, ""); err != nil {
			tb.Fatal(err)
		}
	}
	fx = f
	return f
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fx != nil {
		os.RemoveAll(fx.dir)
	}
	os.Exit(code)
}

func eachSize(b *testing.B, fn func(b *testing.B, size string, data []byte)) {
	f := getFixtures(b)
	for _, s := range Sizes {
		data, ok := f.specs[s]
		if !ok {
			continue // no runc: no minimal spec
		}
		b.Run(s, func(b *testing.B) { fn(b, s, data) })
	}
}

func config(b *testing.B, profile string) *runtimes.Config {
	cfg, err := runtimes.ParseConfig(profile+".toml", getFixtures(b).confs[profile])
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkArgs: parsing Podman's create command line.
func BenchmarkArgs(b *testing.B) {
	args := CreateArgs("", "/run/containers/storage/overlay-containers/ID/userdata/oci-log",
		"/var/lib/containers/storage/overlay-containers/ID/userdata", "5e888a2802d7f7978d4cf10f1a681dc4bd16cd8253b2f38f96b2d55cdc71df4e")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := runtimes.Parse(args, runtimes.FamilyRunc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConfig: decoding and compiling the TOML config (go-toml/v2,
// reflection), per profile.
func BenchmarkConfig(b *testing.B) {
	f := getFixtures(b)
	for _, p := range Profiles {
		b.Run(p, func(b *testing.B) {
			data := f.confs[p]
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := runtimes.ParseConfig("bench.toml", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSpecLoad: reading and parsing config.json (spec.Load).
func BenchmarkSpecLoad(b *testing.B) {
	eachSize(b, func(b *testing.B, size string, data []byte) {
		path := filepath.Join(b.TempDir(), "config.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := spec.Load(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParse: spec.ParseObject alone (validation and the top level).
func BenchmarkParse(b *testing.B) {
	eachSize(b, func(b *testing.B, size string, data []byte) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := spec.ParseObject(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBackend: resolving the backend (PATH search, self check).
func BenchmarkBackend(b *testing.B) {
	if _, err := exec.LookPath("runc"); err != nil {
		b.Skip("runc not installed")
	}
	cfg := config(b, "baseline")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Backend("runc"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHarden: the profile applied to a parsed spec (each iteration on
// a fresh clone of the parsed top level), per profile and size; seccomp
// rendering is part of it where the profile renders one. Resolving the
// profile is BenchmarkProfile.
func BenchmarkHarden(b *testing.B) {
	for _, p := range Profiles {
		b.Run(p, func(b *testing.B) {
			cfg := config(b, p)
			sel, err := Selected(cfg)
			if err != nil {
				b.Fatal(err)
			}
			eachSize(b, func(b *testing.B, size string, data []byte) {
				root, err := spec.ParseObject(data)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := sel.Harden(root.Clone(), hardening.Env{ContainerID: "bench", StateDir: cfg.StateDir}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkProfile: resolving the container's profile from the config
// (built-in profiles: a copy of the built-in policy, compiled).
func BenchmarkProfile(b *testing.B) {
	for _, p := range Profiles {
		b.Run(p, func(b *testing.B) {
			cfg := config(b, p)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Selected(cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProfilesDefined: does the cost depend on how many profiles the
// config defines? The config defines n user profiles besides the built-in
// ones; the container's profile stays baseline. config: decoding it;
// evaluate: resolving the container's profile and hardening the Podman
// config with it.
func BenchmarkProfilesDefined(b *testing.B) {
	f := getFixtures(b)
	data := f.specs[SizePodman]
	evaluator := func(b *testing.B, n int) func() {
		cfg, err := runtimes.ParseConfig("bench.toml", UserProfiles(n, filepath.Join(f.dir, "state"), ""))
		if err != nil {
			b.Fatal(err)
		}
		root, err := spec.ParseObject(data)
		if err != nil {
			b.Fatal(err)
		}
		return func() {
			sel, err := Selected(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sel.Harden(root.Clone(), hardening.Env{ContainerID: "bench", StateDir: cfg.StateDir}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// evaluate/interleaved: none and 100 user profiles alternately in one
	// loop, each timed on its own, so that the machine's drift between two
	// sub-benchmarks (tens of percent on the development VM) cancels out
	// of their ratio, which the report's verdict uses.
	b.Run("evaluate/interleaved", func(b *testing.B) {
		eval0, eval100 := evaluator(b, 0), evaluator(b, 100)
		var d0, d100 time.Duration
		n := 0
		for b.Loop() {
			t := time.Now()
			eval0()
			d0 += time.Since(t)
			t = time.Now()
			eval100()
			d100 += time.Since(t)
			n++
		}
		b.ReportMetric(float64(d0.Nanoseconds())/float64(n), "n0-ns/op")
		b.ReportMetric(float64(d100.Nanoseconds())/float64(n), "n100-ns/op")
	})
	for _, n := range []int{0, 10, 100} {
		conf := UserProfiles(n, filepath.Join(f.dir, "state"), "")
		b.Run(fmt.Sprintf("config/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := runtimes.ParseConfig("bench.toml", conf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("evaluate/n=%d", n), func(b *testing.B) {
			eval := evaluator(b, n)
			b.ReportAllocs()
			for b.Loop() {
				eval()
			}
		})
	}
}

// BenchmarkRenderSeccomp: the default profile rendered for Podman's
// default capabilities (moby/profiles + encoding/json).
func BenchmarkRenderSeccomp(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hardening.RenderSeccomp("default", hardening.PodmanDefaultCaps); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSerialize: Bytes() of a hardened spec, per profile and size.
func BenchmarkSerialize(b *testing.B) {
	for _, p := range Profiles {
		b.Run(p, func(b *testing.B) {
			cfg := config(b, p)
			sel, err := Selected(cfg)
			if err != nil {
				b.Fatal(err)
			}
			eachSize(b, func(b *testing.B, size string, data []byte) {
				root, err := spec.ParseObject(data)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := sel.Harden(root, hardening.Env{ContainerID: "bench", StateDir: cfg.StateDir}); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					_ = root.Bytes()
				}
			})
		})
	}
}

// BenchmarkSpecWrite: spec.WriteAtomic of a config.json (temp file, fchmod,
// rename; no fsync) into a directory on the same file system as the
// bundles.
func BenchmarkSpecWrite(b *testing.B) {
	eachSize(b, func(b *testing.B, size string, data []byte) {
		path := filepath.Join(b.TempDir(), "config.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if err := spec.WriteAtomic(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWriteVariants: what the ways of saving config.json cost on the
// Podman-size config: spec.WriteAtomic (temp file, then exchanged with the
// old one), the plain rename over the old one it replaced (on ext4 that
// rename starts writeback: auto_da_alloc), the same with fsync, and an
// in-place rewrite (not atomic for readers).
func BenchmarkWriteVariants(b *testing.B) {
	data := getFixtures(b).specs[SizePodman]
	dir := b.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	tempRename := func(b *testing.B, sync bool) {
		tmp := path + ".tmp"
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		f.Write(data)
		if sync {
			f.Sync()
		}
		f.Close()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("write_atomic", func(b *testing.B) {
		for b.Loop() {
			if err := spec.WriteAtomic(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rename_over", func(b *testing.B) {
		for b.Loop() {
			tempRename(b, false)
		}
	})
	b.Run("rename_over_fsync", func(b *testing.B) {
		for b.Loop() {
			tempRename(b, true)
		}
	})
	b.Run("in_place", func(b *testing.B) {
		for b.Loop() {
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordWrite: the sticky record (runtimes.SaveRecord) of a new
// container: one O_EXCL write of ~100 bytes to a new name.
func BenchmarkRecordWrite(b *testing.B) {
	dir := b.TempDir()
	rec := &runtimes.Record{Backend: runtimes.Backend{Name: "runc", Path: "/usr/sbin/runc"}, Profile: "baseline", Caps: 1<<11 - 1, NoNewPrivileges: true}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++ // a new container each time, as in real use
		if err := runtimes.SaveRecord(runtimes.RecordPath(dir, "", "5e888a2802d7f7978d4cf10f1a681dc4-"+strconv.Itoa(i)), rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogWrite: one decision line appended (runtimes.LogDecision).
func BenchmarkLogWrite(b *testing.B) {
	cfg := runtimes.DefaultConfig()
	cfg.Log.File = filepath.Join(b.TempDir(), "decisions.log")
	runtimes.SyslogSocket = ""
	d := runtimes.Decision{ID: "5e888a2802d7f7978d4cf10f1a681dc4", Verb: "create", Backend: "runc", Profile: "baseline",
		Changes: []hardening.Change{{Control: "no_new_privileges", Field: "process.noNewPrivileges", To: "true"}}}
	b.ReportAllocs()
	for b.Loop() {
		runtimes.LogDecision(cfg, d)
	}
}

// BenchmarkCreatePath: every stage above in create's order, per profile
// and size (warm; see cmd/cold for the first call in a fresh process).
func BenchmarkCreatePath(b *testing.B) {
	if _, err := exec.LookPath("runc"); err != nil {
		b.Skip("runc not installed")
	}
	f := getFixtures(b)
	for _, p := range Profiles {
		b.Run(p, func(b *testing.B) {
			conf := filepath.Join(f.dir, p+".toml")
			if err := os.WriteFile(conf, f.confs[p], 0o644); err != nil {
				b.Fatal(err)
			}
			b.Setenv("SECSHIM_CONFIG", conf)
			eachSize(b, func(b *testing.B, size string, data []byte) {
				bundle := b.TempDir()
				cfgFile := filepath.Join(bundle, "config.json")
				args := CreateArgs("", filepath.Join(bundle, "oci-log"), bundle, "bench-"+strings.ReplaceAll(b.Name(), "/", "-"))
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					if err := os.WriteFile(cfgFile, data, 0o644); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if _, err := CreatePath(args); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
