#!/usr/bin/env bash
# bench.sh - connect times across the NAT lab: every cell of
# tests/natlab/test_connect.sh, C<->C and JS<->JS in one run, 5 attempts
# each (fresh peers per attempt), median per cell.  Root only.
#
# Last line:
#   bench-connect: cells=N c_ok=N js_ok=N c_median_ms=X js_median_ms=Y
# c_ok / js_ok count the cells where all attempts connected; the medians
# are the median over those cells of each cell's median.  Without a C peer
# tool (HN_C_PEER_TOOL, see test_connect.sh) the C side reads c_ok=0
# c_median_ms=NA and says why.
set -u
cd "$(dirname "$0")/../.." || exit 2
REPEAT=${BENCH_REPEAT:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
CONNECT_NAME=bench-connect-run CONNECT_PAIRS=js-js,c-c CONNECT_REPEAT=$REPEAT \
	CONNECT_OUT=$out bash tests/natlab/test_connect.sh
python3 - "$out" "$REPEAT" <<'PY'
import json, statistics, sys
rows = json.load(open(sys.argv[1])) if open(sys.argv[1]).read().strip() else []
repeat = int(sys.argv[2])
cells = []
for r in rows:
    if r["cell"] not in cells:
        cells.append(r["cell"])
def side(pair):
    ok, meds = 0, []
    for c in cells:
        a = [r for r in rows if r["cell"] == c and r["pair"] == pair]
        good = [r["ms"] for r in a if r["ok"]]
        paths = sorted({r["path"] for r in a if r["ok"]})
        if a:
            med = statistics.median(good) if good else None
            print(f"{pair} {c}: {len(good)}/{len(a)} ok, median {med} ms, path {','.join(paths) or '-'}")
        if a and len(good) == len(a) == repeat:
            ok += 1
            meds.append(statistics.median(good))
    return ok, (f"{statistics.median(meds):.0f}" if meds else "NA")
c_ok, c_med = side("c-c")
js_ok, js_med = side("js-js")
print(f"bench-connect: cells={len(cells)} c_ok={c_ok} js_ok={js_ok} c_median_ms={c_med} js_median_ms={js_med}")
PY
