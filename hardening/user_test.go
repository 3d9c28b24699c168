package hardening

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/secshim/secshim/spec"
)

func restricted(t *testing.T) *Policy {
	t.Helper()
	p, _ := builtin("restricted")
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

const userNSMapped = `"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]`

func TestUser(t *testing.T) {
	cases := []struct {
		name       string
		in         string
		want       string // process.user afterwards, as JSON
		refusal    string
		err        string
		rootMapped bool
	}{
		{name: "root replaced", in: `{"process":{"user":{"uid":0,"gid":0,"umask":18}}}`, want: `{"gid":65534,"uid":65534,"umask":18}`},
		{name: "missing user is root", in: `{"process":{}}`, want: `{"gid":65534,"uid":65534}`},
		{name: "missing uid is root", in: `{"process":{"user":{"gid":5}}}`, want: `{"gid":65534,"uid":65534}`},
		{name: "root's groups go with it", in: `{"process":{"user":{"uid":0,"gid":0,"additionalGids":[0,10]}}}`, want: `{"gid":65534,"uid":65534}`},
		{name: "non-root kept", in: `{"process":{"user":{"uid":1000,"gid":1000,"additionalGids":[10]}}}`, want: `{"additionalGids":[10],"gid":1000,"uid":1000}`},
		{name: "root group replaced and removed", in: `{"process":{"user":{"uid":1000,"gid":0,"additionalGids":[0,10,0]}}}`, want: `{"additionalGids":[10],"gid":65534,"uid":1000}`},
		{name: "only root group in list", in: `{"process":{"user":{"uid":1000,"gid":1000,"additionalGids":[0]}}}`, want: `{"gid":1000,"uid":1000}`},
		{name: "root mapped by a user namespace", in: `{"process":{"user":{"uid":0,"gid":0,"additionalGids":[0]}},"linux":{` + userNSMapped + `}}`,
			want: `{"additionalGids":[0],"gid":0,"uid":0}`, rootMapped: true},
		{name: "mappings without a user namespace", in: `{"process":{"user":{"uid":0,"gid":0}},"linux":{"uidMappings":[{"containerID":0,"hostID":100000,"size":1}]}}`,
			want: `{"gid":65534,"uid":65534}`},
		{name: "joined user namespace", in: `{"process":{"user":{"uid":0,"gid":0}},"linux":{"namespaces":[{"type":"user","path":"/proc/5/ns/user"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":1}]}}`,
			want: `{"gid":65534,"uid":65534}`},
		{name: "user namespace mapping root to root", in: `{"process":{"user":{"uid":0,"gid":0}},"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":0,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":1}]}}`,
			refusal: "linux.uidMappings"},
		{name: "user namespace mapping host root elsewhere", in: `{"process":{"user":{"uid":1000,"gid":1000}},"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":1000},{"containerID":1000,"hostID":0,"size":1}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}}`,
			refusal: "maps the host's root uid"},
		{name: "gid mapping host root", in: `{"process":{"user":{"uid":1000,"gid":1000}},"linux":{"namespaces":[{"type":"user"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":0,"size":65536}]}}`,
			refusal: "linux.gidMappings"},
		{name: "uid not a number", in: `{"process":{"user":{"uid":"0"}}}`, err: "process.user.uid"},
		{name: "uid negative", in: `{"process":{"user":{"uid":-1}}}`, err: "process.user.uid"},
		{name: "uid too large", in: `{"process":{"user":{"uid":4294967296}}}`, err: "process.user.uid"},
		{name: "gid fraction", in: `{"process":{"user":{"uid":1,"gid":1.5}}}`, err: "process.user.gid"},
		{name: "additionalGids malformed", in: `{"process":{"user":{"uid":1,"additionalGids":["0"]}}}`, err: "process.user.additionalGids[0]"},
		{name: "user not an object", in: `{"process":{"user":0}}`, err: "process.user"},
		{name: "mappings malformed", in: `{"process":{},"linux":{"uidMappings":{}}}`, err: "linux.uidMappings"},
		{name: "mapping field malformed", in: `{"process":{},"linux":{"uidMappings":[{"containerID":"0","hostID":1,"size":1}]}}`, err: "linux.uidMappings[0]: containerID"},
		{name: "mapping id out of range", in: `{"process":{},"linux":{"gidMappings":[{"containerID":0,"hostID":4294967296,"size":1}]}}`, err: "linux.gidMappings[0]: hostID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, c, err := applyOne(t, userControl, restricted(t), tc.in, Env{})
			var d *DeniedError
			switch {
			case tc.err != "":
				if err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want an error naming %s", err, tc.err)
				}
				return
			case tc.refusal != "":
				if !errors.As(err, &d) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("err %v, want a refusal saying %s", err, tc.refusal)
				}
				if doc.Changed() {
					t.Error("refused spec edited")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			out := doc.Bytes()
			if got, _ := json.Marshal(get(decode(t, out), "process", "user")); string(got) != tc.want {
				t.Errorf("process.user = %s, want %s", got, tc.want)
			}
			if got := c.State[RootMappedState] == true; got != tc.rootMapped {
				t.Errorf("State[%s] = %v", RootMappedState, got)
			}
			again, c2, err := applyOne(t, userControl, restricted(t), string(out), Env{})
			if err != nil || len(c2.Changes) != 0 || string(again.Bytes()) != string(out) {
				t.Errorf("not idempotent: %v %v", err, c2.Changes)
			}
		})
	}
}

