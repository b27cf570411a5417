#!/usr/bin/env bash
# test_dht.sh - C DHT nodes against hyperdht 6.34.0 and @hyperswarm/dht
# 6.5.1 on 127.0.0.1 (interop.js; one named case per line, summary last).
# Needs build/tests/unit/test_dht_udp and tests/interop/node_modules.
set -u
cd "$(dirname "$0")/../../.." || exit 2
tool=build/tests/unit/test_dht_udp
if [ ! -x "$tool" ]; then
	echo "dht-interop: 0 passed, 1 failed"
	echo "missing $tool (make)" >&2
	exit 1
fi
exec node tests/interop/dht/interop.js "$tool" "$@"
