#!/bin/bash
# The harness's DMAR oracle must be able to fail: run tests/kernel/dmar_negctl.c (a tx buffer
# never mapped) as the program of `vdpamap-vm --config vp`, where it faults outside the
# negative control. Passes only if the harness exits 97 (a DMAR fault while the program ran)
# and names the fault. Extra arguments go to tests/harness/vdpamap-vm before the "--".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdpamap-oracle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -static -o "$tmp/dmar_negctl" "$here/dmar_negctl.c"
rc=0
"$top/tests/harness/vdpamap-vm" --config vp --quiet --log "$tmp/console" "$@" -- \
	"$tmp/dmar_negctl" 2>"$tmp/err" || rc=$?
cat "$tmp/err" >&2
if [[ $rc != 97 ]]; then
	echo "dmar-oracle: the harness exited $rc on a program that makes a DMAR fault, want 97" >&2
	exit 1
fi
if ! grep -q 'DMAR fault line(s) outside the negative control' "$tmp/err"; then
	echo "dmar-oracle: exit 97 without naming the fault" >&2
	exit 1
fi
echo "dmar-oracle: a DMAR fault in the program failed the run (97), as it must"
