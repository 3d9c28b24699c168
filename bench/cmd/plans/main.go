// Command plans writes the interleaved plans bench/run.sh runs (see
// bench/cmd/interleave for the format) for a prepared work directory:
//
//	lifecycle-<size>.json  create + start + delete of /bin/true, per spec size:
//	                       runc and crun direct, each also on the config
//	                       secshim writes for each profile that changes it,
//	                       secshim with each profile on each backend, and
//	                       (podman size) the C and Go exec-only references and
//	                       baseline with attestation off
//	handoff.json           secshim create alone, handing off to a backend that
//	                       does nothing (bench/c/exit0.c), per profile and size,
//	                       against that backend called directly and through the
//	                       exec-only references: secshim's own cost without
//	                       runc's noise
//	passthrough.json       state, kill (SIGCONT to a sleeping container) and
//	                       --version, direct, through the exec-only references
//	                       and through secshim
//	podman.json            podman run --rm, --runtime secshim vs runc
//	                       (a cross-check of the hyperfine figure)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/secshim/secshim/bench/interleave"
	"github.com/secshim/secshim/runtimes"
)

// The plan format is package interleave's.
type (
	plan       = interleave.Plan
	arm        = interleave.Arm
	step       = interleave.Step
	cp         = interleave.Copy
	comparison = interleave.Comparison
)

var (
	work     = flag.String("work", "", "work directory prepared by run.sh")
	out      = flag.String("out", "", "where to write the plans (default WORK/plans)")
	runc     = flag.String("runc", "/usr/sbin/runc", "runc")
	crun     = flag.String("crun", "/usr/bin/crun", "crun ('' to leave crun out)")
	rPodman  = flag.Int("rounds-podman", 150, "rounds for the podman-size lifecycle (the headline)")
	rOther   = flag.Int("rounds-other", 80, "rounds for the minimal and large lifecycles")
	rPass    = flag.Int("rounds-passthrough", 300, "rounds for the pass-through verbs")
	rHand    = flag.Int("rounds-handoff", 300, "rounds for the create hand-off to a do-nothing backend")
	rE2E     = flag.Int("rounds-podman-run", 0, "rounds of the interleaved podman run (0: no plan)")
	podmanCL = flag.String("podman", "", "podman command line prefix, space-separated (for podman.json)")
	image    = flag.String("image", "localhost/secshim-busybox:latest", "image for podman run")
	pFlags   = flag.String("podman-flags", "", "extra podman run flags, space-separated")
)

var profiles = []string{"privileged", "baseline", "restricted"}

func main() {
	flag.Parse()
	if *work == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *out == "" {
		*out = filepath.Join(*work, "plans")
	}
	must(os.MkdirAll(*out, 0o755))
	for _, size := range []string{"minimal", "podman", "large"} {
		rounds := *rOther
		if size == "podman" {
			rounds = *rPodman
		}
		write(lifecycle(size, rounds))
	}
	write(passthrough())
	write(handoff())
	if *rE2E > 0 && *podmanCL != "" {
		write(podmanRun())
	}
}

func w(parts ...string) string { return filepath.Join(append([]string{*work}, parts...)...) }

type backend struct{ name, path, root string }

func backends() []backend {
	bs := []backend{{"runc", *runc, w("root", "runc")}}
	if *crun != "" {
		bs = append(bs, backend{"crun", *crun, w("root", "crun")})
	}
	return bs
}

