#!/bin/sh
# run-dpdk.sh DPDK_APP nohuge|dynamic [APP OPTIONS...]
#
# Run examples/dpdk_app with the EAL options of one memory mode:
#   nohuge   --no-huge -m 64: legacy memory, one memfd, no hugepages needed;
#            EAL refuses memory event callbacks in this mode.
#   dynamic  --in-memory with 2 MiB hugepages: pages allocated and freed at
#            run time, followed through the memory event callback
#            (--expect-events).  Needs HUGEPAGES free 2 MiB hugepages: when
#            fewer are free and /sys/kernel/mm/hugepages/.../nr_hugepages is
#            writable (root), it reserves the missing ones for the run and
#            gives them back afterwards (VDPAMAP_NO_HUGEPAGE_SETUP=1: never);
#            otherwise it skips (77).
# Both use --no-pci --iova-mode=va --no-telemetry and no shared config files
# under /var/run/dpdk, so that runs do not collide (--in-memory, which EAL
# refuses with --no-huge's legacy memory: --no-shconf there).
# DPDK_MEM_MB: nohuge memory (default 64; the PA-mode simulator pins it all
# and RLIMIT_MEMLOCK may be 8 MiB).
set -u
app=${1:?usage: run-dpdk.sh DPDK_APP nohuge|dynamic [APP OPTIONS...]}
mode=${2:?usage: run-dpdk.sh DPDK_APP nohuge|dynamic [APP OPTIONS...]}
shift 2
common="-l 0 --no-pci --iova-mode=va --no-telemetry"

case $mode in
nohuge)
	# shellcheck disable=SC2086
	exec "$app" $common --no-shconf --no-huge -m "${DPDK_MEM_MB:-64}" -- "$@"
	;;
dynamic) ;;
*)
	echo "run-dpdk.sh: unknown mode '$mode'" >&2
	exit 2
	;;
esac

need=${HUGEPAGES:-48}
sysf=/sys/kernel/mm/hugepages/hugepages-2048kB
free_pages() { cat "$sysf/free_hugepages" 2>/dev/null || echo 0; }
if [ ! -d "$sysf" ]; then
	echo "run-dpdk.sh: skip: no 2 MiB hugepage support in this kernel" >&2
	exit 77
fi
old=
have=$(free_pages)
if [ "$have" -lt "$need" ]; then
	if [ -n "${VDPAMAP_NO_HUGEPAGE_SETUP:-}" ] || [ ! -w "$sysf/nr_hugepages" ] ||
		! old=$(cat "$sysf/nr_hugepages"); then
		echo "run-dpdk.sh: skip: $have free 2 MiB hugepages, need $need" \
			"(as root: echo $need > $sysf/nr_hugepages)" >&2
		exit 77
	fi
	want=$((old + need - have))
	if ! echo "$want" >"$sysf/nr_hugepages" 2>/dev/null; then
		echo "run-dpdk.sh: skip: cannot reserve hugepages" >&2
		exit 77
	fi
	echo "run-dpdk.sh: reserved $((need - have)) 2 MiB hugepages for the run" \
		"(nr_hugepages $old -> $want)" >&2
	if [ "$(free_pages)" -lt "$need" ]; then
		echo "$old" >"$sysf/nr_hugepages"
		echo "run-dpdk.sh: skip: the kernel gave only $(free_pages) hugepages" >&2
		exit 77
	fi
fi
# shellcheck disable=SC2086
"$app" $common --in-memory -- --expect-events "$@"
rc=$?
if [ -n "$old" ]; then
	echo "$old" >"$sysf/nr_hugepages" &&
		echo "run-dpdk.sh: nr_hugepages back to $old" >&2
fi
exit $rc
