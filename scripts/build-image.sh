#!/usr/bin/env bash
# build-image.sh - build the secshim test image from the host's static busybox.
#
#   scripts/build-image.sh              build localhost/secshim-busybox:latest
#                                       unless it already exists
#   scripts/build-image.sh --force      rebuild (replace) the image
#   scripts/build-image.sh --rootfs DIR only write the rootfs to DIR (no podman
#                                       needed; for benchmarks / bare runtimes)
#
# Environment:
#   BUSYBOX  path of a static busybox     (default /bin/busybox, busybox-static)
#   IMAGE    image name                   (default localhost/secshim-busybox:latest)
#   PODMAN   podman command line to use   (default "podman"; e.g.
#            "podman --root /x --runroot /y" for isolated storage)
#
# The image contains: /bin/busybox and one symlink per applet in /bin
# (plus /sbin, /usr/bin, /usr/sbin as symlinks to /bin), /etc/passwd and
# /etc/group with root (0) and nobody (65534), empty /proc /sys /dev /tmp
# /root, and CMD ["/bin/sh"]. The layer tarball is built deterministically
# (sorted, owner 0, mtime 0); the image ID still changes on every import
# because podman records the import time.
set -euo pipefail

BUSYBOX=${BUSYBOX:-/bin/busybox}
IMAGE=${IMAGE:-localhost/secshim-busybox:latest}
PODMAN=${PODMAN:-podman}

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
}

force=0
rootfs_out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --rootfs)
      [ $# -ge 2 ] || { echo "build-image: --rootfs needs a directory" >&2; exit 2; }
      rootfs_out=$2; shift ;;
    --rootfs=*) rootfs_out=${1#--rootfs=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build-image: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [ ! -x "$BUSYBOX" ]; then
  echo "build-image: $BUSYBOX not found (apt-get install busybox-static, or scripts/install-deps.sh)" >&2
  exit 1
fi
# A dynamically linked busybox would not work inside the image.
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  echo "build-image: $BUSYBOX is not statically linked (install busybox-static)" >&2
  exit 1
fi

# make_rootfs DIR: populate DIR with the image's filesystem.
make_rootfs() {
  local r=$1
  mkdir -p "$r"
  mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/root" "$r/usr"
  chmod 1777 "$r/tmp"
  chmod 0700 "$r/root"
  install -m 0755 "$BUSYBOX" "$r/bin/busybox"
  local n=0 applet
  # `busybox --list` prints one applet name per line.
  while IFS= read -r applet; do
    [ -n "$applet" ] || continue
    [ "$applet" = busybox ] && continue
    ln -sfn busybox "$r/bin/$applet"
    n=$((n + 1))
  done < <("$BUSYBOX" --list)
  ln -sfn bin "$r/sbin"
  ln -sfn ../bin "$r/usr/bin"
  ln -sfn ../bin "$r/usr/sbin"
  cat > "$r/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
  cat > "$r/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
  chmod 0644 "$r/etc/passwd" "$r/etc/group"
  echo "build-image: rootfs in $r ($n applet links)"
}

if [ -n "$rootfs_out" ]; then
  make_rootfs "$rootfs_out"
  exit 0
fi

if [ "$force" -eq 0 ] && $PODMAN image exists "$IMAGE" 2>/dev/null; then
  echo "build-image: $IMAGE already exists (use --force to rebuild)"
  exit 0
fi

old_id=$($PODMAN image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_rootfs "$work/rootfs"
tar -C "$work/rootfs" --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime=@0 -cf "$work/rootfs.tar" .
$PODMAN import --quiet --change 'CMD ["/bin/sh"]' "$work/rootfs.tar" "$IMAGE" >/dev/null
new_id=$($PODMAN image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  # --force left the previous image untagged; drop it unless a container uses it.
  $PODMAN rmi "$old_id" >/dev/null 2>&1 && echo "build-image: removed previous image ${old_id:0:12}" || true
fi
echo "build-image: imported $IMAGE ($($PODMAN image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-12))"
