package runtimes

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/secshim/secshim/hardening"
	"github.com/secshim/secshim/spec"
)

// create hardens the bundle's config.json (create, run and restore), then
// records the backend and what the container was allowed. Nothing is
// written until every check has passed, so a refusal leaves the bundle
// byte-identical.
func (r *call) create() error {
	cwd := CurrentWorkDir()
	path, err := r.inv.SpecPath(cwd)
	if err != nil {
		return err
	}
	f, err := spec.Load(path)
	if err != nil {
		return err
	}
	sel, err := r.cfg.Select(f.Root)
	if err != nil {
		d := Decision{ID: r.inv.ID, Verb: r.inv.Verb}
		d.hashSpec(f.Orig, f.Orig)
		return r.refuse(&d, fmt.Errorf("%s: %w", path, err))
	}
	if r.backend, err = r.cfg.Backend(sel.Backend); err != nil {
		return err
	}
	d := Decision{ID: r.inv.ID, Verb: r.inv.Verb, Backend: r.backend.Name, Profile: sel.Profile.Name}
	r.logged = &d
	// Any failure from here on refuses the container, logged, with no
	// SELinux pair left reserved for it and config.json as it was.
	refuse := func(err error) error {
		hardening.ReleaseMCS(r.cfg.StateDir, r.inv.ID)
		d.Attest = nil
		d.hashSpec(f.Orig, f.Orig)
		return r.refuse(&d, fmt.Errorf("%s: %w", path, err))
	}
	res, err := sel.Harden(f.Root, hardening.Env{ContainerID: r.inv.ID, StateDir: r.cfg.StateDir})
	if err == nil {
		err = r.checkCgroupManager(sel.Profile)
	}
	if err != nil {
		return refuse(err)
	}
	d.Changes = res.Changes
	root, _ := r.inv.Global("root")
	rootMapped, _ := res.State[hardening.RootMappedState].(bool)
	// The poststart hook that attests the running process (attest.go).
	var promise []string
	if d.Attest, promise, err = r.injectAttest(f.Root, sel.Profile, res, &d); err != nil {
		return refuse(fmt.Errorf("attestation: %w", err))
	}
	rec := &Record{Backend: *r.backend, Profile: sel.Profile.Name, Caps: res.Caps, NoNewPrivileges: res.NoNewPrivileges, RootMapped: rootMapped}
	if promise != nil {
		rec.Attest, rec.Promise = d.Attest.Mode, promise
		if pf, ok := r.inv.Flag("pid-file"); ok && pf != "" {
			if rec.PidFile, err = cwd.Resolve(pf); err != nil {
				return refuse(err)
			}
		}
	}
	if err := SaveRecord(RecordPath(r.cfg.StateDir, root, r.inv.ID), rec); err != nil {
		return refuse(err)
	}
	if err := saveSpec(f, &d); err != nil {
		return refuse(err)
	}
	LogDecision(r.cfg, d)
	return r.handOff()
}

// checkCgroupManager refuses `--cgroup-manager disabled` (Podman's
// --cgroups=disabled, passed because secshim is listed in
// runtime_supports_nocgroup) where it would drop the policy's resource
// limits, or where the backend does not know the flag.
func (r *call) checkCgroupManager(p *hardening.Policy) error {
	if m, _ := r.inv.Global("cgroup-manager"); m != "disabled" {
		return nil
	}
	if p.Pids != (hardening.Limit{}) || p.Memory.Limit() != (hardening.Limit{}) {
		return fmt.Errorf("--cgroup-manager disabled (podman --cgroups=disabled) would drop the policy's pids and memory limits")
	}
	if !r.backend.runsWithoutCgroups() {
		return fmt.Errorf("--cgroup-manager disabled: backend %s does not support running without cgroups", r.backend.Name)
	}
	return nil
}

// recordedProfile is the container's record and the profile it was
// created with (the default profile for a container without a record).
func (r *call) recordedProfile() (*Record, *hardening.Policy, error) {
	rec, err := r.record()
	if err != nil {
		return nil, nil, err
	}
	p, err := r.cfg.profileNamed(rec.profile())
	return rec, p, err
}

