#!/usr/bin/env bash
# test_tunnel_nat.sh - hypernatd <-> hypernatd tunnels across the NAT lab's
# NATs: a private DHT of three bootstrap nodes on pub1..3, hosts behind a
# port-restricted cone (ra: a1, a2; rb: b1) and an address-restricted cone
# (rc: c1), and for each pair a UDP and a TCP import of the other's echo
# services, checked end to end (every UDP echo compared, TCP sha256 both
# ways):
#
#   pcone-pcone   b1 imports from a1
#   rcone-pcone   c1 imports from a1
#   pcone-rcone   b1 imports from c1
#   same-nat      a2 imports from a1 (one NAT, no hairpinning: the LAN path)
#   idle          after 12 s without traffic, longer than every NAT mapping
#                 lives unrefreshed (the lab's conntrack timeouts are cut to
#                 5 s / 10 s), b1's tunnels from a1 and c1 still carry UDP
#                 (keep-alives, or a reconnect)
#
# Root only.  Daemons are stopped by pid and the lab's namespaces removed on
# every exit.  HN_LOG_LEVEL=debug keeps more in the logs printed on failure;
# HN_TEST_TAIL sets how many lines of each (default 30).  Last line:
# "natlab-tunnel: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
TOP=$PWD
PY=/usr/bin/python3
TRAFFIC=$TOP/tests/demo/traffic.py
pass=0 fail=0

summary() { echo "natlab-tunnel: $pass passed, $fail failed"; }
if [ "$(id -u)" -ne 0 ]; then
	echo "natlab-tunnel: needs root"
	exit 77
fi
make -s -j2 build/hypernatd build/hypernatctl >/dev/null || {
	fail=1
	summary
	exit 1
}

T=$(mktemp -d /tmp/hn-tunnel-nat.XXXXXX)
export NATLAB_PREFIX=hnn$$ NATLAB_STATE=$T/natlab
export NATLAB_UDP_TIMEOUT=${NATLAB_UDP_TIMEOUT:-5}
export NATLAB_UDP_STREAM_TIMEOUT=${NATLAB_UDP_STREAM_TIMEOUT:-10}
. tests/natlab/natlab.sh
HNLAB_DIR=$T HNLAB_WORLD=natlab
. tests/natlab/hnlab.sh
cleanup() {
	hnlab_stop
	natlab_down
	rm -rf "$T"
}
trap 'cleanup; summary' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() {
	local f
	echo "FAIL $1: $2"
	fail=$((fail + 1))
	for f in "$T"/*/log; do
		echo "--- ${f#$T/}"
		tail -n "${HN_TEST_TAIL:-30}" "$f"
	done
}
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

natlab_up a=pcone:2 b=pcone c=rcone >/dev/null || { bad lab "natlab up"; exit 1; }
hnlab_dht "pub1 pub2 pub3" "198.51.100.11 198.51.100.12 198.51.100.13" 49737 ||
	{ bad dht "the bootstrap nodes did not bootstrap"; exit 1; }
for h in a1 a2 b1 c1; do
	hnlab_host "$h" "$h"
done
for h in a1 a2 b1 c1; do
	hnlab_wait 30 hnlab_bootstrapped "$h" ||
		{ bad bootstrap "$h did not bootstrap"; exit 1; }
done
for h in a1 c1; do
	hnlab_bg "$h" "$PY" "$TRAFFIC" echo --udp 7913 --tcp 7915 \
		> "$T/echo-$h.log" 2>&1
	hnlab_ctl "$h" add udp 7913 >/dev/null &&
		hnlab_ctl "$h" add tcp 7915 >/dev/null ||
		{ bad export "exports on $h"; exit 1; }
done
declare -A KEY
KEY[a1]=$(hnlab_ctl a1 -j key | json 'd["key"]')
KEY[c1]=$(hnlab_ctl c1 -j key | json 'd["key"]')

# pair NAME IMPORTER EXPORTER PORTBASE: udp on PORTBASE, tcp on PORTBASE+1
pair() {
	local name=$1 imp=$2 exp=$3 pu=$4 pt=$(($4 + 1)) res path
	hnlab_ctl "$imp" add udp 7913 peer "${KEY[$exp]}" listen "127.0.0.1:$pu" \
		>/dev/null && hnlab_ctl "$imp" add tcp 7915 peer "${KEY[$exp]}" \
		listen "127.0.0.1:$pt" >/dev/null ||
		{ bad "$name" "imports on $imp"; return; }
	if ! hnlab_wait 25 hnlab_run "$imp" "$PY" "$TRAFFIC" udp --port "$pu" --count 1; then
		bad "$name/udp" "no UDP echo within 25 s"
		bad "$name/tcp" "not tried"
		return
	fi
	path=$(hnlab_ctl "$imp" peers | awk -v p=":$pu," 'index($0, p) { print }' |
		sed 's/.*connections* (\(.*\))$/\1/')
	res=$(hnlab_run "$imp" "$PY" "$TRAFFIC" udp --port "$pu" --count 20)
	if [ "$(echo "$res" | json 'd["received"] >= 18')" = True ]; then
		ok "$name/udp ($path; $(echo "$res" | json '"%d/%d echoed" % (d["received"], d["sent"])'))"
	else
		bad "$name/udp" "$res"
	fi
	res=$(hnlab_run "$imp" timeout 30 "$PY" "$TRAFFIC" tcp --port "$pt" --bytes $((1 << 20)))
	if [ "$(echo "$res" | json 'd["sha256_ok"]' 2>/dev/null)" = True ]; then
		ok "$name/tcp (1 MiB each way, sha256 ok)"
	else
		bad "$name/tcp" "$res"
	fi
}

pair pcone-pcone b1 a1 17000
pair rcone-pcone c1 a1 17010
pair pcone-rcone b1 c1 17020
pair same-nat a2 a1 17030

sleep 12
for p in 17000 17020; do
	res=$(hnlab_run b1 "$PY" "$TRAFFIC" udp --port "$p" --count 20)
	if [ "$(echo "$res" | json 'd["received"] >= 18')" = True ]; then
		ok "idle/udp $p ($(echo "$res" | json '"%d/%d echoed" % (d["received"], d["sent"])'))"
	else
		bad "idle/udp $p" "$res"
	fi
done
[ "$fail" -eq 0 ]