func TestUserModesAndProfiles(t *testing.T) {
	in := `{"process":{"user":{"uid":0,"gid":0,"additionalGids":[0]}}}`
	p := restricted(t)
	p.Modes = map[string]Mode{"user": Deny}
	doc, _, err := applyOne(t, userControl, p, in, Env{})
	if err == nil || !strings.Contains(err.Error(), "user: process.user.uid: 0 -> 65534") || doc.Changed() {
		t.Errorf("deny: err %v, changed %v", err, doc.Changed())
	}
	p.Modes["user"] = Audit
	doc, c, err := applyOne(t, userControl, p, in, Env{})
	if err != nil || doc.Changed() || len(c.Changes) == 0 || c.Changes[0].Mode != Audit {
		t.Errorf("audit: err %v, changed %v, findings %v", err, doc.Changed(), c.Changes)
	}
	// The baseline lets root be.
	doc, c, err = applyOne(t, userControl, Default(), in, Env{})
	if err != nil || doc.Changed() || len(c.Changes) != 0 {
		t.Errorf("baseline: err %v, findings %v", err, c.Changes)
	}
}

func TestUserOnPodmanConfigs(t *testing.T) {
	for _, name := range goldens {
		doc, _, err := applyOne(t, userControl, restricted(t), string(golden(t, name)), Env{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := doc.Bytes()
		m := decode(t, out)
		if uid := get(m, "process", "user", "uid"); uid != float64(65534) {
			t.Errorf("%s: uid %v", name, uid)
		}
		if get(m, "process", "user", "umask") == nil {
			t.Errorf("%s: umask lost", name)
		}
		again, c, _ := applyOne(t, userControl, restricted(t), string(out), Env{})
		if len(c.Changes) != 0 || string(again.Bytes()) != string(out) {
			t.Errorf("%s: not idempotent: %v", name, c.Changes)
		}
	}
}

func TestUserPolicyErrors(t *testing.T) {
	for field, u := range map[string]UserPolicy{
		"user.uid": {NonRoot: true, UID: 0, GID: 1},
		"user.gid": {NonRoot: true, NoRootGroup: true, UID: 1, GID: 0},
	} {
		p, _ := builtin("baseline")
		p.User = u
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%+v: err %v, want one naming %s", u, err, field)
		}
	}
}

func TestExecProcessUser(t *testing.T) {
	in := golden(t, "exec-process.json")
	doc, err := spec.ParseObject(in)
	if err != nil {
		t.Fatal(err)
	}
	if uid := get(decode(t, in), "user", "uid"); uid != float64(0) {
		t.Fatalf("golden exec process runs as %v, not root: the test proves nothing", uid)
	}
	changes, err := HardenProcess(restricted(t), AllCaps, false, doc)
	if err != nil {
		t.Fatal(err)
	}
	if uid := get(decode(t, doc.Bytes()), "user", "uid"); uid != float64(65534) {
		t.Errorf("exec as root under restricted: uid %v (changes %v)", uid, changes)
	}
	// In a container whose root is mapped away, exec as root is fine.
	doc, _ = spec.ParseObject(in)
	if _, err := HardenProcess(restricted(t), AllCaps, true, doc); err != nil {
		t.Fatal(err)
	}
	if uid := get(decode(t, doc.Bytes()), "user", "uid"); uid != float64(0) {
		t.Errorf("root-mapped container: uid %v", uid)
	}
	// Deny refuses rather than rewrites.
	p := restricted(t)
	p.Modes = map[string]Mode{"user": Deny}
	doc, _ = spec.ParseObject(in)
	if _, err := HardenProcess(p, AllCaps, false, doc); err == nil || !strings.Contains(err.Error(), "process.user.uid") {
		t.Errorf("deny: %v", err)
	}
}

func TestExecUserFlags(t *testing.T) {
	cases := []struct {
		name       string
		mode       Mode
		rootMapped bool
		user       string
		gids       []string
		wantUser   string
		wantGids   []string
		fields     []string // findings' fields
		err        string
	}{
		{name: "root replaced", user: "0", wantUser: "65534:65534", fields: []string{"exec --user", "exec --user"}},
		{name: "root with gid replaced", user: "0:0", gids: []string{"0", "10"}, wantUser: "65534:65534", fields: []string{"exec --user", "exec --user", "exec --additional-gids"}},
		{name: "non-root kept", user: "1000", gids: []string{"10"}, wantUser: "1000", wantGids: []string{"10"}},
		{name: "root group replaced", user: "1000:0", wantUser: "1000:65534", fields: []string{"exec --user"}},
		{name: "root group removed from the list", gids: []string{"0,10", "11"}, wantGids: []string{"10", "11"}, fields: []string{"exec --additional-gids"}},
		{name: "no flags", wantUser: ""},
		{name: "root mapped away", rootMapped: true, user: "0:0", gids: []string{"0"}, wantUser: "0:0", wantGids: []string{"0"}},
		{name: "deny", mode: Deny, user: "0", wantUser: "0", fields: []string{"exec --user", "exec --user"}, err: "policy denies"},
		{name: "audit", mode: Audit, user: "0", wantUser: "0", fields: []string{"exec --user", "exec --user"}},
		{name: "name instead of uid", user: "root", wantUser: "root", err: "not a numeric id"},
		{name: "bad gid", gids: []string{"x"}, wantGids: []string{"x"}, err: "exec --additional-gids"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := restricted(t)
			if tc.mode != "" {
				p.Modes = map[string]Mode{"user": tc.mode}
			}
			u, g, changes, err := ExecUserFlags(p, tc.rootMapped, tc.user, tc.gids)
			if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
			if u != tc.wantUser || !reflect.DeepEqual(g, tc.wantGids) {
				t.Errorf("got --user %q --additional-gids %q, want %q %q", u, g, tc.wantUser, tc.wantGids)
			}
			var fields []string
			for _, c := range changes {
				fields = append(fields, c.Field)
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Errorf("findings %v, want fields %v", changes, tc.fields)
			}
		})
	}
	// The baseline changes nothing.
	if u, g, ch, err := ExecUserFlags(Default(), false, "0:0", []string{"0"}); u != "0:0" || len(g) != 1 || len(ch) != 0 || err != nil {
		t.Errorf("baseline: %q %q %v %v", u, g, ch, err)
	}
}
