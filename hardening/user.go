package hardening

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/secshim/secshim/spec"
)

// userControl keeps the container's process from running as root (uid 0
// or the root group), unless a user namespace makes that root an
// unprivileged user of the host.
var userControl = Rule{Control: "user", Apply: userRule, Validate: validateUser}

// RootMappedState is the Result.State key the user rule sets (to true)
// when the container has a user namespace of its own that maps uid 0 and
// gid 0 to non-zero host ids and maps no host root id at all. A process
// exec'd later joins that namespace, but its process.json carries no
// mappings: exec needs this to let uid 0 in (see HardenProcess).
const RootMappedState = "user.root_mapped"

func validateUser(p *Policy) error {
	u := p.User
	if u.NonRoot && u.UID == 0 {
		return fmt.Errorf("user.uid: must not be 0 when user.non_root is set (it replaces root)")
	}
	if u.NonRoot && u.NoRootGroup && u.GID == 0 {
		return fmt.Errorf("user.gid: must not be 0 when user.non_root and user.no_root_group are set")
	}
	return nil
}

// idRange is one entry of linux.uidMappings or linux.gidMappings.
type idRange struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

// userNS is how container ids map to the host's.
type userNS struct {
	// own: the container creates a user namespace of its own; without
	// one, ids are the host's.
	own        bool
	uids, gids []idRange
	// rootMapped stands in for the mappings at exec (see RootMappedState).
	rootMapped bool
}

func (ns userNS) ranges(group bool) []idRange {
	if group {
		return ns.gids
	}
	return ns.uids
}

// toHost maps a container id; ok is false when it is not mapped (the
// kernel then refuses it).
func (ns userNS) toHost(id uint32, group bool) (uint32, bool) {
	if !ns.own {
		return id, true
	}
	for _, r := range ns.ranges(group) {
		if id >= r.ContainerID && id-r.ContainerID < r.Size {
			return r.HostID + (id - r.ContainerID), true
		}
	}
	return 0, false
}

// mapsHostRoot reports whether some container id is the host's root id:
// a process holding CAP_SETUID (container root does, in its namespace)
// could switch to it.
func (ns userNS) mapsHostRoot(group bool) bool {
	for _, r := range ns.ranges(group) {
		if r.HostID == 0 && r.Size > 0 {
			return true
		}
	}
	return false
}

// isRoot reports whether id, as the container's process holds it, is
// the host's root.
func (ns userNS) isRoot(id uint32, group bool) bool {
	if ns.rootMapped {
		return false
	}
	if !ns.own {
		return id == 0
	}
	if id == 0 && ns.mapsHostRoot(group) {
		return true
	}
	h, ok := ns.toHost(id, group)
	return ok && h == 0
}

// readUserNS finds the container's own user namespace (a "user" entry
// without a path) and its mappings. A joined one (with a path) does not
// count: its mappings are not in the spec.
func readUserNS(doc *spec.Object) (userNS, error) {
	var ns userNS
	linux, ok, err := doc.Object("linux")
	if err != nil || !ok {
		return ns, err
	}
	elems, _, err := linux.Array("namespaces")
	if err != nil {
		return ns, err
	}
	for i, e := range elems {
		o, err := spec.ParseElement(e)
		if err != nil {
			return ns, fmt.Errorf("linux.namespaces[%d]: %w", i, err)
		}
		typ, _, err := o.String("type")
		if err != nil {
			return ns, fmt.Errorf("linux.namespaces[%d].%w", i, err)
		}
		path, _, err := o.String("path")
		if err != nil {
			return ns, fmt.Errorf("linux.namespaces[%d].%w", i, err)
		}
		if typ == "user" && path == "" {
			ns.own = true
		}
	}
	for _, m := range []struct {
		key string
		dst *[]idRange
	}{{"uidMappings", &ns.uids}, {"gidMappings", &ns.gids}} {
		elems, _, err := linux.Array(m.key)
		if err != nil {
			return ns, err
		}
		for i, e := range elems {
			r, err := readIDRange(e)
			if err != nil {
				return ns, fmt.Errorf("linux.%s[%d]: %w", m.key, i, err)
			}
			*m.dst = append(*m.dst, r)
		}
	}
	return ns, nil
}

// readIDRange reads one element of linux.uidMappings or gidMappings; a
// missing field is 0, as encoding/json left it.
func readIDRange(raw []byte) (idRange, error) {
	o, err := spec.ParseElement(raw)
	if err != nil {
		return idRange{}, err
	}
	var r idRange
	for _, f := range []struct {
		key string
		dst *uint32
	}{{"containerID", &r.ContainerID}, {"hostID", &r.HostID}, {"size", &r.Size}} {
		v, _, err := o.Int64(f.key)
		if err != nil {
			return idRange{}, err
		}
		if v < 0 || v > 1<<32-1 {
			return idRange{}, fmt.Errorf("%s: %d is out of range", f.key, v)
		}
		*f.dst = uint32(v)
	}
	return r, nil
}

// rootMapped reports whether container root is an unprivileged host user.
func (ns userNS) rootMappedAway() bool {
	if !ns.own || ns.mapsHostRoot(false) || ns.mapsHostRoot(true) {
		return false
	}
	u, uok := ns.toHost(0, false)
	g, gok := ns.toHost(0, true)
	return uok && gok && u != 0 && g != 0
}

// identity is a process's user: from process.user, or from exec's inline
// flags, where a missing --user keeps the container's own user.
type identity struct {
	uid, gid       uint32
	hasUID, hasGID bool
	gids           []uint32
	hasGids        bool
}

