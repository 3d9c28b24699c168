// Package interleave is the format of the benchmark's interleaved
// experiments: the plan bench/cmd/plans writes and bench/cmd/interleave
// runs, and the result the driver writes and bench/cmd/report reads.
package interleave

import "time"

// Plan is one interleaved experiment.
type Plan struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Rounds      int          `json:"rounds"`
	Warmup      int          `json:"warmup"`
	Seed        uint64       `json:"seed"`
	Setup       [][]string   `json:"setup,omitempty"`    // run once before the rounds, must succeed
	Teardown    [][]string   `json:"teardown,omitempty"` // run once after, failures ignored
	Arms        []Arm        `json:"arms"`
	Compare     []Comparison `json:"compare"`
	// MaxFailures aborts the plan when an arm fails more often.
	MaxFailures int `json:"max_failures,omitempty"`
}

// Arm is one way of doing the timed work.
type Arm struct {
	Name string `json:"name"`
	// Env is added to the driver's environment for the steps (K=V).
	Env []string `json:"env,omitempty"`
	// Reset runs before every timed run, untimed: files are rewritten from
	// their pristine copies ("{id}" in their content replaced).
	Reset []Copy `json:"reset,omitempty"`
	// Clean lists directories emptied before every run, untimed (for
	// example secshim's state directory, when no delete follows).
	Clean []string `json:"clean,omitempty"`
	// Steps are timed, in order; "{id}" in an argument is the run's
	// container ID.
	Steps []Step `json:"steps"`
	// Cleanup runs (untimed, failures ignored) after a failed run, to
	// leave no container behind.
	Cleanup [][]string `json:"cleanup,omitempty"`
}

// Step is one timed command.
type Step struct {
	Name string   `json:"name"`
	Argv []string `json:"argv"`
}

// Copy rewrites To from From before a run.
type Copy struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Comparison asks for arm - ref, over the given steps ("total" is the sum).
type Comparison struct {
	Arm   string   `json:"arm"`
	Ref   string   `json:"ref"`
	Steps []string `json:"steps,omitempty"` // default: total and every step
}

// Result is what the driver writes.
type Result struct {
	Plan     Plan                            `json:"plan"`
	Started  time.Time                       `json:"started"`
	Seconds  float64                         `json:"seconds"`
	Rounds   int                             `json:"rounds_done"`
	Failures map[string][]string             `json:"failures,omitempty"`
	Samples  map[string]map[string][]float64 `json:"samples_ms"` // arm -> step ("total" too) -> per round, -1 = failed
	Medians  map[string]map[string]float64   `json:"medians_ms"`
	Stats    []Stat                          `json:"stats"`
}

// Stat is one comparison over one step.
type Stat struct {
	Arm        string     `json:"arm"`
	Ref        string     `json:"ref"`
	Step       string     `json:"step"`
	N          int        `json:"n"`
	MedianDiff float64    `json:"median_diff_ms"`
	CI95       [2]float64 `json:"ci95_ms"`
	MedianRat  float64    `json:"median_ratio"`
	ArmMedian  float64    `json:"arm_median_ms"`
	RefMedian  float64    `json:"ref_median_ms"`
}
