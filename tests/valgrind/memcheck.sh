#!/usr/bin/env bash
# The exe_wrapper of `meson test --setup valgrind`: run one test under
# valgrind memcheck, the test process and every process it forks.
#
# Children, deliberately: the library forks the simulator daemon
# (vdpamap_sim_spawn: an intermediate child that exits at once, and the
# daemon) without exec, and tests fork children of their own; valgrind
# follows every fork whatever it is told.  Each process logs to its own
# file (--log-file=%p).  Execs are not followed (--trace-children=no): an
# exec'd program runs natively.  A test that re-executes itself cannot run
# under memcheck (/proc/self/exe is valgrind's launcher) and neither can
# clone(CLONE_VM) without CLONE_THREAD (valgrind refuses it): the setup
# sets VDPAMAP_MEMCHECK=1 and such tests skip those cases (exit 77, saying
# why).
#  - The test process: every error fails the test, leaks ("definite" and
#    "possible") included.
#  - A forked child: every error but a leak fails the test.  A child exits
#    (_exit, or a signal: the daemon stopped or killed) holding whatever it
#    inherited and whatever the daemon keeps for its lifetime; that is not
#    a leak.  The simulator's own leaks are found in-process instead: the
#    sim fuzzer runs it on a thread and stops it (tests/fuzz/fuzz_sim.c).
#  - valgrind never changes an exit status (no --error-exitcode): tests
#    check their children's.
# Nothing is suppressed but third-party noise, documented in vdpamap.supp.
# A child still running 10 s after the test ended is a leaked daemon: it
# fails the test and is killed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# A test that is a script (tests/abi/check-exports.sh) runs as it is:
# memcheck of bash and nm checks nothing of ours.
if [ "$(head -c 2 "$1" 2>/dev/null)" = "#!" ]; then
	exec "$@"
fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/vdpamap-vg.XXXXXX")
valgrind --tool=memcheck --leak-check=full \
	--show-leak-kinds=definite,possible \
	--errors-for-leak-kinds=definite,possible \
	--trace-children=no --child-silent-after-fork=no \
	--suppressions="$here/vdpamap.supp" --gen-suppressions=all \
	--log-file="$logs/%p.log" "$@"
rc=$?
fail=0
# Every process writes its summary when it exits.  A log without one is a
# child that exec'd (no longer traced: fine, once it is gone) or one still
# running: give those 10 s.
unfinished() {
	local f pid
	for f in "$logs"/*.log; do
		[ -e "$f" ] || continue
		pid=$(basename "$f" .log)
		grep -q "ERROR SUMMARY" "$f" || ! kill -0 "$pid" 2>/dev/null ||
			echo "$pid"
	done
}
for _ in $(seq 1 100); do
	[ -z "$(unfinished)" ] && break
	sleep 0.1
done
for pid in $(unfinished); do
	echo "memcheck: process $pid (forked by the test) still runs 10 s" \
	     "after the test ended: a leaked simulator daemon; killed" >&2
	kill -TERM "$pid" 2>/dev/null
	fail=1
done
for f in "$logs"/*.log; do
	[ -e "$f" ] || continue
	grep -q "ERROR SUMMARY" "$f" || continue	# exec'd, or killed above
	errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f")
	leaks=$(grep -cE "are (definitely|possibly) lost in loss record" "$f")
	if grep -q "Parent PID: $$\$" "$f"; then
		what="the test"
	else
		what="process $(basename "$f" .log), forked by the test"
		errors=$((errors - leaks))
	fi
	if [ "$errors" -gt 0 ]; then
		echo "memcheck: $errors error(s) in $what:" >&2
		cat "$f" >&2
		fail=1
	fi
done
rm -rf "$logs"
[ "$fail" -eq 0 ] || exit 1
exit "$rc"		# the test's own status (77: skipped)
