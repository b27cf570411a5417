#!/usr/bin/env bash
# bench.sh - build and run bench_dht (1000 simulated nodes, 1000 lookups).
# Run from anywhere after `make` (it links build/lib*.a); extra arguments
# go to bench_dht: [nodes [lookups [seed]]].  Last line:
#   bench-dht: nodes=N lookups=N converged=N hops_p50=X cpu_s=Y
set -eu
cd "$(dirname "$0")/../.." || exit 2
B=build
CC=${CC:-cc}
mkdir -p $B/bench/dht
for lib in $B/libhntest.a $B/libhnstack.a $B/libhncommon.a; do
	[ -f "$lib" ] || { echo "bench-dht: $lib missing (run make)" >&2; exit 2; }
done
$CC -D_GNU_SOURCE -I. -Icommon -Itests -std=c11 -O2 -g \
	$(pkg-config --cflags libsodium 2>/dev/null) \
	-o $B/bench/dht/bench_dht bench/dht/bench_dht.c \
	$B/libhntest.a $B/libhnstack.a $B/libhncommon.a \
	$(pkg-config --libs libsodium 2>/dev/null || echo -lsodium) -lm
exec $B/bench/dht/bench_dht "$@"
