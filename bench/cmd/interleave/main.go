// Command interleave times whole command sequences (for example a
// container's create, start and delete) for several "arms" in interleaved
// rounds: every round runs each arm once, in a fresh random order, with an
// untimed reset before each run. On a shared, drifting machine this pairs
// every measurement of an arm with one of its reference taken moments
// apart, so the per-round differences cancel the drift that separate
// blocks (hyperfine's way) would add to the comparison.
//
//	interleave -plan plan.json -out result.json [-rounds N] [-warmup N] [-arms REGEXP]
//
// -arms keeps only the arms whose name matches (and the comparisons
// between kept arms): one case of a plan, e.g. -arms '^(runc|secshim-baseline-runc)$'.
//
// The plan (see Plan) names the arms, their steps and resets, and the
// comparisons to report: for each, the median of the per-round differences
// arm - ref with a distribution-free 95% confidence interval (binomial
// order statistics), and the median per-round ratio.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/secshim/secshim/bench/interleave"
)

// The plan and result formats are package interleave's: plans writes
// them, report reads them.
type (
	Plan       = interleave.Plan
	Arm        = interleave.Arm
	Step       = interleave.Step
	Copy       = interleave.Copy
	Comparison = interleave.Comparison
	Result     = interleave.Result
	Stat       = interleave.Stat
)

func main() {
	planPath := flag.String("plan", "", "plan JSON")
	outPath := flag.String("out", "", "result JSON (default: stdout)")
	rounds := flag.Int("rounds", 0, "override the plan's rounds")
	warmup := flag.Int("warmup", -1, "override the plan's warmup rounds")
	quiet := flag.Bool("q", false, "no progress on stderr")
	armsRe := flag.String("arms", "", "keep only the arms matching this regexp")
	flag.Parse()
	if *planPath == "" {
		fmt.Fprintln(os.Stderr, "usage: interleave -plan plan.json [-out result.json] [-rounds N] [-warmup N]")
		os.Exit(2)
	}
	data, err := os.ReadFile(*planPath)
	check(err)
	var p Plan
	check(json.Unmarshal(data, &p))
	if *rounds > 0 {
		p.Rounds = *rounds
	}
	if *warmup >= 0 {
		p.Warmup = *warmup
	}
	if *armsRe != "" {
		re, err := regexp.Compile(*armsRe)
		check(err)
		keep := map[string]bool{}
		var arms []Arm
		for _, a := range p.Arms {
			if re.MatchString(a.Name) {
				arms = append(arms, a)
				keep[a.Name] = true
			}
		}
		var cmp []Comparison
		for _, c := range p.Compare {
			if keep[c.Arm] && keep[c.Ref] {
				cmp = append(cmp, c)
			}
		}
		p.Arms, p.Compare = arms, cmp
	}
	if p.MaxFailures == 0 {
		p.MaxFailures = 3 + p.Rounds/10
	}
	res, err := run(&p, !*quiet)
	check(err)
	out, err := json.MarshalIndent(res, "", " ")
	check(err)
	if *outPath == "" {
		os.Stdout.Write(append(out, '\n'))
		return
	}
	check(os.WriteFile(*outPath, append(out, '\n'), 0o644))
	if !*quiet {
		printSummary(res)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "interleave:", err)
		os.Exit(1)
	}
}

type runner struct {
	devnull  *os.File
	errf     *os.File
	pristine map[string][]byte
}

