# secshim: `make build`, `make install`, `make test`, `make bench`, `make demo`.
GO       ?= go
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
PKG      := github.com/secshim/secshim
# CGO off: the hot path links no libc resolver and starts faster; cgo
# (libseccomp) is only used by tests and the policy tools.
LDFLAGS  := -s -w -X $(PKG)/runtimes.Version=$(VERSION) -X $(PKG)/runtimes.Commit=$(COMMIT)

.PHONY: build build-env install test unit e2e vet fmt bench demo clean

# Go 1.26's Green Tea GC keeps a span's mark bits inside the span, so each
# size class a process allocates from costs it one more fresh page. secshim
# lives a few milliseconds and never collects: the older collector makes
# create and state 0.06 to 0.13 ms faster on the development VM (bench/README.md).
# The opt-out goes away in a later Go; the build then takes the default.
GOEXPERIMENT_BUILD ?= $(shell GOEXPERIMENT=nogreenteagc $(GO) env GOEXPERIMENT 2>/dev/null)

# On linux/amd64 the program starts in runtimes/preentry/preentry.c: the
# plain pass-through verbs (state, kill, start, delete, pause, resume) exec
# their backend before the Go runtime starts, about 1 ms sooner; anything
# else goes on into Go. It is built freestanding with gcc into a .syso the
# Go linker takes in, and must come out with no relocations and no
# writable data (see the file). PREENTRY=0 builds without it: Go's own
# fast path then serves those verbs.
PLATFORM     := $(shell $(GO) env GOOS)/$(shell $(GO) env GOARCH)
PREENTRY     ?= $(if $(filter linux/amd64,$(PLATFORM)),1,0)
PREENTRY_CC  ?= gcc
PREENTRY_CFLAGS := -O2 -ffreestanding -fPIE -fno-stack-protector -fno-stack-clash-protection \
	-fno-asynchronous-unwind-tables -fno-jump-tables -fno-builtin -fno-tree-loop-distribute-patterns \
	-fno-reorder-blocks-and-partition \
	-Wall -Wextra -Werror
SYSO         := cmd/secshim/preentry_amd64.syso
OUT          ?= bin/secshim
ifeq ($(PREENTRY),1)
BUILD_DEPS   := $(SYSO)
BUILD_FLAGS  := -tags preentry
LDFLAGS      += -E secshim_entry
endif

build: $(BUILD_DEPS)
	GOEXPERIMENT=$(GOEXPERIMENT_BUILD) CGO_ENABLED=0 $(GO) build -trimpath $(BUILD_FLAGS) -ldflags '$(LDFLAGS)' -o $(OUT) ./cmd/secshim

# The constants gcc puts in .rodata (and any code in .text.*) are moved
# into .text, so that the assembler resolves every reference: the Go
# linker links a host object's code without applying its relocations.
$(SYSO): runtimes/preentry/preentry.c Makefile
	@command -v $(PREENTRY_CC) >/dev/null || { echo "$@: $(PREENTRY_CC) not found: install gcc (scripts/install-deps.sh), or build without the pre-entry: make build PREENTRY=0"; exit 1; }
	@set -e; t=$@.$$$$; trap 'rm -f $$t.asm $$t.o' EXIT; \
	$(PREENTRY_CC) -S $(PREENTRY_CFLAGS) -o $$t.asm $<; \
	sed 's/^[[:space:]]*\.section[[:space:]]*\.\(rodata\|text\).*/\t.text/' $$t.asm | $(PREENTRY_CC) -c -x assembler -o $$t.o -; \
	if readelf -rW $$t.o | grep -q 'R_'; then echo "$@: relocations left:"; readelf -rW $$t.o; exit 1; fi; \
	if readelf -SW $$t.o | sed 's/\[ */[/' | awk '$$2 ~ /^\./ && $$8 ~ /W/ && $$6 != "000000" {w=1} END {exit !w}'; then \
		echo "$@: writable data:"; readelf -SW $$t.o; exit 1; fi; \
	mv $$t.o $@

# Installs the binary, the Podman drop-in and (if none exists) a config
# whose default backend suits this host.
install: build
	install -D -m 0755 bin/secshim $(DESTDIR)$(PREFIX)/bin/secshim
	install -D -m 0644 packaging/containers.conf.d/50-secshim.conf $(DESTDIR)/etc/containers/containers.conf.d/50-secshim.conf
	sed -i 's#^secshim = .*#secshim = ["$(PREFIX)/bin/secshim"]#' $(DESTDIR)/etc/containers/containers.conf.d/50-secshim.conf
	@if [ ! -e $(DESTDIR)/etc/secshim/secshim.toml ]; then \
		install -d -m 0755 $(DESTDIR)/etc/secshim; \
		sed "s/@DEFAULT_BACKEND@/$$(scripts/pick-backend.sh)/" packaging/secshim.toml > $(DESTDIR)/etc/secshim/secshim.toml; \
		echo "installed /etc/secshim/secshim.toml (default_backend = $$(scripts/pick-backend.sh))"; \
	else echo "kept existing /etc/secshim/secshim.toml"; fi

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# Unit and end-to-end tests. The end-to-end ones need root, podman and the
# runtimes (scripts/install-deps.sh); with CI=true or SECSHIM_E2E=1 a
# missing prerequisite fails instead of skipping.
test: vet
	$(GO) test -count=1 -timeout 40m ./...

unit:
	$(GO) test -count=1 -short ./...

bench: build
	bench/run.sh

# The README's first command: install everything, then start a real
# container through Podman and secshim and show that it is hardened.
demo:
	scripts/demo.sh

# The environment secshim is built in: the bench builds its Go reference
# in it, the end-to-end tests their secshim.
build-env:
	@echo GOEXPERIMENT=$(GOEXPERIMENT_BUILD) CGO_ENABLED=0

clean:
	rm -rf bin $(SYSO)
