# hnlab.sh - hypernatd daemons in the NAT lab (or on loopback), for scripts
# that source it: tests/demo.sh and tests/natlab/test_tunnel_nat.sh.
#
# Before sourcing set TOP (the repository), HNLAB_DIR (a scratch directory:
# one sub-directory per daemon, with its config, state, control socket and
# log) and HNLAB_WORLD (natlab: natlab.sh is sourced already and hosts are
# lab hosts; loopback: hosts are "-" and everything runs here).
#
#   hnlab_run HOST CMD...            CMD in HOST's namespace (or here)
#   hnlab_daemon NAME HOST CONFIG    a hypernatd with its own state; pid kept
#   hnlab_ctl NAME ARGS...           hypernatctl on NAME's control socket
#   hnlab_wait SECONDS CMD...        until CMD succeeds (a deadline)
#   hnlab_bootstrapped NAME
#   hnlab_dht HOSTS ADDRS PORT       three bootstrap nodes dht1..3; sets
#                                    HNLAB_BOOT ("a:p, b:p, c:p")
#   hnlab_host NAME HOST             a host's daemon on the DHT, bootstrapped
#   hnlab_bg HOST CMD...             CMD in the background in HOST; pid kept
#   hnlab_stop                       stop everything started, by pid
#
# HN_LOG_LEVEL sets the daemons' log level (default info), HN_HYPERNATD the
# binary (e.g. build/san/hypernatd).

HNLAB_PIDS=()
HNLAB_BOOT=

hnlab_run() {
	local host=$1
	shift
	if [ "$HNLAB_WORLD" = natlab ]; then natlab_exec "$host" "$@"; else "$@"; fi
}

# hnlab_bg HOST CMD...: `ip netns exec` execs CMD, so the pid kept is CMD's
hnlab_bg() {
	local host=$1
	shift
	if [ "$HNLAB_WORLD" = natlab ]; then
		ip netns exec "$(natlab_ns "$host")" "$@" &
	else
		"$@" &
	fi
	HNLAB_PIDS+=($!)
}

hnlab_daemon() {
	local name=$1 host=$2 dir=$HNLAB_DIR/$1
	mkdir -p "$dir"
	printf '%s\n' "$3" "daemon:" "  control_group: \"\"" > "$dir/hypernat.conf"
	hnlab_bg "$host" "${HN_HYPERNATD:-$TOP/build/hypernatd}" -c "$dir/hypernat.conf" \
		-s "$dir/control.sock" -S "$dir/state" \
		-l "${HN_LOG_LEVEL:-info}" > "$dir/log" 2>&1
}

hnlab_ctl() {
	local name=$1
	shift
	"$TOP/build/hypernatctl" -s "$HNLAB_DIR/$name/control.sock" "$@"
}

hnlab_wait() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

hnlab_bootstrapped() {
	hnlab_ctl "$1" -j status | /usr/bin/python3 -c \
		'import json,sys; sys.exit(0 if json.load(sys.stdin)["status"]["dht_node"]["bootstrapped"] else 1)'
}

# hnlab_dht "pub1 pub2 pub3" "198.51.100.11 ..." PORT (PORT empty: 41000+)
#
# Each node is a bootstrap node (persistent, fixed port, no bootstrap list:
# reachable from the start, like hyperdht's testnet nodes).  A persistent
# node that bootstraps off the others must pass the firewall probe first,
# and with only the nodes started before it to ask it may stay firewalled;
# hosts then know two DHT nodes, a NAT analysis needs three samples, and
# punching aborts.  Hosts list all three, so their tables hold all three.
hnlab_dht() {
	local hosts=($1) addrs=($2) port i p boot=()
	for i in 0 1 2; do
		p=${3:-$((41000 + $$ % 1000 * 3 + i))}
		boot+=("${addrs[$i]}:$p")
		hnlab_daemon "dht$((i + 1))" "${hosts[$i]}" "dht:
  bootstrap: []
  host: ${addrs[$i]}
  port: $p
  mode: persistent"
	done
	for i in 1 2 3; do
		hnlab_wait 20 hnlab_bootstrapped "dht$i" || return 1
	done
	HNLAB_BOOT=$(printf '%s, ' "${boot[@]}")
	HNLAB_BOOT=${HNLAB_BOOT%, }
}

hnlab_host() {
	hnlab_daemon "$1" "$2" "dht:
  bootstrap: [$HNLAB_BOOT]
  port: 0"
}

hnlab_stop() {
	local p
	for p in "${HNLAB_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in "${HNLAB_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	HNLAB_PIDS=()
}
