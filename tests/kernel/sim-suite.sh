#!/bin/sh
# sim-suite.sh CONFORMANCE HANDOFF HANDOFF_NEWOWNER FAULT_SWEEP
# Inside a tools/vdpamap-vm guest, run the simulator suites (what the host
# runs as conformance-sim-*, handoff-sim, handoff-sim-newowner and
# fault-sweep-sim-*; the sweep only in pa and va, as on the host) in the
# flavour named by the guest's configuration (pa, va, permap): for a cross
# build, whose programs cannot run on the build machine.
# Exit: the first failing status; 77 only if every program skipped.
[ $# -eq 4 ] || { echo "usage: $0 CONFORMANCE HANDOFF HANDOFF_NEWOWNER FAULT_SWEEP" >&2; exit 2; }
unset VDPAMAP_TEST_DEV
export VDPAMAP_TEST_SIM="${VDPAMAP_VM_CONFIG:?not in a tools/vdpamap-vm guest}"
rc=0
ran=0
note() {
	echo "sim-suite: $* exited $r"
	case $r in
	0) ran=1 ;;
	77) ;;
	*) [ "$rc" = 0 ] && rc=$r ;;
	esac
}
"$1"; r=$?; note "$1"
"$2"; r=$?; note "$2"
# the NEW_OWNER build against a simulator offering the proposal
VDPAMAP_TEST_SIM_BACKEND=0x77e "$3"; r=$?; note "$3"
if [ "$VDPAMAP_TEST_SIM" != permap ]; then
	"$4"; r=$?; note "$4"
fi
if [ "$rc" = 0 ] && [ "$ran" = 0 ]; then
	exit 77
fi
exit "$rc"
