// Command prepare writes the benchmark's three config.json fixtures
// (minimal.json, podman.json, large.json; see bench.Sizes) for a rootfs,
// plus the files the Podman config bind-mounts; and, with -conf-out, the
// secshim config of each profile for each backend (PROFILE-BACKEND.toml;
// backend "probe" is -probe, a do-nothing program for the RSS figures).
//
//	prepare -runc-spec runc-spec.json -podman podman-default.json -rootfs DIR -out DIR [-max-rlimit N] [-userdata DIR]
//	        [-conf-out DIR -state-dir DIR -log-file FILE -backends runc,crun -probe PATH]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/secshim/secshim/bench"
)

func main() {
	runcSpec := flag.String("runc-spec", "", "output of `runc spec`")
	podman := flag.String("podman", "", "a config.json Podman generated for `podman run IMAGE`")
	rootfs := flag.String("rootfs", "", "absolute rootfs path")
	out := flag.String("out", "", "output directory")
	maxRlimit := flag.Uint64("max-rlimit", 1024, "largest rlimit kept")
	confOut := flag.String("conf-out", "", "write the profiles' secshim configs here")
	stateDir := flag.String("state-dir", "", "the configs' state_dir")
	logFile := flag.String("log-file", "", "the configs' log file")
	backends := flag.String("backends", "runc,crun", "backends to write configs for")
	probe := flag.String("probe", "", "path of the do-nothing backend (configs PROFILE-probe.toml)")
	userdataDir := flag.String("userdata", "", "where the bind-mounted files go (default OUT/userdata)")
	flag.Parse()
	if *confOut != "" {
		must(os.MkdirAll(*confOut, 0o755))
		bs := strings.Split(*backends, ",")
		if *probe != "" {
			bs = append(bs, "probe")
		}
		for _, b := range bs {
			extra, state := "", *stateDir
			if b == "probe" { // its records are cleaned between runs: a state dir of its own
				extra, state = fmt.Sprintf("[backends.probe]\npath = %q\n", *probe), *stateDir+"-probe"
			}
			for _, p := range bench.Profiles {
				data, err := bench.Profile(p, b, state, *logFile, extra)
				must(err)
				must(os.WriteFile(filepath.Join(*confOut, p+"-"+b+".toml"), data, 0o644))
				if p == "baseline" && b != "probe" {
					// [policy] is the template's last table.
					off := append(data, "attest = \"off\"\n"...)
					must(os.WriteFile(filepath.Join(*confOut, p+"-"+b+"-noattest.toml"), off, 0o644))
				}
			}
		}
	}
	if *runcSpec == "" || *podman == "" || *rootfs == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	userdata := *userdataDir
	if userdata == "" {
		userdata = filepath.Join(*out, "userdata")
	}
	must(os.MkdirAll(filepath.Join(userdata, "shm"), 0o755))
	for name, content := range map[string]string{
		"hosts":         "127.0.0.1 localhost\n",
		"hostname":      "bench\n",
		"resolv.conf":   "nameserver 127.0.0.1\n",
		".containerenv": "engine=\"podman\"\n",
	} {
		must(os.WriteFile(filepath.Join(userdata, name), []byte(content), 0o644))
	}
	rs, err := os.ReadFile(*runcSpec)
	must(err)
	pg, err := os.ReadFile(*podman)
	must(err)
	minimal, err := bench.Minimal(rs, *rootfs, *maxRlimit)
	must(err)
	pod, err := bench.Podman(pg, *rootfs, userdata, *maxRlimit)
	must(err)
	large, err := bench.Large(pod)
	must(err)
	for name, data := range map[string][]byte{"minimal": minimal, "podman": pod, "large": large} {
		p := filepath.Join(*out, name+".json")
		must(os.WriteFile(p, data, 0o644))
		fmt.Printf("prepare: %s %d bytes\n", p, len(data))
		// What secshim writes, per profile, where it changes anything: the
		// backend called directly on it separates secshim's own cost from
		// what the policy makes the backend do (e.g. load a seccomp filter).
		for _, prof := range bench.Profiles {
			h := filepath.Join(*out, name+"-"+prof+".hardened.json")
			os.Remove(h)
			hardened, err := bench.Hardened(prof, data, filepath.Join(*out, "hardened-state"))
			must(err)
			if hardened != nil {
				must(os.WriteFile(h, hardened, 0o644))
				fmt.Printf("prepare: %s %d bytes\n", h, len(hardened))
			}
		}
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "prepare:", err)
		os.Exit(1)
	}
}
