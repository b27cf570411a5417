#!/usr/bin/env bash
# smoke.sh SECONDS TARGET... - run each libFuzzer target for SECONDS on a
# scratch copy of its corpus, two at a time.  A crash, leak or timeout is a
# finding: it is kept in build/fuzz/findings/ and the run fails.
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=$1
shift
mkdir -p build/fuzz/findings build/fuzz/work

run_one() {
	local bin=$1 secs=$2 name work
	name=${bin##*/fuzz_}
	work=build/fuzz/work/$name
	rm -rf "$work" && mkdir -p "$work"
	cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="build/fuzz/findings/$name-" -print_final_stats=1 \
		"$work" >"build/fuzz/$name.log" 2>&1; then
		echo "fuzz-smoke $name: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "build/fuzz/$name.log" | grep -o '[0-9]*$') runs in ${secs}s)"
	else
		echo "fuzz-smoke $name: FINDING (see build/fuzz/$name.log)"
		tail -n 30 "build/fuzz/$name.log" | sed 's/^/    | /'
		return 1
	fi
}
export -f run_one

fails=0
printf '%s\n' "$@" | xargs -P 2 -I{} bash -c 'run_one "$1" "$2"' _ {} "$secs" || fails=1
n=$#
if [ $fails = 0 ]; then
	echo "fuzz-smoke: $n passed, 0 failed"
else
	echo "fuzz-smoke: findings (build/fuzz/findings/)"
	exit 1
fi
