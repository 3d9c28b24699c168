//go:build cgo

package hardening

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// libseccompArch maps the table's GOARCH columns to libseccomp's names.
var libseccompArch = map[string]string{
	"386": "x86", "amd64": "amd64", "arm": "arm", "arm64": "arm64", "loong64": "loong64",
	"mips": "mips", "mipsle": "mipsel", "mips64": "mips64", "mips64le": "mipsel64",
	"ppc": "ppc", "ppc64": "ppc64", "ppc64le": "ppc64le", "riscv64": "riscv64", "s390x": "s390x",
}

// newerThanLibseccomp lists the table's names the installed libseccomp
// cannot resolve at all: syscalls added to the kernel after it. runc
// skips such names, so a profile may list them.
func newerThanLibseccomp() map[string]bool {
	out := map[string]bool{}
	for _, row := range syscallTable {
		if _, err := libseccomp.GetSyscallFromName(row.name); err != nil {
			out[row.name] = true
		}
	}
	return out
}

// The generated table agrees with libseccomp. On amd64, name for name
// and number for number, both ways, except for names libseccomp does not
// know at all (syscalls newer than it), whose numbers it must not give to
// another name. On the other architectures it knows, wherever libseccomp
// gives a real number (it gives pseudo-numbers to the socket and IPC
// calls it multiplexes on 32-bit ABIs, to be rewritten when compiling).
func TestSyscallTableMatchesLibseccomp(t *testing.T) {
	major, minor, micro := libseccomp.GetLibraryVersion()
	t.Logf("libseccomp %d.%d.%d", major, minor, micro)
	newer := newerThanLibseccomp()
	amd64, err := libseccomp.GetArchFromString("amd64")
	if err != nil {
		t.Fatal(err)
	}
	taken := map[int]string{}
	for nr := 0; nr < 1024; nr++ {
		name, err := libseccomp.ScmpSyscall(nr).GetNameByArch(amd64)
		if err != nil {
			continue
		}
		taken[nr] = name
		if got, ok := SyscallNumber("amd64", name); !ok || got != nr {
			t.Errorf("libseccomp: amd64 %s = %d; table: %d, %v", name, nr, got, ok)
		}
	}
	if len(taken) < 300 {
		t.Fatalf("libseccomp knows only %d amd64 syscalls", len(taken))
	}
	var newNames []string
	for name := range newer {
		newNames = append(newNames, name)
		if nr, ok := SyscallNumber("amd64", name); ok && taken[nr] != "" {
			t.Errorf("%s is amd64 %d in the table, which libseccomp gives to %s", name, nr, taken[nr])
		}
	}
	slices.Sort(newNames)
	t.Logf("%d names newer than this libseccomp: %s", len(newNames), strings.Join(newNames, " "))
	if len(newNames) > 40 {
		t.Errorf("%d names unknown to libseccomp: the table looks wrong", len(newNames))
	}

	for col, goarch := range syscallArches {
		name, ok := libseccompArch[goarch]
		if !ok {
			t.Errorf("no libseccomp name for %s", goarch)
			continue
		}
		arch, err := libseccomp.GetArchFromString(name)
		if err == nil {
			_, err = libseccomp.GetSyscallFromNameByArch("read", arch)
		}
		if err != nil {
			t.Logf("%s: skipped: %v", goarch, err)
			continue
		}
		checked, pseudo := 0, 0
		for _, row := range syscallTable {
			if newer[row.name] {
				continue
			}
			sc, err := libseccomp.GetSyscallFromNameByArch(row.name, arch)
			if err != nil {
				t.Errorf("%s: libseccomp cannot resolve %s: %v", goarch, row.name, err)
				continue
			}
			want, got := int(row.nr[col]), int(sc)
			switch {
			case got >= 0 && got != want:
				t.Errorf("%s %s: table %d, libseccomp %d", goarch, row.name, want, got)
			case got < 0 && want >= 0:
				pseudo++
			default:
				checked++
			}
		}
		if checked < 250 || pseudo > 40 {
			t.Errorf("%s: %d names agree, %d are pseudo-syscalls to libseccomp", goarch, checked, pseudo)
		}
	}
}

