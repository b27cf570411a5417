#!/usr/bin/env bash
# demo.sh - the main job on its embedded default: a private DHT of hypernatd
# nodes, two hosts behind NATs, a UDP and a TCP service tunnelled between
# them.  The daemon that does this does not exist yet; until it does, say so.
set -u
cd "$(dirname "$0")/.." || exit 2
echo "demo: hypernatd is not built yet: the foundation (codecs, keys, test"
echo "demo: harness) is in place, the UDX transport, the DHT node, peer"
echo "demo: connections and the daemon are the next issues.  Nothing to run."
exit 0
