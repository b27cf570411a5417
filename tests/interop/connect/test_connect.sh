#!/usr/bin/env bash
# test_connect.sh - C connections (conn.h) against hyperdht 6.34.0 and
# @hyperswarm/dht 6.5.1 on a private 127.0.0.1 DHT (connect.js; one named
# case per line, summary last: "connect-interop: N passed, N failed").
# Needs build/tests/unit/test_conn_tool and tests/interop/node_modules.
set -u
cd "$(dirname "$0")/../../.." || exit 2
tool=build/tests/unit/test_conn_tool
if [ ! -x "$tool" ] || [ ! -d tests/interop/node_modules ]; then
	echo "missing $tool (make) or tests/interop/node_modules (make deps)" >&2
	echo "connect-interop: 0 passed, 1 failed"
	exit 1
fi
exec node tests/interop/connect/connect.js "$tool" "$@"
