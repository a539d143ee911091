#!/bin/sh
# parent-suite.sh CONFORMANCE HANDOFF CLICHECK VDPAMAP SCHEMA_DIR EXAMPLE...
# Inside a tests/harness/vdpamap-vm guest whose device is a real parent
# (--config vp: vp_vdpa behind the IOMMU): every suite in one boot, so that
# one VM pays for all of them.
#  - conformance through agree.sh (the kernel's outcomes, case by case,
#    against the simulator profile that plays this parent);
#  - handoff (exec handoffs, real execve);
#  - the examples (examples/run-kernel.sh EXAMPLE...);
#  - the CLI's netlink commands (cli.sh).
# Exit: the first failing status; 77 only if every suite skipped.
[ $# -ge 6 ] || {
	echo "usage: $0 CONFORMANCE HANDOFF CLICHECK VDPAMAP SCHEMA_DIR EXAMPLE..." >&2
	exit 2
}
here=$(dirname "$0")
conf=$1 ho=$2 C=$3 V=$4 S=$5
shift 5
rc=0
ran=0
note() { # NAME STATUS
	echo "parent-suite: $1 exited $2"
	case $2 in
	0) ran=1 ;;
	77) ;;
	*) [ "$rc" = 0 ] && rc=$2 ;;
	esac
}
"$here/agree.sh" "$conf" "$here/agree-allow.txt"
note conformance $?
"$ho"
note handoff $?
"$here/../../examples/run-kernel.sh" "$@"
note examples $?
"$here/cli.sh" "$C" "$V" "$S"
note cli $?
if [ "$rc" = 0 ] && [ "$ran" = 0 ]; then
	exit 77
fi
exit "$rc"
