#!/usr/bin/env bash
# install-deps.sh - install the host packages secshim's tests and benchmarks need.
#
# Idempotent: packages already installed are left alone, `apt-get update` runs
# at most once and only when something is missing. Prints what it did.
# Must run as root (CI runs as root). Debian 12 (bookworm) package names.
set -euo pipefail

PKGS=(
  podman      # container engine under test (4.3.x on bookworm)
  runc        # default backend runtime
  crun        # alternative backend runtime
  runsc       # gVisor backend runtime
  conmon      # podman's container monitor
  libseccomp-dev
  busybox-static  # source of the test image (scripts/build-image.sh)
  hyperfine   # benchmarks
  jq          # golden-config scripts
  gcc         # the e2e tests' static probes, the bench's C references
  libc6-dev   # their static libc
  criu        # optional: podman container checkpoint/restore (ARGV capture)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: must run as root" >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    echo "install-deps: $p already installed ($(dpkg-query -W -f='${Version}' "$p"))"
  else
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: nothing to do"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: missing: ${missing[*]}"
echo "install-deps: running apt-get update"
apt-get update -q
echo "install-deps: running apt-get install -y ${missing[*]}"
apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"

for p in "${missing[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    echo "install-deps: installed $p ($(dpkg-query -W -f='${Version}' "$p"))"
  else
    echo "install-deps: FAILED to install $p" >&2
    exit 1
  fi
done