// exec clamps a process joining a running container to what the container
// itself was allowed at create, in both forms engines use: a --process
// file, and inline flags.
func (r *call) exec() error {
	rec, p, err := r.recordedProfile()
	if err != nil {
		return err
	}
	limit := p.AllowedCaps()
	if rec != nil {
		limit &= rec.Caps
	}
	d := Decision{ID: r.inv.ID, Verb: "exec", Backend: r.backend.Name, Profile: p.Name}
	r.logged = &d
	if path, ok := r.inv.Flag("process"); ok {
		f, err := spec.Load(path)
		if err != nil {
			return err
		}
		changes, err := hardening.HardenProcess(p, limit, rec.rootMapped(), f.Root)
		if p.PassThrough {
			changes, err = nil, nil
		}
		d.Changes = changes
		if err != nil {
			d.hashSpec(f.Orig, f.Orig)
			return r.refuse(&d, fmt.Errorf("%s: %w", path, err))
		}
		if err := saveSpec(f, &d); err != nil {
			return err
		}
	}
	if err := r.execFlags(p, &d, limit, rec.rootMapped()); err != nil {
		return r.refuse(&d, err)
	}
	if len(d.Changes) > 0 || r.cfg.Log.Level == "debug" {
		LogDecision(r.cfg, d)
	}
	return r.handOff()
}

// execFlags applies the policy to exec's inline process flags.
func (r *call) execFlags(p *hardening.Policy, d *Decision, limit hardening.CapSet, rootMapped bool) error {
	if p.PassThrough {
		return nil
	}
	user, _ := r.inv.Flag("user")
	gids := r.inv.FlagAll("additional-gids")
	newUser, newGids, changes, err := hardening.ExecUserFlags(p, rootMapped, user, gids)
	d.Changes = append(d.Changes, changes...)
	if err != nil {
		return err
	}
	if newUser != user || !slices.Equal(newGids, gids) {
		r.inv.RemoveFlag("user")
		if newUser != "" {
			r.inv.AddFlag("user", newUser)
		}
		r.inv.RemoveFlag("additional-gids")
		for _, g := range newGids {
			r.inv.AddFlag("additional-gids", g)
		}
	}
	for _, f := range []struct{ flag, kind string }{{"apparmor", "apparmor"}, {"process-label", "selinux"}} {
		for _, v := range r.inv.FlagAll(f.flag) {
			if why := hardening.UnconfinedLabel(f.kind, v); why != "" && p.Mode != hardening.Audit {
				return fmt.Errorf("exec --%s %s: %s", f.flag, v, why)
			}
		}
	}
	var found []hardening.Change
	_, dropped := hardening.ExecCaps(p, limit, r.inv.FlagAll("cap"))
	for _, c := range dropped {
		found = append(found, hardening.Change{Control: "capabilities", Field: "exec --cap", From: c, To: "dropped"})
	}
	// With --process the process file carries noNewPrivileges (set above);
	// only the inline form needs the flag.
	_, hasProcess := r.inv.Flag("process")
	addNNP := p.NoNewPrivileges && !hasProcess && !r.inv.FlagBool("no-new-privs")
	if addNNP && r.backend.Family() == FamilyRunsc {
		return fmt.Errorf("exec: the policy requires no_new_privileges and %s has no --no-new-privs flag; pass the process with --process", r.backend.Name)
	}
	if addNNP {
		found = append(found, hardening.Change{Control: "no_new_privileges", Field: "exec --no-new-privs", To: "true"})
	}
	d.Changes = append(d.Changes, found...)
	switch {
	case len(found) == 0 || p.Mode == hardening.Audit:
		return nil
	case p.Mode == hardening.Deny:
		return &hardening.DeniedError{Changes: found}
	}
	for _, c := range dropped {
		r.inv.RemoveFlagValue("cap", c)
	}
	if addNNP {
		r.inv.AddFlag("no-new-privs", "")
	}
	return nil
}

