/*
 * preentry.c: secshim's pass-through verbs, served before the Go runtime
 * starts.
 *
 * state, kill, start, delete, pause and resume only forward to the
 * container's recorded backend (runtimes/fastpath.go), yet a Go process
 * pays its runtime's start and every package's init before main: about
 * 1 ms, more than the whole forward. On linux/amd64 the Makefile links
 * this file, built freestanding, as cmd/secshim/preentry_amd64.syso and
 * makes secshim_entry (cmd/secshim/entry_amd64.s) the program's entry
 * point: it calls secshim_pre with the initial stack, then jumps to Go's
 * own entry.
 *
 * secshim_pre serves a verb only in its plainest shape and only when the
 * fast path in runtimes/fastpath.go would make the same call: it reads the
 * same config, the same record, renames the same tombstone and execs the
 * same argv (runtimes/preentry_test.go runs both over the same cases and
 * compares). On anything else (another verb or flag, a debug log level, no
 * record, an attested start, an error) it returns and Go does the whole
 * job, including reporting any error. Only delete changes a file before
 * it may return: it renames the record to its tombstone, as the Go path
 * does first too; Go, run next, finds the tombstone, as a delete tried
 * again does.
 *
 * Build constraints (the Makefile checks them): no libc, no writable
 * static data and no relocations. The Go linker links a host object's
 * code but does not apply its relocations when it links internally, so
 * the Makefile moves the constants (.rodata) into .text, where every
 * reference is PC-relative within one section and resolved by the
 * assembler; everything else lives on the stack.
 */

#define ENTRY __attribute__((visibility("hidden"), used))

typedef unsigned long u64;
typedef unsigned int u32;

enum {
	SYS_read = 0, SYS_close = 3, SYS_execve = 59, SYS_rename = 82,
	SYS_mkdir = 83, SYS_unlink = 87, SYS_geteuid = 107,
	SYS_getdents64 = 217, SYS_openat = 257, SYS_newfstatat = 262,
};
enum {
	O_RDONLY_CLOEXEC = 02000000, O_DIRECTORY = 0200000, AT_FDCWD = -100,
	AT_SYMLINK_NOFOLLOW = 0x100, ENOENT = 2, EEXIST = 17, EINTR = 4,
	S_IFMT = 0170000, S_IFDIR = 0040000,
};

/* Sizes: a larger input sends the call to Go. */
enum {
	CONFIG_MAX = 16384, RECORD_MAX = 8192, PATH_MAX_ = 4096,
	ARGV_MAX = 256, ENV_MAX = 1024, DIRBUF = 4096,
};

static long sc(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

static long slen(const char *s)
{
	long n = 0;
	while (s[n])
		n++;
	return n;
}

static int eqn(const char *a, long an, const char *b)
{
	long i;
	for (i = 0; i < an; i++)
		if (a[i] != b[i] || !b[i])
			return 0;
	return b[an] == 0;
}

static int eq(const char *a, const char *b) { return eqn(a, slen(a), b); }

static int prefix(const char *s, const char *p)
{
	for (; *p; p++, s++)
		if (*s != *p)
			return 0;
	return 1;
}

static int contains(const char *s, long n, const char *needle)
{
	long m = slen(needle), i, j;
	for (i = 0; i + m <= n; i++) {
		for (j = 0; j < m && s[i + j] == needle[j]; j++)
			;
		if (j == m)
			return 1;
	}
	return 0;
}

/* clean reports whether an absolute path is already what Go's
 * filepath.Clean makes of it: the fast path joins paths with
 * filepath.Join, which cleans them. */
static int clean(const char *p)
{
	long i, n = slen(p);
	if (n == 0 || p[0] != '/')
		return 0;
	if (n == 1)
		return 1;
	if (p[n - 1] == '/')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] != '/')
			continue;
		/* each element: not empty, not ".", not ".." */
		if (p[i + 1] == '/' || p[i + 1] == 0)
			return 0;
		if (p[i + 1] == '.' && (p[i + 2] == '/' || p[i + 2] == 0))
			return 0;
		if (p[i + 1] == '.' && p[i + 2] == '.' && (p[i + 3] == '/' || p[i + 3] == 0))
			return 0;
	}
	return 1;
}

