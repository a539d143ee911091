#!/bin/sh
# agree.sh CONFORMANCE [ALLOWLIST]
# VDPAMAP_AGREE_CONFORMANCE=CONFORMANCE agree.sh   (as suite.sh runs it)
# Inside a tests/harness/vdpamap-vm guest: run the conformance suite against
# the kernel's device, then against the simulator with the profile that
# plays this kernel line and configuration (linux-LINE/vdpa_sim for pa and
# va, linux-LINE/vdpa_sim-permap for permap, linux-LINE/vp_vdpa for vp,
# linux-LINE/vduse for vduse; linux-LINE-rfc/... when the harness loaded
# the live-update patch, VDPAMAP_VM_RFC=1: docs/sim-profiles.md), and
# compare the per-case outcomes (pass, skip, fail; none: never reported).
# A difference fails, printing the cases, unless ALLOWLIST (agree-allow.txt)
# lists it; an allowlist entry for this line and configuration whose
# difference is gone fails too (stale).  Exit: the kernel run's status if it
# is neither 0 nor 77, else 1 on a disagreement, else the kernel run's.
#
#   agree.sh --outcomes CONFORMANCE_OUTPUT CASE_LIST   the parser alone
#
# On a host, VDPAMAP_AGREE_KERNEL_OUT=FILE takes the kernel's output from
# FILE (a saved guest log) instead of running it, e.g.
#   VDPAMAP_VM_KERNEL=6.1 VDPAMAP_VM_CONFIG=pa VDPAMAP_AGREE_KERNEL_OUT=k.log \
#   tests/kernel/agree.sh build/tests/conformance

# Per-case outcome from cmocka's standard output ("[       OK ] NAME",
# "[  SKIPPED ] NAME", "[  FAILED  ] NAME", "[  ERROR   ] NAME"): one
# "NAME OUTCOME" line per case of CASE_LIST, in its order.  The last result
# line naming a case wins (cmocka's summary repeats them identically).
outcomes() {
	awk -v list="$2" '
	BEGIN {
		while ((getline l < list) > 0)
			if (l != "") { order[++n] = l; res[l] = "none" }
	}
	/^\[       OK \] /  { if ($NF in res) res[$NF] = "pass" }
	/^\[  SKIPPED \] /  { if ($NF in res) res[$NF] = "skip" }
	/^\[  FAILED  \] /  { if ($NF in res) res[$NF] = "fail" }
	/^\[  ERROR   \] /  { if (NF == 4 && ($NF in res)) res[$NF] = "fail" }
	END { for (i = 1; i <= n; i++) print order[i], res[order[i]] }
	' "$1"
}

if [ "$1" = --outcomes ]; then
	outcomes "$2" "$3"
	exit 0
fi

[ $# -le 2 ] || {
	echo "usage: $0 CONFORMANCE [ALLOWLIST]" >&2
	exit 2
}
conf=${1:-${VDPAMAP_AGREE_CONFORMANCE:?usage: $0 CONFORMANCE [ALLOWLIST]}}
allow=${2:-$(dirname "$0")/agree-allow.txt}
line=${VDPAMAP_VM_KERNEL:?not in a tests/harness/vdpamap-vm guest}
cfg=${VDPAMAP_VM_CONFIG:?not in a tests/harness/vdpamap-vm guest}
# the simulator's memory mode: the configuration's, or the parent's own
flavour=$cfg
kprof=linux-$line${VDPAMAP_VM_RFC:+-rfc}
case $cfg in
permap) profile=$kprof/vdpa_sim-permap ;;
vp) profile=$kprof/vp_vdpa flavour=permap ;;
vduse) profile=$kprof/vduse flavour=va ;;
*) profile=$kprof/vdpa_sim ;;
esac
W=$(mktemp -d "${TMPDIR:-/tmp}/agree.XXXXXX") || exit 2
trap 'rm -rf "$W"' EXIT

