#!/bin/sh
# suite.sh [VAR=VALUE...] PROG [[VAR=VALUE...] PROG]...
# Run several test programs in one guest boot (tests/harness/vdpamap-vm runs one
# PROGRAM per configuration).  VAR=VALUE words set the environment of the
# next program only.  Exit: the first failing status; 77 only if every
# program skipped; 0 otherwise.
rc=0
ran=0
envs=
for p in "$@"; do
	case $p in
	*=*)
		envs="$envs $p"
		continue
		;;
	esac
	# shellcheck disable=SC2086 # the VAR=VALUE words split on purpose
	env $envs "$p"
	r=$?
	envs=
	echo "suite: $p exited $r"
	case $r in
	0) ran=1 ;;
	77) ;;
	*) [ "$rc" = 0 ] && rc=$r ;;
	esac
done
if [ "$rc" = 0 ] && [ "$ran" = 0 ]; then
	exit 77
fi
exit "$rc"
