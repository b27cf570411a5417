#!/usr/bin/env bash
# test_noise_live.sh - daemon/noise against the real JS packages, live
#
# Builds tests/interop/noise/noise_peer.c against build/libhnstack.a and
# runs noise_live.js, which drives it over stdin/stdout with hyperdht
# 6.34.0 and @hyperswarm/dht 6.5.1 (noise-handshake 4.2.0 / 3.1.0) and
# @hyperswarm/secret-stream.  No network.  The last line is
#   noise-live: N passed, N failed
set -u
cd "$(dirname "$0")/../../.." || exit 2
B=build
out=$B/interop/noise_peer
fail() {
	echo "noise-live: $1"
	echo "noise-live: 0 passed, 1 failed"
	exit 1
}
command -v node >/dev/null || fail "node is not installed"
[ -d tests/interop/node_modules ] || fail "tests/interop/node_modules missing (make deps)"
[ -f $B/libhnstack.a ] && [ -f $B/libhncommon.a ] || fail "build the tree first (make)"
mkdir -p $B/interop
${CC:-cc} -std=c11 -O1 -g -Wall -Wextra -D_GNU_SOURCE -I. -Icommon \
	$(pkg-config --cflags libsodium 2>/dev/null) \
	-o "$out" tests/interop/noise/noise_peer.c $B/libhnstack.a $B/libhncommon.a \
	$(pkg-config --libs libsodium 2>/dev/null || echo -lsodium) ||
	fail "cannot build noise_peer"
exec node tests/interop/noise/noise_live.js "$out"
