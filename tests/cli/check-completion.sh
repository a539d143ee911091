#!/usr/bin/env bash
# The bash completion of vdpamap (tools/vdpamap/completion/vdpamap): source
# it, call its function for a few command lines, check the candidates.
# With bash-completion installed its helpers are used, as in a shell.
#   check-completion.sh COMPLETION-SCRIPT
set -u
bc=/usr/share/bash-completion/bash_completion
# shellcheck disable=SC1090
[ -r "$bc" ] && . "$bc"
# shellcheck disable=SC1090
. "$1" || exit 1
complete -p vdpamap >/dev/null || { echo "no 'complete' for vdpamap"; exit 1; }
fails=0
# expect "WORDS" -- CANDIDATE...: the completion of the last word (which may
# be empty) contains every CANDIDATE; '!X' means X must not be offered.
expect() {
	local line=$1 c got
	shift
	shift	# --
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *' ' ]] && COMP_WORDS+=('')
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	_vdpamap vdpamap "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]}"
	got=" ${COMPREPLY[*]} "
	for c in "$@"; do
		if [[ $c == !* ]]; then
			[[ $got != *" ${c#!} "* ]] && continue
			echo "FAIL '$line': offers ${c#!}: [${COMPREPLY[*]}]"
		else
			[[ $got == *" $c "* ]] && continue
			echo "FAIL '$line': lacks $c: [${COMPREPLY[*]}]"
		fi
		fails=$((fails + 1))
	done
}
expect 'vdpamap ' -- demo info dev mgmtdev map-bench sim
expect 'vdpamap m' -- mgmtdev map-bench '!demo'
expect 'vdpamap --' -- --json --pretty --verbose --help --version
expect 'vdpamap -j ' -- demo sim
expect 'vdpamap demo --' -- --size --no-persist-sim --handoff --json
expect 'vdpamap demo --handoff ' -- auto new-owner keeper rebuild none
expect 'vdpamap map-bench --' -- --size --chunk --txn --no-batch \
	--no-prefault --progress --sim '!--handoff'
expect 'vdpamap map-bench --sim ' -- va pa permap
expect 'vdpamap sim ' -- start stop status list
expect 'vdpamap sim start --' -- --path --mode --parent --backend-features \
	--without --address-spaces --groups --vqs --iova-range \
	--fail-iotlb-write --fail-ioctl --profile --max-iotlb-entries \
	--parent-max-iotlb-entries --idle-timeout
expect 'vdpamap sim stop --' -- --path '!--mode' '!--idle-timeout'
expect 'vdpamap sim list --' -- --json '!--path'
expect 'vdpamap sim start --idle-timeout ' -- never
expect 'vdpamap sim start --mode ' -- va pa
expect 'vdpamap sim start --parent ' -- batch per-map
expect 'vdpamap sim start --without IOTLB_MSG_V2,IOTLB_P' -- \
	IOTLB_MSG_V2,IOTLB_PERSIST
expect 'vdpamap sim start --profile linux-6.1' -- linux-6.1 \
	linux-6.12.95 linux-6.1/vduse
expect 'vdpamap dev ' -- show add del config
expect 'vdpamap dev add ' -- name mgmtdev mac mtu max_vqp
expect 'vdpamap dev config ' -- show
expect 'vdpamap mgmtdev ' -- show
if ((fails)); then
	echo "$fails failed"
	exit 1
fi
echo "completion ok"