"$conf" --list >"$W/cases" || exit 2

# the kernel: its output on the console as it comes (a hang shows where)
t0=$(date +%s)
if [ -n "${VDPAMAP_AGREE_KERNEL_OUT:-}" ]; then
	cp "$VDPAMAP_AGREE_KERNEL_OUT" "$W/kernel.out" || exit 2
	krc=0
else
	{
		"$conf" 2>&1
		echo $? >"$W/krc"
	} | tee "$W/kernel.out"
	krc=$(cat "$W/krc")
fi
t1=$(date +%s)

# the simulator playing this kernel: its output only when it disagrees
(
	unset VDPAMAP_TEST_DEV
	VDPAMAP_TEST_SIM=$flavour VDPAMAP_TEST_SIM_PROFILE=$profile \
		exec "$conf"
) >"$W/sim.out" 2>&1
src=$?
t2=$(date +%s)

outcomes "$W/kernel.out" "$W/cases" >"$W/k"
outcomes "$W/sim.out" "$W/cases" >"$W/s"

# pair them: CASE KERNEL_OUTCOME SIM_OUTCOME (FILENAME, not NR == FNR: the
# first file may be empty)
awk 'FILENAME == ARGV[1] { k[$1] = $2; next } { print $1, k[$1], $2 }' \
	"$W/k" "$W/s" >"$W/both"

# allowlist lines for this run: LINES CONFIGS CASE KERNEL SIM REASON...
# (LINES and CONFIGS: comma-separated, or *)
if [ -f "$allow" ]; then
	awk -v line="$line" -v cfg="$cfg" '
	function has(l, x,   a, i, n) {
		n = split(l, a, ",")
		for (i = 1; i <= n; i++)
			if (a[i] == x || a[i] == "*")
				return 1
		return 0
	}
	/^[ \t]*(#|$)/ { next }
	has($1, line) && has($2, cfg) { print $3, $4, $5 }' "$allow" >"$W/allow"
else
	: >"$W/allow"
fi

count() { # file: pass/skip/fail/none counts of column $2
	awk -v c="$2" '{ n[$c]++ } END {
		printf "pass %d skip %d fail %d none %d", n["pass"], n["skip"],
			n["fail"], n["none"] }' "$1"
}
echo "agree: kernel $line config $cfg: $(count "$W/both" 2) (exit $krc, $((t1 - t0)) s)"
echo "agree: profile $profile: $(count "$W/both" 3) (exit $src, $((t2 - t1)) s)"

bad=0
# differences not allowed, and allowed ones that hold
awk 'FILENAME == ARGV[1] { a[$1] = $2 " " $3; next }
     $2 != $3 {
	if (($1 in a) && a[$1] == $2 " " $3)
		print "agree: allowed: " $1 " kernel " $2 ", profile " $3
	else
		print "agree: DIFFER: " $1 " kernel " $2 ", profile " $3
     }' "$W/allow" "$W/both" | tee "$W/diff"
grep -q 'DIFFER' "$W/diff" && bad=1
# stale allowlist entries: the difference they name is not what ran (or
# names none)
awk 'FILENAME == ARGV[1] { b[$1] = $2 " " $3; next }
     $2 == $3 || !(($1 in b) && b[$1] == $2 " " $3) {
	print "agree: STALE allowlist entry: " $1 " kernel " $2 ", profile " \
	      $3 " (ran: " (($1 in b) ? b[$1] : "no such case") ")"
     }' "$W/both" "$W/allow" | tee "$W/stale"
[ -s "$W/stale" ] && bad=1

if [ $bad = 1 ]; then
	echo "agree: the simulator profile $profile disagrees with kernel $line ($cfg); its output:"
	cat "$W/sim.out"
	echo "agree: FAIL"
	case $krc in 0 | 77) exit 1 ;; *) exit "$krc" ;; esac
fi
echo "agree: kernel $line ($cfg) and profile $profile agree on every case"
exit "$krc"
