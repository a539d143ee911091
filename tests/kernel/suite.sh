#!/bin/sh
# Run several test programs in one guest boot (tools/vdpamap-vm runs one
# PROGRAM per configuration).  Exit: the first failing status; 77 only if
# every program skipped; 0 otherwise.
rc=0
ran=0
for p in "$@"; do
	"$p"
	r=$?
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
