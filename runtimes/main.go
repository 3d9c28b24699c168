// Package runtimes is secshim as an OCI runtime: it parses the command
// line engines give runc, hardens what the verb is about to run, and hands
// off to the chosen backend.
package runtimes

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/hardening"
)

// Version and Commit are set at build time (see the Makefile).
var (
	Version = "dev"
	Commit  = "unknown"
)

// specVersion is the OCI runtime-spec version secshim's types follow.
const specVersion = "1.3.0"

// Main runs one secshim invocation and returns its exit status; on
// success it never returns, because the backend replaces the process.
func Main(argv0 string, args []string) int {
	fam := FamilyRunc
	if strings.Contains(filepath.Base(argv0), "runsc") {
		fam = FamilyRunsc
	}
	if len(args) > 0 && isAdminVerb(args[0]) {
		return adminMain(args)
	}
	inv, err := Parse(args, fam)
	if err != nil {
		return fail(logTargetOf(args), err)
	}
	log := engineLog{}
	log.path, _ = inv.Global("log")
	log.format, _ = inv.Global("log-format")

	if err := fastPassThrough(inv); err != nil {
		return fail(log, err)
	}
	cfg, err := LoadConfig()
	if err != nil {
		return fail(log, err)
	}
	SyslogSocket = cfg.Log.syslogSocket()
	r := &call{cfg: cfg, inv: inv, log: log}
	if err := r.dispatch(); err != nil {
		if r.logged == nil {
			LogDecision(cfg, Decision{ID: inv.ID, Verb: inv.Verb, Backend: r.backendName(), Error: err.Error()})
		}
		return fail(log, err)
	}
	return 0
}

// fail refuses the call: the reason goes to stderr and to the engine's
// log, where Podman reads it to show the user.
func fail(log engineLog, err error) int {
	msg := strings.TrimPrefix(err.Error(), "secshim: ")
	fmt.Fprintln(os.Stderr, "secshim: "+msg)
	// Engines put the runtime's name before what its log says (Podman:
	// "OCI runtime error: secshim: ..."), as they do for runc's.
	log.errorLine(msg)
	return 1
}

// logTargetOf finds --log and --log-format in an argument list that did
// not parse, only to report that failure where the engine looks.
func logTargetOf(args []string) engineLog {
	var l engineLog
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if !strings.HasPrefix(args[i], "-") {
			break
		}
		name, val, hasVal := strings.Cut(a, "=")
		if !hasVal && i+1 < len(args) {
			val = args[i+1]
		}
		switch name {
		case "log":
			l.path = val
		case "log-format":
			l.format = val
		}
	}
	return l
}

// call is one invocation being served.
type call struct {
	cfg     *Config
	inv     *Invocation
	log     engineLog
	backend *Backend
	logged  *Decision
}

func (r *call) backendName() string {
	if r.backend == nil {
		return ""
	}
	return r.backend.Name
}

func (r *call) dispatch() error {
	if r.inv.HelpOnly() && r.inv.Verb != "" {
		return r.passThrough()
	}
	switch r.inv.Verb {
	case "":
		if _, ok := r.inv.Global("version"); ok {
			return r.version()
		}
		return r.passThrough()
	case "create", "run", "restore":
		return r.create()
	case "exec":
		return r.exec()
	case "update":
		return r.update()
	case "delete":
		return r.delete()
	}
	return r.passThrough()
}

// record finds the container's sticky record; without one (a container
// created before secshim, or a lost record) the default backend serves.
func (r *call) record() (*Record, error) {
	if r.inv.ID != "" {
		root, _ := r.inv.Global("root")
		rec, ok, err := loadRecord(RecordPath(r.cfg.StateDir, root, r.inv.ID))
		if err != nil {
			return nil, err
		}
		if ok {
			r.backend = &rec.Backend
			return rec, nil
		}
	}
	b, err := r.cfg.Backend("")
	if err != nil {
		return nil, err
	}
	r.backend = b
	return nil, nil
}

