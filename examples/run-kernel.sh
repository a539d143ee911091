#!/bin/sh
# run-kernel.sh VMM SPDK_SHAPED [RUN_DPDK DPDK_APP]
# Every example against the real vhost-vdpa device, in one guest boot of
# tests/harness/vdpamap-vm (which sets VDPAMAP_TEST_DEV and VDPAMAP_VM_CONFIG).
# Exit: the first failing status; 77 only if everything skipped.
rc=0
ran=0
for m in vhost_vdpa vdpa_sim; do
	f=/sys/module/$m/parameters/max_iotlb_entries
	[ -r "$f" ] && echo "examples: $m max_iotlb_entries=$(cat "$f") (raised at module load)"
done
note() {
	echo "examples: $* exited $r"
	case $r in
	0) ran=1 ;;
	77) ;;
	*) [ "$rc" = 0 ] && rc=$r ;;
	esac
}
"$1"; r=$?; note "$1"
"$2"; r=$?; note "$2"
if [ $# -ge 4 ]; then
	"$3" "$4" nohuge; r=$?; note "$4 nohuge"
	"$3" "$4" dynamic; r=$?; note "$4 dynamic"
fi
if [ "$rc" = 0 ] && [ "$ran" = 0 ]; then
	exit 77
fi
exit "$rc"
