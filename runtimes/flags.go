package runtimes

import (
	"strings"
	"sync"
)

// Flag tables of the backends secshim stands in for. A flag's kind decides
// whether the token after it is its value or the verb / container ID, so a
// wrong kind here is a parsing bug with security consequences: when in
// doubt a flag is left out (the invocation is refused) rather than guessed.
//
// Sources, checked against the installed binaries:
//   - FamilyRunc: `runc [<verb>] --help` of runc 1.1.5 (urfave/cli v1,
//     hidden flags such as update --kernel-memory probed by hand) plus later
//     runc (update --cpu-burst, --cpu-idle), and `crun <verb> --help` of
//     crun 1.8.1 (GNU argp) plus crun's src/*.c argp_option tables.
//   - FamilyRunsc: `runsc flags` and `runsc flags <verb>` of runsc
//     20221219 (Go flag package), plus runsc/config/flags.go and
//     runsc/cmd/{update,portforward,tar,features}.go of current gVisor.
//
// Deliberately absent (so refused): crun's --regex/-r of kill and delete
// (the ID would become a pattern naming several containers), crun's
// mounts verb (adds mounts to a running container), argp's hidden
// --program-name and --HANG, and runsc verbs newer than the tables
// (profile, nvproxy, metric-*, fscheckpoint, ...).

// flagKind says how a flag takes its value.
type flagKind uint8

const (
	kindBool  flagKind = iota // never takes the next token as its value
	kindValue                 // always has a value: "--f v" or "--f=v"
	kindEq                    // runsc only: value only as "-f=v", because the flag is a bool in some releases and takes a value in others
	kindHelp                  // help, usage or version: the backend prints text and exits
)

// flagTable is one table: its flags by kind, as the specs spell them
// ("name|x|y"). Lookups scan the lists: a call looks up a handful of
// flags, and building maps of them would cost every call more.
type flagTable [5]flagList

type flagList struct {
	names string
	kind  flagKind
}

// find returns the first flag whose long name and "|"-separated aliases
// match accepts.
func (t *flagTable) find(match func(long, aliases string) bool) (string, flagKind, bool) {
	for _, l := range t {
		for rest := l.names; rest != ""; {
			var tok string
			tok, rest, _ = strings.Cut(rest, " ")
			if long, aliases, _ := strings.Cut(tok, "|"); match(long, aliases) {
				return long, l.kind, true
			}
		}
	}
	return "", 0, false
}

// kindOf is the kind of the flag with long name name.
func (t *flagTable) kindOf(name string) (flagKind, bool) {
	_, k, ok := t.find(func(long, _ string) bool { return long == name })
	return k, ok
}

// longOf is the long name of FamilyRunc's one-letter alias c.
func (t *flagTable) longOf(c byte) (string, bool) {
	long, _, ok := t.find(func(_, aliases string) bool {
		for aliases != "" {
			var a string
			a, aliases, _ = strings.Cut(aliases, "|")
			if len(a) == 1 && a[0] == c {
				return true
			}
		}
		return false
	})
	return long, ok
}

// argSpec says what follows a verb's flags.
type argSpec struct {
	id       bool // the first positional is a container ID, required
	min, max int  // positionals after the ID (all of them without one); max < 0: no limit
	verbatim bool // they belong to the backend's callee (exec's command, ps(1)'s options) and are kept even when they start with '-'
}

var (
	noArgs = argSpec{}
	idOnly = argSpec{id: true}
)

// verbSpec lists a verb's flags as space-separated names; "name|x|y" gives
// a FamilyRunc flag its one-letter aliases.
type verbSpec struct {
	args               argSpec
	values, bools, eqs string
}

type familySpec struct {
	globalSpec    *verbSpec
	verbs         func() map[string]*verbSpec // built on first use: init is on every call's path
	aliases       [][2]string                 // verb aliases: runc's "h" is "help"
	help, version string                      // help and version flags of every table
}

// runcGlobals is the union of runc's and crun's global flags. --criu is
// runc's, --cgroup-manager crun's, --log-level later crun's: the backend
// that lacks one fails on it, which is harmless. --rootless takes a value
// (true, false, auto) in both.
var runcGlobals = verbSpec{
	values: "log log-format log-level root criu rootless cgroup-manager",
	bools:  "debug systemd-cgroup",
}

