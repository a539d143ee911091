#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# vdpamap sim start|stop|status|list end to end (suite 'cli'), every step
# through clicheck: start a daemon at a path of ours, status in JSON, list
# finds it by its link, the demo against that path, a second start
# refused, stop, status says none; a daemon started with --idle-timeout 1
# leaves by itself and list no longer shows it.
#   sim.sh CLICHECK VDPAMAP SCHEMA_DIR
set -eu
CHECK=$1 V=$2 SCHEMA=$3/sim.json
DIR=$(mktemp -d "${TMPDIR:-/tmp}/vdpamap-cli-sim.XXXXXX")
P=$DIR/sim.sock
cleanup() {
	"$V" sim stop --path "$P" >/dev/null 2>&1 || true
	rm -rf "$DIR"
}
trap cleanup EXIT

step() { echo "== $*"; }

step start
"$CHECK" --schema "$SCHEMA" --stdout-has '"action":"start"' \
	--stdout-has '"running":true' --stdout-has '"mode":"VA"' \
	--stdout-has '"parent":"per-map"' -- \
	"$V" -j sim start --path "$P" --mode va --parent per-map \
	--without IOTLB_PERSIST --address-spaces 2 --groups 2 --vqs 3
step "the daemon outlives start"
"$CHECK" --schema "$SCHEMA" --stdout-has '"running":true' \
	--stdout-has '"available":true' --stdout-has '"mem_mode":"VA"' -- \
	"$V" -j sim status --path "$P"
step "list finds it, with its link"
"$CHECK" --schema "$3/sim-list.json" --stdout-has '"action":"list"' \
	--stdout-has "\"$P\"" --stdout-has '"answers":true' -- \
	"$V" -j sim list
"$CHECK" --stdout-has "link $P" --stdout-has 'exits after 60 s unused' -- \
	"$V" sim list
step "a second start is refused"
"$CHECK" --exit 1 --schema "$SCHEMA" --stdout-has '"ok":false' \
	--stderr-has 'already answers' -- "$V" -j sim start --path "$P"
step "the demo against the path"
"$CHECK" --schema "$3/demo.json" --stdout-has '"spawned_sim":false' -- \
	"$V" -j demo "$P" --size 8
step "status in text, after the demo"
"$CHECK" --stdout-has 'running' --stdout-has 'tx and' -- \
	"$V" sim status --path "$P"
step stop
"$CHECK" --schema "$SCHEMA" --stdout-has '"running":false' -- \
	"$V" -j sim stop --path "$P"
step "start with a profile: the daemon's resolved shape and caps"
"$CHECK" --schema "$SCHEMA" --stdout-has '"profile":"linux-7.3/vp_vdpa"' \
	--stdout-has '"backend":"0x10e"' --stdout-has '"mode":"PA"' \
	--stdout-has '"vhost_vdpa":4096' -- \
	"$V" -j sim start --path "$P" --profile linux-7.3/vp_vdpa \
	--max-iotlb-entries 4096
"$CHECK" --schema "$SCHEMA" --stdout-has '"running":false' -- \
	"$V" -j sim stop --path "$P"
step "an unknown profile fails"
"$CHECK" --exit 1 --schema "$SCHEMA" --stdout-has '"ok":false' -- \
	"$V" -j sim start --path "$P" --profile linux-9
step "status says none"
"$CHECK" --exit 1 --schema "$SCHEMA" --stdout-has '"running":false' -- \
	"$V" -j sim status --path "$P"
"$CHECK" --exit 1 --stdout-has 'no simulator at' -- \
	"$V" sim status --path "$P"
step "nothing to stop"
"$CHECK" --exit 1 --schema "$SCHEMA" --stderr-has 'nothing to stop' -- \
	"$V" -j sim stop --path "$P"
step "a daemon nobody uses leaves by itself"
"$CHECK" --schema "$SCHEMA" --stdout-has '"idle_timeout_ms":1000' -- \
	"$V" -j sim start --path "$P" --idle-timeout 1
# (not polled with status, which opens the device: a use)
i=0
while test -e "$P"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "still running after 10 s"; exit 1; }
	sleep 0.1
done
"$CHECK" --exit 1 --stdout-has 'no simulator at' -- \
	"$V" sim status --path "$P"
"$CHECK" --schema "$3/sim-list.json" --stdout-lacks "$DIR" -- \
	"$V" -j sim list
# its socket went with it; the link is left dangling (a start replaces it)
test -L "$P" && ! test -e "$P"
rm "$P"
test -z "$(ls -A "$DIR")" || { echo "left behind: $(ls -A "$DIR")"; exit 1; }
echo ok