func run(p *Plan, progress bool) (*Result, error) {
	if len(p.Arms) == 0 || p.Rounds <= 0 {
		return nil, fmt.Errorf("plan %s: no arms or no rounds", p.Name)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	errf, err := os.CreateTemp("", "interleave-stderr-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(errf.Name())
	r := &runner{devnull: devnull, errf: errf, pristine: map[string][]byte{}}
	for _, a := range p.Arms {
		for _, c := range a.Reset {
			if _, ok := r.pristine[c.From]; !ok {
				b, err := os.ReadFile(c.From)
				if err != nil {
					return nil, fmt.Errorf("arm %s: %w", a.Name, err)
				}
				r.pristine[c.From] = b
			}
		}
	}
	for _, argv := range p.Setup {
		if _, err := r.exec(argv, nil); err != nil {
			return nil, fmt.Errorf("setup %q: %w", argv, err)
		}
	}
	defer func() {
		for _, argv := range p.Teardown {
			r.exec(argv, nil)
		}
	}()

	res := &Result{Plan: *p, Started: time.Now().UTC(), Failures: map[string][]string{},
		Samples: map[string]map[string][]float64{}, Medians: map[string]map[string]float64{}}
	for _, a := range p.Arms {
		m := map[string][]float64{"total": {}}
		for _, s := range a.Steps {
			m[s.Name] = []float64{}
		}
		res.Samples[a.Name] = m
	}
	seed := p.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ec5))
	start := time.Now()
	pid := os.Getpid()
	for round := -p.Warmup; round < p.Rounds; round++ {
		for _, ai := range rng.Perm(len(p.Arms)) {
			a := &p.Arms[ai]
			id := fmt.Sprintf("sb%d-%d-%d", pid%100000, ai, round+p.Warmup)
			times, err := r.runArm(a, id)
			if round < 0 {
				if err != nil {
					return nil, fmt.Errorf("warmup: arm %s: %w", a.Name, err)
				}
				continue
			}
			m := res.Samples[a.Name]
			if err != nil {
				res.Failures[a.Name] = append(res.Failures[a.Name], fmt.Sprintf("round %d: %v", round, err))
				if len(res.Failures[a.Name]) > p.MaxFailures {
					return nil, fmt.Errorf("arm %s failed %d times, last: %v", a.Name, len(res.Failures[a.Name]), err)
				}
				for _, s := range a.Steps {
					m[s.Name] = append(m[s.Name], -1)
				}
				m["total"] = append(m["total"], -1)
				continue
			}
			total := 0.0
			for i, s := range a.Steps {
				m[s.Name] = append(m[s.Name], times[i])
				total += times[i]
			}
			m["total"] = append(m["total"], total)
		}
		if round >= 0 {
			res.Rounds = round + 1
		}
		if progress && (round+1)%10 == 0 && round >= 0 {
			fmt.Fprintf(os.Stderr, "\r%s: round %d/%d (%.0fs)", p.Name, round+1, p.Rounds, time.Since(start).Seconds())
		}
	}
	if progress {
		fmt.Fprintln(os.Stderr)
	}
	res.Seconds = time.Since(start).Seconds()
	for arm, steps := range res.Samples {
		res.Medians[arm] = map[string]float64{}
		for s, v := range steps {
			res.Medians[arm][s] = median(valid(v))
		}
	}
	for _, c := range p.Compare {
		am, ok1 := res.Samples[c.Arm]
		rm, ok2 := res.Samples[c.Ref]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("compare %s vs %s: unknown arm", c.Arm, c.Ref)
		}
		steps := c.Steps
		if len(steps) == 0 {
			steps = []string{"total"}
			for _, s := range armByName(p, c.Arm).Steps {
				if _, ok := rm[s.Name]; ok && len(armByName(p, c.Arm).Steps) > 1 {
					steps = append(steps, s.Name)
				}
			}
		}
		for _, s := range steps {
			res.Stats = append(res.Stats, compare(c.Arm, c.Ref, s, am[s], rm[s]))
		}
	}
	return res, nil
}

func armByName(p *Plan, name string) *Arm {
	for i := range p.Arms {
		if p.Arms[i].Name == name {
			return &p.Arms[i]
		}
	}
	return nil
}

// runArm resets, then times each step; on failure it cleans up.
func (r *runner) runArm(a *Arm, id string) ([]float64, error) {
	for _, c := range a.Reset {
		data := []byte(strings.ReplaceAll(string(r.pristine[c.From]), "{id}", id))
		os.Remove(c.To)
		if err := os.WriteFile(c.To, data, 0o644); err != nil {
			return nil, err
		}
	}
	for _, d := range a.Clean {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			os.RemoveAll(filepath.Join(d, e.Name()))
		}
	}
	times := make([]float64, len(a.Steps))
	for i, s := range a.Steps {
		argv := subst(s.Argv, id)
		d, err := r.exec(argv, a.Env)
		if err != nil {
			for _, c := range a.Cleanup {
				r.exec(subst(c, id), a.Env)
			}
			return nil, fmt.Errorf("step %s: %w", s.Name, err)
		}
		times[i] = float64(d.Nanoseconds()) / 1e6
	}
	return times, nil
}