// runcVerbs is the union of runc 1.1's and crun 1.8's verbs. Each verb's
// flags are the union of both backends' flags for it; where both know a
// flag they agree on its kind and its one-letter alias (crun's -f is
// --config for create/run, --force for delete, --format for list/ps,
// --file for spec; runc's -f is --force or --format).
var runcVerbs = sync.OnceValue(func() map[string]*verbSpec {
	return map[string]*verbSpec{
		"checkpoint": {args: idOnly,
			values: "image-path work-path parent-path status-fd page-server manage-cgroups-mode empty-ns",
			bools:  "leave-running tcp-established ext-unix-sk shell-job lazy-pages file-locks pre-dump auto-dedup"},
		"create": {args: idOnly,
			values: "bundle|b config|f console-socket pid-file preserve-fds",
			bools:  "no-pivot no-new-keyring no-subreaper"},
		"delete": {args: idOnly, bools: "force|f"},
		"events": {args: idOnly, values: "interval", bools: "stats"},
		// Everything after exec's ID is the command, verbatim, in every
		// backend: crun parses exec with ARGP_IN_ORDER (src/exec.c:
		// argp_parse (&run_argp, argc, argv, ARGP_IN_ORDER, &first_arg, ...)),
		// so argp stops at the first non-option, the ID; runc's exec sets
		// urfave/cli's SkipArgReorder; runsc's Go flags stop at the ID. Checked
		// on the installed binaries: `crun exec ID ls --bogus` and `crun exec
		// ID --bogus` get past option parsing, `runc exec ID ls -p` looks up
		// container ID. (crun 1.8 parses create, run, delete, kill, update, ps
		// and state ARGP_IN_ORDER as well and fails on an option after the
		// ID; runc reorders those: `runc create ID --bundle X` uses bundle X.
		// Hence Parse refuses a flag-like token after any other verb's ID.)
		// --tty is a bool in runc and takes an optional "=VALUE" in crun
		// ("--tty=no" is false there, an error in runc; "--tty=0" false in
		// runc, true in crun): only the bare form means the same to both.
		"exec": {args: argSpec{id: true, max: -1, verbatim: true},
			values: "console-socket cwd env|e user|u additional-gids|g process|p pid-file process-label apparmor cap|c preserve-fds cgroup",
			bools:  "tty|t detach|d no-new-privs ignore-paused"},
		"features": {args: noArgs},
		"help":     {args: argSpec{max: 1}},
		"init":     {args: noArgs},
		"kill":     {args: argSpec{id: true, max: 1}, bools: "all|a"},
		"list":     {args: noArgs, values: "format|f", bools: "quiet|q"},
		"pause":    {args: idOnly},
		// runc hands ps's positionals after the ID to ps(1) unparsed; crun
		// refuses any.
		"ps": {args: argSpec{id: true, max: -1, verbatim: true}, values: "format|f"},
		"restore": {args: idOnly,
			values: "console-socket image-path work-path manage-cgroups-mode bundle|b pid-file empty-ns lsm-profile lsm-mount-context",
			bools:  "tcp-established ext-unix-sk shell-job file-locks detach|d no-subreaper no-pivot auto-dedup lazy-pages"},
		"resume": {args: idOnly},
		"run": {args: idOnly,
			values: "bundle|b config|f console-socket pid-file preserve-fds",
			bools:  "detach|d keep no-subreaper no-pivot no-new-keyring"},
		"spec":  {args: noArgs, values: "bundle|b file|f", bools: "rootless"},
		"start": {args: idOnly},
		"state": {args: idOnly},
		"update": {args: idOnly,
			values: "resources|r blkio-weight cpu-period cpu-quota cpu-burst cpu-share cpu-rt-period cpu-rt-runtime " +
				"cpuset-cpus cpuset-mems cpu-idle kernel-memory kernel-memory-tcp memory memory-reservation memory-swap " +
				"pids-limit l3-cache-schema mem-bw-schema"},
	}
})

