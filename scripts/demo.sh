#!/bin/bash
# Sets up secshim on a fresh Debian machine and shows its main job: a real
# container started by Podman through secshim, hardened, next to the same
# container started on runc directly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
make install
scripts/build-image.sh

# This host's hard RLIMIT_NOFILE is below Podman's default ulimits.
ul=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
show='grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status'
img=localhost/secshim-busybox:latest

for flags in "" "--privileged"; do
	echo "== podman run ${flags:-(defaults)}"
	echo "-- runc directly:"
	podman run --rm "${ul[@]}" --runtime runc $flags "$img" sh -c "$show"
	echo "-- through secshim:"
	podman run --rm "${ul[@]}" --runtime secshim $flags "$img" sh -c "$show"
done
echo "== what secshim decided and found, per container (from /var/log/secshim/secshim.log)"
# Two lines per container: create (what it changed) and attest (what the
# kernel showed at start).
tail -n 4 /var/log/secshim/secshim.log | jq -c '{id: .id[0:12], verb, profile, changed: ([.changes[].control] | unique), attest: .attest.verdict}'