func subst(argv []string, id string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, "{id}", id)
	}
	return out
}

// exec runs argv with stdin and stdout on /dev/null and stderr in a file
// read only on failure; it returns the wall time from fork to reaped exit.
func (r *runner) exec(argv []string, extra []string) (time.Duration, error) {
	env := os.Environ()
	if len(extra) > 0 { // extra wins: drop the inherited variables it sets
		set := map[string]bool{}
		for _, kv := range extra {
			k, _, _ := strings.Cut(kv, "=")
			set[k] = true
		}
		kept := env[:0:0]
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); !set[k] {
				kept = append(kept, kv)
			}
		}
		env = append(kept, extra...)
	}
	r.errf.Truncate(0)
	r.errf.Seek(0, 0)
	attr := &os.ProcAttr{Env: env, Files: []*os.File{r.devnull, r.devnull, r.errf}}
	t0 := time.Now()
	proc, err := os.StartProcess(argv[0], argv, attr)
	if err != nil {
		return 0, err
	}
	st, err := proc.Wait()
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if !st.Success() {
		msg, _ := os.ReadFile(r.errf.Name())
		return 0, fmt.Errorf("%s: %v: %s", filepath.Base(argv[0]), st, strings.TrimSpace(lastLines(string(msg), 3)))
	}
	_ = st.Sys().(syscall.WaitStatus)
	return d, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func valid(v []float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if x >= 0 {
			out = append(out, x)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0 // JSON has no NaN; n says there was nothing
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// compare pairs the rounds where both arms succeeded.
func compare(arm, ref, step string, a, b []float64) Stat {
	var d, rat, av, bv []float64
	for i := range a {
		if i >= len(b) || a[i] < 0 || b[i] < 0 {
			continue
		}
		d = append(d, a[i]-b[i])
		rat = append(rat, a[i]/b[i])
		av = append(av, a[i])
		bv = append(bv, b[i])
	}
	lo, hi := medianCI(d)
	return Stat{Arm: arm, Ref: ref, Step: step, N: len(d), MedianDiff: round3(median(d)),
		CI95: [2]float64{round3(lo), round3(hi)}, MedianRat: round4(median(rat)),
		ArmMedian: round3(median(av)), RefMedian: round3(median(bv))}
}

// medianCI is the distribution-free confidence interval of the median:
// the order statistics d(k) and d(n+1-k), k the largest with
// P(Binomial(n, 1/2) < k) <= 2.5%.
func medianCI(v []float64) (float64, float64) {
	n := len(v)
	if n == 0 {
		return 0, 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if n < 6 { // too few for 95%: the range
		return s[0], s[n-1]
	}
	// cumulative binomial(n, 0.5) in log space
	k := 0
	cum := 0.0
	for j := 0; j < n; j++ {
		lp := lgammaInt(n+1) - lgammaInt(j+1) - lgammaInt(n-j+1) - float64(n)*math.Ln2
		if cum+math.Exp(lp) > 0.025 {
			break
		}
		cum += math.Exp(lp)
		k = j + 1
	}
	if k < 1 {
		k = 1
	}
	return s[k-1], s[n-k]
}

func lgammaInt(n int) float64 { v, _ := math.Lgamma(float64(n)); return v }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

func printSummary(res *Result) {
	fmt.Fprintf(os.Stderr, "%s: %d rounds in %.0fs\n", res.Plan.Name, res.Rounds, res.Seconds)
	for _, s := range res.Stats {
		fmt.Fprintf(os.Stderr, "  %-28s - %-16s %-7s %+7.2f ms [%+.2f, %+.2f]  x%.3f  (%.1f vs %.1f ms, n=%s)\n",
			s.Arm, s.Ref, s.Step, s.MedianDiff, s.CI95[0], s.CI95[1], s.MedianRat, s.ArmMedian, s.RefMedian, strconv.Itoa(s.N))
	}
	for a, f := range res.Failures {
		fmt.Fprintf(os.Stderr, "  %s: %d failures, e.g. %s\n", a, len(f), f[0])
	}
}