// runscGlobals are runsc's top-level Go flags: those of runsc 20221219 and
// of current gVisor. Their kinds agree between the two except
// -gvisor-gro (a duration then, a bool now) and -EXPERIMENTAL-xdp (a bool
// in 2023 releases, a value now), taken only as "-f=v".
var runscGlobals = verbSpec{
	values: "root log log-format debug-log debug-command debug-log-format debug-log-fd log-fd panic-log panic-log-fd " +
		"coverage-report coverage-fd pcap-log traceback strace-syscalls strace-log-size platform platform_device_path " +
		"watchdog-action panic-signal profile-block profile-cpu profile-heap profile-mutex profile-gc-interval trace " +
		"ref-leak-mode pod-init-config file-access file-access-mounts overlay2 host-uds host-fifo fdlimit dcache " +
		"network num-network-channels qdisc TESTONLY-test-name-env " +
		// current gVisor only
		"metric-server final-metrics-log profiling-metrics profiling-metrics-log profiling-metrics-rate-us " +
		"signal-unkillable-policy host-settings sidecar-release-enforcement-policy sidecar-usage-policy " +
		"restore-spec-validation control-rpc-stop-timeout shared-root character-device-policy override-procs " +
		"in-sandbox-cgroup network-proxy-path gofer-network-namespace qdisc-tbf-rate qdisc-tbf-burst " +
		"network-processors-per-channel nvproxy-driver-version cuda-checkpoint-path " +
		"nvproxy-allowed-driver-capabilities TESTONLY-autosave-image-path",
	bools: "debug systemd-cgroup rootless oci-seccomp ignore-cgroups net-raw log-packets alsologtostderr " +
		"allow-flag-override strace strace-event profile cpu-num-from-quota enable-core-tags overlay gso " +
		"software-gso tx-checksum-offload rx-checksum-offload buffer-pooling vfs2 fuse lisafs cgroupfs " +
		"fsgofer-host-uds EXPERIMENTAL-afxdp TESTONLY-allow-packet-endpoint-write TESTONLY-unsafe-nonroot " +
		// current gVisor only
		"debug-to-user-log systrap-disable-syscall-patching systrap-disable-fast-path allow-suid kvm-use-cpu-nums " +
		"allow-rootfs-tar-annotation app-huge-pages gvisor-marker-file iouring directfs TESTONLY-nftables " +
		"allow-packet-socket-write allow-live-tcp-migration EXPERIMENTAL-xdp-need-wakeup reproduce-nat " +
		"reproduce-nftables net-disconnect-ok pause-external-networking allow-connected-on-save nvproxy " +
		"nvproxy-docker nvproxy-allow-unsupported-driver rdmaproxy tpuproxy TESTONLY-afs-syscall-panic " +
		"TESTONLY-autosave-resume save-restore-netstack mount-cgroup-v2",
	eqs: "gvisor-gro EXPERIMENTAL-xdp",
}