// lifecycle: create + start + delete --force of /bin/true.
func lifecycle(size string, rounds int) plan {
	p := plan{Name: "lifecycle-" + size, Rounds: rounds, Warmup: 3, Seed: 42,
		Description: "create + start + delete --force of /bin/true, " + size + " config.json"}
	pristine := w("specs", size+".json")
	add := func(name string, env []string, prefix []string, b backend) {
		root := b.root
		bundle := w("bundles", size+"-"+name)
		must(os.MkdirAll(bundle, 0o755))
		cmd := func(args ...string) []string {
			return append(append(append([]string{}, prefix...), "--root", root), args...)
		}
		p.Arms = append(p.Arms, arm{
			Name:  name,
			Env:   env,
			Reset: []cp{{From: pristine, To: filepath.Join(bundle, "config.json")}},
			Steps: []step{
				// Engines pass --pid-file; secshim's start reads the pid there.
				{Name: "create", Argv: cmd("create", "--bundle", bundle, "--pid-file", filepath.Join(bundle, "pid"), "{id}")},
				{Name: "start", Argv: cmd("start", "{id}")},
				{Name: "delete", Argv: cmd("delete", "--force", "{id}")},
			},
			Cleanup: [][]string{cmd("delete", "--force", "{id}"), {b.path, "--root", root, "delete", "--force", "{id}"}},
		})
	}
	var base []string // the driver's environment, nothing added
	for _, b := range backends() {
		add(b.name, base, []string{b.path}, b)
	}
	// The backend alone on the config secshim would write, per profile
	// that changes this spec (prepare wrote those files).
	hardened := map[string]bool{}
	for _, b := range backends() {
		for _, prof := range profiles {
			h := w("specs", size+"-"+prof+".hardened.json")
			if _, err := os.Stat(h); err != nil {
				continue
			}
			hardened[prof] = true
			name := b.name + "-hardened-" + prof
			add(name, base, []string{b.path}, b)
			p.Arms[len(p.Arms)-1].Reset[0].From = h
			p.Compare = append(p.Compare, comparison{Arm: name, Ref: b.name})
		}
	}
	rc := backends()[0]
	if size == "podman" {
		add("execc-runc", base, []string{w("bin", "execc"), rc.path}, rc)
		add("execgo-runc", base, []string{w("bin", "execgo"), rc.path}, rc)
		p.Compare = append(p.Compare, comparison{Arm: "execc-runc", Ref: "runc"}, comparison{Arm: "execgo-runc", Ref: "runc"})
		// The Go exec-only program on the config secshim writes: the
		// reference for start and delete of a hardened container, whose
		// runc start and delete differ from the original's.
		if hardened["baseline"] {
			add("execgo-runc-hardened-baseline", base, []string{w("bin", "execgo"), rc.path}, rc)
			p.Arms[len(p.Arms)-1].Reset[0].From = w("specs", size+"-baseline.hardened.json")
		}
	}
	for _, b := range backends() {
		for _, prof := range profiles {
			name := "secshim-" + prof + "-" + b.name
			env := []string{"SECSHIM_CONFIG=" + w("conf", prof+"-"+b.name+".toml")}
			add(name, env, []string{w("bin", "secshim")}, b)
			p.Compare = append(p.Compare, comparison{Arm: name, Ref: b.name})
			if hardened[prof] {
				p.Compare = append(p.Compare, comparison{Arm: name, Ref: b.name + "-hardened-" + prof})
			}
			if size == "podman" && b.name == "runc" {
				p.Compare = append(p.Compare, comparison{Arm: name, Ref: "execgo-runc"})
			}
		}
	}
	// Attestation's own cost: baseline with [policy] attest = "off".
	if size == "podman" {
		for _, b := range backends() {
			name := "secshim-baseline-" + b.name + "-noattest"
			add(name, []string{"SECSHIM_CONFIG=" + w("conf", "baseline-"+b.name+"-noattest.toml")}, []string{w("bin", "secshim")}, b)
			p.Compare = append(p.Compare, comparison{Arm: "secshim-baseline-" + b.name, Ref: name}, comparison{Arm: name, Ref: b.name})
			if b.name == "runc" {
				p.Compare = append(p.Compare, comparison{Arm: name, Ref: "execgo-runc"})
				if hardened["baseline"] {
					p.Compare = append(p.Compare, comparison{Arm: name, Ref: "execgo-runc-hardened-baseline"},
						comparison{Arm: "secshim-baseline-runc", Ref: "execgo-runc-hardened-baseline"})
				}
			}
		}
	}
	if *crun != "" {
		p.Compare = append(p.Compare, comparison{Arm: "crun", Ref: "runc", Steps: []string{"total"}})
	}
	return p
}

