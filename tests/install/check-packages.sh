#!/usr/bin/env bash
# The Debian packages, as a user gets them (issue 18): build them from a
# clean copy of the tree (dpkg-buildpackage -us -uc -b; its test step runs
# suites unit and cli, debian/rules), check them with lintian (no error),
# install them, and build and run the examples against the installed
# libvdpamap-dev through pkg-config alone, from a directory holding only
# examples/ (no project tree, no tests/).
#   tests/install/check-packages.sh [--scratch] [OUTDIR]
# As root (CI) the packages go into the real root with dpkg -i and are
# removed at the end (unless they were installed before); with --scratch,
# or not root, they are unpacked into a scratch root (dpkg -x) and found
# through a copy of the .pc whose prefix is moved there, and
# LD_LIBRARY_PATH.  OUTDIR (default: a
# temporary directory) keeps the tree copy, the .deb files and the logs.
# Needs: dpkg-dev debhelper fakeroot lintian and the Build-Depends of
# debian/control (scripts/deps.sh test installs them).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
scratch=0
if [ "${1:-}" = --scratch ]; then
	scratch=1
	shift
fi
[ "$(id -u)" -eq 0 ] || scratch=1
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/vdpamap-pkg.XXXXXX")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "check-packages: in $out"

# 1. a clean copy: the tracked and new files of the tree, no build dirs
rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$out/src"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z -co --exclude-standard |
		xargs -0 -I{} sh -c '[ -e "{}" ] && printf "%s\0" "{}"' |
		tar --null -T - -cf -) | tar -xf - -C "$out/src"
else
	tar -C "$top" --exclude='./build*' --exclude='./obj-*' -cf - . |
		tar -xf - -C "$out/src"
fi

# 2. build the three packages
dpkg-checkbuilddeps "$out/src/debian/control" || {
	echo "check-packages: missing build dependencies (scripts/deps.sh test)" >&2
	exit 1
}
(cd "$out/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
	tail -50 "$out/build.log" >&2
	echo "check-packages: dpkg-buildpackage failed ($out/build.log)" >&2
	exit 1
}
debs=()
for p in libvdpamap0 libvdpamap-dev vdpamap-tools; do
	f=$(ls "$out/${p}"_*.deb 2>/dev/null | head -1)
	[ -n "$f" ] || { echo "check-packages: no $p package" >&2; exit 1; }
	debs+=("$f")
done
echo "check-packages: built ${debs[*]##*/}"

# 3. lintian: no error (warnings are listed)
changes=$(ls "$out"/*.changes | head -1)
lintian --fail-on error --tag-display-limit 0 "$changes" >"$out/lintian.log" 2>&1 || {
	cat "$out/lintian.log" >&2
	echo "check-packages: lintian reports errors" >&2
	exit 1
}
sed 's/^/lintian: /' "$out/lintian.log"

# 4. install
pc_args=()
export_env=()
installed_before=0
if ((scratch)); then
	root=$out/root
	rm -rf "$root"
	for d in "${debs[@]}"; do dpkg -x "$d" "$root"; done
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	# the .pc with its prefix moved into the scratch root (pkg-config's
	# --define-variable would move libnl's too, --define-prefix gets the
	# multiarch libdir wrong)
	mkdir -p "$root/pc"
	sed "s|^prefix=.*|prefix=$root/usr|" \
		"$root/usr/lib/$ma/pkgconfig/libvdpamap.pc" >"$root/pc/libvdpamap.pc"
	export PKG_CONFIG_PATH=$root/pc
	export LD_LIBRARY_PATH=$root/usr/lib/$ma
	vdpamap=$root/usr/bin/vdpamap
else
	dpkg-query -W -f='${Status}' libvdpamap0 2>/dev/null |
		grep -q "ok installed" && installed_before=1
	dpkg -i "${debs[@]}" >"$out/dpkg.log" 2>&1 || {
		cat "$out/dpkg.log" >&2
		exit 1
	}
	vdpamap=/usr/bin/vdpamap
	cleanup() {
		((installed_before)) ||
			dpkg -r vdpamap-tools libvdpamap-dev libvdpamap0 >/dev/null 2>&1 ||
			true
	}
	trap cleanup EXIT
	# what the packages put where a user looks
	for f in /usr/share/vdpamap/schema/info.json \
		/usr/share/bash-completion/completions/vdpamap \
		/usr/share/man/man1/vdpamap.1.gz \
		/usr/share/man/man3/vdpamap_open.3.gz; do
		[ -e "$f" ] || { echo "check-packages: $f not installed" >&2; exit 1; }
	done
fi
"$vdpamap" --version

# 5. the examples, alone, against the installed -dev through pkg-config
ex=$out/examples
rm -rf "$ex"
cp -r "$out/src/examples" "$ex"
cflags=$(pkg-config "${pc_args[@]}" --cflags libvdpamap)
libs=$(pkg-config "${pc_args[@]}" --libs libvdpamap)
echo "check-packages: pkg-config: $cflags $libs"
cd "$ex"
for e in vmm spdk_shaped; do
	# shellcheck disable=SC2086
	cc -O2 -Wall -Werror $cflags -o "$e" "$e.c" vnet.c vnet_io.c $libs -lpthread
done
if pkg-config --exists libdpdk; then
	# shellcheck disable=SC2086
	cc -O2 -Wall $cflags $(pkg-config --cflags libdpdk) \
		-DALLOW_EXPERIMENTAL_API -o dpdk_app dpdk_app.c vnet.c vnet_io.c \
		$libs $(pkg-config --libs libdpdk) -lpthread
	echo "check-packages: dpdk_app built"
fi
./vmm --sim va
./spdk_shaped --sim pa
echo "check-packages: ok"
