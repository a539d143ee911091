#!/usr/bin/env bash
# Install what building libvdpamap needs (Debian 12), only what is missing.
# Sourced or run by scripts/demo and scripts/test; safe to run again.
set -euo pipefail

pkgs=(meson ninja-build pkg-config gcc libc6-dev libnl-3-dev libnl-genl-3-dev
      liburcu-dev libcmocka-dev)
# examples/dpdk_app.c (meson builds it only when libdpdk is found); graphviz
# for scripts/render-diagrams (docs/diagrams, checked by the 'diagrams' test)
pkgs+=(libdpdk-dev graphviz)
# extras by purpose: scripts/test runs memcheck, sanitizer builds and
# libFuzzer targets (clang + its runtimes), checks the ABI against the last
# release (abigail-tools: abidiff), the house rules (clang-format), the
# static analysers (scripts/check-static: clang-tidy, cppcheck, python3)
# and builds the Debian packages; scripts/bench plots, scripts/bench-tree
# compares with GLib's GTree
for extra in "$@"; do
	case $extra in
	test) pkgs+=(valgrind clang libclang-rt-dev abigail-tools clang-format
		     clang-tidy cppcheck python3)
	      # tests/install/check-packages.sh: debian/control's build
	      # dependencies, the package tools, lintian
	      pkgs+=(build-essential dpkg-dev debhelper fakeroot lintian pkgconf
		     bash-completion groff-base python3) ;;
	# scripts/bench plots; scripts/bench-tree's GTree column
	bench) pkgs+=(gnuplot-nox libglib2.0-dev) ;;
	esac
done
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: need root to apt-get install ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq "${missing[@]}" >&2
fi
