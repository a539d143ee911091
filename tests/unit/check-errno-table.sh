#!/bin/sh
# scripts/errno-table check (test errno-table) fails on each kind of drift
# between docs/errno.table, the header comments and the man pages: run on
# a copy of the tree, changed one way at a time.
#   check-errno-table.sh TOOL TOP
set -eu
tool=$1 top=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fresh() {
	rm -rf "$tmp/t"
	mkdir -p "$tmp/t/docs" "$tmp/t/src"
	cp -r "$top/include" "$tmp/t/"
	cp -r "$top/docs/man" "$tmp/t/docs/"
	cp "$top/docs/errno.table" "$tmp/t/docs/"
	cp "$top/src/libvdpamap.map" "$tmp/t/src/"
}
# expect WHAT TEXT: the check fails, and says TEXT
expect() {
	if out=$("$tool" check "$tmp/t" 2>&1); then
		echo "$1: the check passed" >&2
		status=1
	elif ! printf '%s\n' "$out" | grep -qF -- "$2"; then
		printf '%s: wanted "%s" in:\n%s\n' "$1" "$2" "$out" >&2
		status=1
	fi
}
fresh
"$tool" check "$tmp/t" >/dev/null || {
	echo "the unchanged copy fails the check" >&2
	exit 1
}
# the table loses an errno the header and the page name
fresh
sed -i '/^vdpamap_vq_desc_group /,/^[^\t]/{/^\tEOPNOTSUPP\t/d}' \
	"$tmp/t/docs/errno.table"
expect 'errno dropped from the table' \
	'vdpamap_vq_desc_group: the comment names -EOPNOTSUPP, which'
expect 'errno dropped from the table' \
	'ERRORS of vdpamap_vq_desc_group lists -EOPNOTSUPP'
# the header forgets one
fresh
sed -i 's/-EOPNOTSUPP without$/EOPNOTSUPP without/' "$tmp/t/include/vdpamap.h"
expect 'errno dropped from a header comment' \
	'vdpamap_vq_desc_group: the comment does not name -EOPNOTSUPP'
# a man page forgets one
fresh
sed -i '/^\.SS vdpamap_vq_desc_group()/,/^\.SS /{/^\.B \\-EOPNOTSUPP$/s/EOPNOTSUPP/ENOTSUP/}' \
	"$tmp/t/docs/man/vdpamap_device.3"
expect 'errno dropped from a man page' \
	'ERRORS of vdpamap_vq_desc_group lacks -EOPNOTSUPP'
# a group's errno is not named where the group is documented
fresh
sed -i 's/-EPIPE (a KEEPER/EPIPE (a KEEPER/' "$tmp/t/include/vdpamap.h"
expect 'group errno undocumented' 'does not name -EPIPE (group device)'
# an exported function the table does not know
fresh
sed -i 's/^\t\tvdpamap_vring_set;$/&\n\t\tvdpamap_vring_new;/' \
	"$tmp/t/src/libvdpamap.map"
expect 'function missing' 'vdpamap_vring_new: exported, not in docs/errno.table'
[ "$status" -eq 0 ] && echo "errno-table check fails on each drift tried"
exit $status