// filterFor compiles a runtime-spec profile with libseccomp the way runc
// does (libcontainer/seccomp/seccomp_linux.go): one rule per name, the
// argument conditions of a rule joined, or added one by one when an
// argument repeats; rules with the default action skipped; names
// libseccomp does not know skipped only if they are newer than it.
func filterFor(t *testing.T, s *specs.LinuxSeccomp, newer map[string]bool) *libseccomp.ScmpFilter {
	t.Helper()
	def, err := scmpAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		t.Fatal(err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Architectures {
		name := strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
		if n, ok := map[string]string{"x86_64": "amd64", "aarch64": "arm64"}[name]; ok {
			name = n
		}
		arch, err := libseccomp.GetArchFromString(name)
		if err != nil {
			t.Fatalf("architecture %s: %v", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			t.Fatalf("architecture %s: %v", a, err)
		}
	}
	for i, r := range s.Syscalls {
		act, err := scmpAction(r.Action, r.ErrnoRet)
		if err != nil {
			t.Fatalf("syscalls[%d]: %v", i, err)
		}
		if act == def {
			continue
		}
		var conds []libseccomp.ScmpCondition
		repeated := false
		seen := map[uint]bool{}
		for _, a := range r.Args {
			op, err := scmpOp(a.Op)
			if err != nil {
				t.Fatalf("syscalls[%d]: %v", i, err)
			}
			vals := []uint64{a.Value}
			if a.Op == specs.OpMaskedEqual {
				vals = append(vals, a.ValueTwo)
			}
			c, err := libseccomp.MakeCondition(a.Index, op, vals...)
			if err != nil {
				t.Fatalf("syscalls[%d]: %v", i, err)
			}
			conds = append(conds, c)
			repeated = repeated || seen[a.Index]
			seen[a.Index] = true
		}
		for _, n := range r.Names {
			sc, err := libseccomp.GetSyscallFromName(n)
			if err != nil {
				if !newer[n] {
					t.Errorf("syscalls[%d]: libseccomp does not know %s", i, n)
				}
				continue
			}
			switch {
			case len(conds) == 0:
				err = f.AddRule(sc, act)
			case repeated:
				for _, c := range conds {
					if err = f.AddRuleConditional(sc, act, []libseccomp.ScmpCondition{c}); err != nil {
						break
					}
				}
			default:
				err = f.AddRuleConditional(sc, act, conds)
			}
			if err != nil {
				t.Errorf("syscalls[%d] %s: %v", i, n, err)
			}
		}
	}
	return f
}

func scmpAction(a specs.LinuxSeccompAction, errno *uint) (libseccomp.ScmpAction, error) {
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActErrno:
		ret := int16(1) // runc's EPERM when errnoRet is absent
		if errno != nil {
			ret = int16(*errno)
		}
		return libseccomp.ActErrno.SetReturnCode(ret), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(1), nil
	}
	return 0, fmt.Errorf("action %s", a)
}

func scmpOp(op specs.LinuxSeccompOperator) (libseccomp.ScmpCompareOp, error) {
	switch op {
	case specs.OpNotEqual:
		return libseccomp.CompareNotEqual, nil
	case specs.OpLessThan:
		return libseccomp.CompareLess, nil
	case specs.OpLessEqual:
		return libseccomp.CompareLessOrEqual, nil
	case specs.OpEqualTo:
		return libseccomp.CompareEqual, nil
	case specs.OpGreaterEqual:
		return libseccomp.CompareGreaterEqual, nil
	case specs.OpGreaterThan:
		return libseccomp.CompareGreater, nil
	case specs.OpMaskedEqual:
		return libseccomp.CompareMaskedEqual, nil
	}
	return 0, fmt.Errorf("operator %s", op)
}

// Every filter secshim renders compiles with libseccomp, and the kernel
// loads it (in a child process, which then exits).
func TestRenderedFiltersLoad(t *testing.T) {
	newer := newerThanLibseccomp()
	custom := testdataPath(t, "seccomp-custom.json")
	cases := []struct {
		name     string
		sp       SeccompPolicy
		bounding []string
	}{
		{"default/baseline", SeccompPolicy{Profile: "default"}, PodmanDefaultCaps},
		{"default/restricted", SeccompPolicy{Profile: "default"}, []string{"CAP_NET_BIND_SERVICE"}},
		{"default/none", SeccompPolicy{Profile: "default"}, []string{}},
		{"default/all", SeccompPolicy{Profile: "default"}, AllCaps.Names()},
		{"default/baseline/audit", SeccompPolicy{Profile: "default", Audit: true}, PodmanDefaultCaps},
		{"default/restricted/audit", SeccompPolicy{Profile: "default", Audit: true}, []string{"CAP_NET_BIND_SERVICE"}},
		{"custom/baseline", SeccompPolicy{Profile: custom}, PodmanDefaultCaps},
		{"custom/restricted", SeccompPolicy{Profile: custom}, []string{"CAP_NET_BIND_SERVICE"}},
		{"custom/sys-admin", SeccompPolicy{Profile: custom}, append(slices.Clone(PodmanDefaultCaps), "CAP_SYS_ADMIN")},
		{"custom/baseline/audit", SeccompPolicy{Profile: custom, Audit: true}, PodmanDefaultCaps},
		{"podman/baseline", SeccompPolicy{Profile: testdataPath(t, "podman-seccomp.json")}, PodmanDefaultCaps},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := renderPolicy(tc.sp, tc.bounding, nil)
			if err != nil {
				t.Fatal(err)
			}
			var s specs.LinuxSeccomp
			if err := json.Unmarshal(r.json, &s); err != nil {
				t.Fatal(err)
			}
			f := filterFor(t, &s, newer)
			defer f.Release()
			bpf, err := os.CreateTemp(t.TempDir(), "bpf")
			if err != nil {
				t.Fatal(err)
			}
			defer bpf.Close()
			if err := f.ExportBPF(bpf); err != nil {
				t.Fatalf("libseccomp cannot compile it: %v", err)
			}
			if st, _ := bpf.Stat(); st.Size() < 8 {
				t.Fatalf("BPF program of %d bytes", st.Size())
			}
			if runtime.GOARCH != "amd64" {
				return
			}
			path := filepath.Join(t.TempDir(), "profile.json")
			if err := os.WriteFile(path, r.json, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestLoadFilterHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SECSHIM_TEST_LOAD_FILTER="+path)
			// Once loaded (libseccomp-golang always synchronises the
			// filter to every thread), a profile without epoll syscalls
			// may kill the child's Go runtime before it exits: sysmon's
			// epoll_pwait gets EPERM, which only a loaded filter
			// returns. The line printed after Load, or that failure, is
			// the proof, not the exit status.
			out, err := cmd.CombinedOutput()
			refused := regexp.MustCompile(`epollwait on fd \d+ failed with 1\b`).Match(out)
			if !strings.Contains(string(out), "filter loaded") && !refused {
				t.Errorf("the kernel does not load it: %v\n%s", err, out)
			}
		})
	}
}

// TestLoadFilterHelper is the child of TestRenderedFiltersLoad: it loads
// the filter into itself and exits at once (its threads may get errors
// from then on, and the test must not go on under a filter).
func TestLoadFilterHelper(t *testing.T) {
	path := os.Getenv("SECSHIM_TEST_LOAD_FILTER")
	if path == "" {
		t.Skip("only run by TestRenderedFiltersLoad")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.LinuxSeccomp
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	f := filterFor(t, &s, newerThanLibseccomp())
	if t.Failed() {
		return
	}
	runtime.LockOSThread()
	if err := f.Load(); err != nil {
		t.Fatalf("load: %v", err)
	}
	// Raw system calls: the fewest steps between Load and the proof.
	syscall.Write(1, []byte("filter loaded\n"))
	syscall.Exit(0)
}
