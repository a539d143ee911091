#!/bin/sh
# Every function the public headers declare has a man page: docs/man/FN.3,
# either a page of its own or a ".so man3/FAMILY.3" link to the page of its
# family, whose NAME section lists FN.  Every page renders without a groff
# warning (when groff is installed).  New functions added to include/*.h
# fail this test until their page exists.
#   check-manpages.sh MANDIR HEADER...
set -eu
mandir=$1
shift
declared=$(mktemp)
trap 'rm -f "$declared"' EXIT
# declarations look like: VDPAMAP_API <type> [*]vdpamap_name(
cat "$@" | tr '\n' ' ' | grep -o 'VDPAMAP_API[^;(]*(' |
	grep -o 'vdpamap_[a-z0-9_]*($' | tr -d '(' | sort -u >"$declared"
if [ ! -s "$declared" ]; then
	echo "no declarations found in $*" >&2
	exit 1
fi
status=0
missing=
for fn in $(cat "$declared"); do
	page=$mandir/$fn.3
	if [ ! -f "$page" ]; then
		missing="$missing $fn"
		status=1
		continue
	fi
	target=$page
	so=$(sed -n 's/^\.so  *man3\/\(.*\)$/\1/p' "$page")
	if [ -n "$so" ]; then
		target=$mandir/$so
		if [ ! -f "$target" ]; then
			echo "$page: .so to a missing page man3/$so" >&2
			status=1
			continue
		fi
	fi
	# the NAME section (up to the next .SH) names the function
	if ! sed -n '/^\.SH NAME/,/^\.SH [^N]/p' "$target" |
		grep -q "\\(^\\|[ ,]\\)$fn\\([ ,]\\|$\\)"; then
		echo "$target: NAME does not list $fn" >&2
		status=1
	fi
done
if [ -n "$missing" ]; then
	echo "no man page for:$missing" >&2
	echo "(write docs/man/FAMILY.3 listing them under NAME, and a" \
		"docs/man/FN.3 containing '.so man3/FAMILY.3' for each)" >&2
fi
if command -v groff >/dev/null 2>&1; then
	for p in "$mandir"/*.3; do
		grep -q '^\.so ' "$p" && continue
		out=$(groff -man -Tutf8 -ww -z "$p" 2>&1) || true
		if [ -n "$out" ]; then
			echo "$p: groff: $out" >&2
			status=1
		fi
	done
else
	echo "groff not installed: rendering not checked"
fi
n=$(wc -l <"$declared")
echo "$n declared functions checked against $mandir"
exit $status
