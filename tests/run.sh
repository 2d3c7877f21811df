#!/bin/sh
# Runs the suite under kyua and ends with one line "N passed, N failed"
# (", N skipped" when any were).  Exits 1 when anything failed or broke.
# Run from the top of the tree (make test does); arguments name test
# programs to run instead of all of them.

set -u
top=$(pwd)
results=$(mktemp "${TMPDIR:-/tmp}/smtlsd-kyua.XXXXXX") || exit 1
rm -f "$results"
trap 'rm -f "$results"' EXIT

# libatf-c leaks at test listing; nothing of ours is suppressed.
LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export LSAN_OPTIONS
# Test cases run side by side: most of them wait on timers, children and
# namespaces, not on the CPU.  TEST_JOBS=1 runs them one at a time.  What
# cannot share the machine says so (is_exclusive in its Kyuafile entry).
if [ -z "${TEST_JOBS:-}" ]; then
	ncpu=$(getconf NPROCESSORS_ONLN 2>/dev/null ||
	    getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	TEST_JOBS=$((ncpu * 2))
fi
kyua -v parallelism="$TEST_JOBS" test --kyuafile "$top/tests/Kyuafile" \
    --results-file "$results" "$@"
line=$(kyua report --results-file "$results" | grep '^Test cases:')
# "Test cases: 12 total, 1 skipped, 0 expected failures, 0 broken, 0 failed"
set -- $(echo "$line" | tr -cs '0-9' ' ')
total=${1:-0} skipped=${2:-0} xfail=${3:-0} broken=${4:-0} failed=${5:-0}
passed=$((total - skipped - xfail - broken - failed))
bad=$((broken + failed))
if [ "$skipped" -gt 0 ]; then
	echo "---- skipped, and why ----"
	kyua report --results-file "$results" --results-filter skipped |
	    grep -- '->'
fi
if [ "$bad" -gt 0 ]; then
	# What failed, with its output, for the CI log.
	echo "---- what failed ----"
	kyua report --results-file "$results" --verbose \
	    --results-filter broken,failed 2>&1 |
	    awk '/^===> Execution context/ { skip = 1; next }
		/^===> / { skip = 0 } !skip' | head -400
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $bad failed, $skipped skipped"
else
	echo "$passed passed, $bad failed"
fi
[ "$bad" -eq 0 ] && [ "$total" -gt 0 ]
