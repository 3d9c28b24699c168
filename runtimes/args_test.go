package runtimes

import (
	"errors"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// kv is the expected last value of each flag; "" for a bare bool.
type kv map[string]string

type parseCase struct {
	argv     string // space-separated tokens
	fam      Family
	verb, id string
	globals  kv       // every global flag (nil: none)
	flags    kv       // every verb flag (nil: none)
	pos      []string // positionals; nil: just the ID (if any)
}

func split(s string) []string { return strings.Fields(s) }

func lastValues(fl []Flag) kv {
	if len(fl) == 0 {
		return nil
	}
	m := kv{}
	for _, f := range fl {
		m[f.Name] = f.Value
	}
	return m
}

const (
	podman     = "--log-format=json --log /d/oci-log "
	containerd = "--root /run/containerd/runc/default --log /b/log.json --log-format json "
)

var podmanGlobals = kv{"log-format": "json", "log": "/d/oci-log"}
var containerdGlobals = kv{"root": "/run/containerd/runc/default", "log": "/b/log.json", "log-format": "json"}

var validCases = []parseCase{
	// Podman 4.3 + conmon.
	{argv: podman + "create --bundle /b --pid-file /p ID", verb: "create", id: "ID",
		globals: podmanGlobals, flags: kv{"bundle": "/b", "pid-file": "/p"}},
	{argv: podman + "create --bundle /b --pid-file /p --console-socket /s ID", verb: "create", id: "ID",
		globals: podmanGlobals, flags: kv{"bundle": "/b", "pid-file": "/p", "console-socket": "/s"}},
	{argv: podman + "create --bundle /b --pid-file /p --no-new-keyring --preserve-fds 2 ID", verb: "create", id: "ID",
		globals: podmanGlobals, flags: kv{"bundle": "/b", "pid-file": "/p", "no-new-keyring": "", "preserve-fds": "2"}},
	{argv: podman + "--cgroup-manager disabled create --bundle /b --pid-file /p ID", verb: "create", id: "ID",
		globals: kv{"log-format": "json", "log": "/d/oci-log", "cgroup-manager": "disabled"}, flags: kv{"bundle": "/b", "pid-file": "/p"}},
	{argv: podman + "--systemd-cgroup create --bundle /b --pid-file /p ID", verb: "create", id: "ID",
		globals: kv{"log-format": "json", "log": "/d/oci-log", "systemd-cgroup": ""}, flags: kv{"bundle": "/b", "pid-file": "/p"}},
	{argv: "start ID", verb: "start", id: "ID"},
	{argv: "kill ID 15", verb: "kill", id: "ID", pos: split("ID 15")},
	{argv: "delete --force ID", verb: "delete", id: "ID", flags: kv{"force": ""}},
	{argv: "delete -f ID", verb: "delete", id: "ID", flags: kv{"force": ""}},
	{argv: "pause ID", verb: "pause", id: "ID"},
	{argv: "resume ID", verb: "resume", id: "ID"},
	{argv: "state ID", verb: "state", id: "ID"},
	{argv: "--version", globals: kv{"version": ""}, pos: []string{}},
	{argv: "-v", globals: kv{"version": ""}, pos: []string{}},
	{argv: "-V", globals: kv{"version": ""}, pos: []string{}},
	{argv: "--help", globals: kv{"help": ""}, pos: []string{}},
	{argv: "-h", globals: kv{"help": ""}, pos: []string{}},
	{argv: "checkpoint --help", verb: "checkpoint", flags: kv{"help": ""}, pos: []string{}},
	{argv: "create -h", verb: "create", flags: kv{"help": ""}, pos: []string{}},
	{argv: "create --usage", verb: "create", flags: kv{"usage": ""}, pos: []string{}},
	{argv: "exec --pid-file /p --process /f --detach ID", verb: "exec", id: "ID",
		flags: kv{"pid-file": "/p", "process": "/f", "detach": ""}},
	{argv: "exec --pid-file /p --process /f --detach --tty --console-socket /s ID", verb: "exec", id: "ID",
		flags: kv{"pid-file": "/p", "process": "/f", "detach": "", "tty": "", "console-socket": "/s"}},
	{argv: "exec --pid-file /p --process /f --detach --preserve-fds 1 ID", verb: "exec", id: "ID",
		flags: kv{"pid-file": "/p", "process": "/f", "detach": "", "preserve-fds": "1"}},
	{argv: "--systemd-cgroup exec -d --pid-file /p --process /f --console-socket /s ID", verb: "exec", id: "ID",
		globals: kv{"systemd-cgroup": ""}, flags: kv{"detach": "", "pid-file": "/p", "process": "/f", "console-socket": "/s"}},
	{argv: "restore --bundle /b --pid-file /p --no-pivot --detach --image-path /x --work-path /w ID", verb: "restore", id: "ID",
		flags: kv{"bundle": "/b", "pid-file": "/p", "no-pivot": "", "detach": "", "image-path": "/x", "work-path": "/w"}},
	{argv: "update --resources=/f ID", verb: "update", id: "ID", flags: kv{"resources": "/f"}},
	{argv: "update --resources - ID", verb: "update", id: "ID", flags: kv{"resources": "-"}},
	{argv: "update -r - ID", verb: "update", id: "ID", flags: kv{"resources": "-"}},
	{argv: "update --memory -1 --cpu-quota 100 ID", verb: "update", id: "ID", flags: kv{"memory": "-1", "cpu-quota": "100"}},
	{argv: "restore --bundle /b --pid-file /p --detach --image-path /x --work-path /b ID", verb: "restore", id: "ID",
		flags: kv{"bundle": "/b", "pid-file": "/p", "detach": "", "image-path": "/x", "work-path": "/b"}},
	{argv: "checkpoint --image-path /x --work-path /w --leave-running --tcp-established ID", verb: "checkpoint", id: "ID",
		flags: kv{"image-path": "/x", "work-path": "/w", "leave-running": "", "tcp-established": ""}},

	// containerd (go-runc).
	{argv: "--root /run/containerd/runc/k8s.io --log /b/log.json --log-format json --systemd-cgroup create --bundle /b --pid-file /p id",
		verb: "create", id: "id",
		globals: kv{"root": "/run/containerd/runc/k8s.io", "log": "/b/log.json", "log-format": "json", "systemd-cgroup": ""},
		flags:   kv{"bundle": "/b", "pid-file": "/p"}},
	{argv: containerd + "features", verb: "features", globals: containerdGlobals, pos: []string{}},
	{argv: containerd + "delete id", verb: "delete", id: "id", globals: containerdGlobals},
	{argv: containerd + "delete --force id", verb: "delete", id: "id", globals: containerdGlobals, flags: kv{"force": ""}},
	{argv: containerd + "state id", verb: "state", id: "id", globals: containerdGlobals},
	{argv: containerd + "kill --all id 9", verb: "kill", id: "id", globals: containerdGlobals, flags: kv{"all": ""}, pos: split("id 9")},
	{argv: containerd + "kill id KILL", verb: "kill", id: "id", globals: containerdGlobals, pos: split("id KILL")},
	{argv: containerd + "exec --process /p.json --detach --pid-file /p id", verb: "exec", id: "id",
		globals: containerdGlobals, flags: kv{"process": "/p.json", "detach": "", "pid-file": "/p"}},
	{argv: containerd + "ps --format json id", verb: "ps", id: "id", globals: containerdGlobals, flags: kv{"format": "json"}},
	{argv: containerd + "update --resources - id", verb: "update", id: "id", globals: containerdGlobals, flags: kv{"resources": "-"}},
	{argv: containerd + "events --interval 5s id", verb: "events", id: "id", globals: containerdGlobals, flags: kv{"interval": "5s"}},
	{argv: containerd + "events --stats id", verb: "events", id: "id", globals: containerdGlobals, flags: kv{"stats": ""}},

	// CRI-O.
	{argv: "--root=/run/runc create --bundle /b --pid-file /p id", verb: "create", id: "id",
		globals: kv{"root": "/run/runc"}, flags: kv{"bundle": "/b", "pid-file": "/p"}},
	{argv: "--root=/run/runc --systemd-cgroup create --bundle /b --pid-file /p --no-pivot id", verb: "create", id: "id",
		globals: kv{"root": "/run/runc", "systemd-cgroup": ""}, flags: kv{"bundle": "/b", "pid-file": "/p", "no-pivot": ""}},
	{argv: "--root=/run/runc exec --pid-file /p --process /f id", verb: "exec", id: "id",
		globals: kv{"root": "/run/runc"}, flags: kv{"pid-file": "/p", "process": "/f"}},
	{argv: "--root=/run/runc state id", verb: "state", id: "id", globals: kv{"root": "/run/runc"}},
	{argv: "--root=/run/runc kill id 15", verb: "kill", id: "id", globals: kv{"root": "/run/runc"}, pos: split("id 15")},
	{argv: "--root=/run/runc update --resources /r.json id", verb: "update", id: "id", globals: kv{"root": "/run/runc"}, flags: kv{"resources": "/r.json"}},

	// Docker (containerd's runc shim, moby namespace).
	{argv: "--root /var/run/docker/runtime-runc/moby --log /x/log.json --log-format json --systemd-cgroup create --bundle /b --pid-file /p id",
		verb: "create", id: "id",
		globals: kv{"root": "/var/run/docker/runtime-runc/moby", "log": "/x/log.json", "log-format": "json", "systemd-cgroup": ""},
		flags:   kv{"bundle": "/b", "pid-file": "/p"}},

	// Bundle and config spellings.
	{argv: "create --bundle X id", verb: "create", id: "id", flags: kv{"bundle": "X"}},
	{argv: "create -b X id", verb: "create", id: "id", flags: kv{"bundle": "X"}},
	{argv: "create --bundle=X id", verb: "create", id: "id", flags: kv{"bundle": "X"}},
	{argv: "create --bundle=a=b id", verb: "create", id: "id", flags: kv{"bundle": "a=b"}},
	{argv: "create -b /a --bundle /b id", verb: "create", id: "id", flags: kv{"bundle": "/b"}},
	{argv: "create --config /x/cfg.json -b /b id", verb: "create", id: "id", flags: kv{"config": "/x/cfg.json", "bundle": "/b"}},
	{argv: "run -f cfg.json --detach id", verb: "run", id: "id", flags: kv{"config": "cfg.json", "detach": ""}},
	{argv: "create -- id", verb: "create", id: "id"},

	// Values and IDs that look like verbs or flags are what they are.
	{argv: "--root create create --bundle create create", verb: "create", id: "create",
		globals: kv{"root": "create"}, flags: kv{"bundle": "create"}},
	{argv: "--log exec kill --all kill exec", verb: "kill", id: "kill", globals: kv{"log": "exec"}, flags: kv{"all": ""}, pos: split("kill exec")},
	{argv: "create --pid-file --bundle id", verb: "create", id: "id", flags: kv{"pid-file": "--bundle"}},
	{argv: "create --pid-file --help id", verb: "create", id: "id", flags: kv{"pid-file": "--help"}},
	{argv: "exec ID ls --cap x", verb: "exec", id: "ID", pos: split("ID ls --cap x")},
	{argv: "exec ID --help", verb: "exec", id: "ID", pos: split("ID --help")},
	{argv: "exec --cap CAP_A -c CAP_B -e A=1 --env B=2 ID sh -c true", verb: "exec", id: "ID",
		flags: kv{"cap": "CAP_B", "env": "B=2"}, pos: split("ID sh -c true")},
	{argv: "exec ID -- ls", verb: "exec", id: "ID", pos: split("ID -- ls")},
	{argv: "exec -t -- ID ls", verb: "exec", id: "ID", flags: kv{"tty": ""}, pos: split("ID ls")},
	{argv: "ps ID -ef", verb: "ps", id: "ID", pos: split("ID -ef")},
	{argv: "ps -f table ID aux", verb: "ps", id: "ID", flags: kv{"format": "table"}, pos: split("ID aux")},

	// Other verbs.
	{argv: "list", verb: "list", pos: []string{}},
	{argv: "--root /r list --format json -q", verb: "list", globals: kv{"root": "/r"}, flags: kv{"format": "json", "quiet": ""}, pos: []string{}},
	{argv: "spec --rootless -b /x", verb: "spec", flags: kv{"rootless": "", "bundle": "/x"}, pos: []string{}},
	{argv: "help", verb: "help", pos: []string{}},
	{argv: "help create", verb: "help", pos: split("create")},
	{argv: "h", verb: "help", pos: []string{}},
	{argv: "--debug --log-level debug --rootless auto --criu /c start id", verb: "start", id: "id",
		globals: kv{"debug": "", "log-level": "debug", "rootless": "auto", "criu": "/c"}},

	// runsc: Go flags, single or double dash.
	{fam: FamilyRunsc, argv: "-root /r -log /l -log-format json -oci-seccomp create -bundle /b -pid-file /p id", verb: "create", id: "id",
		globals: kv{"root": "/r", "log": "/l", "log-format": "json", "oci-seccomp": ""}, flags: kv{"bundle": "/b", "pid-file": "/p"}},
	{fam: FamilyRunsc, argv: "--root=/r create --bundle=/b id", verb: "create", id: "id",
		globals: kv{"root": "/r"}, flags: kv{"bundle": "/b"}},
	{fam: FamilyRunsc, argv: "--root /run/containerd/runsc/k8s.io --log /b/log.json --log-format json --systemd-cgroup create --bundle /b --pid-file /p id",
		verb: "create", id: "id",
		globals: kv{"root": "/run/containerd/runsc/k8s.io", "log": "/b/log.json", "log-format": "json", "systemd-cgroup": ""},
		flags:   kv{"bundle": "/b", "pid-file": "/p"}},
	{fam: FamilyRunsc, argv: "-debug -debug-log=/tmp/ -platform=systrap -network host state id", verb: "state", id: "id",
		globals: kv{"debug": "", "debug-log": "/tmp/", "platform": "systrap", "network": "host"}},
	{fam: FamilyRunsc, argv: "-oci-seccomp=false -gvisor-gro=1ms -nvproxy start id", verb: "start", id: "id",
		globals: kv{"oci-seccomp": "false", "gvisor-gro": "1ms", "nvproxy": ""}},
	{fam: FamilyRunsc, argv: "-root create create -bundle create create", verb: "create", id: "create",
		globals: kv{"root": "create"}, flags: kv{"bundle": "create"}},
	{fam: FamilyRunsc, argv: "exec -detach -cap CAP_A -cap CAP_B -pid-file /p id ls -la", verb: "exec", id: "id",
		flags: kv{"detach": "", "cap": "CAP_B", "pid-file": "/p"}, pos: split("id ls -la")},
	{fam: FamilyRunsc, argv: "exec --process /f --detach=true id", verb: "exec", id: "id", flags: kv{"process": "/f", "detach": "true"}},
	{fam: FamilyRunsc, argv: "kill --all id SIGKILL", verb: "kill", id: "id", flags: kv{"all": ""}, pos: split("id SIGKILL")},
	{fam: FamilyRunsc, argv: "delete -force id", verb: "delete", id: "id", flags: kv{"force": ""}},
	{fam: FamilyRunsc, argv: "restore -image-path /x -bundle /b -detach id", verb: "restore", id: "id",
		flags: kv{"image-path": "/x", "bundle": "/b", "detach": ""}},
	{fam: FamilyRunsc, argv: "update --resources - id", verb: "update", id: "id", flags: kv{"resources": "-"}},
	{fam: FamilyRunsc, argv: "ps -format json id", verb: "ps", id: "id", flags: kv{"format": "json"}},
	{fam: FamilyRunsc, argv: "wait -pid 3 id", verb: "wait", id: "id", flags: kv{"pid": "3"}},
	{fam: FamilyRunsc, argv: "-version", globals: kv{"version": ""}, pos: []string{}},
	{fam: FamilyRunsc, argv: "--help", globals: kv{"help": ""}, pos: []string{}},
	{fam: FamilyRunsc, argv: "create -help", verb: "create", flags: kv{"help": ""}, pos: []string{}},
	{fam: FamilyRunsc, argv: "help syscalls", verb: "help", pos: split("syscalls")},
	{fam: FamilyRunsc, argv: "flags create", verb: "flags", pos: split("create")},
	{fam: FamilyRunsc, argv: "do -quiet ls -la", verb: "do", flags: kv{"quiet": ""}, pos: split("ls -la")},
	{fam: FamilyRunsc, argv: "spec -- /hello -x", verb: "spec", pos: split("/hello -x")},
	{fam: FamilyRunsc, argv: "port-forward -stream /s id 80", verb: "port-forward", id: "id", flags: kv{"stream": "/s"}, pos: split("id 80")},
	{fam: FamilyRunsc, argv: "read-control id cpuacct / cpuacct.usage", verb: "read-control", id: "id", pos: split("id cpuacct / cpuacct.usage")},
	{fam: FamilyRunsc, argv: "trace create --config c id", verb: "trace", pos: split("create --config c id")},
	{fam: FamilyRunsc, argv: "features", verb: "features", pos: []string{}},
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases {
		args := split(c.argv)
		inv, err := Parse(args, c.fam)
		if err != nil {
			t.Errorf("%v %q: %v", c.fam, c.argv, err)
			continue
		}
		pos := c.pos
		if pos == nil {
			pos = []string{c.id}
		}
		if inv.Verb != c.verb || inv.ID != c.id || strings.Join(inv.Positionals, " ") != strings.Join(pos, " ") || len(inv.Positionals) != len(pos) {
			t.Errorf("%v %q: verb %q id %q positionals %q, want %q %q %q", c.fam, c.argv, inv.Verb, inv.ID, inv.Positionals, c.verb, c.id, pos)
		}
		if g := lastValues(inv.Globals); !reflect.DeepEqual(g, c.globals) {
			t.Errorf("%v %q: globals %v, want %v", c.fam, c.argv, g, c.globals)
		}
		if f := lastValues(inv.Flags); !reflect.DeepEqual(f, c.flags) {
			t.Errorf("%v %q: flags %v, want %v", c.fam, c.argv, f, c.flags)
		}
		if got := inv.Argv(); !reflect.DeepEqual(got, args) {
			t.Errorf("%v %q: Argv() = %q", c.fam, c.argv, got)
		}
		if !reflect.DeepEqual(inv.Args, args) {
			t.Errorf("%v %q: Args = %q", c.fam, c.argv, inv.Args)
		}
	}
}

func TestParseTokens(t *testing.T) {
	inv, err := Parse(split("--root=/r --log /l create -b /b --pid-file=/p --no-pivot id"), FamilyRunc)
	if err != nil {
		t.Fatal(err)
	}
	want := []Flag{
		{Name: "bundle", Value: "/b", HasValue: true, Tokens: split("-b /b")},
		{Name: "pid-file", Value: "/p", HasValue: true, Tokens: split("--pid-file=/p")},
		{Name: "no-pivot", Tokens: split("--no-pivot")},
	}
	if !reflect.DeepEqual(inv.Flags, want) {
		t.Errorf("Flags = %+v", inv.Flags)
	}
	wantG := []Flag{
		{Name: "root", Value: "/r", HasValue: true, Tokens: split("--root=/r")},
		{Name: "log", Value: "/l", HasValue: true, Tokens: split("--log /l")},
	}
	if !reflect.DeepEqual(inv.Globals, wantG) {
		t.Errorf("Globals = %+v", inv.Globals)
	}
	// An empty "=" value is a value.
	inv, err = Parse([]string{"--root=", "state", "id"}, FamilyRunc)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := inv.Global("root"); !ok || v != "" || !inv.Globals[0].HasValue {
		t.Errorf("--root= gave %q %v", v, ok)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		fam  Family
		argv []string
		want string // substring of the error
	}{
		{FamilyRunc, nil, "secshim: no command"},
		{FamilyRunc, split("--root /r"), "secshim: no command"},
		{FamilyRunc, split("--debug"), "no command"},
		{FamilyRunc, split("bogus id"), `secshim: unknown command "bogus"`},
		{FamilyRunc, split("mounts add id"), `unknown command "mounts"`},
		{FamilyRunc, split("Create id"), `unknown command "Create"`},
		{FamilyRunc, split("--bogus create id"), `unknown flag "--bogus"`},
		{FamilyRunc, split("--root"), `"--root" needs a value`},
		{FamilyRunc, split("--debug=true create id"), "takes no value"},
		{FamilyRunc, split("-- create id"), `"--" before the command`},
		{FamilyRunc, split("-root /r create id"), "runc and crun read"},
		{FamilyRunc, split("create --bogus id"), `create: unknown flag "--bogus"`},
		{FamilyRunc, split("create --bundle"), `"--bundle" needs a value`},
		{FamilyRunc, split("create -b"), `"-b" needs a value`},
		{FamilyRunc, split("create id extra"), `unexpected argument "extra"`},
		{FamilyRunc, split("create id --bundle /other"), "flag-like argument"},
		{FamilyRunc, split("create id -b /other"), "flag-like argument"},
		{FamilyRunc, split("create --bundle /b"), "missing container ID"},
		{FamilyRunc, split("create -b=/x id"), "runc and crun read"},
		{FamilyRunc, split("create -bundle /x id"), "runc and crun read"},
		{FamilyRunc, split("create -b/x id"), "runc and crun read"},
		{FamilyRunc, split("create --bun /x id"), "unknown flag"},
		{FamilyRunc, split("create --b /x id"), "unknown flag"},
		{FamilyRunc, split("create --no-pivot=true id"), "takes no value"},
		{FamilyRunc, split("create ---bundle /x id"), "bad flag syntax"},
		{FamilyRunc, split("create --=x id"), "bad flag syntax"},
		{FamilyRunc, split("create -x id"), `unknown flag "-x"`},
		{FamilyRunc, split("start -b /x id"), `unknown flag "-b"`},
		{FamilyRunc, split("exec -dt id ls"), "runc and crun read"},
		{FamilyRunc, split("exec --tty=false id ls"), "takes no value"},
		{FamilyRunc, split("exec"), "missing container ID"},
		{FamilyRunc, split("exec --help=1 id"), "takes no value"},
		{FamilyRunc, split("kill id 9 extra"), "unexpected argument"},
		{FamilyRunc, split("kill id -9"), "flag-like argument"},
		{FamilyRunc, split("kill --regex id"), "unknown flag"},
		{FamilyRunc, split("delete -r id"), "unknown flag"},
		{FamilyRunc, split("delete id1 id2"), "unexpected argument"},
		{FamilyRunc, split("list foo"), "unexpected argument"},
		{FamilyRunc, split("help a b"), "unexpected argument"},
		{FamilyRunc, split("create -- -id"), "invalid container ID"},
		{FamilyRunc, split("create ../x"), "invalid container ID"},
		{FamilyRunc, split("create a/b"), "invalid container ID"},
		{FamilyRunc, split("create ."), "invalid container ID"},
		{FamilyRunc, split("create .."), "invalid container ID"},
		{FamilyRunc, []string{"create", ""}, "invalid container ID"},
		{FamilyRunc, []string{"create", "a\x00b"}, "invalid container ID"},
		{FamilyRunc, []string{"create", "a b"}, "invalid container ID"},
		{FamilyRunc, []string{"create", "a\nb"}, "invalid container ID"},
		{FamilyRunc, []string{"delete", "x*"}, "invalid container ID"},
		{Family(9), split("state id"), "unknown runtime family"},

		{FamilyRunsc, nil, "no command"},
		{FamilyRunsc, split("create id -bundle /x"), "flag-like argument"},
		{FamilyRunsc, split("create -b /x id"), `unknown flag "-b"`},
		{FamilyRunsc, split("-debug=maybe create id"), "invalid boolean"},
		{FamilyRunsc, split("-debug true create id"), `unknown command "true"`},
		{FamilyRunsc, split("-gvisor-gro 1ms state id"), "differs between runsc releases"},
		{FamilyRunsc, split("-version=false state id"), "takes no value"},
		{FamilyRunsc, split("--=x state id"), "bad flag syntax"},
		{FamilyRunsc, split("---root /r state id"), "bad flag syntax"},
		{FamilyRunsc, split("-cgroup-manager x state id"), "unknown flag"},
		{FamilyRunsc, split("syscalls"), `unknown command "syscalls"`},
		{FamilyRunsc, split("delete id1 id2"), "unexpected argument"},
		{FamilyRunsc, split("ps id -ef"), "flag-like argument"},
		{FamilyRunsc, split("update -r - id"), "unknown flag"},
		{FamilyRunsc, split("port-forward id"), "missing argument"},
		{FamilyRunsc, split("create -bundle"), "needs a value"},
	}
	for _, c := range cases {
		inv, err := Parse(c.argv, c.fam)
		if err == nil {
			t.Errorf("%v %q: parsed as %+v, want error %q", c.fam, c.argv, inv, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "secshim: ") {
			t.Errorf("%v %q: error %q, want %q", c.fam, c.argv, err, c.want)
		}
	}
}

func TestUnknownCommandMessage(t *testing.T) {
	_, err := Parse(split("--root /r x"), FamilyRunc)
	if err == nil || err.Error() != `secshim: unknown command "x"` {
		t.Errorf("got %v", err)
	}
}

func mustParse(t *testing.T, fam Family, argv string) *Invocation {
	t.Helper()
	inv, err := Parse(split(argv), fam)
	if err != nil {
		t.Fatalf("%q: %v", argv, err)
	}
	return inv
}

func TestBundleAndSpecPath(t *testing.T) {
	const cwd = "/work/dir"
	cases := []struct {
		fam          Family
		argv         string
		bundle, spec string // "" with err
		err          string
	}{
		{FamilyRunc, "create id", cwd, cwd + "/config.json", ""},
		{FamilyRunc, "create --bundle /b id", "/b", "/b/config.json", ""},
		{FamilyRunc, "create -b /b/ id", "/b", "/b/config.json", ""},
		{FamilyRunc, "create --bundle=/b//c/. id", "/b/c", "/b/c/config.json", ""},
		{FamilyRunc, "create -b rel id", cwd + "/rel", cwd + "/rel/config.json", ""},
		{FamilyRunc, "run --bundle ./rel/sub id", cwd + "/rel/sub", cwd + "/rel/sub/config.json", ""},
		{FamilyRunc, "restore --bundle /b --image-path /i id", "/b", "/b/config.json", ""},
		// crun --config: relative to the working directory, except the
		// literal "config.json", which stays in the bundle.
		{FamilyRunc, "create --config /x/cfg.json -b /b id", "/b", "/x/cfg.json", ""},
		{FamilyRunc, "create -f cfg.json -b /b id", "/b", cwd + "/cfg.json", ""},
		{FamilyRunc, "run -b /b -f config.json id", "/b", "/b/config.json", ""},
		{FamilyRunc, "create -b /b -f ./config.json id", "/b", cwd + "/config.json", ""},
		{FamilyRunc, "create -b /b -f sub/c.json id", "/b", cwd + "/sub/c.json", ""},
		{FamilyRunc, "create -b /b -f ../c.json id", "/b", "", `config path "../c.json" contains ".."`},
		{FamilyRunc, "create -b /b --config= id", "/b", "", "empty config"},
		{FamilyRunc, "create --bundle ../x id", "", "", `bundle path "../x" contains ".."`},
		{FamilyRunc, "create --bundle /a/../b id", "", "", `contains ".."`},
		{FamilyRunc, "create --bundle= id", "", "", "empty bundle"},
		{FamilyRunc, "start id", "", "", "start takes no bundle"},
		{FamilyRunc, "exec id ls", "", "", "takes no bundle"},
		{FamilyRunsc, "create id", cwd, cwd + "/config.json", ""},
		{FamilyRunsc, "create -bundle rel id", cwd + "/rel", cwd + "/rel/config.json", ""},
		{FamilyRunsc, "run --bundle=/b id", "/b", "/b/config.json", ""},
		{FamilyRunsc, "restore -bundle /b -image-path /i id", "/b", "/b/config.json", ""},
	}
	for _, c := range cases {
		inv := mustParse(t, c.fam, c.argv)
		b, berr := inv.Bundle(FixedWorkDir(cwd))
		s, serr := inv.SpecPath(FixedWorkDir(cwd))
		if c.err != "" {
			err := serr
			if c.bundle == "" {
				err = berr
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: bundle %q %v, spec %q %v; want error %q", c.argv, b, berr, s, serr, c.err)
			}
			if c.bundle != "" && (berr != nil || b != c.bundle) {
				t.Errorf("%q: Bundle = %q, %v; want %q", c.argv, b, berr, c.bundle)
			}
			continue
		}
		if berr != nil || serr != nil || b != c.bundle || s != c.spec {
			t.Errorf("%q: Bundle = %q, %v; SpecPath = %q, %v; want %q, %q", c.argv, b, berr, s, serr, c.bundle, c.spec)
		}
	}
	inv := mustParse(t, FamilyRunc, "create -b rel id")
	for _, bad := range []string{"", "rel/dir", "/a/../b"} {
		if _, err := inv.Bundle(FixedWorkDir(bad)); err == nil {
			t.Errorf("Bundle(%q) accepted a bad working directory", bad)
		}
	}
}

func TestSetFlag(t *testing.T) {
	inv := mustParse(t, FamilyRunc, "--root /r update -r /a --memory 1 --resources=/b id")
	inv.SetFlag("resources", "/new")
	want := split("--root /r update --resources=/new --memory 1 id")
	if got := inv.Argv(); !reflect.DeepEqual(got, want) {
		t.Errorf("Argv() = %q, want %q", got, want)
	}
	if v, _ := inv.Flag("resources"); v != "/new" {
		t.Errorf("Flag(resources) = %q", v)
	}
	if !reflect.DeepEqual(inv.Args, split("--root /r update -r /a --memory 1 --resources=/b id")) {
		t.Errorf("Args changed: %q", inv.Args)
	}

	inv = mustParse(t, FamilyRunc, "update --resources - id")
	inv.SetFlag("memory", "512")
	want = split("update --resources - --memory=512 id")
	if got := inv.Argv(); !reflect.DeepEqual(got, want) {
		t.Errorf("Argv() = %q, want %q", got, want)
	}
	// The rebuilt argv parses to the same thing.
	again, err := Parse(inv.Argv(), FamilyRunc)
	if err != nil || !reflect.DeepEqual(lastValues(again.Flags), kv{"resources": "-", "memory": "512"}) {
		t.Errorf("reparse: %v %v", again, err)
	}

	inv = mustParse(t, FamilyRunsc, "update -resources /a id")
	inv.SetFlag("resources", "")
	if got := inv.Argv(); !reflect.DeepEqual(got, split("update --resources= id")) {
		t.Errorf("Argv() = %q", got)
	}
}

func TestRemoveAndAddFlag(t *testing.T) {
	inv := mustParse(t, FamilyRunc, "exec --cap CAP_A -c CAP_B --cap CAP_A --detach ID sh -c x")
	if got := inv.FlagAll("cap"); !reflect.DeepEqual(got, split("CAP_A CAP_B CAP_A")) {
		t.Errorf("FlagAll(cap) = %q", got)
	}
	inv.RemoveFlagValue("cap", "CAP_A")
	inv.AddFlag("no-new-privs", "")
	want := split("exec -c CAP_B --detach --no-new-privs ID sh -c x")
	if got := inv.Argv(); !reflect.DeepEqual(got, want) {
		t.Errorf("Argv() = %q, want %q", got, want)
	}
	inv.RemoveFlag("cap")
	inv.AddFlag("cwd", "/w")
	want = split("exec --detach --no-new-privs --cwd=/w ID sh -c x")
	if got := inv.Argv(); !reflect.DeepEqual(got, want) {
		t.Errorf("Argv() = %q, want %q", got, want)
	}
	if inv.FlagAll("cap") != nil {
		t.Errorf("cap left: %q", inv.FlagAll("cap"))
	}

	// Added flags go before a "--" and the positionals.
	inv = mustParse(t, FamilyRunc, "exec -t -- ID ls")
	inv.AddFlag("no-new-privs", "")
	if got := inv.Argv(); !reflect.DeepEqual(got, split("exec -t --no-new-privs -- ID ls")) {
		t.Errorf("Argv() = %q", got)
	}

	// runsc bools take "=value".
	inv = mustParse(t, FamilyRunsc, "exec -detach id ls")
	inv.SetFlag("detach", "false")
	if got := inv.Argv(); !reflect.DeepEqual(got, split("exec --detach=false id ls")) {
		t.Errorf("Argv() = %q", got)
	}
	if inv.FlagBool("detach") {
		t.Error("FlagBool(detach) after --detach=false")
	}
}

func TestMutationBugsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"unknown flag":      func() { mustParse(t, FamilyRunc, "start id").SetFlag("bundle", "/x") },
		"help flag":         func() { mustParse(t, FamilyRunc, "exec id ls").AddFlag("help", "") },
		"runc bool value":   func() { mustParse(t, FamilyRunc, "exec id ls").AddFlag("detach", "true") },
		"no verb":           func() { mustParse(t, FamilyRunc, "--version").AddFlag("detach", "") },
		"runsc unknown set": func() { mustParse(t, FamilyRunsc, "exec id ls").SetFlag("no-new-privs", "") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestArgvWith(t *testing.T) {
	inv := mustParse(t, FamilyRunsc, "-root /r -log-format json create -bundle /b id")
	got := inv.ArgvWith([]string{"--oci-seccomp", "--platform=systrap"})
	want := split("-root /r -log-format json --oci-seccomp --platform=systrap create -bundle /b id")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ArgvWith = %q, want %q", got, want)
	}
	inv = mustParse(t, FamilyRunc, "h create")
	if got := inv.ArgvWith([]string{"--debug"}); !reflect.DeepEqual(got, split("--debug h create")) {
		t.Errorf("ArgvWith = %q", got)
	}
	inv = mustParse(t, FamilyRunc, "--version")
	if got := inv.ArgvWith([]string{"--debug"}); !reflect.DeepEqual(got, split("--version --debug")) {
		t.Errorf("ArgvWith = %q", got)
	}
}

func TestGlobalLookups(t *testing.T) {
	inv := mustParse(t, FamilyRunc, "--root /a --root=/b --systemd-cgroup --log-format json state id")
	if v, ok := inv.Global("root"); !ok || v != "/b" {
		t.Errorf("Global(root) = %q %v", v, ok)
	}
	if v, ok := inv.Global("systemd-cgroup"); !ok || v != "" {
		t.Errorf("Global(systemd-cgroup) = %q %v", v, ok)
	}
	if _, ok := inv.Global("debug"); ok {
		t.Error("Global(debug) found")
	}
	if !inv.GlobalBool("systemd-cgroup") || inv.GlobalBool("debug") {
		t.Error("GlobalBool")
	}
	inv = mustParse(t, FamilyRunsc, "-oci-seccomp -debug=1 -oci-seccomp=false -rootless=true state id")
	if inv.GlobalBool("oci-seccomp") || !inv.GlobalBool("debug") || !inv.GlobalBool("rootless") {
		t.Errorf("GlobalBool: oci-seccomp %v debug %v rootless %v", inv.GlobalBool("oci-seccomp"), inv.GlobalBool("debug"), inv.GlobalBool("rootless"))
	}
	if v, ok := inv.Global("oci-seccomp"); !ok || v != "false" {
		t.Errorf("Global(oci-seccomp) = %q %v", v, ok)
	}
}

func TestHelpOnly(t *testing.T) {
	for _, c := range []struct {
		fam  Family
		argv string
		want bool
	}{
		{FamilyRunc, "--version", true},
		{FamilyRunc, "-v create id", true},
		{FamilyRunc, "checkpoint --help", true},
		{FamilyRunc, "create -b /b --help id", true},
		{FamilyRunc, "h", true},
		{FamilyRunc, "create --pid-file --help id", false},
		{FamilyRunc, "exec id --help", false},
		{FamilyRunc, "create id", false},
		{FamilyRunsc, "flags", true},
		{FamilyRunsc, "create -h", true},
		{FamilyRunsc, "-version", true},
		{FamilyRunsc, "create -bundle -help id", false},
	} {
		if got := mustParse(t, c.fam, c.argv).HelpOnly(); got != c.want {
			t.Errorf("%v %q: HelpOnly() = %v", c.fam, c.argv, got)
		}
	}
}

// TestTables checks the tables hold together: every verb that reads a
// bundle has --bundle, every runc 1.1 and crun 1.8 verb is known.
func TestTables(t *testing.T) {
	for fam, fs := range families {
		fam := Family(fam)
		for _, verb := range []string{"create", "run", "restore"} {
			if !bundleVerb(verb) {
				t.Errorf("bundleVerb(%q) is false", verb)
			}
			v := fs.verb(verb)
			if v == nil || !hasKind(fs.table(v, ""), "bundle", kindValue) {
				t.Errorf("%v %s: no --bundle", fam, verb)
			}
		}
	}
	for _, verb := range split("checkpoint create delete events exec init kill list pause ps restore resume run spec start state update features help") {
		if runcVerbs()[verb] == nil {
			t.Errorf("runc verb %s missing", verb)
		}
	}
	for _, verb := range split("checkpoint create delete do events exec flags help kill list pause ps restore resume run spec start state wait debug read-control symbolize usage write-control install mitigate trace uninstall boot gofer umount port-forward tar update features") {
		if runscVerbs()[verb] == nil {
			t.Errorf("runsc verb %s missing", verb)
		}
	}
}

func hasKind(t *flagTable, name string, want flagKind) bool {
	k, ok := t.kindOf(name)
	return ok && k == want
}

// TestTablesWellFormed: within a table (a verb's flags with the help
// flags, or the global ones with the version flags) no long name and no
// one-letter alias is listed twice, and every alias is one letter. A
// lookup returns the first match, so a duplicate would hide a flag.
func TestTablesWellFormed(t *testing.T) {
	for fam, fs := range families {
		fam := Family(fam)
		tables := map[string]*flagTable{"globals": fs.globalTable()}
		for name, v := range fs.verbs() {
			tables[name] = fs.table(v, "")
		}
		for name, tab := range tables {
			longs, shorts := map[string]bool{}, map[string]bool{}
			for _, l := range tab {
				for _, tok := range strings.Fields(l.names) {
					parts := strings.Split(tok, "|")
					if longs[parts[0]] {
						t.Errorf("%v %s: --%s listed twice", fam, name, parts[0])
					}
					longs[parts[0]] = true
					for _, a := range parts[1:] {
						if len(a) != 1 || shorts[a] {
							t.Errorf("%v %s: bad or repeated alias %q of --%s", fam, name, a, parts[0])
						}
						shorts[a] = true
					}
				}
			}
		}
	}
}

// The installed backends, when present, are the reference: every flag
// their help lists must be in the table with the same kind and alias.

var (
	runcOpt  = regexp.MustCompile(`^\s+--([a-z0-9-]+)( value)?(?:, -([a-zA-Z?]))?(?: value)?\s{2}`)
	crunOpt  = regexp.MustCompile(`^\s+(?:-(.), )?(?:-(.), )?--([a-z0-9-]+)(\[?=[A-Z]+\]?)?`)
	runscOpt = regexp.MustCompile(`^  -(\S+)(?: (\S+))?`)
)

func helpOf(t *testing.T, bin string, args ...string) []string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s not installed", bin)
	}
	out, _ := exec.Command(path, args...).CombinedOutput()
	return strings.Split(string(out), "\n")
}

