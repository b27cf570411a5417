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
PIDS=()
if [ $WORLD = natlab ]; then
	export NATLAB_PREFIX=hnd$$ NATLAB_STATE=$T/natlab
	. tests/natlab/natlab.sh
fi
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ $WORLD = natlab ] && natlab_down
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run HOST CMD...: in the host's namespace (natlab) or here (loopback)
run() {
	local host=$1
	shift
	if [ $WORLD = natlab ]; then natlab_exec "$host" "$@"; else "$@"; fi
}

# start_daemon NAME HOST CONFIG-TEXT: a hypernatd with its own state and socket
start_daemon() {
	local name=$1 host=$2 dir=$T/$1
	mkdir -p "$dir"
	printf '%s\n' "$3" > "$dir/hypernat.conf"
	printf '%s\n' "daemon:" "  control_group: \"\"" >> "$dir/hypernat.conf"
	run "$host" "$D" -c "$dir/hypernat.conf" -s "$dir/control.sock" \
		-S "$dir/state" -l "${HN_DEMO_LOG_LEVEL:-info}" > "$dir/log" 2>&1 &
	PIDS+=($!)
}

ctl() { local name=$1; shift; "$C" -s "$T/$name/control.sock" "$@"; }

# wait_for SECONDS CMD...: until CMD succeeds (a deadline: CMD may be slow)
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

bootstrapped() { ctl "$1" -j status | json 'd["status"]["dht_node"]["bootstrapped"]' | grep -q True; }

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
boot=()
for i in 0 1 2; do
	port=${DHT_PORT:-$((41000 + $$ % 1000 * 3 + i))}
	boot+=("${DHT_ADDRS[$i]}:$port")
done
# Each one a bootstrap node (persistent, fixed port, no bootstrap list:
# reachable from the start, like hyperdht's testnet nodes).  A persistent node
# that bootstraps off the others would have to pass the firewall probe first,
# and with only the nodes started before it to ask it may stay firewalled:
# then hosts know two DHT nodes, a NAT analysis needs three samples, and
# punching aborts.  Hosts list all three, so every table holds all three.
for i in 0 1 2; do
	start_daemon "dht$((i + 1))" "${DHT_HOSTS[$i]}" "dht:
  bootstrap: []
  host: ${DHT_ADDRS[$i]}
  port: ${boot[$i]##*:}
  mode: persistent"
done
for i in 1 2 3; do
	wait_for 20 bootstrapped "dht$i" || die "dht$i did not bootstrap: $(tail -3 "$T/dht$i/log")"
done
say "bootstrap nodes: ${boot[*]}"

step "host A and host B: one hypernatd each"
blist=$(printf '%s, ' "${boot[@]}")
blist=${blist%, }
start_daemon A "$HA" "dht:
  bootstrap: [$blist]
  port: 0"
start_daemon B "$HB" "dht:
  bootstrap: [$blist]
  port: 0"
wait_for 30 bootstrapped A || die "A did not bootstrap: $(tail -3 "$T/A/log")"
wait_for 30 bootstrapped B || die "B did not bootstrap: $(tail -3 "$T/B/log")"
KEY_A=$(ctl A -j key | json 'd["key"]')
say "A's key (what A shares): $KEY_A"
say "B's client key:          $(ctl B -j key | json 'd["client_key"]')"

step "A: a UDP game server and a TCP service (echoes on 127.0.0.1:7913 and :7915), exported"
run "$HA" "$PY" "$TRAFFIC" echo --udp 7913 --tcp 7915 > "$T/echo.log" 2>&1 &
PIDS+=($!)
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
say "paths (B):    $(ctl B -j peers | json '", ".join(sorted(set(c.get("path","?") for t in d.get("peers",[]) for c in t.get("connections",[]))))' 2>/dev/null)"
[ $ok = 1 ] || die "traffic did not get through (logs: $T/*/log)"
say "demo: ok"