// userRule applies the user control to config.json's process.
func userRule(c *Context) error {
	ns, err := readUserNS(c.Doc)
	if err != nil {
		return err
	}
	if ns.rootMappedAway() {
		c.State[RootMappedState] = true
	}
	u := c.Policy.User
	if !u.NonRoot && !u.NoRootGroup {
		return nil
	}
	for _, g := range []bool{false, true} {
		if ns.own && ns.mapsHostRoot(g) && (g && u.NoRootGroup || !g && u.NonRoot) {
			key, what := "uidMappings", "uid"
			if g {
				key, what = "gidMappings", "gid"
			}
			c.refuse("user", "linux."+key, "host "+what+" 0", "the user namespace maps the host's root "+what+": container root could switch to it")
			return nil
		}
	}
	proc, err := c.Doc.EnsureObject("process")
	if err != nil {
		return err
	}
	return clampProcessUser(c, "process.user", proc, ns)
}

// clampProcessUser applies the user control to a process object's user
// (config.json's process, or an exec process.json). A missing user or uid
// is root, as runc and crun read it.
func clampProcessUser(c *Context, field string, proc *spec.Object, ns userNS) error {
	u := c.Policy.User
	if !u.NonRoot && !u.NoRootGroup {
		return nil
	}
	user, ok, err := proc.Object("user")
	if err != nil {
		return err
	}
	id := identity{hasUID: true, hasGID: true}
	if ok {
		if id.uid, err = readID(user, field, "uid"); err != nil {
			return err
		}
		if id.gid, err = readID(user, field, "gid"); err != nil {
			return err
		}
		elems, has, err := user.Array("additionalGids")
		if err != nil {
			return err
		}
		id.hasGids = has
		for i, e := range elems {
			g, err := strconv.ParseUint(string(e), 10, 32)
			if err != nil {
				return fmt.Errorf("%s.additionalGids[%d]: %s is not a gid", field, i, e)
			}
			id.gids = append(id.gids, uint32(g))
		}
	}
	before := id
	before.gids = slices.Clone(id.gids)
	if !clampIdentity(c, field, &id, ns) {
		return nil
	}
	if user == nil {
		if user, err = proc.EnsureObject("user"); err != nil {
			return err
		}
	}
	if id.uid != before.uid || !ok {
		if err := user.SetInt64("uid", int64(id.uid)); err != nil {
			return err
		}
	}
	if id.gid != before.gid || !ok {
		if err := user.SetInt64("gid", int64(id.gid)); err != nil {
			return err
		}
	}
	if !slices.Equal(id.gids, before.gids) {
		if len(id.gids) == 0 {
			user.Delete("additionalGids")
			return nil
		}
		elems := make([][]byte, len(id.gids))
		for i, g := range id.gids {
			elems[i] = strconv.AppendUint(nil, uint64(g), 10)
		}
		return user.SetArray("additionalGids", elems)
	}
	return nil
}

func readID(user *spec.Object, field, key string) (uint32, error) {
	v, _, err := user.Int64(key)
	if err != nil {
		return 0, err
	}
	if v < 0 || v > 1<<32-1 {
		return 0, fmt.Errorf("%s.%s: %d is not a valid id", field, key, v)
	}
	return uint32(v), nil
}

// clampIdentity edits id to comply, reports what it changed or refuses,
// and says whether it changed anything. Root is replaced by the policy's
// UID:GID without supplementary groups (those were root's); the root group
// is removed from the supplementary groups, and replaced as primary group
// of a non-root user.
func clampIdentity(c *Context, field string, id *identity, ns userNS) bool {
	u := c.Policy.User
	changed := false
	if u.NonRoot && id.hasUID && ns.isRoot(id.uid, false) {
		if id.uid != 0 {
			c.refuse("user", field+".uid", strconv.FormatUint(uint64(id.uid), 10), "the user namespace maps it to the host's root")
			return false
		}
		c.changed("user", field+".uid", "0", strconv.FormatUint(uint64(u.UID), 10))
		if !id.hasGID || id.gid != u.GID {
			c.changed("user", field+".gid", fmtID(id.gid, id.hasGID), strconv.FormatUint(uint64(u.GID), 10))
		}
		if len(id.gids) > 0 {
			c.changed("user", field+".additionalGids", fmtIDs(id.gids), "")
			id.gids = nil
		}
		id.uid, id.gid, id.hasGID = u.UID, u.GID, true
		changed = true
	}
	if !u.NoRootGroup {
		return changed
	}
	if u.NonRoot && id.hasGID && ns.isRoot(id.gid, true) {
		if id.gid != 0 {
			c.refuse("user", field+".gid", strconv.FormatUint(uint64(id.gid), 10), "the user namespace maps it to the host's root group")
			return false
		}
		c.changed("user", field+".gid", "0", strconv.FormatUint(uint64(u.GID), 10))
		id.gid = u.GID
		changed = true
	}
	kept := id.gids[:0:0]
	var dropped []uint32
	for _, g := range id.gids {
		if ns.isRoot(g, true) {
			dropped = append(dropped, g)
			continue
		}
		kept = append(kept, g)
	}
	if len(dropped) > 0 {
		c.changed("user", field+".additionalGids", "-"+fmtIDs(dropped), fmtIDs(kept))
		id.gids = kept
		changed = true
	}
	return changed
}

func fmtID(id uint32, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatUint(uint64(id), 10)
}

func fmtIDs(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ",")
}
