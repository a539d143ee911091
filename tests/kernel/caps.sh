#!/bin/bash
# The IOTLB entry cap tests (tests/kernel/caps.c) on one kernel line, as root
# and unprivileged, in three boots:
#   1. the default caps: configs va, pa, permap (those the kernel has), with
#      huge pages reserved (--hugepages);
#   2. the measured silent case: vhost_vdpa.max_iotlb_entries=1048576,
#      vdpa_sim at its default 2048, config pa.
# Usage: caps.sh HARNESS CAPS-BINARY KERNEL-LINE [harness options...]
set -uo pipefail

vm=$1 bin=$2 kernel=$3
shift 3
configs=all
rc=0

run() {
	echo "== caps: $*"
	"$vm" --kernel "$kernel" --file "$bin" --file "$(dirname "$0")/caps-both.sh" \
		"$@" -- "$(dirname "$0")/caps-both.sh" "$bin" || rc=1
}

run --config "$configs" --hugepages 64 "${@}"
run --config pa --module-param vhost_vdpa.max_iotlb_entries=1048576 "${@}"
exit "$rc"