// handoff: secshim create with the do-nothing backend.
func handoff() plan {
	p := plan{Name: "handoff", Rounds: *rHand, Warmup: 5, Seed: 5,
		Description: "create handed to a do-nothing backend (exit0): secshim per profile and size vs exit0 direct and the exec-only references"}
	exit0 := w("bin", "exit0")
	root := w("root", "probe")
	args := func(bundle string) []string { return []string{"--root", root, "create", "--bundle", bundle, "{id}"} }
	bundle := w("bundles", "handoff-direct")
	must(os.MkdirAll(bundle, 0o755))
	// Each run empties the records directory, as the delete that follows
	// a real create would; the seccomp cache beside it stays, as on a
	// running host. The coldcache arm empties all of secshim's state: the
	// first container after a boot (state on /run) or an upgrade.
	records := filepath.Dir(runtimes.RecordPath(w("state-probe"), root, "x"))
	for _, r := range []struct {
		name   string
		prefix []string
	}{{"exit0", []string{exit0}}, {"execc-exit0", []string{w("bin", "execc"), exit0}}, {"execgo-exit0", []string{w("bin", "execgo"), exit0}},
		{"execgo-faultfill-exit0", []string{w("bin", "execgo-faultfill"), exit0}}} {
		p.Arms = append(p.Arms, arm{Name: r.name, Steps: []step{{Name: "create", Argv: append(append([]string{}, r.prefix...), args(bundle)...)}}})
		if r.name != "exit0" {
			p.Compare = append(p.Compare, comparison{Arm: r.name, Ref: "exit0"})
		}
	}
	for _, size := range []string{"minimal", "podman", "large"} {
		for _, prof := range profiles {
			name := "secshim-" + prof + "-" + size
			b := w("bundles", "handoff-"+prof+"-"+size)
			must(os.MkdirAll(b, 0o755))
			p.Arms = append(p.Arms, arm{Name: name,
				Env:   []string{"SECSHIM_CONFIG=" + w("conf", prof+"-probe.toml")},
				Reset: []cp{{From: w("specs", size+".json"), To: filepath.Join(b, "config.json")}},
				Clean: []string{records},
				Steps: []step{{Name: "create", Argv: append([]string{w("bin", "secshim")}, args(b)...)}}})
			p.Compare = append(p.Compare, comparison{Arm: name, Ref: "exit0"}, comparison{Arm: name, Ref: "execgo-exit0"})
		}
	}
	// The same create from copies whose page cache exec's faults filled
	// (run.sh reads the other binaries in sequentially): bench/README.md.
	const ff = "secshim-baseline-podman-faultfill"
	fb := w("bundles", "handoff-baseline-podman-faultfill")
	must(os.MkdirAll(fb, 0o755))
	p.Arms = append(p.Arms, arm{Name: ff,
		Env:   []string{"SECSHIM_CONFIG=" + w("conf", "baseline-probe.toml")},
		Reset: []cp{{From: w("specs", "podman.json"), To: filepath.Join(fb, "config.json")}},
		Clean: []string{records},
		Steps: []step{{Name: "create", Argv: append([]string{w("bin", "secshim-faultfill")}, args(fb)...)}}})
	p.Compare = append(p.Compare, comparison{Arm: ff, Ref: "exit0"}, comparison{Arm: ff, Ref: "execgo-faultfill-exit0"})
	const cold = "secshim-baseline-podman-coldcache"
	b := w("bundles", "handoff-baseline-podman")
	p.Arms = append(p.Arms, arm{Name: cold,
		Env:   []string{"SECSHIM_CONFIG=" + w("conf", "baseline-probe.toml")},
		Reset: []cp{{From: w("specs", "podman.json"), To: filepath.Join(b, "config.json")}},
		Clean: []string{w("state-probe")},
		Steps: []step{{Name: "create", Argv: append([]string{w("bin", "secshim")}, args(b)...)}}})
	p.Compare = append(p.Compare, comparison{Arm: cold, Ref: "exit0"}, comparison{Arm: cold, Ref: "execgo-exit0"}, comparison{Arm: cold, Ref: "secshim-baseline-podman"})
	return p
}