// notTaken are the backends' flags secshim refuses on purpose.
var notTaken = map[string]bool{"crun kill regex": true, "crun delete regex": true}

func checkFlag(t *testing.T, where string, tab *flagTable, name string, shorts []string, value bool) {
	t.Helper()
	if notTaken[where+" "+name] {
		return
	}
	k, ok := tab.kindOf(name)
	switch {
	case !ok:
		t.Errorf("%s: --%s missing from the table", where, name)
	case k == kindHelp:
	case value && k == kindBool || !value && k != kindBool:
		t.Errorf("%s: --%s has kind %d, help says value=%v", where, name, k, value)
	}
	for _, s := range shorts {
		if s == "" {
			continue
		}
		if long, _ := tab.longOf(s[0]); long != name {
			t.Errorf("%s: -%s is %q in the table, help says --%s", where, s, long, name)
		}
	}
}

func TestRuncHelpAgrees(t *testing.T) {
	fs := families[FamilyRunc]
	verbs := []string{""}
	for v := range runcVerbs() {
		if v != "init" && v != "help" {
			verbs = append(verbs, v)
		}
	}
	for _, verb := range verbs {
		args, tab := []string{"--help"}, fs.globalTable()
		if verb != "" {
			args, tab = []string{verb, "--help"}, fs.table(fs.verb(verb), "")
		}
		for _, l := range helpOf(t, "runc", args...) {
			if m := runcOpt.FindStringSubmatch(l); m != nil {
				checkFlag(t, "runc "+verb, tab, m[1], m[3:4], m[2] != "")
			}
		}
	}
}