static const char *base(const char *p)
{
	const char *b = p;
	for (; *p; p++)
		if (*p == '/')
			b = p + 1;
	return b;
}

/* A path being built; ok is cleared by an overflow. */
struct buf {
	char *p;
	long n, cap;
	int ok;
};

static void put(struct buf *b, const char *s, long n)
{
	long i;
	if (b->n + n + 1 > b->cap) {
		b->ok = 0;
		return;
	}
	for (i = 0; i < n; i++)
		b->p[b->n++] = s[i];
	b->p[b->n] = 0;
}

static void puts_(struct buf *b, const char *s) { put(b, s, slen(s)); }

/* readall reads a whole file into buf (NUL-terminated); the length, or
 * -errno, or -1000 when it does not fit or holds a NUL byte. */
static long readall(const char *path, char *buf, long cap)
{
	long fd = sc(SYS_openat, AT_FDCWD, (long)path, O_RDONLY_CLOEXEC, 0), n = 0, r, i;
	if (fd < 0)
		return fd;
	for (;;) {
		if (n == cap - 1) {
			sc(SYS_close, fd, 0, 0, 0);
			return -1000;
		}
		r = sc(SYS_read, fd, (long)(buf + n), cap - 1 - n, 0);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			sc(SYS_close, fd, 0, 0, 0);
			return r;
		}
		if (r == 0)
			break;
		n += r;
	}
	sc(SYS_close, fd, 0, 0, 0);
	for (i = 0; i < n; i++)
		if (buf[i] == 0)
			return -1000;
	buf[n] = 0;
	return n;
}

/* statat is stat (flags 0) or lstat (AT_SYMLINK_NOFOLLOW): 0 or -errno,
 * and the file's mode when mode is not 0. */
static long statat(const char *path, long flags, u32 *mode)
{
	u64 st[18]; /* struct stat on x86_64: 144 bytes, st_mode at 24 */
	long r = sc(SYS_newfstatat, AT_FDCWD, (long)path, (long)st, flags);
	if (r == 0 && mode)
		*mode = *(u32 *)((char *)st + 24);
	return r;
}

/* runscname reports whether a path's last element names runsc: the
 * Family rule of runtimes (a runsc-named secshim, a runsc backend). */
static int runscname(const char *p)
{
	const char *b = base(p);
	return contains(b, slen(b), "runsc");
}

/* ---- SHA-256, for the record directory of a --root (RecordPath) ---- */

