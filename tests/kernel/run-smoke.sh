#!/bin/bash
# Build tests/kernel/smoke.c (static, plain cc) and run it on the real kernel in all three
# vdpa_sim configurations through tests/harness/vdpamap-vm. Exits with the harness's status.
# Extra arguments go to tests/harness/vdpamap-vm before the "--" (e.g. --timeout 300, --quiet).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vdpamap-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -static -o "$tmp/smoke" "$here/smoke.c"
rc=0
"$top/tests/harness/vdpamap-vm" --config all "$@" -- "$tmp/smoke" || rc=$?
exit "$rc"
