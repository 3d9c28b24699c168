package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultTimeout bounds one podman command run by a Podman helper.
const DefaultTimeout = 3 * time.Minute

// Podman runs podman with the test containers.conf (CONTAINERS_CONF=...).
// A Podman is cheap to copy: the With* methods return modified copies.
type Podman struct {
	t testing.TB

	// Prefix is put before the podman binary, e.g. nsenter into the crun
	// mount namespace (see In).
	Prefix []string
	// Path is the podman binary.
	Path string
	// Global are podman global options put before the subcommand, e.g.
	// "--runtime", "crun".
	Global []string
	// Env is the complete environment of the podman process.
	Env []string
	// Timeout bounds each command; 0 means DefaultTimeout.
	Timeout time.Duration
	// Quiet turns off the t.Logf of each command and its result.
	Quiet bool
	// Dir is podman's working directory: conmon writes a file "oom" into
	// its own when a container is OOM-killed, which must not land in the
	// repository.
	Dir string
}

func (p *Podman) clone() *Podman {
	c := *p
	c.Prefix = append([]string(nil), p.Prefix...)
	c.Global = append([]string(nil), p.Global...)
	c.Env = append([]string(nil), p.Env...)
	return &c
}

// With returns a copy of p that passes the given podman global options, e.g.
// p.With("--log-level=debug").
func (p *Podman) With(global ...string) *Podman {
	c := p.clone()
	c.Global = append(c.Global, global...)
	return c
}

// WithRuntime returns a copy of p using OCI runtime name (a key of
// [engine.runtimes]: "runc", "crun", "runsc" or "secshim") and passing each of
// runtimeFlags as "--runtime-flag FLAG" (podman then gives it to every runtime
// call as "--FLAG"). For gVisor here: WithRuntime("runsc", "network=none"),
// plus "oci-seccomp" to make runsc apply config.json's seccomp.
func (p *Podman) WithRuntime(name string, runtimeFlags ...string) *Podman {
	c := p.With("--runtime", name)
	for _, f := range runtimeFlags {
		c.Global = append(c.Global, "--runtime-flag", f)
	}
	return c
}

// WithEnv returns a copy of p with extra KEY=VALUE environment entries
// (replacing existing keys). Remember that the OCI runtime does not see them.
func (p *Podman) WithEnv(kv ...string) *Podman {
	c := p.clone()
	for _, e := range kv {
		k, _, _ := strings.Cut(e, "=")
		c.Env = setEnv(c.Env, k, e[len(k)+1:])
	}
	return c
}

// In returns a copy of p that runs podman inside the crun mount namespace ns
// (nsenter --mount=...). When the host needs no namespace for crun, ns has an
// empty prefix and p is returned unchanged.
func (p *Podman) In(ns *CrunNS) *Podman {
	c := p.clone()
	c.Prefix = append(ns.Prefix(), c.Prefix...)
	return c
}

// Command returns the exec.Cmd that runs podman with args (after the global
// options), for callers that need stdin or streaming.
func (p *Podman) Command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append(append(append(append([]string(nil), p.Prefix...), p.Path), p.Global...), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = p.Env
	cmd.Dir = p.Dir
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Run runs podman with args and returns its stdout, stderr and exit status.
// exit is -1 when podman could not be started or was killed on timeout (the
// reason is then appended to stderr). Output goes through files, not pipes,
// so a conmon that inherits them cannot make Run hang.
func (p *Podman) Run(args ...string) (stdout, stderr string, exit int) {
	if p.t != nil {
		p.t.Helper()
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := p.Command(ctx, args...)
	outF, err1 := os.CreateTemp("", "testenv-podman-out-")
	errF, err2 := os.CreateTemp("", "testenv-podman-err-")
	if err := errors.Join(err1, err2); err != nil {
		return "", "testenv: " + err.Error(), -1
	}
	defer os.Remove(outF.Name())
	defer os.Remove(errF.Name())
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	start := time.Now()
	runErr := cmd.Run()
	o, _ := os.ReadFile(outF.Name())
	e, _ := os.ReadFile(errF.Name())
	stdout, stderr = string(o), string(e)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		exit = -1
		stderr += fmt.Sprintf("\ntestenv: podman killed after timeout %v", timeout)
	case runErr == nil:
		exit = 0
	case errors.As(runErr, &ee):
		exit = ee.ExitCode()
	default:
		exit = -1
		stderr += "\ntestenv: " + runErr.Error()
	}
	if p.t != nil && !p.Quiet {
		p.t.Logf("$ %s  [exit %d, %v]%s%s", shellJoin(cmd.Args), exit,
			time.Since(start).Round(time.Millisecond), indent("stdout", stdout), indent("stderr", stderr))
	}
	return stdout, stderr, exit
}

// MustRun is Run that fails the test unless podman exits 0; it returns stdout
// with surrounding white space trimmed.
func (p *Podman) MustRun(args ...string) string {
	p.t.Helper()
	out, errOut, code := p.Run(args...)
	if code != 0 {
		p.t.Fatalf("podman %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// RemoveOnCleanup registers a t.Cleanup that force-removes the named
// containers (podman rm -f -t 0), ignoring errors.
func (p *Podman) RemoveOnCleanup(names ...string) {
	q := p.clone()
	q.Quiet = true
	q.Timeout = time.Minute
	p.t.Cleanup(func() {
		for _, n := range names {
			q.Run("rm", "-f", "-t", "0", n)
		}
	})
}

var nameSeq atomic.Int64

// Name returns a container name unique to this test process and call, with a
// recognisable prefix: secshim-test-<pid>-<n>.
func Name() string {
	return fmt.Sprintf("secshim-test-%d-%d", os.Getpid(), nameSeq.Add(1))
}

func setEnv(env []string, key, value string) []string {
	out := env[:0:0]
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k != key {
			out = append(out, e)
		}
	}
	return append(out, key+"="+value)
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func indent(label, s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	const max = 4000
	if len(s) > max {
		s = s[:max] + fmt.Sprintf("... (%d more bytes)", len(s)-max)
	}
	return "\n  " + label + ": " + strings.ReplaceAll(s, "\n", "\n    ")
}
