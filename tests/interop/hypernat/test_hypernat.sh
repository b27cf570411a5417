#!/usr/bin/env bash
# test_hypernat.sh - hypernatd's hyper-nat front end (hncli, run here by
# build/tests/unit/test_tunnel_net hncli ...) against the real hyper-nat
# 1.1.3 CLI, both directions, tcp, udp and tcpudp, on a private hyperdht
# network on 127.0.0.1 (hypernat.js; last line "hypernat: N passed, N failed").
set -u
cd "$(dirname "$0")/../../.." || exit 2
tool=build/tests/unit/test_tunnel_net
if [ ! -x "$tool" ] || [ ! -d tests/interop/node_modules/hyper-nat ]; then
	echo "missing $tool (make) or tests/interop/node_modules (make deps)" >&2
	echo "hypernat: 0 passed, 1 failed"
	exit 1
fi
exec node tests/interop/hypernat/hypernat.js "$tool" "$@"
