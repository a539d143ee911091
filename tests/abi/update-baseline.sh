#!/bin/sh
# Record the ABI of a release: run at each release (CONTRIBUTING.md,
# "Releases and the ABI"), on a build of the release's commit.
#   tests/abi/update-baseline.sh BUILDDIR VERSION
# writes tests/abi/libvdpamap-VERSION.abi; then point the abi test in
# tests/abi/meson.build at it and remove the previous one.
# Locations are kept (file names only), for abidiff --headers-dir2 to tell
# public types from private ones.
set -eu
build=$1 version=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/tests/abi/libvdpamap-$version.abi
abidw --headers-dir "$top/include" --no-corpus-path --no-comp-dir-path \
	--short-locs --drop-private-types "$build/src/libvdpamap.so" >"$out"
echo "wrote $out"