static const u32 K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static u32 ror(u32 x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(u32 h[8], const unsigned char *p)
{
	u32 w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;
	for (i = 0; i < 16; i++)
		w[i] = (u32)p[4 * i] << 24 | (u32)p[4 * i + 1] << 16 | (u32)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
		       (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
		t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* rootkey writes the first 8 bytes of SHA-256(s) in hex: RecordPath's
 * directory for a --root. */
static void rootkey(const char *s, char out[17])
{
	u32 h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	unsigned char blk[64];
	long n = slen(s), i, done = 0;
	u64 bits = (u64)n * 8;
	for (;;) {
		long k = n - done;
		if (k >= 64) {
			sha256_block(h, (const unsigned char *)s + done);
			done += 64;
			continue;
		}
		for (i = 0; i < 64; i++)
			blk[i] = i < k ? (unsigned char)s[done + i] : 0;
		blk[k] = 0x80;
		if (k >= 56) {
			sha256_block(h, blk);
			for (i = 0; i < 64; i++)
				blk[i] = 0;
		}
		for (i = 0; i < 8; i++)
			blk[63 - i] = (unsigned char)(bits >> (8 * i));
		sha256_block(h, blk);
		break;
	}
	for (i = 0; i < 16; i++) {
		u32 nib = (h[i / 8] >> (28 - 4 * (i % 8))) & 0xf;
		out[i] = (char)(nib < 10 ? '0' + nib : 'a' + nib - 10);
	}
	out[16] = 0;
}

/* ---- the command line (runtimes/args.go, FamilyRunc) ---- */

static const char G_VALUES[] = " log log-format log-level root criu rootless cgroup-manager ";
static const char G_BOOLS[] = " debug systemd-cgroup ";

/* inlist reports whether name (n bytes) is a word of the space-framed list. */
static int inlist(const char *list, const char *name, long n)
{
	const char *p;
	long i;
	if (n == 0)
		return 0;
	for (p = list; *p; p++) {
		if (*p != ' ')
			continue;
		for (i = 0; i < n && p[1 + i] == name[i]; i++)
			;
		if (i == n && p[1 + n] == ' ')
			return 1;
	}
	return 0;
}

static int idbyte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '+' || c == ',' || c == '.' || c == '-';
}

static int validid(const char *id)
{
	const char *p;
	if (!*id || eq(id, ".") || eq(id, "..") || id[0] == '-')
		return 0;
	for (p = id; *p; p++)
		if (!idbyte(*p))
			return 0;
	return 1;
}

struct call {
	int verb_at;      /* argv index of the verb */
	const char *verb; /* state kill start delete pause resume */
	const char *id;
	const char *root; /* the last --root's value, 0 without one */
};

/* parse accepts "<globals> VERB [flags] ID [signal]" where every token is
 * one Parse reads the same way and the verb is a pass-through one. */
static int parse(long argc, char **argv, struct call *c)
{
	long i = 1, pos = 0;
	const char *v;
	c->root = 0;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *t = argv[i], *name, *eqs;
		long n;
		if (t[1] != '-' || t[2] == '-' || t[2] == '=' || !t[2])
			return 0;
		name = t + 2;
		for (eqs = name; *eqs && *eqs != '='; eqs++)
			;
		n = eqs - name;
		if (inlist(G_BOOLS, name, n)) {
			if (*eqs)
				return 0;
			continue;
		}
		if (!inlist(G_VALUES, name, n))
			return 0;
		if (!*eqs && ++i >= argc)
			return 0; /* a value flag at the end */
		if (eqn(name, n, "root"))
			c->root = *eqs ? eqs + 1 : argv[i];
	}
	if (i >= argc)
		return 0;
	c->verb_at = (int)i;
	v = c->verb = argv[i];
	if (!eq(v, "state") && !eq(v, "kill") && !eq(v, "start") && !eq(v, "delete") &&
	    !eq(v, "pause") && !eq(v, "resume"))
		return 0;
	for (i++; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (eq(v, "delete") && (eq(argv[i], "--force") || eq(argv[i], "-f")))
			continue;
		if (eq(v, "kill") && (eq(argv[i], "--all") || eq(argv[i], "-a")))
			continue;
		return 0; /* "--", help, anything else */
	}
	if (i >= argc || !validid(argv[i]))
		return 0;
	c->id = argv[i];
	for (i++; i < argc; i++, pos++)
		if (argv[i][0] == '-')
			return 0;
	return pos == 0 || (pos == 1 && eq(v, "kill"));
}

/* ---- config and record (runtimes/fastpath.go, runtimes/state.go) ---- */

static int space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

/* statedir finds state_dir in the config as quickConfig.stateDir does:
 * only a plain top-level `state_dir = "..."` line; anything else that
 * mentions it sends the call to Go. */
static int statedir(char *cfg, long n, const char **dir)
{
	char *line = cfg, *end = cfg + n;
	long i;
	for (i = 0; i < n; i++)
		if ((unsigned char)cfg[i] >= 0x80)
			return 0; /* Go trims Unicode spaces too */
	while (line < end) {
		char *nl = line, *s, *e, *eqp, *k, *ke, *vs, *ve;
		while (nl < end && *nl != '\n')
			nl++;
		s = line, e = nl < end ? nl + 1 : nl;
		line = e;
		while (s < e && space(*s))
			s++;
		while (e > s && space(e[-1]))
			e--;
		if (s < e && *s == '[')
			break;
		for (eqp = s; eqp < e && *eqp != '='; eqp++)
			;
		if (eqp == e)
			continue;
		for (k = s, ke = eqp; ke > k && space(ke[-1]); ke--)
			;
		if (!(ke - k == 9 && prefix(k, "state_dir")))
			continue;
		for (vs = eqp + 1, ve = e; vs < ve && space(*vs); vs++)
			;
		if (ve - vs < 2 || (*vs != '"' && *vs != '\'') || ve[-1] != *vs)
			return 0;
		for (k = vs + 1; k < ve - 1; k++)
			if (*k == '\\' || *k == '"' || *k == '\'' || *k == '#')
				return 0;
		ve[-1] = 0; /* the config is ours to cut: Go reads its own copy */
		*dir = vs + 1;
	}
	return 1;
}

struct record {
	const char *name, *path;
	const char *args[ARGV_MAX];
	int nargs;
	int attest, promises;
};

static int hexcaps(const char *v)
{
	long n = 0;
	while (*v == '0' && v[1])
		v++;
	for (; *v; v++, n++)
		if (!((*v >= '0' && *v <= '9') || (*v >= 'a' && *v <= 'f') || (*v >= 'A' && *v <= 'F')))
			return 0;
	return n > 0 && n <= 16;
}

/* parserec reads a record as loadRecord does; 0 where Go would fail. */
static int parserec(char *data, long n, struct record *r)
{
	char *line = data, *end = data + n;
	r->name = r->path = "";
	r->nargs = r->attest = r->promises = 0;
	while (line < end) {
		char *nl = line, *val;
		while (nl < end && *nl != '\n')
			nl++;
		*nl = 0; /* the buffer's NUL when there is no last newline */
		if (nl > line && nl[-1] == '\r')
			nl[-1] = 0;
		for (val = line; *val && *val != ' '; val++)
			;
		if (*val)
			*val++ = 0;
		if (eq(line, "backend"))
			r->name = val;
		else if (eq(line, "path"))
			r->path = val;
		else if (eq(line, "arg")) {
			if (r->nargs == ARGV_MAX)
				return 0;
			r->args[r->nargs++] = val;
		} else if (eq(line, "caps")) {
			if (!hexcaps(val))
				return 0;
		} else if (eq(line, "attest"))
			r->attest = *val != 0;
		else if (eq(line, "promise"))
			r->promises++;
		line = nl + 1;
	}
	return r->path[0] == '/';
}

/* loadrec reads the record at path, else its tombstone; 0 on no record or
 * any error. */
static int loadrec(const char *path, const char *tomb, char *data, struct record *r)
{
	long n = readall(path, data, RECORD_MAX);
	if (n == -ENOENT)
		n = readall(tomb, data, RECORD_MAX);
	return n >= 0 && parserec(data, n, r);
}

/* stateroot is Backend.stateRoot: where runc or crun keeps the container
 * when this is root; 0 where it is not known. */
static const char *stateroot(const struct record *r, const char *root, struct buf *b)
{
	const char *bn = base(r->path);
	int i;
	for (i = 0; i < r->nargs; i++) {
		const char *a = r->args[i];
		while (*a == '-')
			a++;
		if (prefix(a, "root"))
			return 0;
	}
	if ((!eq(bn, "runc") && !eq(bn, "crun")) || sc(SYS_geteuid, 0, 0, 0, 0) != 0)
		return 0;
	if (root && *root)
		return root;
	b->n = 0;
	puts_(b, "/run/");
	puts_(b, bn);
	return b->ok ? b->p : 0;
}

static void join3(struct buf *b, const char *a, const char *m, const char *z)
{
	b->n = 0;
	b->ok = 1;
	puts_(b, a);
	if (!(a[0] == '/' && a[1] == 0))
		puts_(b, "/");
	puts_(b, m);
	if (z) {
		puts_(b, "/");
		puts_(b, z);
	}
}

/* sweep is sweepTombstones: the tombstones of containers the backend no
 * longer has go. Errors are ignored, as there. */
static void sweep(const char *keydir, const char *root, const char *except)
{
	char dbuf[DIRBUF], data[RECORD_MAX], b1[PATH_MAX_], b2[PATH_MAX_], b3[PATH_MAX_], b4[PATH_MAX_];
	struct buf dir = {b1, 0, PATH_MAX_, 1}, tomb = {b2, 0, PATH_MAX_, 1};
	struct buf nested = {b3, 0, PATH_MAX_, 1}, where = {b4, 0, PATH_MAX_, 1};
	struct record r;
	long fd, n, off;
	join3(&dir, keydir, "deleted@", 0);
	if (!dir.ok)
		return;
	fd = sc(SYS_openat, AT_FDCWD, (long)dir.p, O_RDONLY_CLOEXEC | O_DIRECTORY, 0);
	if (fd < 0)
		return;
	for (;;) {
		n = sc(SYS_getdents64, fd, (long)dbuf, DIRBUF, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		for (off = 0; off < n; off += *(unsigned short *)(dbuf + off + 16)) {
			const char *id = dbuf + off + 19, *sr = root;
			if (eq(id, ".") || eq(id, "..") || eq(id, except))
				continue;
			join3(&tomb, dir.p, id, 0);
			if (!tomb.ok)
				continue;
			if (!root || !*root) {
				join3(&nested, dir.p, "deleted@", id);
				if (!nested.ok || !loadrec(tomb.p, nested.p, data, &r))
					continue;
				if (!(sr = stateroot(&r, root, &where)))
					continue;
			}
			join3(&nested, sr, id, 0);
			if (nested.ok && statat(nested.p, AT_SYMLINK_NOFOLLOW, 0) == -ENOENT)
				sc(SYS_unlink, (long)tomb.p, 0, 0, 0);
		}
	}
	sc(SYS_close, fd, 0, 0, 0);
}

/* tombstone is the fast path's tombstone(): 1 when the record is now a
 * tombstone (or already was), 0 when Go must take the delete. */
static int tombstone(const char *statedir, const char *keydir, const char *path, const char *tomb,
		     const struct record *r, const char *root, const char *id)
{
	char b1[PATH_MAX_], b2[PATH_MAX_];
	struct buf sb = {b1, 0, PATH_MAX_, 1}, pb = {b2, 0, PATH_MAX_, 1};
	const char *sr = stateroot(r, root, &sb);
	u32 mode;
	long err;
	if (!sr)
		return 0;
	/* hardening.MCSInUse: SELinux pairs are reserved in this state dir
	 * (os.Stat, so following a symlink) */
	join3(&pb, statedir, "selinux-mcs", 0);
	if (!pb.ok || statat(pb.p, 0, 0) != -ENOENT)
		return 0;
	join3(&pb, sr, id, 0);
	if (!pb.ok || statat(pb.p, AT_SYMLINK_NOFOLLOW, &mode) != 0 || (mode & S_IFMT) != S_IFDIR)
		return 0;
	err = sc(SYS_rename, (long)path, (long)tomb, 0, 0);
	if (err == -ENOENT) {
		if (statat(path, AT_SYMLINK_NOFOLLOW, 0) == 0) {
			join3(&pb, keydir, "deleted@", 0);
			err = sc(SYS_mkdir, (long)pb.p, 0700, 0, 0);
			if (err == 0 || err == -EEXIST)
				err = sc(SYS_rename, (long)path, (long)tomb, 0, 0);
		} else {
			err = 0;
		}
	}
	if (err != 0)
		return 0;
	sweep(keydir, root, id);
	return 1;
}

/* samekey reports whether entry a sets the key e[0:n]. */
static int samekey(const char *a, const char *e, long n)
{
	long i;
	for (i = 0; i < n; i++)
		if (a[i] != e[i])
			return 0;
	return a[n] == '=';
}

/* goenv is the environment as Go's os.Environ gives it to the backend:
 * empty entries and a key's later duplicates left out. */
static int goenv(char **envp, const char **out)
{
	long i, j, k = 0, n;
	for (i = 0; envp[i]; i++) {
		const char *e = envp[i];
		int dup = 0;
		if (!*e)
			continue;
		for (n = 0; e[n] && e[n] != '='; n++)
			;
		for (j = 0; e[n] == '=' && j < i && !dup; j++)
			dup = samekey(envp[j], e, n);
		if (dup)
			continue;
		if (k == ENV_MAX)
			return 0;
		out[k++] = e;
	}
	out[k] = 0;
	return 1;
}

static const char CONFIG_ENV[] = "SECSHIM_CONFIG=";
static const char CONFIG_PATH[] = "/etc/secshim/secshim.toml";
static const char STATE_DIR[] = "/run/secshim";

ENTRY void secshim_pre(long *sp)
{
	long argc = sp[0], n, i, k;
	char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
	const char *confpath = 0, *sd = STATE_DIR, *keydir = "default", *a0;
	char cfg[CONFIG_MAX], data[RECORD_MAX], key[17], b1[PATH_MAX_], b2[PATH_MAX_], b3[PATH_MAX_];
	struct buf kd = {b1, 0, PATH_MAX_, 1}, rp = {b2, 0, PATH_MAX_, 1}, tp = {b3, 0, PATH_MAX_, 1};
	const char *xargv[ARGV_MAX + 1], *xenv[ENV_MAX + 1];
	struct call c;
	struct record r;

	if (argc < 2 || !argv[0])
		return;
	a0 = argv[0];
	if (runscname(a0) || (a0[0] && a0[slen(a0) - 1] == '/'))
		return;
	if (!parse(argc, argv, &c))
		return;
	for (i = 0; envp[i]; i++)
		if (prefix(envp[i], CONFIG_ENV)) {
			confpath = envp[i] + sizeof CONFIG_ENV - 1;
			break; /* Go's Getenv takes the first */
		}
	if (confpath && !*confpath)
		confpath = 0;
	n = readall(confpath ? confpath : CONFIG_PATH, cfg, CONFIG_MAX);
	if (n == -ENOENT && !confpath)
		n = 0, cfg[0] = 0;
	if (n < 0 || contains(cfg, n, "debug") || !statedir(cfg, n, &sd) || !clean(sd))
		return;
	if (c.root && *c.root) {
		if (!clean(c.root))
			return;
		rootkey(c.root, key);
		keydir = key;
	}
	join3(&kd, sd, keydir, 0);
	join3(&rp, kd.p, c.id, 0);
	join3(&tp, kd.p, "deleted@", c.id);
	if (!kd.ok || !rp.ok || !tp.ok || !loadrec(rp.p, tp.p, data, &r))
		return;
	if (!clean(r.path) || eq(r.name, "runsc") || runscname(r.path))
		return; /* Go parses the arguments again in runsc's dialect */
	if (eq(c.verb, "start") && r.attest && r.promises > 0)
		return; /* an attested start is Go's */
	if (argc + r.nargs + 1 > ARGV_MAX)
		return;
	k = 0;
	xargv[k++] = r.path;
	for (i = 1; i < c.verb_at; i++)
		xargv[k++] = argv[i];
	for (i = 0; i < r.nargs; i++)
		xargv[k++] = r.args[i];
	for (i = c.verb_at; i < argc; i++)
		xargv[k++] = argv[i];
	xargv[k] = 0;
	if (!goenv(envp, xenv))
		return;
	if (eq(c.verb, "delete") && !tombstone(sd, kd.p, rp.p, tp.p, &r, c.root, c.id))
		return;
	sc(SYS_execve, (long)r.path, (long)xargv, (long)xenv, 0);
}
