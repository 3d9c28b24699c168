package hardening

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

const ownNS = `{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}`

func TestNamespaces(t *testing.T) {
	cases := []struct {
		name    string
		ns      string // linux.namespaces
		want    string // linux.namespaces afterwards
		refusal []string
		err     string
	}{
		{name: "cgroup added", ns: `[` + ownNS + `]`, want: `[` + ownNS + `,{"type":"cgroup"}]`},
		{name: "complete kept", ns: `[` + ownNS + `,{"type":"cgroup"}]`, want: `[` + ownNS + `,{"type":"cgroup"}]`},
		{name: "pod sandbox joined", ns: `[{"type":"pid"},{"type":"network","path":"/proc/42/ns/net"},{"type":"ipc","path":"/proc/42/ns/ipc"},{"type":"uts","path":"/proc/42/ns/uts","x":1},{"type":"mount"},{"type":"cgroup"}]`,
			want: `[{"type":"pid"},{"type":"network","path":"/proc/42/ns/net"},{"type":"ipc","path":"/proc/42/ns/ipc"},{"type":"uts","path":"/proc/42/ns/uts","x":1},{"type":"mount"},{"type":"cgroup"}]`},
		{name: "engine's netns file joined", ns: `[{"type":"pid"},{"type":"network","path":"/run/netns/netns-1"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]`,
			want: `[{"type":"pid"},{"type":"network","path":"/run/netns/netns-1"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]`},
		{name: "vanished path left to the backend", ns: `[{"type":"pid"},{"type":"network","path":"/run/netns/missing"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]`,
			want: `[{"type":"pid"},{"type":"network","path":"/run/netns/missing"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]`},
		{name: "host network (podman --network=host)", ns: `[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]`,
			refusal: []string{"linux.namespaces: network", "--network=host"}},
		{name: "host pid (podman --pid=host)", ns: `[{"type":"network","path":"/run/netns/x"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]`,
			refusal: []string{"linux.namespaces: pid", "--pid=host"}},
		{name: "no namespaces at all", ns: `null`, refusal: []string{"linux.namespaces: pid", "linux.namespaces: network", "linux.namespaces: mount"}},
		{name: "host namespace joined by path", ns: `[{"type":"pid","path":"/proc/1/ns/pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]`,
			refusal: []string{"linux.namespaces[0].path: /proc/1/ns/pid -> joins the host's pid namespace"}},
		{name: "runtime's namespace joined", ns: `[{"type":"pid"},{"type":"network","path":"/proc/self/ns/net"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]`,
			refusal: []string{"linux.namespaces[1].path: /proc/self/ns/net -> joins the host's network namespace"}},
		{name: "host user namespace joined", ns: `[` + ownNS + `,{"type":"user","path":"/proc/1/ns/user"}]`,
			refusal: []string{"linux.namespaces[5].path"}},
		{name: "unreadable path", ns: `[{"type":"pid","path":"/denied"}]`, err: "linux.namespaces[0].path"},
		{name: "unknown type", ns: `[{"type":"bogus"}]`, err: "linux.namespaces[0].type"},
		{name: "missing type", ns: `[{"path":"/x"}]`, err: "linux.namespaces[0].type"},
		{name: "type not a string", ns: `[{"type":1}]`, err: "linux.namespaces[0].type"},
		{name: "entry not an object", ns: `["pid"]`, err: "linux.namespaces[0]"},
		{name: "duplicate", ns: `[` + ownNS + `,{"type":"network","path":"/proc/1/ns/net"}]`, err: "linux.namespaces[5]: a second network"},
		{name: "not an array", ns: `{}`, err: "linux.namespaces"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"linux":{"namespaces":` + tc.ns + `}}`
			doc, c, err := applyOne(t, namespacesControl, Default(), in, Env{Host: fakeHost(false, false, nil)})
			var d *DeniedError
			switch {
			case tc.err != "":
				if err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want an error naming %s", err, tc.err)
				}
				return
			case tc.refusal != nil:
				if !errors.As(err, &d) {
					t.Fatalf("err %v, want a refusal", err)
				}
				for _, want := range tc.refusal {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("refusal %q does not say %q", err, want)
					}
				}
				// Deny mode refuses the same, and audit only reports.
				p := Default()
				p.Modes = map[string]Mode{"namespaces": Deny}
				if _, _, err := applyOne(t, namespacesControl, p, in, Env{Host: fakeHost(false, false, nil)}); !errors.As(err, &d) {
					t.Errorf("deny mode: err %v", err)
				}
				p.Modes["namespaces"] = Audit
				doc, c, err := applyOne(t, namespacesControl, p, in, Env{Host: fakeHost(false, false, nil)})
				if err != nil || doc.Changed() || len(c.Changes) == 0 {
					t.Errorf("audit mode: err %v, changed %v, findings %v", err, doc.Changed(), c.Changes)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			out := doc.Bytes()
			got, _ := json.Marshal(get(decode(t, out), "linux", "namespaces"))
			var want any
			json.Unmarshal([]byte(tc.want), &want)
			wantJSON, _ := json.Marshal(want)
			if string(got) != string(wantJSON) {
				t.Errorf("namespaces = %s, want %s", got, wantJSON)
			}
			if added := strings.Count(tc.want, "{") - strings.Count(tc.ns, "{"); len(c.Changes) != added {
				t.Errorf("findings %v for %d added", c.Changes, added)
			}
			again, c2, err := applyOne(t, namespacesControl, Default(), string(out), Env{Host: fakeHost(false, false, nil)})
			if err != nil || len(c2.Changes) != 0 || string(again.Bytes()) != string(out) {
				t.Errorf("not idempotent: %v %v", err, c2.Changes)
			}
		})
	}
}

func TestNamespacesPolicy(t *testing.T) {
	in := `{"linux":{"namespaces":[{"type":"pid","path":"/proc/1/ns/pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}}`
	p, _ := builtin("baseline")
	p.Namespaces.RefuseHost = false
	p.Namespaces.Add = nil
	p.Compile()
	doc, c, err := applyOne(t, namespacesControl, p, in, Env{Host: fakeHost(false, false, nil)})
	if err != nil || doc.Changed() || len(c.Changes) != 0 {
		t.Errorf("refuse_host off: err %v, findings %v", err, c.Changes)
	}
	// A deny-mode container must come with its cgroup namespace.
	p, _ = builtin("baseline")
	p.Modes = map[string]Mode{"namespaces": Deny}
	p.Compile()
	_, _, err = applyOne(t, namespacesControl, p, `{"linux":{"namespaces":[`+ownNS+`]}}`, Env{Host: fakeHost(false, false, nil)})
	if err == nil || !strings.Contains(err.Error(), "+cgroup") {
		t.Errorf("deny without cgroup: %v", err)
	}
	for _, bad := range [][]string{{"user"}, {"time"}, {"net"}} {
		p, _ := builtin("baseline")
		p.Namespaces.Add = bad
		if err := p.Compile(); err == nil || !strings.Contains(err.Error(), "namespaces.add") {
			t.Errorf("add %v: err %v", bad, err)
		}
	}
}

// With PID 1's namespaces unreadable (as on some sandboxed hosts, even
// to root), secshim's own still identify the host's; with neither, a join
// cannot be judged and is an error.
func TestNamespacesHostUnreadable(t *testing.T) {
	denied := func(string) (NSID, error) { return NSID{}, os.ErrPermission }
	h := fakeHost(false, false, nil)
	h.HostNamespace = denied
	join := func(path string) error {
		in := `{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"` + path + `"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]}}`
		_, _, err := applyOne(t, namespacesControl, Default(), in, Env{Host: h})
		return err
	}
	if err := join("/proc/self/ns/net"); err == nil || !strings.Contains(err.Error(), "joins the host's") {
		t.Errorf("runtime's netns: %v", err)
	}
	if err := join("/run/netns/pod"); err != nil {
		t.Errorf("pod netns: %v", err)
	}
	h.RuntimeNamespace = denied
	var d *DeniedError
	if err := join("/run/netns/pod"); err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), "cannot tell") {
		t.Errorf("nothing readable: %v", err)
	}
}

// The real host: secshim's own network namespace is the host's here.
func TestNamespacesRealHost(t *testing.T) {
	in := `{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/self/ns/net"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]}}`
	_, _, err := applyOne(t, namespacesControl, Default(), in, Env{})
	if err == nil || !strings.Contains(err.Error(), "joins the host's network namespace") {
		t.Errorf("joining /proc/self/ns/net: %v", err)
	}
	h := DefaultHost()
	net, err1 := h.RuntimeNamespace("network")
	pid, err2 := h.NamespaceID("/proc/self/ns/pid")
	if err1 != nil || err2 != nil || net == pid {
		t.Errorf("namespace ids: net %v pid %v (%v, %v)", net, pid, err1, err2)
	}
}

func TestNamespacesOnPodmanConfigs(t *testing.T) {
	for _, name := range goldens {
		doc, c, err := applyOne(t, namespacesControl, Default(), string(golden(t, name)), Env{Host: fakeHost(false, false, nil)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := doc.Bytes()
		var types []string
		for _, ns := range get(decode(t, out), "linux", "namespaces").([]any) {
			types = append(types, ns.(map[string]any)["type"].(string))
		}
		if strings.Join(types, ",") != "pid,network,ipc,uts,mount,cgroup" || len(c.Changes) != 1 {
			t.Errorf("%s: namespaces %v, findings %v", name, types, c.Changes)
		}
		again, c2, _ := applyOne(t, namespacesControl, Default(), string(out), Env{Host: fakeHost(false, false, nil)})
		if len(c2.Changes) != 0 || string(again.Bytes()) != string(out) {
			t.Errorf("%s: not idempotent: %v", name, c2.Changes)
		}
	}
}
