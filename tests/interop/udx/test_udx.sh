#!/usr/bin/env bash
# test_udx.sh - UDX interop suite: our C stack against udx-native, both
# directions, on 127.0.0.1 (see run.js).  Run from the repository root.
set -u
cd "$(dirname "$0")/../../.." || exit 2
bench/udx/build.sh || { echo "interop-udx: 0 passed, 1 failed"; exit 1; }
exec node tests/interop/udx/run.js "$@"