// runscVerbs are runsc 20221219's subcommands (`runsc flags <verb>`) plus
// update, features, port-forward and tar of current gVisor. runsc stops
// parsing a verb's flags at its first positional (Go flag); `runsc help
// syscalls` and `runsc help platforms` are help topics, not verbs.
var runscVerbs = sync.OnceValue(func() map[string]*verbSpec {
	return map[string]*verbSpec{
		"boot": {args: idOnly,
			values: "bundle controller-fd cpu-num device-fd io-fds mounts-fd overlay-filestore-fd pod-init-config-fd " +
				"proc-mount-sync-fd product-name profile-block-fd profile-cpu-fd profile-heap-fd profile-mutex-fd " +
				"sink-fds spec-fd start-sync-fd stdio-fds total-memory trace-fd user-log-fd",
			bools: "apply-caps attached pidns setup-root"},
		"checkpoint": {args: idOnly, values: "image-path work-path", bools: "leave-running"},
		"create":     {args: idOnly, values: "bundle console-socket pid-file user-log"},
		"debug": {args: idOnly,
			values: "delay duration log-level log-packets pid profile-block profile-cpu profile-heap profile-mutex signal strace trace",
			bools:  "ps stacks"},
		// runsc delete takes several IDs; engines pass one, and one is all
		// secshim accepts.
		"delete": {args: idOnly, bools: "force"},
		// do runs a command in a sandbox over the host's root: no bundle.
		"do":     {args: argSpec{min: 1, max: -1, verbatim: true}, values: "cwd gid-map ip root uid-map", bools: "force-overlay quiet"},
		"events": {args: idOnly, values: "interval", bools: "stats"},
		"exec": {args: argSpec{id: true, max: -1, verbatim: true},
			values: "additional-gids cap console-socket cwd env internal-pid-file pid-file process user",
			bools:  "detach"},
		"features": {args: noArgs},
		"flags":    {args: argSpec{max: 1}},
		"gofer": {args: noArgs,
			values: "bundle io-fds mounts-fd profile-block-fd profile-cpu-fd profile-heap-fd profile-mutex-fd spec-fd sync-userns-fd trace-fd",
			bools:  "apply-caps setup-root"},
		"help":         {args: argSpec{max: 1}},
		"install":      {args: argSpec{max: -1, verbatim: true}, values: "cgroupdriver config_file runtime", bools: "clobber experimental"},
		"kill":         {args: argSpec{id: true, max: 1}, values: "pid", bools: "all"},
		"list":         {args: noArgs, values: "format", bools: "quiet sandbox"},
		"mitigate":     {args: noArgs, bools: "dryrun reverse"},
		"pause":        {args: idOnly},
		"port-forward": {args: argSpec{id: true, min: 1, max: 1}, values: "stream"},
		"ps":           {args: idOnly, values: "format"},
		"read-control": {args: argSpec{id: true, min: 3, max: 3}},
		"restore": {args: idOnly,
			values: "bundle console-socket image-path pid-file user-log work-path",
			bools:  "detach no-subreaper"},
		"resume":    {args: idOnly},
		"run":       {args: idOnly, values: "bundle console-socket pid-file user-log", bools: "detach"},
		"spec":      {args: argSpec{max: -1, verbatim: true}, values: "bundle cwd netns"},
		"start":     {args: idOnly},
		"state":     {args: idOnly},
		"symbolize": {args: noArgs, bools: "all"},
		// trace and tar dispatch to nested subcommands that parse the rest.
		"tar":       {args: argSpec{max: -1, verbatim: true}},
		"trace":     {args: argSpec{max: -1, verbatim: true}},
		"umount":    {args: argSpec{min: 1, max: 1}, values: "sync-fd"},
		"uninstall": {args: argSpec{max: 1}, values: "config_file runtime"},
		"update": {args: idOnly,
			values: "resources blkio-weight cpu-burst cpu-idle cpu-period cpu-quota cpu-rt-period cpu-rt-runtime cpu-share " +
				"cpuset-cpus cpuset-mems memory memory-reservation memory-swap pids-limit l3-cache-schema mem-bw-schema"},
		"usage":         {args: idOnly, bools: "fd full"},
		"wait":          {args: idOnly, values: "pid rootpid"},
		"write-control": {args: argSpec{id: true, min: 4, max: 4}},
	}
})

// families holds the tables. Help flags are added to every table: runc's
// --help/-h, crun's -?/--usage, runsc's -help/-h (Go flag's), and the
// version flags to the global ones. The verb maps are built on first use,
// and this is an array, not a map: package init, where a map literal is
// built, is on every call's path.
var families = [...]*familySpec{
	FamilyRunc:  {verbs: runcVerbs, aliases: [][2]string{{"h", "help"}}, help: "help|h|? usage", version: "version|v|V", globalSpec: &runcGlobals},
	FamilyRunsc: {verbs: runscVerbs, help: "help h", version: "version", globalSpec: &runscGlobals},
}

// familyOf is a family's spec, nil for an unknown family.
func familyOf(fam Family) *familySpec {
	if fam < 0 || int(fam) >= len(families) {
		return nil
	}
	return families[fam]
}

// canonicalVerb resolves a verb alias (runc's "h" is "help").
func (fs *familySpec) canonicalVerb(verb string) string {
	for _, a := range fs.aliases {
		if a[0] == verb {
			return a[1]
		}
	}
	return verb
}

// globalTable is the family's table of global flags.
func (fs *familySpec) globalTable() *flagTable {
	return fs.table(fs.globalSpec, fs.version)
}

// table is a verb's table: its flags, the help flags, and extra (the
// version flags of the global table).
func (fs *familySpec) table(v *verbSpec, extra string) *flagTable {
	return &flagTable{{v.values, kindValue}, {v.bools, kindBool}, {v.eqs, kindEq}, {fs.help, kindHelp}, {extra, kindHelp}}
}

// verb is a verb's spec, or nil for an unknown verb.
func (fs *familySpec) verb(name string) *verbSpec { return fs.verbs()[name] }
