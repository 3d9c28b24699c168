// Command rss measures memory and residency.
//
//	rss measure -helper MAXRSS -n N [-reset FROM:TO] [-env K=V]... -- ARGV...
//
// runs ARGV N times ("{id}" replaced by a fresh ID, FROM copied over TO
// before each run) under the static C helper bench/c/maxrss.c, and
// reports the peak resident set size the kernel accounts to it (ru_maxrss
// from wait4). A process that exec'd keeps the larger peak of both images,
// so to see secshim's own peak give it a backend that is smaller than
// itself (bench/c/exit0.c); and a forked child starts with its parent's
// pages, hence the small C parent.
//
//	rss scan EXE
//
// lists the processes whose executable is EXE (by /proc/PID/exe), to show
// that nothing of secshim stays resident once the backend runs.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "measure":
		measure(os.Args[2:])
	case "scan":
		if len(os.Args) != 3 {
			usage()
		}
		scan(os.Args[2])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: rss measure -n N [-reset FROM:TO] [-env K=V]... -- ARGV... | rss scan EXE")
	os.Exit(2)
}

func measure(args []string) {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	n := fs.Int("n", 20, "runs")
	reset := fs.String("reset", "", "FROM:TO copied before each run")
	label := fs.String("label", "", "label")
	helper := fs.String("helper", "", "the maxrss helper (bench/c/maxrss.c)")
	var env multi
	fs.Var(&env, "env", "K=V added to the environment (repeatable)")
	fs.Parse(args)
	argv := fs.Args()
	if len(argv) == 0 || *helper == "" {
		usage()
	}
	var pristine []byte
	var from, to string
	if *reset != "" {
		var ok bool
		from, to, ok = strings.Cut(*reset, ":")
		if !ok {
			usage()
		}
		var err error
		if pristine, err = os.ReadFile(from); err != nil {
			die(err)
		}
	}
	var kb []float64
	for i := 0; i < *n; i++ {
		id := fmt.Sprintf("rss%d-%d", os.Getpid()%100000, i)
		if pristine != nil {
			os.Remove(to)
			if err := os.WriteFile(to, []byte(strings.ReplaceAll(string(pristine), "{id}", id)), 0o644); err != nil {
				die(err)
			}
		}
		a := []string{*helper}
		for _, s := range argv {
			a = append(a, strings.ReplaceAll(s, "{id}", id))
		}
		cmd := exec.Command(a[0], a[1:]...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			die(fmt.Errorf("%s: %v", argv[0], err))
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			die(err)
		}
		kb = append(kb, v)
	}
	sort.Float64s(kb)
	out := map[string]any{"label": *label, "argv": argv, "n": *n,
		"maxrss_median_kb": kb[len(kb)/2], "maxrss_max_kb": kb[len(kb)-1], "maxrss_min_kb": kb[0]}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func scan(exe string) {
	target, err := filepath.EvalSymlinks(exe)
	if err != nil {
		die(err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		die(err)
	}
	type proc struct {
		PID  int    `json:"pid"`
		Comm string `json:"comm"`
	}
	found := []proc{}
	total := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		total++
		l, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil {
			continue
		}
		if strings.TrimSuffix(l, " (deleted)") == target {
			comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
			found = append(found, proc{pid, strings.TrimSpace(string(comm))})
		}
	}
	b, _ := json.Marshal(map[string]any{"exe": target, "processes_scanned": total, "resident": found, "count": len(found)})
	fmt.Println(string(b))
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "rss:", err)
	os.Exit(1)
}
