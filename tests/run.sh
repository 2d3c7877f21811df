#!/bin/sh
# Runs the suite under kyua and ends with one line "N passed, N failed"
# (", N skipped" when any were).  Exits 1 when anything failed or broke.
# Run from the top of the tree (make test does).

set -u
top=$(pwd)
results=$(mktemp "${TMPDIR:-/tmp}/smtlsd-kyua.XXXXXX") || exit 1
rm -f "$results"
trap 'rm -f "$results"' EXIT

kyua test --kyuafile "$top/tests/Kyuafile" --results-file "$results"
kyua report --results-file "$results" --verbose \
    --results-filter broken,failed >/dev/null 2>&1
kyua report --results-file "$results" \
    --results-filter broken,failed,skipped | sed -n '/===> Skipped/,$p'
if [ -n "$(kyua report --results-file "$results" \
    --results-filter broken,failed | grep -E '\->.*(broken|failed)')" ]; then
	echo "---- details of what failed ----"
	kyua report --results-file "$results" --verbose \
	    --results-filter broken,failed | sed -n '/===> Execution context/q;p'
fi
line=$(kyua report --results-file "$results" | grep '^Test cases:')
# "Test cases: 12 total, 1 skipped, 0 expected failures, 0 broken, 0 failed"
set -- $(echo "$line" | tr -cs '0-9' ' ')
total=$1 skipped=$2 xfail=$3 broken=$4 failed=$5
passed=$((total - skipped - xfail - broken - failed))
bad=$((broken + failed))
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $bad failed, $skipped skipped"
else
	echo "$passed passed, $bad failed"
fi
[ "$bad" -eq 0 ] && [ "$total" -gt 0 ]
