#!/usr/bin/env bash
# test_connect.sh - peer connections across the NAT lab (issue 5's matrix,
# spec/natlab.md §4): our own DHT nodes and a blind relay on the public
# side, a server and a client behind the NAT types of each cell; every
# cell records success, path and connect time.
#
#   cell             server          client
#   pcone-pcone      a1 (pcone)      b1 (pcone)
#   pcone-fullcone   a1 (pcone)      c1 (fullcone)
#   fullcone-sym     c1 (fullcone)   e1 (sym)
#   rcone-sym        d1 (rcone)      e1 (sym)
#   pcone-sym        a1 (pcone)      e1 (sym)
#   sym-sym          e1 (sym)        f1 (sym)      client relays through pub3
#   same-nat         a1 (pcone)      a2 (same pcone, no hairpin)
#   public-fw        g1 (none)       h1 (fw)
#
# Pairs (server-client): js-js always (the reference, hyperdht 6.34);
# c-c, c-js and js-c when a C peer tool is there: $HN_C_PEER_TOOL, a
# command speaking connect.js's line protocol (see peer.js) that takes
# "--bootstrap IP:PORT --host IP"; build/tests/unit/test_conn_tool is
# taken by default as soon as it accepts --host.  Without a tool those
# pairs are named skips.
#
# The relay is ours (test_holepunch_relay tool: a persistent C node with
# conn_node_serve_relay(), or relay.c's relay_service with
# CONNECT_RELAY_IMPL=service) unless CONNECT_RELAY=js (blind-relay on a
# hyperdht node).
#
# Environment: HN_NODE_MODULES (default tests/interop/node_modules),
# HN_C_PEER_TOOL, CONNECT_PAIRS (default js-js,c-c,c-js,js-c), CONNECT_REPEAT (attempts per cell and pair, default 1),
# CONNECT_CELLS (a subset, by name), CONNECT_OUT (JSON of every attempt),
# CONNECT_LOG_DIR (keep every peer's stderr there).
# Root only; the lab is torn down on every exit.
set -u
cd "$(dirname "$0")" || exit 2
HERE=$PWD
export NATLAB_PREFIX=hnc$$ NATLAB_STATE=/tmp/natlab-hnc$$
. ./natlab.sh
NAME=${CONNECT_NAME:-connect}
pass=0 fail=0 skipped=0
trap 'natlab_down' EXIT INT TERM

summary() { echo "$NAME: $pass passed, $fail failed, $skipped skipped"; }
export HN_NODE_MODULES=${HN_NODE_MODULES:-$HERE/../interop/node_modules}
if ! command -v node >/dev/null || [ ! -d "$HN_NODE_MODULES/hyperdht" ]; then
	echo "skip: node or $HN_NODE_MODULES missing (make deps)"
	skipped=1
	summary
	exit 0
fi

ALL_CELLS="pcone-pcone:a1:b1:pcone pcone-fullcone:a1:c1:pcone
fullcone-sym:c1:e1:fullcone rcone-sym:d1:e1:rcone pcone-sym:a1:e1:pcone
sym-sym:e1:f1:sym:relay same-nat:a1:a2:pcone public-fw:g1:h1:none"
cells=
for c in $ALL_CELLS; do
	if [ -n "${CONNECT_CELLS:-}" ]; then
		case " $CONNECT_CELLS " in *" ${c%%:*} "*) ;; *) continue ;; esac
	fi
	cells=${cells:+$cells,}$c
done

if ! natlab_up a=pcone:2 b=pcone c=fullcone d=rcone e=sym f=sym g=none h=fw; then
	fail=1
	summary
	exit 1
fi

# the public side: 3 DHT nodes per pub host, a blind relay on pub3
BOOT=198.51.100.11:49737
RELAY_SEED=$(printf '%064d' 7)
log=$(mktemp -d)
natlab_exec pub1 node "$HERE/peer.js" net --host 198.51.100.11 --port 49737 \
	--nodes 3 > "$log/pub1" 2>&1 &
sleep 1
natlab_exec pub2 node "$HERE/peer.js" net --host 198.51.100.12 --port 49737 \
	--nodes 3 --bootstrap "$BOOT" > "$log/pub2" 2>&1 &
