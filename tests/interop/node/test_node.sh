#!/usr/bin/env bash
# test_node.sh - three real hypernatd daemons are the whole DHT network for
# JS nodes (hyperdht 6.34.0, @hyperswarm/dht 6.5.1) on 127.0.0.1: issue 4
# "a DHT-only node" and interop case 2 with real daemons (node_interop.js;
# one named case per line, summary last).  Needs build/hypernatd,
# build/hypernatctl and tests/interop/node_modules.
set -u
cd "$(dirname "$0")/../../.." || exit 2
d=${HN_HYPERNATD:-build/hypernatd}
c=${HN_HYPERNATCTL:-build/hypernatctl}
for b in "$d" "$c"; do
	if [ ! -x "$b" ]; then
		echo "missing $b (make)" >&2
		echo "node-interop: 0 passed, 1 failed"
		exit 1
	fi
done
exec node tests/interop/node/node_interop.js "$d" "$c"
