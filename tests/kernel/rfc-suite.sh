#!/bin/sh
# rfc-suite.sh CONFORMANCE HANDOFF_NEWOWNER
# Inside a tests/harness/vdpamap-vm --rfc guest (vhost_vdpa with the "vdpa
# live update" patch of tests/kernel/rfc/), in each configuration:
#  - conformance through agree.sh, against profile linux-LINE-rfc/...;
#  - handoff_newowner: the handoff suite (keeper, rebuild, cancel, the
#    deaths and refusals) against the NEW_OWNER build of the library, whose
#    NEW_OWNER + REMAP cases each end with the loopback check.
# The device must offer both bits of the proposal: without them (the
# patch not loaded) handoff_newowner skips whole, and that fails here.
# Exit: the first failing status; 77 only if every suite skipped.
[ $# -eq 2 ] || {
	echo "usage: $0 CONFORMANCE HANDOFF_NEWOWNER" >&2
	exit 2
}
here=$(dirname "$0")
[ "${VDPAMAP_VM_RFC:-}" = 1 ] || {
	echo "rfc-suite: not in a tests/harness/vdpamap-vm --rfc guest" >&2
	exit 2
}
rc=0
note() { # NAME STATUS
	echo "rfc-suite: $1 exited $2"
	case $2 in
	0 | 77) ;;
	*) [ "$rc" = 0 ] && rc=$2 ;;
	esac
}
"$here/agree.sh" "$1" "$here/agree-allow.txt"
note conformance $?
"$2"
st=$?
if [ $st = 77 ]; then
	echo "rfc-suite: handoff_newowner skipped: the device does not offer NEW_OWNER + IOTLB_REMAP"
	st=1
fi
note handoff_newowner $st
exit "$rc"
