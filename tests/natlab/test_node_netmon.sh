#!/usr/bin/env bash
# test_node_netmon.sh - hypernatd follows the machine's addresses (netmon,
# rtnetlink via libmnl): in a private network namespace, a bootstrap daemon
# and a second daemon on 0.0.0.0; adding and removing an address on a veth
# interface and adding a default route are each logged by the second daemon,
# which re-learns its public address and stays in the network.  Root only;
# the namespace, the daemons (by pid) and the temporary files go on every
# exit.
set -u
cd "$(dirname "$0")/../.." || exit 2
D=${HN_HYPERNATD:-$PWD/build/hypernatd}
C=${HN_HYPERNATCTL:-$PWD/build/hypernatctl}
NS=hnnm$$
pass=0 fail=0
pids=()
tmp=$(mktemp -d /tmp/hn-netmon-XXXXXX)

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "node-netmon: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

if [ ! -x "$D" ] || [ ! -x "$C" ]; then
	bad build "missing $D or $C (make)"
	finish
fi
if ! ip netns add "$NS" || ! ip -n "$NS" link set lo up; then
	bad netns "cannot create network namespace $NS"
	finish
fi

port=$((20000 + RANDOM % 30000))
conf() {	# name host port mode bootstrap
	mkdir -p "$tmp/$1"
	printf 'dht:\n  bootstrap: [%s]\n  port: %s\n  host: %s\n  mode: %s\ndaemon:\n  control_group: ""\n' \
		"$5" "$3" "$2" "$4" > "$tmp/$1/hypernat.conf"
}
start() {	# name
	ip netns exec "$NS" "$D" -c "$tmp/$1/hypernat.conf" -s "$tmp/$1/sock" \
		-S "$tmp/$1/state" -l debug > "$tmp/$1/log" 2>&1 &
	pids+=($!)
}
status() {	# name -> JSON on stdout
	"$C" -s "$tmp/$1/sock" -j status 2>/dev/null
}
field() {	# name python-expression-on-d
	status "$1" | python3 -c "import json,sys; d=json.load(sys.stdin)['status']['dht_node']; print($2)" 2>/dev/null
}
wait_for() {	# seconds command...
	local n=$(( $1 * 10 )) i
	shift
	for i in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
	return 1
}
in_log() { grep -q -- "$2" "$tmp/$1/log"; }
joined() { [ "$(field b "d['bootstrapped'] and d['table_size'] >= 1")" = True ]; }
has_public() { [ "$(field b "d['public_address'] is not None")" = True ]; }

conf a 127.0.0.1 "$port" persistent ""
conf b 0.0.0.0 0 auto "127.0.0.1:$port"
start a
start b
if wait_for 15 joined && has_public; then
	ok node-netmon-daemons-up
else
	bad node-netmon-daemons-up "b not bootstrapped with a public address: $(status b)"
	finish
fi

# an address appears
ip -n "$NS" link add hnd0 type veth peer name hnd1 &&
	ip -n "$NS" link set hnd1 up && ip -n "$NS" link set hnd0 up &&
	ip -n "$NS" addr add 10.199.0.1/24 dev hnd0
if wait_for 5 in_log b "netmon: address 10.199.0.1/24 added on hnd0" &&
    wait_for 5 in_log b "dht: local addresses changed (1)"; then
	ok node-netmon-address-added
else
	bad node-netmon-address-added "$(tail -5 "$tmp/b/log")"
fi
# the DHT forgot its public address and re-learned it, and is still joined
relearned() { sed -n '/public address forgotten/,$p' "$tmp/b/log" | grep -q "dht: public address 127.0.0.1:"; }
if wait_for 5 in_log b "public address forgotten" && wait_for 15 relearned &&
    has_public && joined; then
	ok node-netmon-relearned
else
	bad node-netmon-relearned "$(status b)"
fi

# a default route appears
ip -n "$NS" route add default dev hnd0
if wait_for 5 in_log b "netmon: default route added or changed" &&
    wait_for 5 in_log b "dht: local addresses changed (1); re-learning"; then
	ok node-netmon-default-route
else
	bad node-netmon-default-route "$(tail -5 "$tmp/b/log")"
fi

# the address goes (and the route with it)
ip -n "$NS" addr del 10.199.0.1/24 dev hnd0
if wait_for 5 in_log b "netmon: address 10.199.0.1/24 removed from hnd0" &&
    wait_for 5 in_log b "dht: local addresses changed (0)"; then
	ok node-netmon-address-removed
else
	bad node-netmon-address-removed "$(tail -5 "$tmp/b/log")"
fi
if wait_for 15 has_public && joined; then
	ok node-netmon-still-joined
else
	bad node-netmon-still-joined "$(status b)"
fi

# clean stop
for i in 1 0; do
	kill -TERM "${pids[$i]}"
	wait "${pids[$i]}"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "node-netmon-stop-$i"; else bad "node-netmon-stop-$i" "exit $rc"; fi
done
pids=()
finish
