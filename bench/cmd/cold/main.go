// Command cold times each stage of secshim's create path in a fresh
// process: the first call pays one-off costs (reflection caches, lazily
// built tables, page faults on code and data never touched before) that a
// testing.B loop amortises away, and a real secshim call pays them every
// time, since every call is a fresh process.
//
//	cold -n 100 -config conf.toml -spec config.json -dir DIR [-label L] > stages.json
//
// The parent re-executes itself -n times; each child runs bench.CreatePath
// (secshim's own packages, in create's order) once cold, then again warm
// on a fresh copy of the spec, and reports both.
//
// With -inittrace BINARY it instead runs BINARY --version n times under
// GODEBUG=inittrace=1 and reports the median init time of each package:
// the part of the process start that runs before main.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/secshim/secshim/bench"
)

type childResult struct {
	Cold    map[string]float64 `json:"cold_us"`
	Warm    map[string]float64 `json:"warm_us"`
	Wrote   bool               `json:"wrote_spec"`
	Size    int                `json:"spec_bytes"`
	Changes int                `json:"changes"`
}

// Summary is what the parent prints.
type Summary struct {
	Label   string             `json:"label"`
	Config  string             `json:"config"`
	Spec    string             `json:"spec"`
	N       int                `json:"n"`
	Size    int                `json:"spec_bytes"`
	Wrote   bool               `json:"wrote_spec"`
	Changes int                `json:"changes"`
	Stages  []string           `json:"stages"`
	Cold    map[string]float64 `json:"cold_median_us"`
	Warm    map[string]float64 `json:"warm_median_us"`
	ColdP90 map[string]float64 `json:"cold_p90_us"`
}

func main() {
	n := flag.Int("n", 50, "fresh processes")
	cfgPath := flag.String("config", "", "secshim config (TOML)")
	specPath := flag.String("spec", "", "pristine config.json")
	dir := flag.String("dir", "", "scratch directory (bundles)")
	label := flag.String("label", "", "label for the summary")
	child := flag.Bool("child", false, "internal: run the stages once cold, once warm")
	initBin := flag.String("inittrace", "", "binary to run with GODEBUG=inittrace=1")
	flag.Parse()
	if *initBin != "" {
		initTrace(*initBin, *n)
		return
	}
	if *cfgPath == "" || *specPath == "" || *dir == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *child {
		res, err := runChild(*cfgPath, *specPath, *dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cold:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	stages := append(append([]string{}, bench.Stages...), "total")
	sum := Summary{Label: *label, Config: *cfgPath, Spec: *specPath, N: *n, Stages: stages,
		Cold: map[string]float64{}, Warm: map[string]float64{}, ColdP90: map[string]float64{}}
	cold := map[string][]float64{}
	warm := map[string][]float64{}
	self, _ := os.Executable()
	for i := 0; i < *n; i++ {
		cmd := exec.Command(self, "-child", "-config", *cfgPath, "-spec", *specPath, "-dir", *dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "cold: child:", err)
			os.Exit(1)
		}
		var r childResult
		if err := json.Unmarshal(out, &r); err != nil {
			fmt.Fprintln(os.Stderr, "cold:", err)
			os.Exit(1)
		}
		for k, v := range r.Cold {
			cold[k] = append(cold[k], v)
		}
		for k, v := range r.Warm {
			warm[k] = append(warm[k], v)
		}
		sum.Wrote, sum.Size, sum.Changes = r.Wrote, r.Size, r.Changes
	}
	for k := range cold {
		sum.Cold[k] = round1(quantile(cold[k], 0.5))
		sum.ColdP90[k] = round1(quantile(cold[k], 0.9))
		sum.Warm[k] = round1(quantile(warm[k], 0.5))
	}
	b, _ := json.MarshalIndent(sum, "", " ")
	os.Stdout.Write(append(b, '\n'))
}

// runChild runs the create path twice in this fresh process: cold, warm.
func runChild(cfgPath, specPath, dir string) (*childResult, error) {
	os.Setenv("SECSHIM_CONFIG", cfgPath)
	pristine, err := os.ReadFile(specPath)
	if err != nil {
		return nil, err
	}
	res := &childResult{Size: len(pristine)}
	for pass := 0; pass < 2; pass++ {
		bundle := filepath.Join(dir, fmt.Sprintf("bundle-%d-%d", os.Getpid(), pass))
		if err := os.MkdirAll(bundle, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), pristine, 0o644); err != nil {
			return nil, err
		}
		id := fmt.Sprintf("cold-%d-%d", os.Getpid(), pass)
		r, err := bench.CreatePath(bench.CreateArgs(filepath.Join(dir, "runroot"), filepath.Join(dir, "engine.log"), bundle, id))
		os.RemoveAll(bundle)
		if err != nil {
			return nil, err
		}
		us := map[string]float64{}
		total := 0.0
		for k, d := range r.Times {
			us[k] = float64(d.Nanoseconds()) / 1e3
			total += us[k]
		}
		us["total"] = total
		if pass == 0 {
			res.Cold, res.Wrote, res.Changes = us, r.Wrote, r.Changes
		} else {
			res.Warm = us
		}
	}
	return res, nil
}

var initLine = regexp.MustCompile(`^init (\S+) @\S+ ms, ([0-9.]+) ms clock, (\d+) bytes, (\d+) allocs`)

// initTrace reports each package's median init time.
func initTrace(bin string, n int) {
	per := map[string][]float64{}
	allocs := map[string]float64{}
	var totals []float64
	for i := 0; i < n; i++ {
		cmd := exec.Command(bin, "--version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run() // the backend's --version may fail; init ran anyway
		total := 0.0
		sc := bufio.NewScanner(&stderr)
		for sc.Scan() {
			m := initLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			ms, _ := strconv.ParseFloat(m[2], 64)
			a, _ := strconv.ParseFloat(m[4], 64)
			per[m[1]] = append(per[m[1]], ms*1000)
			allocs[m[1]] = a
			total += ms * 1000
		}
		totals = append(totals, total)
	}
	type pkg struct {
		Name   string  `json:"package"`
		Us     float64 `json:"median_us"`
		Allocs float64 `json:"allocs"`
	}
	var pkgs []pkg
	for name, v := range per {
		pkgs = append(pkgs, pkg{name, round1(quantile(v, 0.5)), allocs[name]})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Us > pkgs[j].Us })
	out := map[string]any{"binary": bin, "n": n, "total_median_us": round1(quantile(totals, 0.5)), "packages": pkgs}
	b, _ := json.MarshalIndent(out, "", " ")
	os.Stdout.Write(append(b, '\n'))
}

func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