RELAY=${CONNECT_RELAY:-c}
rtool=$HERE/../../build/tests/unit/test_holepunch_relay
[ -x "$rtool" ] || RELAY=js
if [ "$RELAY" = c ]; then
	natlab_exec pub3 node "$HERE/peer.js" net --host 198.51.100.13 \
		--port 49737 --nodes 3 --bootstrap "$BOOT" > "$log/pub3" 2>&1 &
	rargs=()
	[ "${CONNECT_RELAY_IMPL:-node}" = service ] && rargs=(--service)
	natlab_exec pub3 "$rtool" tool --bootstrap "$BOOT" \
		--host 198.51.100.13 --seed "$RELAY_SEED" "${rargs[@]}" \
		> "$log/relay" 2>&1 &
else
	natlab_exec pub3 node "$HERE/peer.js" net --host 198.51.100.13 \
		--port 49737 --nodes 3 --bootstrap "$BOOT" --relay "$RELAY_SEED" \
		> "$log/pub3" 2>&1 &
fi
want_up=3
[ "$RELAY" = c ] && want_up=4
for _ in $(seq 1 300); do
	[ "$(cat "$log"/pub* "$log"/relay 2>/dev/null | grep -c '^up ')" -ge $want_up ] && break
	sleep 0.1
done
relay_pk=$(cat "$log"/pub3 "$log"/relay 2>/dev/null | awk '/^relay /{print $2}')
if [ "$(cat "$log"/pub* "$log"/relay 2>/dev/null | grep -c '^up ')" -lt $want_up ] ||
    [ -z "$relay_pk" ]; then
	echo "FAIL dht_network: $(cat "$log"/pub* "$log"/relay 2>/dev/null)"
	fail=1
	summary
	exit 1
fi
echo "ok   dht_network (9 JS nodes; $RELAY blind relay $relay_pk on pub3)"
pass=$((pass + 1))
sleep 2		# let the nodes find each other and turn persistent

# the connect suite's C tool, once it can bind a lab address (--host)
ctool=$HERE/../../build/tests/unit/test_conn_tool
if [ -z "${HN_C_PEER_TOOL:-}" ] && [ -x "$ctool" ] &&
    timeout 2 "$ctool" tool --host 127.0.0.1 --bootstrap 127.0.0.1:9 \
    < /dev/null 2>/dev/null | grep -q '^node '; then
	HN_C_PEER_TOOL="$ctool tool"
fi
want=${CONNECT_PAIRS:-js-js,c-c,c-js,js-c}
pairs=
ctool_args=()
[ -n "${HN_C_PEER_TOOL:-}" ] && ctool_args=(--c-tool "$HN_C_PEER_TOOL")
[ -n "${CONNECT_LOG_DIR:-}" ] && ctool_args+=(--log-dir "$CONNECT_LOG_DIR")
for p in ${want//,/ }; do
	if [ "$p" != js-js ] && [ -z "${HN_C_PEER_TOOL:-}" ]; then
		echo "skip $p: no C peer tool (HN_C_PEER_TOOL)"
		skipped=$((skipped + 1))
		continue
	fi
	pairs=${pairs:+$pairs,}$p
done
addrs=
for h in a1 a2 b1 c1 d1 e1 f1 g1 h1; do
	addrs=${addrs:+$addrs,}$h=$(natlab_addr "$h")
done
out=${CONNECT_OUT:-$log/attempts.json}
node "$HERE/connect.js" --prefix "$NATLAB_PREFIX" --bootstrap "$BOOT" \
	--cells "$cells" --pairs "$pairs" --repeat "${CONNECT_REPEAT:-1}" \
	--relay "$relay_pk@198.51.100.13" --addrs "$addrs" --out "$out" \
	"${ctool_args[@]}" \
	> "$log/attempts" 2>&1
while read -r kind cell pair res path ms rest; do
	case $kind in
	attempt)
		if [ "$res" = ok ]; then
			echo "ok   $cell $pair $path ${ms} ms"
			pass=$((pass + 1))
		else
			echo "FAIL $cell $pair: $path $ms $rest"
			fail=$((fail + 1))
		fi ;;
	unavailable)
		echo "skip $cell: $pair $res $path $ms $rest"
		skipped=$((skipped + 1)) ;;
	*)
		echo "# $kind $cell $pair $res $path $ms $rest" ;;
	esac
done < "$log/attempts"
if ! grep -q '^attempt ' "$log/attempts"; then
	echo "FAIL connect.js ran no attempt"
	fail=$((fail + 1))
fi
rm -rf "$log"
summary
[ "$fail" -eq 0 ]
