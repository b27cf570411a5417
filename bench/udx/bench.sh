#!/usr/bin/env bash
# bench.sh - UDX throughput on loopback, each endpoint in its own process:
# 256 MiB C -> C (build/bench/udxperf) and the same udx-native -> udx-native
# (tests/interop/udx/peer.js).  Run from the repository root after `make`;
# needs node and tests/interop/node_modules (make deps).
#   bench/udx/bench.sh [BYTES]
# Last line:
#   bench-udx: c_MBps=X js_MBps=Y c_cpu_s_per_GB=A js_cpu_s_per_GB=B
# (MB = 10^6 bytes, from the sender's start to its close; CPU = user+system
# of both processes.)
set -eu
cd "$(dirname "$0")/../.."
BYTES=${1:-268435456}
bench/udx/build.sh
C=build/bench/udxperf
JS="node tests/interop/udx/peer.js"
PORT=$((30000 + $$ % 1000 * 10))

field() { # field JSON NAME
	node -e 'const j=JSON.parse(process.argv[1]); console.log(j[process.argv[2]])' "$1" "$2"
}

run_pair() { # run_pair "CMD" -> prints "seconds cpu_total"
	local cmd=$1 p1=$PORT p2=$((PORT + 1)) rx tx
	PORT=$((PORT + 2))
	$cmd --bind "$p1" --peer "$p2" --id 1 --remote-id 2 --no-hash >"$tmp/rx" &
	local pid=$!
	sleep 0.5
	tx=$($cmd --bind "$p2" --peer "$p1" --id 2 --remote-id 1 --no-hash --send "$BYTES")
	wait "$pid"
	rx=$(cat "$tmp/rx")
	[ "$(field "$rx" recv)" = "$BYTES" ] || { echo "bench-udx: receiver got $(field "$rx" recv) of $BYTES" >&2; exit 1; }
	node -e '
		const tx = JSON.parse(process.argv[1]), rx = JSON.parse(process.argv[2]), n = +process.argv[3]
		const mbps = n / 1e6 / tx.seconds, cpu = (tx.cpu + rx.cpu) / (n / 1e9)
		console.log(mbps.toFixed(1), cpu.toFixed(3), tx.seconds.toFixed(3), tx.retransmits)' "$tx" "$rx" "$BYTES"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
read -r c_mbps c_cpu c_s c_rtx < <(run_pair "$C")
echo "c->c:   $c_mbps MB/s, $c_cpu cpu s/GB, ${c_s} s, $c_rtx retransmits"
read -r js_mbps js_cpu js_s js_rtx < <(run_pair "$JS")
echo "js->js: $js_mbps MB/s, $js_cpu cpu s/GB, ${js_s} s, $js_rtx retransmits"
echo "bench-udx: c_MBps=$c_mbps js_MBps=$js_mbps c_cpu_s_per_GB=$c_cpu js_cpu_s_per_GB=$js_cpu"
