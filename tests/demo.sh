#!/usr/bin/env bash
# demo.sh - hypernat's main job on its embedded default, start to finish:
#
#   a private HyperDHT of three hypernatd bootstrap nodes on "public" hosts,
#   host A behind one NAT exporting a UDP and a TCP service (an echo),
#   host B behind another NAT importing both on local ports,
#   UDP datagrams and a TCP stream through the tunnels, and an account of
#   what happened: keys, connection paths, round-trip times, throughput.
#
# As root the world is the NAT lab (tests/natlab/natlab.sh: A behind a
# port-restricted cone NAT, B behind an address-restricted cone NAT, the DHT
# on public hosts).  Without root it runs the same on 127.0.0.1 only and
# says so.  Everything it starts it stops by pid; the last line is
# "demo: ok" when every step worked.
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$PWD
PY=/usr/bin/python3
TRAFFIC=$TOP/tests/demo/traffic.py
D=$TOP/build/hypernatd
C=$TOP/build/hypernatctl

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() {
	local f
	say "demo: FAILED: $*"
	for f in "$T"/*/log; do
		[ -f "$f" ] && { say "--- ${f#$T/}"; tail -n "${HN_DEMO_TAIL:-15}" "$f"; }
	done
	exit 1
}

if [ "$(id -u)" -eq 0 ]; then
	step "installing what the demo needs and building"
	tests/install-deps.sh || die "make deps"
	WORLD=natlab
else
	step "building (not root: no package installs, loopback-only world)"
	WORLD=loopback
fi
make -s -j2 "$D" "$C" >/dev/null || die "build"
command -v "$PY" >/dev/null || die "$PY is missing"

T=$(mktemp -d /tmp/hypernat-demo.XXXXXX)
if [ $WORLD = natlab ]; then
	export NATLAB_PREFIX=hnd$$ NATLAB_STATE=$T/natlab
	. tests/natlab/natlab.sh
fi
HNLAB_DIR=$T HNLAB_WORLD=$WORLD HN_LOG_LEVEL=${HN_DEMO_LOG_LEVEL:-info}
. tests/natlab/hnlab.sh
cleanup() {
	hnlab_stop
	[ $WORLD = natlab ] && natlab_down
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

run() { hnlab_run "$@"; }
ctl() { hnlab_ctl "$@"; }
wait_for() { hnlab_wait "$@"; }

json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }


step "the world"
if [ $WORLD = natlab ]; then
	natlab_up ${HN_DEMO_NATS:-a=pcone b=rcone} >/dev/null || die "natlab up"
	HA=a1 HB=b1
	DHT_HOSTS=(pub1 pub2 pub3)
	DHT_ADDRS=(198.51.100.11 198.51.100.12 198.51.100.13)
	DHT_PORT=49737
	say "three public hosts ${DHT_ADDRS[*]} run the DHT;"
	say "host A $(natlab_addr a1) is behind router ra ($(natlab_addr ra), port-restricted cone NAT),"
	say "host B $(natlab_addr b1) is behind router rb ($(natlab_addr rb), address-restricted cone NAT)"
else
	say "not root: everything on 127.0.0.1 (no NATs; run as root for the NAT lab)"
	HA=- HB=-
	DHT_HOSTS=(- - -)
	DHT_ADDRS=(127.0.0.1 127.0.0.1 127.0.0.1)
	DHT_PORT=
fi

step "a private DHT of three hypernatd bootstrap nodes"
hnlab_dht "${DHT_HOSTS[*]}" "${DHT_ADDRS[*]}" "$DHT_PORT" ||
	die "the DHT nodes did not bootstrap"
say "bootstrap nodes: $HNLAB_BOOT"

step "host A and host B: one hypernatd each"
hnlab_host A "$HA"
hnlab_host B "$HB"
wait_for 30 hnlab_bootstrapped A || die "A did not bootstrap: $(tail -3 "$T/A/log")"
wait_for 30 hnlab_bootstrapped B || die "B did not bootstrap: $(tail -3 "$T/B/log")"
KEY_A=$(ctl A -j key | json 'd["key"]')
say "A's key (what A shares): $KEY_A"
say "B's client key:          $(ctl B -j key | json 'd["client_key"]')"

step "A: a UDP game server and a TCP service (echoes on 127.0.0.1:7913 and :7915), exported"
hnlab_bg "$HA" "$PY" "$TRAFFIC" echo --udp 7913 --tcp 7915 > "$T/echo.log" 2>&1
ctl A add udp 7913 | sed 's/^/  A$ hypernatctl add udp 7913 -> /' | head -3
ctl A add tcp 7915 >/dev/null || die "add tcp 7915 on A"

step "B: both imported on local ports 17913 and 17915"
ctl B add udp 7913 peer "$KEY_A" listen 127.0.0.1:17913 || die "import udp on B"
ctl B add tcp 7915 peer "$KEY_A" listen 127.0.0.1:17915 || die "import tcp on B"

step "traffic: UDP datagrams from B through the tunnel to A's echo"
ok=1
# the first datagram opens the peer connection (find A, handshake, punch)
t0=$(date +%s%N)
wait_for 30 run "$HB" "$PY" "$TRAFFIC" udp --port 17913 --count 1 ||
	die "no UDP echo through the tunnel within 30 s"
say "  tunnel up and first echo after $((($(date +%s%N) - t0) / 1000000)) ms"
udp=$(run "$HB" "$PY" "$TRAFFIC" udp --port 17913 --count 50)
say "  $udp"
echo "$udp" | json 'd["received"] >= 45' | grep -q True || ok=0

step "traffic: 8 MiB over TCP from B to A's echo and back (sha256 checked)"
tcp=$(run "$HB" "$PY" "$TRAFFIC" tcp --port 17915 --bytes $((8 << 20)))
say "  $tcp"
echo "$tcp" | json 'd["sha256_ok"]' | grep -q True || ok=0

step "what the daemons say"
say "B: hypernatctl peers"
ctl B peers | sed 's/^/  /'
say "A: hypernatctl peers"
ctl A peers | sed 's/^/  /'

step "account"
say "world:        $WORLD$([ $WORLD = loopback ] && echo ' (no root: no NATs)')"
say "key of A:     $KEY_A"
say "udp 7913:     $(echo "$udp" | json '"%d/%d datagrams echoed, rtt min/median/max %s ms" % (d["received"], d["sent"], "/".join(str(x) for x in (d["rtt_ms"] or []))) ')"
say "tcp 7915:     $(echo "$tcp" | json '"%d bytes each way in %.2f s (%.1f Mbit/s both ways), sha256 %s" % (d["bytes"], d["seconds"], d["mbps"], "ok" if d["sha256_ok"] else "MISMATCH")')"
paths=$(ctl B -j peers | json '", ".join(sorted(set(c["path"] for t in d["peers"] for c in t["connections"])))') ||
	die "hypernatctl -j peers did not parse"
say "paths (B):    ${paths:-none open}"
[ -n "$paths" ] || ok=0
[ $ok = 1 ] || die "traffic did not get through (logs: $T/*/log)"
say "demo: ok"
