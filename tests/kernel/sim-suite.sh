#!/bin/sh
# sim-suite.sh CONFORMANCE HANDOFF HANDOFF_NEWOWNER FAULT_SWEEP
# Inside a tests/harness/vdpamap-vm guest, run the simulator suites (what the host
# runs as conformance-sim-*, handoff-sim, handoff-sim-newowner and
# fault-sweep-sim-*; the sweep only in pa and va, as on the host) in the
# flavour named by the guest's configuration (pa, va, permap): for a cross
# build, whose programs cannot run on the build machine.  Exit as suite.sh.
[ $# -eq 4 ] || { echo "usage: $0 CONFORMANCE HANDOFF HANDOFF_NEWOWNER FAULT_SWEEP" >&2; exit 2; }
unset VDPAMAP_TEST_DEV
export VDPAMAP_TEST_SIM="${VDPAMAP_VM_CONFIG:?not in a tests/harness/vdpamap-vm guest}"
suite=$(dirname "$0")/suite.sh
# the NEW_OWNER build against a simulator offering the proposal
if [ "$VDPAMAP_TEST_SIM" = permap ]; then
	exec "$suite" "$1" "$2" VDPAMAP_TEST_SIM_BACKEND=0x77e "$3"
fi
exec "$suite" "$1" "$2" VDPAMAP_TEST_SIM_BACKEND=0x77e "$3" "$4"
