#!/bin/sh
# The library's ABI against the last release's (tests/abi/libvdpamap-*.abi,
# written by abidw at the release: CONTRIBUTING.md "Releases and the ABI").
#   check-abi.sh BASELINE.abi LIB HEADERS_DIR SUPPRESSIONS
# Fails on any change abidiff reports that the suppressions do not allow
# (a removed or changed function, a struct member removed or retyped, ...)
# and on a symbol added to a version node the baseline already has (a
# released node is never edited: new functions go in a new node).  New
# functions in a new node are fine.  Exit 77 without abidiff.
set -eu
base=$1 lib=$2 hdrs=$3 supp=$4
if ! command -v abidiff >/dev/null 2>&1; then
	echo "abidiff not installed (apt-get install abigail-tools): skipped"
	exit 77
fi
status=0
# abidiff's exit status is a bit mask: 1 error, 2 usage, 4 ABI change,
# 8 incompatible change; any of them fails.
abidiff --headers-dir2 "$hdrs" --drop-private-types --no-added-syms \
	--suppressions "$supp" "$base" "$lib" || status=$?
if [ "$status" -ne 0 ]; then
	echo "abidiff: exit $status: the ABI differs from $(basename "$base")" >&2
fi
# symbols added to a released node
released=$(sed -n "s/.*<elf-symbol name='[^']*' version='\([^']*\)'.*/\1/p" \
	"$base" | sort -u)
old=$(sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)'.*/\1@\2/p" \
	"$base" | sort -u)
for s in $(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' |
	sed 's/@@*/@/'); do
	case " $(echo $released) " in
	*" ${s#*@} "*) ;;
	*) continue ;;
	esac
	if ! echo "$old" | grep -qx "$s"; then
		echo "$s: added to released node ${s#*@}; put it in a new" \
			"node of src/libvdpamap.map" >&2
		status=1
	fi
done
[ "$status" -eq 0 ] && echo "ABI compatible with $(basename "$base")"
exit "$status"
