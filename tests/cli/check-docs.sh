#!/bin/sh
# vdpamap(1) and the bash completion cover the CLI: every command and every
# long option that a command's --help lists appears in the man page and in
# the completion script, and the page renders without a groff warning.
#   check-docs.sh VDPAMAP MANPAGE COMPLETION
set -u
exe=$1 page=$2 comp=$3
status=0
if command -v groff >/dev/null 2>&1; then
	out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	if [ -n "$out" ]; then
		echo "$page: groff: $out" >&2
		status=1
	fi
else
	echo "groff not installed: rendering not checked"
fi
# the commands of 'vdpamap --help', then each one's options
cmds=$("$exe" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
[ -n "$cmds" ] || { echo "no commands in '$exe --help'" >&2; exit 1; }
for c in $cmds; do
	grep -q "^\.SS .*$(echo "$c" | sed 's/-/\\\\-/g')" "$page" ||
		{ echo "$page: no section for command $c" >&2; status=1; }
	grep -qw -- "$c" "$comp" ||
		{ echo "$comp: command $c not completed" >&2; status=1; }
	opts=$({ "$exe" --help; "$exe" "$c" --help; } 2>&1 |
		grep -o -- '--[a-z][a-z-]*' | sort -u)
	for o in $opts; do
		grep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" "$page" ||
			{ echo "$page: $c: option $o missing" >&2; status=1; }
		grep -q -- "$o\\b" "$comp" ||
			{ echo "$comp: $c: option $o not completed" >&2; status=1; }
	done
done
[ "$status" -eq 0 ] && echo "vdpamap(1) and the completion cover: $(echo $cmds)"
exit $status
