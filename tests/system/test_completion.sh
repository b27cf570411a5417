#!/usr/bin/env bash
# test_completion.sh - bash completion of hypernatctl (completion/hypernatctl)
# under the real bash-completion library.  `del` completes the runtime
# tunnels of `hypernatctl list`: a stand-in hypernatctl prints the list
# golden file that tests/ctl keeps equal to the real output, so a change of
# the list format breaks this test too.
set -u
cd "$(dirname "$0")/../.." || exit 2
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

BC=/usr/share/bash-completion/bash_completion
if [ ! -r "$BC" ]; then
	bad setup "$BC missing (make deps installs bash-completion)"
	echo "completion: $pass passed, $fail failed"
	exit 1
fi
GOLDEN=$PWD/tests/ctl/golden/list-added.txt

# complete LINE: the words offered for the last word of LINE (a trailing
# space means an empty last word), sorted, on one line
complete_line() {
	bash --norc --noprofile -c '
		. "$1" 2>/dev/null
		. completion/hypernatctl
		golden=$2
		hypernatctl() { # the stand-in: list prints the golden output
			case " $* " in *" list "*) sed "/^--- stderr/,\$d" "$golden" ;; esac
		}
		line=$3
		read -ra COMP_WORDS <<< "$line"
		[ "${line% }" != "$line" ] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$line COMP_POINT=${#line}
		COMPREPLY=()
		_hypernatctl hypernatctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd " " -
	' complete "$BC" "$GOLDEN" "$1"
}

check() { # check NAME LINE EXPECTED
	local got
	got=$(complete_line "$2")
	if [ "$got" = "$3" ]; then ok "$1 ('$2' -> '$got')"; else bad "$1" "'$2' -> '$got', want '$3'"; fi
}

check commands 'hypernatctl ' 'add del help key list log-level peers reload status'
check command_prefix 'hypernatctl re' 'reload'
check options 'hypernatctl --' '--help --json --socket'
check after_option 'hypernatctl -j l' 'list log-level'
check after_socket 'hypernatctl -s /tmp/x.sock st' 'status'
check add_proto 'hypernatctl add ' 'tcp tcpudp udp'
check add_export_words 'hypernatctl add udp 7913 ' 'allow host peer'
check add_after_host 'hypernatctl add udp 7913 host 10.0.0.2 ' 'allow host'
check add_import_listen 'hypernatctl add tcp 443 peer KEY ' 'listen'
check log_level 'hypernatctl log-level ' 'debug error info notice warning'
# runtime tunnels of the golden list: udp/7913 export and import,
# tcpudp/27015 export; the config tunnels (tcp/7915, tcp/443) are not
# offered: del refuses them
check del_proto 'hypernatctl del ' 'tcpudp udp'
check del_port 'hypernatctl del udp ' '7913'
check del_import_peer_word 'hypernatctl del udp 7913 ' 'peer'
check del_import_key 'hypernatctl del udp 7913 peer ' 'HC75S96J4EXBZZ82hYrgzkCWkFWGcgyao4s4suCdZSZw'
check del_export_only 'hypernatctl del tcpudp 27015 ' ''

echo "completion: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