func TestCrunHelpAgrees(t *testing.T) {
	fs := families[FamilyRunc]
	verbs := []string{""}
	for v := range runcVerbs() {
		// crun 1.8 has no events and init; checkpoint and restore need CRIU.
		if !strings.Contains(" init help events features checkpoint restore ", " "+v+" ") {
			verbs = append(verbs, v)
		}
	}
	for _, verb := range verbs {
		args, tab := []string{"--help"}, fs.globalTable()
		if verb != "" {
			args, tab = []string{verb, "--help"}, fs.table(fs.verb(verb), "")
		}
		for _, l := range helpOf(t, "crun", args...) {
			m := crunOpt.FindStringSubmatch(l)
			if m == nil || m[3] == "usage" {
				continue
			}
			optional := strings.HasPrefix(m[4], "[")
			if optional && !(verb == "exec" && m[3] == "tty") {
				t.Errorf("crun %s: unexpected optional value of --%s", verb, m[3])
			}
			checkFlag(t, "crun "+verb, tab, m[3], m[1:3], m[4] != "" && !optional)
		}
	}
}

func TestRunscHelpAgrees(t *testing.T) {
	fs := families[FamilyRunsc]
	types := map[string]bool{"string": true, "int": true, "uint": true, "value": true, "duration": true, "int64": true, "uint64": true, "float": true}
	verbs := []string{""}
	for v := range runscVerbs() {
		verbs = append(verbs, v)
	}
	installed := map[string]bool{}
	for _, l := range helpOf(t, "runsc", "help") {
		if f := strings.Fields(l); len(f) > 1 && strings.HasPrefix(l, "\t") {
			installed[f[0]] = true
		}
	}
	for _, verb := range verbs {
		tab := fs.globalTable()
		args := []string{"flags"}
		if verb != "" {
			if !installed[verb] {
				continue // newer than the installed runsc
			}
			tab = fs.table(fs.verb(verb), "")
			args = append(args, verb)
		}
		for _, l := range helpOf(t, "runsc", args...) {
			m := runscOpt.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			value := types[m[2]]
			if k, _ := tab.kindOf(m[1]); k == kindEq {
				continue // either kind is fine: only "-f=v" is accepted
			}
			checkFlag(t, "runsc "+verb, tab, m[1], nil, value)
		}
	}
}

// The working directory is only asked for when a path is relative: engines
// pass absolute paths, and os.Getwd costs two stats.
func TestWorkDirOnlyForRelativePaths(t *testing.T) {
	asked := false
	cwd := WorkDir(func() (string, error) { asked = true; return "", errors.New("no working directory") })
	for args, relative := range map[string]bool{
		"create --bundle /b id":                      false,
		"create --bundle /b --config /c.json id":     false,
		"create --bundle /b --config config.json id": false,
		"create id":                                        true,
		"create --bundle b id":                             true,
		"create --bundle /b --config c.json id":            true,
		"--root /r create --bundle=/b --pid-file=/run/p x": false,
	} {
		asked = false
		inv := mustParse(t, FamilyRunc, args)
		_, err := inv.SpecPath(cwd)
		if asked != relative || (err != nil) != relative {
			t.Errorf("%s: working directory asked %v, err %v; want asked %v", args, asked, err, relative)
		}
	}
	for p, relative := range map[string]bool{"/run/p.pid": false, "p.pid": true} {
		asked = false
		if got, err := cwd.Resolve(p); asked != relative || !relative && (err != nil || got != p) {
			t.Errorf("Resolve(%q) = %q, %v; asked %v", p, got, err, asked)
		}
	}
}