// passthrough: verbs secshim only forwards, on one sleeping container
// created through secshim (so its record exists, as in real use).
func passthrough() plan {
	rc := backends()[0]
	const id = "sbpt"
	bundle := w("bundles", "passthrough")
	must(os.MkdirAll(bundle, 0o755))
	data, err := os.ReadFile(w("specs", "minimal.json"))
	must(err)
	cfg := strings.Replace(string(data), `"/bin/true"`, `"/bin/sleep","100000"`, 1)
	must(os.WriteFile(filepath.Join(bundle, "config.json"), []byte(cfg), 0o644))
	env := []string{"SECSHIM_CONFIG=" + w("conf", "baseline-runc.toml")}
	shim := w("bin", "secshim")
	p := plan{Name: "passthrough", Rounds: *rPass, Warmup: 5, Seed: 7,
		Description: "state, kill SIGCONT and --version: runc direct, via the C and Go exec-only programs, via secshim (baseline config, container created through secshim)",
		Setup: [][]string{
			{"/usr/bin/env", "SECSHIM_CONFIG=" + w("conf", "baseline-runc.toml"), shim, "--root", rc.root, "delete", "--force", id},
			{"/usr/bin/env", "SECSHIM_CONFIG=" + w("conf", "baseline-runc.toml"), shim, "--root", rc.root, "create", "--bundle", bundle, id},
			{"/usr/bin/env", "SECSHIM_CONFIG=" + w("conf", "baseline-runc.toml"), shim, "--root", rc.root, "start", id},
		},
		Teardown: [][]string{{"/usr/bin/env", "SECSHIM_CONFIG=" + w("conf", "baseline-runc.toml"), shim, "--root", rc.root, "delete", "--force", id}},
	}
	// Setup's first delete may fail (nothing to delete): wrap in sh.
	p.Setup[0] = []string{"/bin/sh", "-c", strings.Join(quote(p.Setup[0]), " ") + " 2>/dev/null; true"}
	prefixes := []struct {
		name   string
		prefix []string
	}{
		{"runc", []string{rc.path}},
		{"execc", []string{w("bin", "execc"), rc.path}},
		{"execgo", []string{w("bin", "execgo"), rc.path}},
		{"secshim", []string{shim}},
		{"secshim-go", []string{w("bin", "secshim-go")}},
		{"execgo-faultfill", []string{w("bin", "execgo-faultfill"), rc.path}},
		{"secshim-faultfill", []string{w("bin", "secshim-faultfill")}},
	}
	for _, verb := range []struct {
		name string
		args []string
	}{
		{"state", []string{"--root", rc.root, "state", id}},
		{"kill", []string{"--root", rc.root, "kill", id, "CONT"}},
		{"version", []string{"--version"}},
	} {
		for _, pr := range prefixes {
			if verb.name == "version" && (pr.name == "execc" || strings.HasSuffix(pr.name, "-faultfill")) {
				continue
			}
			name := verb.name + "-" + pr.name
			p.Arms = append(p.Arms, arm{Name: name, Env: env,
				Steps: []step{{Name: verb.name, Argv: append(append([]string{}, pr.prefix...), verb.args...)}}})
			if pr.name != "runc" {
				p.Compare = append(p.Compare, comparison{Arm: name, Ref: verb.name + "-runc"})
			}
		}
		p.Compare = append(p.Compare, comparison{Arm: verb.name + "-secshim", Ref: verb.name + "-execgo"},
			comparison{Arm: verb.name + "-secshim-go", Ref: verb.name + "-execgo"},
			comparison{Arm: verb.name + "-secshim", Ref: verb.name + "-secshim-go"})
		if verb.name != "version" {
			p.Compare = append(p.Compare, comparison{Arm: verb.name + "-secshim-faultfill", Ref: verb.name + "-execgo-faultfill"})
		}
	}
	return p
}

// podmanRun: the end-to-end comparison, interleaved.
func podmanRun() plan {
	pc := strings.Fields(*podmanCL)
	run := func(rt string) []string {
		a := append(append([]string{}, pc...), "run", "--rm", "--runtime", rt)
		a = append(a, strings.Fields(*pFlags)...)
		return append(a, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", *image, "true")
	}
	return plan{Name: "podman-run", Rounds: *rE2E, Warmup: 2, Seed: 11,
		Description: "podman run --rm IMAGE true, --runtime secshim (baseline, backend runc) vs --runtime runc, interleaved",
		Arms: []arm{
			{Name: "podman-runc", Steps: []step{{Name: "run", Argv: run("runc")}}},
			{Name: "podman-secshim", Steps: []step{{Name: "run", Argv: run("secshim")}}},
		},
		Compare: []comparison{{Arm: "podman-secshim", Ref: "podman-runc"}},
	}
}

func quote(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

func write(p plan) {
	b, err := json.MarshalIndent(p, "", " ")
	must(err)
	path := filepath.Join(*out, p.Name+".json")
	must(os.WriteFile(path, append(b, '\n'), 0o644))
	fmt.Printf("plans: %s (%d arms, %d rounds)\n", path, len(p.Arms), p.Rounds)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "plans:", err)
		os.Exit(1)
	}
}
