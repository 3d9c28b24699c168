//go:build preentry

#include "textflag.h"

// secshim_entry is the program's entry point in a `make build` on amd64
// (-ldflags -E, tag preentry): secshim_pre (runtimes/preentry/preentry.c,
// linked as preentry_amd64.syso) serves a plain pass-through verb and
// execs the backend before the Go runtime starts; for anything else it
// returns and Go starts as usual, on the untouched initial stack. The
// kernel enters with SP 16-byte aligned, so the CALL leaves the C function
// the alignment its ABI expects.
TEXT secshim_entry(SB),NOSPLIT|NOFRAME,$0
	MOVQ SP, DI
	CALL secshim_pre(SB)
	JMP  _rt0_amd64_linux(SB)
