package hardening

import (
	"fmt"
	"math"
	"strconv"

	"github.com/secshim/secshim/spec"
)

// rlimitsControl bounds the container process's rlimits: open files and
// processes (RLIMIT_NPROC counts every process of the uid on the host,
// not only the container's) and core dump size.
var rlimitsControl = Rule{Control: "rlimits", Apply: rlimitsRule}

// rlimInfinity is RLIM_INFINITY as the runtime spec writes it (uint64).
const rlimInfinity = math.MaxUint64

type rlimitLimit struct {
	typ string
	l   Limit
}

// rlimitsRule edits process.rlimits: a type the policy limits and the
// spec leaves out is added with soft = hard = the default; a hard limit
// above the maximum is cut to it; a soft limit above the hard one is cut
// to the hard one. RLIM_INFINITY counts as "unlimited" and gets the
// default (or the maximum); with NoCore, RLIMIT_CORE is 0/0.
func rlimitsRule(c *Context) error {
	rp := c.Policy.Rlimits
	core := rp.Core
	if rp.NoCore {
		core = Limit{Default: 0, Max: 0}
	}
	want := []rlimitLimit{{"RLIMIT_NOFILE", rp.Nofile}, {"RLIMIT_NPROC", rp.Nproc}, {"RLIMIT_CORE", core}}
	active := want[:0]
	for _, w := range want {
		if w.l != (Limit{}) || w.typ == "RLIMIT_CORE" && rp.NoCore {
			active = append(active, w)
		}
	}
	if len(active) == 0 {
		return nil
	}
	proc, err := c.Doc.EnsureObject("process")
	if err != nil {
		return err
	}
	elems, _, err := proc.Array("rlimits")
	if err != nil {
		return err
	}
	out := make([][]byte, 0, len(elems)+len(active))
	seen := map[string]bool{}
	dirty := false
	for i, raw := range elems {
		field := "process.rlimits[" + strconv.Itoa(i) + "]"
		o, err := spec.ParseElement(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		typ, ok, err := o.String("type")
		if err != nil || !ok {
			return fmt.Errorf("%s: type: missing or not a string (%v)", field, err)
		}
		seen[typ] = true
		for _, w := range active {
			if w.typ != typ {
				continue
			}
			noCore := typ == "RLIMIT_CORE" && rp.NoCore
			if err := clampRlimit(c, field, typ, o, w.l, noCore); err != nil {
				return err
			}
		}
		if o.Changed() {
			dirty = true
			raw = o.Bytes()
		}
		out = append(out, raw)
	}
	for _, w := range active {
		noCore := w.typ == "RLIMIT_CORE" && rp.NoCore
		if seen[w.typ] || w.l.Default == 0 && w.l.Max == 0 && !noCore {
			continue
		}
		v := w.l.Default
		if v == 0 {
			v = w.l.Max
		}
		b := fmt.Appendf(nil, `{"type":%q,"hard":%d,"soft":%d}`, w.typ, v, v)
		c.changed("rlimits", "process.rlimits["+w.typ+"]", "", fmt.Sprintf("%d/%d", v, v))
		out = append(out, b)
		dirty = true
	}
	if !dirty {
		return nil
	}
	return proc.SetArray("rlimits", out)
}

// clampRlimit applies l to one rlimit object (hard and soft, uint64).
func clampRlimit(c *Context, field, typ string, o *spec.Object, l Limit, noCore bool) error {
	hard, err := rlimitValue(o, field, "hard")
	if err != nil {
		return err
	}
	soft, err := rlimitValue(o, field, "soft")
	if err != nil {
		return err
	}
	newHard := hard
	switch {
	case noCore:
		newHard = 0
	case hard == rlimInfinity && l.Default > 0:
		newHard = uint64(l.Default)
	case l.Max > 0 && hard > uint64(l.Max):
		newHard = uint64(l.Max)
	}
	newSoft := min(soft, newHard)
	if newHard == hard && newSoft == soft {
		return nil
	}
	c.changed("rlimits", "process.rlimits["+typ+"]", fmtRlimit(hard)+"/"+fmtRlimit(soft), fmtRlimit(newHard)+"/"+fmtRlimit(newSoft))
	if err := o.Set("hard", strconv.AppendUint(nil, newHard, 10)); err != nil {
		return err
	}
	return o.Set("soft", strconv.AppendUint(nil, newSoft, 10))
}

func rlimitValue(o *spec.Object, field, key string) (uint64, error) {
	v, ok, err := uintMember(o, key)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if !ok {
		return 0, fmt.Errorf("%s.%s: missing", field, key)
	}
	return v, nil
}

func fmtRlimit(v uint64) string {
	if v == rlimInfinity {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}
