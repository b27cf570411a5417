#!/bin/sh
# build.sh - build build/bench/udxperf (needs `make` to have built the
# libraries).  Usage: bench/udx/build.sh  (from the repository root)
set -e
cd "$(dirname "$0")/../.."
mkdir -p build/bench
LIBS=$(pkg-config --libs libev libsodium 2>/dev/null || echo "-lev -lsodium")
${CC:-cc} -std=c11 -O2 -g -D_GNU_SOURCE -I. -Icommon -Itests \
	-Wall -Wextra -Wno-unused-parameter \
	-o build/bench/udxperf bench/udx/udxperf.c \
	build/libhndaemon.a build/libhnstack.a build/libhncommon.a $LIBS -lm
