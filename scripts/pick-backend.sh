#!/bin/sh
# Prints the default backend for this host: crun where it works, runc on
# hosts with hybrid cgroups (crun 1.8 refuses them) or without crun.
if command -v crun >/dev/null 2>&1 && ! [ -d /sys/fs/cgroup/unified ]; then
	echo crun
else
	echo runc
fi
