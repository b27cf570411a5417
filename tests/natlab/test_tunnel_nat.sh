#!/usr/bin/env bash
# test_tunnel_nat.sh - hypernatd <-> hypernatd tunnels across the NAT lab's
# NATs: a private DHT of three bootstrap nodes on pub1..3, hosts behind a
# port-restricted cone (ra: a1, a2; rb: b1) and an address-restricted cone
# (rc: c1) and a symmetric NAT (rd: d1, random ports), and for each pair a
# UDP and a TCP import of the other's echo services, checked end to end
# (every UDP echo compared, TCP sha256 both ways; the UDP line gives the
# time to the first echo, which includes the connect):
#
#   pcone-pcone   b1 imports from a1
#   rcone-pcone   c1 imports from a1
#   pcone-rcone   b1 imports from c1
#   same-nat      a2 imports from a1 (one NAT, no hairpinning: the LAN path)
#   pcone-sym     d1 imports from a1 (random-port / birthday punching)
#   idle          after 12 s without traffic, longer than every NAT mapping
#                 lives unrefreshed (the lab's conntrack timeouts are cut to
#                 5 s / 10 s), b1's tunnels from a1 and c1 still carry UDP
#                 (keep-alives, or a reconnect)
#   wan-change    rb's public address moves 203.0.113.20 -> .21 (and rb's
#                 conntrack is flushed) while b1 imports from a1; UDP echoes
#                 on b1's import get through again within 60 s, and the time
#                 they took is in the ok line
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

natlab_up a=pcone:2 b=pcone c=rcone d=sym >/dev/null || { bad lab "natlab up"; exit 1; }
hnlab_dht "pub1 pub2 pub3" "198.51.100.11 198.51.100.12 198.51.100.13" 49737 ||
	{ bad dht "the bootstrap nodes did not bootstrap"; exit 1; }
for h in a1 a2 b1 c1 d1; do
	hnlab_host "$h" "$h"
done
for h in a1 a2 b1 c1 d1; do
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

# pair NAME IMPORTER EXPORTER PORTBASE: udp on PORTBASE, tcp on PORTBASE+1.
# The UDP datagrams all come from 127.0.0.1:PORTBASE+5: one source is one
# import session, hence one peer connection, and behind a symmetric NAT
# each connection costs a random punch, which a peer allows once per 20 s
# (HP_RANDOM_PUNCH_INTERVAL_MS).  So the TCP check is tried again for up
# to 60 s: its connection may have to wait out the throttle.
pair() {
	local name=$1 imp=$2 exp=$3 pu=$4 pt=$(($4 + 1)) src=$(($4 + 5))
	local res path t0 ms end
	hnlab_ctl "$imp" add udp 7913 peer "${KEY[$exp]}" listen "127.0.0.1:$pu" \
		>/dev/null && hnlab_ctl "$imp" add tcp 7915 peer "${KEY[$exp]}" \
		listen "127.0.0.1:$pt" >/dev/null ||
		{ bad "$name" "imports on $imp"; return; }
	t0=$(date +%s%N)
	if ! hnlab_wait 40 hnlab_run "$imp" "$PY" "$TRAFFIC" udp --port "$pu" \
		--src "$src" --count 1; then
		bad "$name/udp" "no UDP echo within 40 s"
		bad "$name/tcp" "not tried"
		return
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	path=$(hnlab_ctl "$imp" peers | awk -v p=":$pu," 'index($0, p) { print }' |
		sed 's/.*connections* (\(.*\))$/\1/')
	res=$(hnlab_run "$imp" "$PY" "$TRAFFIC" udp --port "$pu" --src "$src" --count 20)
	if [ "$(echo "$res" | json 'd["received"] >= 18')" = True ]; then
		ok "$name/udp ($path; first echo after $ms ms; $(echo "$res" | json '"%d/%d echoed" % (d["received"], d["sent"])'))"
	else
		bad "$name/udp" "$res"
	fi
	end=$((SECONDS + 60))
	while :; do
		res=$(hnlab_run "$imp" timeout 30 "$PY" "$TRAFFIC" tcp --port "$pt" \
			--bytes $((1 << 20)) 2>&1)
		[ "$(echo "$res" | json 'd["sha256_ok"]' 2>/dev/null)" = True ] && break
		[ "$SECONDS" -lt "$end" ] || break
		sleep 1
	done
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
pair pcone-sym d1 a1 17040

sleep 12
for p in 17000 17020; do
	res=$(hnlab_run b1 "$PY" "$TRAFFIC" udp --port "$p" --count 20)
	if [ "$(echo "$res" | json 'd["received"] >= 18')" = True ]; then
		ok "idle/udp $p ($(echo "$res" | json '"%d/%d echoed" % (d["received"], d["sent"])'))"
	else
		bad "idle/udp $p" "$res"
	fi
done

# wan_move R OLD NEW: router R's public address OLD becomes NEW (same link,
# inet's route to it follows), and R forgets its NAT mappings
wan_move() {
	local rns ins
	rns=$(natlab_ns "r$1") ins=$(natlab_ns inet)
	ip -n "$rns" addr del "$2" peer 203.0.113.1 dev wan &&
		ip -n "$rns" addr add "$3" peer 203.0.113.1 dev wan &&
		ip -n "$rns" route replace default via 203.0.113.1 &&
		ip -n "$ins" addr del 203.0.113.1 peer "$2" dev "to-r$1" &&
		ip -n "$ins" addr add 203.0.113.1 peer "$3" dev "to-r$1" &&
		ip netns exec "$rns" conntrack -F >/dev/null 2>&1
}

# the session of pair pcone-pcone (source 17005) carries traffic, then rb
# moves: that session's connection has to find the new path
res=$(hnlab_run b1 "$PY" "$TRAFFIC" udp --port 17000 --src 17005 --count 5)
if [ "$(echo "$res" | json 'd["received"] >= 4')" != True ]; then
	bad wan-change/udp "no traffic before the move: $res"
elif ! wan_move b 203.0.113.20 203.0.113.21; then
	bad wan-change/udp "moving rb's address"
else
	t0=$(date +%s%N)
	if hnlab_wait 60 hnlab_run b1 "$PY" "$TRAFFIC" udp --port 17000 \
		--src 17005 --count 1; then
		ms=$((($(date +%s%N) - t0) / 1000000))
		echo "wan-change: recovered after $ms ms"
		res=$(hnlab_run b1 "$PY" "$TRAFFIC" udp --port 17000 --src 17005 --count 20)
		if [ "$(echo "$res" | json 'd["received"] >= 18')" = True ]; then
			ok "wan-change/udp (rb 203.0.113.20 -> .21; recovered after $ms ms; $(echo "$res" | json '"%d/%d echoed" % (d["received"], d["sent"])'))"
		else
			bad "wan-change/udp" "recovered after $ms ms, then $res"
		fi
	else
		bad "wan-change/udp" "no UDP echo within 60 s of the move"
	fi
fi
[ "$fail" -eq 0 ]
