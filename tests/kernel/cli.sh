#!/bin/sh
# cli.sh CLICHECK VDPAMAP SCHEMA_DIR
# The netlink subcommands of the CLI against the real vdpa bus, inside a
# tests/harness/vdpamap-vm guest (which created vdpa0 on vdpasim_net, or on the
# PCI function with --config vp): exit codes,
# one JSON document on stdout valid against its schema, the text a script
# greps for, errors on stderr with an empty stdout.  Every check runs; the
# exit status is 1 if any failed.
[ $# -eq 3 ] || { echo "usage: $0 CLICHECK VDPAMAP SCHEMA_DIR" >&2; exit 2; }
C=$1 V=$2 S=$3
[ -c /dev/vhost-vdpa-0 ] || { echo "skip: no vdpa0 (not in a tests/harness/vdpamap-vm guest)"; exit 77; }
n=0 bad=0
check() { # DESCRIPTION CLICHECK-ARGS... -- CMD...
	d=$1
	shift
	n=$((n + 1))
	if "$C" "$@"; then
		echo "ok   $d"
	else
		echo "FAIL $d"
		bad=$((bad + 1))
	fi
}
# the management device is vdpa0's own (vdpasim_net in the harness), read
# from the kernel, as is whether the kernel has netlink management at all
# (before Linux 5.12 the parent creates its device at module load)
if ! "$V" -j dev show vdpa0 >/dev/null 2>&1 && [ -d /sys/bus/vdpa/devices ] &&
	"$V" -j dev show vdpa0 2>&1 | grep -qi "family\|not loaded"; then
	echo "skip: kernel lacks vdpa netlink management (a vdpa bus, no genl family \"vdpa\")"
	exit 77
fi
M=${VDPAMAP_TEST_MGMTDEV:-$("$V" -j dev show vdpa0 2>/dev/null |
	sed -n 's/.*"mgmtdev":"\([^"]*\)".*/\1/p')}
M=${M:-vdpasim_net}
echo "# vdpa0's management device: $M"
check "mgmtdev show" --schema "$S/mgmtdev.json" --stdout-has "\"$M\":{" \
	--stdout-has '"supported_classes":["net"]' -- "$V" -j mgmtdev show
check "mgmtdev show $M" --schema "$S/mgmtdev.json" --stdout-has "\"$M\":{" \
	-- "$V" -j mgmtdev show "$M"
check "mgmtdev show (unknown)" --exit 1 --stdout-empty --stderr-has "mgmtdev show" \
	-- "$V" -j mgmtdev show nosuch_mgmt
check "dev show" --schema "$S/dev.json" --stdout-has "\"vdpa0\":{\"type\":\"network\",\"mgmtdev\":\"$M\"" \
	-- "$V" -j dev show
check "dev show vdpa0" --schema "$S/dev.json" --stdout-has '"vdpa0":{' -- "$V" -j dev show vdpa0
check "dev show (unknown)" --exit 1 --stdout-empty --stderr-has "No such device" \
	-- "$V" -j dev show nosuch
check "dev show (text)" --stdout-has "vdpa0: type network mgmtdev $M" -- "$V" dev show
check "dev config show" --schema "$S/dev-config.json" \
	--stdout-has '"vdpa0":{"mac":"02:00:00:00:00:02","link":"up"' -- "$V" -j dev config show
# the MTU field exists where the device offers VIRTIO_NET_F_MTU (vdpa_sim:
# the 1500 of `vdpa dev add`; QEMU's virtio-net behind vp_vdpa: not offered)
if "$V" -j dev config show vdpa0 2>/dev/null | grep -q '"dev_features":\[[^]]*"MTU"'; then
	check "dev config show vdpa0" --schema "$S/dev-config.json" --stdout-has '"mtu":1500' \
		-- "$V" -j dev config show vdpa0
else
	check "dev config show vdpa0 (no MTU feature)" --schema "$S/dev-config.json" \
		--stdout-has '"vdpa0":{' --stdout-lacks '"mtu"' -- "$V" -j dev config show vdpa0
fi
# A management device that is one PCI function (vp_vdpa, mlx5: "pci/...")
# drives one vdpa device and provisions no MAC or MTU: no second device is
# tried there (6.12's vp_vdpa accepts a second `dev add` of the same
# function, and deleting both then oopses the kernel).
second_device=1
case $M in
pci/*)
	second_device=0
	echo "# skip: $M is one PCI function: one vdpa device, no MAC/MTU provisioning (the dev add/del checks of a second device)"
	check "dev add (MAC on a PCI function)" --exit 1 --stdout-empty \
		--stderr-has "not supported" -- "$V" dev add name vdpa1 mgmtdev "$M" \
		mac 02:00:00:00:00:09
	check "dev show (vdpa1 never made)" --schema "$S/dev.json" --stdout-lacks '"vdpa1"' \
		--stdout-has '"vdpa0":{' -- "$V" -j dev show
	;;
esac
if [ $second_device = 1 ]; then
	check "dev add vdpa1" --stdout-empty -- "$V" dev add name vdpa1 mgmtdev "$M" \
		mac 02:00:00:00:00:09 mtu 9000
	check "dev show (vdpa1 added)" --schema "$S/dev.json" --stdout-has '"vdpa1":{' \
		--stdout-has '"vdpa0":{' -- "$V" -j dev show
	check "dev config show vdpa1" --schema "$S/dev-config.json" \
		--stdout-has '"mac":"02:00:00:00:00:09"' --stdout-has '"mtu":9000' \
		-- "$V" -j dev config show vdpa1
	check "dev add vdpa1 (exists)" --exit 1 --stdout-empty --stderr-has "dev add" \
		-- "$V" dev add name vdpa1 mgmtdev "$M"
fi
check "dev add (unknown mgmtdev)" --exit 1 --stdout-empty --stderr-has "No such device" \
	-- "$V" dev add name vdpa2 mgmtdev nosuch_mgmt
if [ $second_device = 1 ]; then
	check "dev del vdpa1" --stdout-empty -- "$V" dev del vdpa1
	check "dev show (vdpa1 gone)" --schema "$S/dev.json" --stdout-lacks '"vdpa1"' \
		--stdout-has '"vdpa0":{' -- "$V" -j dev show
	check "dev del vdpa1 (gone)" --exit 1 --stdout-empty --stderr-has "No such device" \
		-- "$V" dev del vdpa1
fi
# usage errors are found before netlink is touched: exit 2
check "dev add (no mgmtdev)" --exit 2 --stdout-empty -- "$V" dev add name vdpa3
check "dev add (bad mac)" --exit 2 --stdout-empty --stderr-has "bad mac" \
	-- "$V" dev add name vdpa3 mgmtdev "$M" mac zz
check "dev add (bad mtu)" --exit 2 --stdout-empty --stderr-has "mtu" \
	-- "$V" dev add name vdpa3 mgmtdev "$M" mtu 0
check "mgmtdev (unknown subcommand)" --exit 2 --stdout-empty -- "$V" mgmtdev frob
check "dev show (vdpa3 never made)" --schema "$S/dev.json" --stdout-lacks '"vdpa3"' \
	-- "$V" -j dev show
echo "cli: $((n - bad))/$n passed"
[ "$bad" = 0 ]
