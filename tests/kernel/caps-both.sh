#!/bin/sh
# In the guest: tests/kernel/caps.c as root, then as nobody (the program
# drops privileges itself, before it opens the device).
rc=0
"$1" || rc=$?
[ "$rc" = 77 ] && exit 77
echo "== caps unprivileged"
"$1" --unpriv || rc=1
exit $rc
