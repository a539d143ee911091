#!/bin/sh
# Every function the public headers declare is exported by the library, and
# the library exports nothing else.
#   check-exports.sh LIB HEADER...
set -eu
lib=$1
shift
declared=$(mktemp)
exported=$(mktemp)
trap 'rm -f "$declared" "$exported"' EXIT
# declarations look like: VDPAMAP_API <type> [*]vdpamap_name(
cat "$@" | tr '\n' ' ' | grep -o 'VDPAMAP_API[^;(]*(' |
	grep -o 'vdpamap_[a-z0-9_]*($' | tr -d '(' | sort -u >"$declared"
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' |
	sed 's/@.*//' | sort -u >"$exported"
if [ ! -s "$declared" ]; then
	echo "no declarations found in $*" >&2
	exit 1
fi
status=0
for f in $(comm -23 "$declared" "$exported"); do
	echo "declared but not exported: $f" >&2
	status=1
done
for f in $(comm -13 "$declared" "$exported"); do
	echo "exported but not declared: $f" >&2
	status=1
done
n=$(wc -l <"$declared")
echo "$n declared functions checked against $lib"
exit $status