func (r *call) handOff() error {
	if r.cfg.Log.Level == "debug" && r.logged == nil {
		LogDecision(r.cfg, Decision{ID: r.inv.ID, Verb: r.inv.Verb, Backend: r.backend.Name})
	}
	argv, err := r.backendArgv()
	if err != nil {
		return err
	}
	return execBackend(r.backend, argv)
}

// backendArgv is the argument list for the backend. When the backend
// parses flags differently from the dialect secshim read them in (runsc's
// Go flags against runc's), the list is read again the backend's way, and
// refused if that changes the verb or the container.
func (r *call) backendArgv() ([]string, error) {
	argv := r.inv.ArgvWith(r.backend.Args)
	fam := r.backend.Family()
	if fam == r.inv.Family {
		return argv, nil
	}
	again, err := Parse(argv, fam)
	if err != nil {
		return nil, fmt.Errorf("backend %s reads these arguments differently: %w", r.backend.Name, err)
	}
	if again.Verb != r.inv.Verb || again.ID != r.inv.ID {
		return nil, fmt.Errorf("backend %s would read verb %q for container %q from these arguments", r.backend.Name, again.Verb, again.ID)
	}
	return argv, nil
}

func (r *call) passThrough() error {
	rec, err := r.record()
	if err != nil {
		return err
	}
	if r.inv.Verb == "start" && rec.attestsAtStart() {
		return r.startAttested(rec)
	}
	return r.handOff()
}

// version prints secshim's version in the shape Docker parses, then the
// default backend's own.
func (r *call) version() error {
	b, err := r.cfg.Backend("")
	if err != nil {
		return err
	}
	r.backend = b
	fmt.Fprintf(os.Stdout, "secshim version %s\ncommit: %s\nspec: %s\nbackend: %s\n", Version, Commit, specVersion, b.Path)
	return execBackend(b, []string{"--version"})
}

// delete: the record (and the SELinux pair) may only go once the backend
// really deleted the container. Where secshim can tell that afterwards
// (Backend.stateRoot) and no pair is reserved, the record becomes a tombstone and
// delete is an exec; otherwise the backend runs as a child, its exit
// status becomes ours, and the record goes after it.
func (r *call) delete() error {
	rec, err := r.record()
	if err != nil {
		return err
	}
	if rec == nil {
		return r.handOff()
	}
	root, _ := r.inv.Global("root")
	path := RecordPath(r.cfg.StateDir, root, r.inv.ID)
	if done, err := tombstone(r.cfg.StateDir, root, path, r.backend, r.inv.ID); err != nil {
		return err
	} else if done {
		return r.handOff()
	}
	code, err := runChild(r.backend, r.inv.ArgvWith(r.backend.Args))
	if err != nil {
		return err
	}
	if code != 0 {
		os.Exit(code)
	}
	os.Remove(path)
	os.Remove(tombPath(path))
	if err := hardening.ReleaseMCS(r.cfg.StateDir, r.inv.ID); err != nil {
		fmt.Fprintf(os.Stderr, "secshim: warning: %v\n", err)
	}
	os.Exit(0)
	return nil
}

// runChild runs the backend as a child with this process's stdio,
// forwarding the signals an engine sends, and returns its exit status
// (128+N when a signal killed it). syscall.ForkExec rather than os/exec:
// the first os.StartProcess in a process forks a throwaway child to check
// pidfd support, a cost on every attested start.
func runChild(b *Backend, argv []string) (int, error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	pid, err := syscall.ForkExec(b.Path, append([]string{b.Path}, argv...),
		&syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		return 0, fmt.Errorf("exec %s: %w", b.Path, err)
	}
	// Signals go by pid only while the child is unreaped (its pid cannot
	// be reused before): wait with WNOWAIT, stop forwarding, then reap.
	done, forwarded := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case s := <-sigs:
				syscall.Kill(pid, s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	var info unix.Siginfo
	for {
		err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	close(done)
	<-forwarded
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("wait %s: %w", b.Path, err)
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