// update clamps a resource update to the policy's maxima, in the file
// (or stdin) form and in the flag form.
func (r *call) update() error {
	_, p, err := r.recordedProfile()
	if err != nil {
		return err
	}
	d := Decision{ID: r.inv.ID, Verb: "update", Backend: r.backend.Name, Profile: p.Name}
	r.logged = &d
	if src, ok := r.inv.Flag("resources"); ok {
		f, err := loadResources(src)
		if err != nil {
			return err
		}
		ctx, err := hardening.Apply(p, hardening.UpdateRules, f.Root, hardening.Env{})
		d.Changes = ctx.Changes
		if err != nil {
			d.hashSpec(f.Orig, f.Orig)
			return r.refuse(&d, fmt.Errorf("update --resources: %w", err))
		}
		if src == "-" {
			out := f.Root.Bytes()
			d.hashSpec(f.Orig, out)
			if err := stdinFrom(out); err != nil {
				return err
			}
		} else if err := saveSpec(f, &d); err != nil {
			return err
		}
	}
	if err := r.updateFlags(p, &d); err != nil {
		return r.refuse(&d, err)
	}
	if len(d.Changes) > 0 || r.cfg.Log.Level == "debug" {
		LogDecision(r.cfg, d)
	}
	return r.handOff()
}

// updateFlags are update's resource flags, each a field of the
// LinuxResources a --resources file holds.
var updateFlags = []struct {
	flag, group, key string
	size             bool // a memory size with k/m/g suffixes
}{
	{"pids-limit", "pids", "limit", false},
	{"memory", "memory", "limit", true},
	{"memory-swap", "memory", "swap", true},
	{"cpu-quota", "cpu", "quota", false},
	{"cpu-period", "cpu", "period", false},
	{"cpu-share", "cpu", "shares", false},
}

// updateFlags clamps the flag form of update with the same rules as the
// file form: the flags become a resources object, the rules run over it,
// and what they changed (or added, like a swap equal to memory) goes back
// as flags.
func (r *call) updateFlags(p *hardening.Policy, d *Decision) error {
	res, _ := spec.ParseObject([]byte("{}"))
	given := map[string]int64{}
	for _, f := range updateFlags {
		v, ok := r.inv.Flag(f.flag)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if f.size {
			n, err = parseSize(v)
		}
		if err != nil {
			return fmt.Errorf("update --%s %q: %w", f.flag, v, err)
		}
		g, err := res.EnsureObject(f.group)
		if err == nil {
			err = g.SetInt64(f.key, n)
		}
		if err != nil {
			return err
		}
		given[f.flag] = n
	}
	if len(given) == 0 {
		return nil
	}
	ctx, err := hardening.Apply(p, hardening.UpdateRules, res, hardening.Env{})
	for _, c := range ctx.Changes {
		c.Field = "update flags: " + c.Field
		d.Changes = append(d.Changes, c)
	}
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	for _, f := range updateFlags {
		g, ok, _ := res.Object(f.group)
		if !ok {
			continue
		}
		n, present, err := g.Int64(f.key)
		if err != nil {
			return err
		}
		old, had := given[f.flag]
		switch {
		case present && (!had || old != n):
			r.inv.RemoveFlag(f.flag)
			r.inv.AddFlag(f.flag, strconv.FormatInt(n, 10))
		case !present && had:
			r.inv.RemoveFlag(f.flag)
		}
	}
	return nil
}

// refuse logs a refused decision and returns its error.
func (r *call) refuse(d *Decision, err error) error {
	d.refusal(err)
	LogDecision(r.cfg, *d)
	return err
}

// maxResources bounds an update request read from stdin.
const maxResources = 1 << 20

func loadResources(src string) (*spec.File, error) {
	if src != "-" {
		return spec.Load(src)
	}
	data, err := io.ReadAll(io.LimitReader(os.Stdin, maxResources+1))
	if err != nil {
		return nil, fmt.Errorf("update --resources -: reading stdin: %w", err)
	}
	if len(data) > maxResources {
		return nil, fmt.Errorf("update --resources -: more than %d bytes on stdin", maxResources)
	}
	return spec.LoadBytes("<stdin>", data)
}

// stdinFrom makes data the backend's stdin: a pipe holds it (a resources
// request is far below the pipe buffer), so nothing is left on disk.
func stdinFrom(data []byte) error {
	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	if len(data) >= 65536 {
		wr.Close()
		return fmt.Errorf("update --resources -: request too large to hand over")
	}
	if _, err := wr.Write(data); err != nil {
		wr.Close()
		return err
	}
	wr.Close()
	return unix.Dup2(int(rd.Fd()), 0)
}

// parseSize reads a memory size the way runc's --memory does: a number
// with an optional k, m, g or t suffix (powers of 1024), "b" optional.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("not a size")
	}
	return int64(n * float64(mult)), nil
}
