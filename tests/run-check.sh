#!/usr/bin/env bash
# run-check.sh TIER... - run test suites and add up their results
#
# Tiers: unit sanitize fuzz interop natlab system, or "all".  Every suite is
# one program or script whose last line is "NAME: N passed, N failed[, N
# skipped]"; its whole output goes to build/logs/NAME.log.  A suite that
# exits without that line counts as one failed test.  A tier that cannot run
# here (no root, no tests yet) is a named skip.  The last line is
#   check: N passed, N failed[, N skipped]
# and the exit status is non-zero when anything failed.
set -u
cd "$(dirname "$0")/.." || exit 2
B=build
LOGS=$B/logs
mkdir -p "$LOGS"

total_pass=0 total_fail=0 total_skip=0
failed_suites=() skipped=()
summary_re='^([A-Za-z0-9_.-]+): ([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?$'

# run_suite NAME CMD... : run one suite, fold its summary into the totals
run_suite() {
	local name=$1 log=$LOGS/$1.log line rc
	shift
	printf '  %-28s ' "$name"
	HN_SUITE_NAME=$name "$@" >"$log" 2>&1
	rc=$?
	line=$(grep -E "$summary_re" "$log" | tail -n 1)
	if [[ $line =~ $summary_re ]]; then
		local p=${BASH_REMATCH[2]} f=${BASH_REMATCH[3]} s=${BASH_REMATCH[5]:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1	# said it passed, but exited non-zero
		fi
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
		total_skip=$((total_skip + s))
		[ "$s" -gt 0 ] && skipped+=("$name: $(grep -E '^skip ' "$log" | sed 's/^skip //' | paste -sd ';' -)")
		if [ "$s" -gt 0 ]; then echo "$p passed, $f failed, $s skipped"; else echo "$p passed, $f failed"; fi
		[ "$f" -gt 0 ] && failed_suites+=("$name")
	else
		total_fail=$((total_fail + 1))
		failed_suites+=("$name")
		echo "no summary line (exit $rc)"
	fi
	if [ "$rc" -ne 0 ] || ! [[ $line =~ $summary_re ]] || [ "${BASH_REMATCH[3]:-1}" != 0 ]; then
		sed 's/^/    | /' "$log" | grep -v -E '^    \| ok ' | tail -n 40
	fi
}

skip_tier() {
	total_skip=$((total_skip + 1))
	skipped+=("$1: $2")
	printf '  %-28s skipped: %s\n' "$1" "$2"
}

tier_unit() {
	local t
	for t in $B/tests/unit/test_* $B/tests/sim/test_* $B/tests/config/test_* $B/tests/ctl/test_*; do
		[ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
		run_suite "$(basename "$t" | sed 's/^test_//')" "$t"
	done
}

tier_sanitize() {
	local t
	for t in $B/san/tests/unit/test_* $B/san/tests/sim/test_* $B/san/tests/config/test_* $B/san/tests/ctl/test_*; do
		[ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
		run_suite "san-$(basename "$t" | sed 's/^test_//')" "$t"
	done
}

tier_fuzz() {
	local t name
	for t in $B/san/replay/fuzz_*; do
		[ -x "$t" ] || continue
		name=${t##*/fuzz_}
		run_suite "fuzz-$name" "$t" "tests/fuzz/corpus/$name"
	done
}

tier_interop() {
	local s
	if ! command -v node >/dev/null; then
		skip_tier interop "node is not installed (make deps)"
		return
	fi
	if [ ! -d tests/interop/node_modules ]; then
		skip_tier interop "tests/interop/node_modules missing (make deps)"
		return
	fi
	# known answers computed now by the real JS packages, not only the
	# checked-in copy
	run_suite interop-vectors bash -c \
		"node tests/interop/gen-vectors.js > $B/vectors-fresh.kv && $B/tests/unit/test_vectors -- $B/vectors-fresh.kv"
	for s in tests/interop/test_*.sh tests/interop/*/test_*.sh; do
		[ -f "$s" ] || continue
		run_suite "interop-$(basename "$s" .sh | sed 's/^test_//')" bash "$s"
	done
}

# Tiers made of scripts that need root: natlab, system
tier_scripts() {
	local tier=$1 s found=0
	for s in tests/$tier/test_*.sh; do
		[ -f "$s" ] || continue
		found=1
		if [ "$(id -u)" -ne 0 ]; then
			skip_tier "$tier" "needs root"
			return
		fi
		run_suite "$tier-$(basename "$s" .sh | sed 's/^test_//')" bash "$s"
	done
	[ $found = 1 ] || skip_tier "$tier" "no tests in tests/$tier yet"
}

tiers=("$@")
[ ${#tiers[@]} -eq 0 ] || [ "${tiers[0]}" = all ] && tiers=(unit sanitize fuzz interop natlab system)
for tier in "${tiers[@]}"; do
	echo "== $tier"
	case $tier in
	unit) tier_unit ;;
	sanitize) tier_sanitize ;;
	fuzz) tier_fuzz ;;
	interop) tier_interop ;;
	natlab|system) tier_scripts "$tier" ;;
	*) echo "unknown tier $tier" >&2; exit 2 ;;
	esac
done

echo
[ ${#failed_suites[@]} -gt 0 ] && echo "failed: ${failed_suites[*]} (logs in $LOGS/)"
if [ ${#skipped[@]} -gt 0 ]; then
	for s in "${skipped[@]}"; do echo "skipped: $s"; done
	echo "check: $total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "check: $total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
