#! /usr/bin/env atf-sh
# The libFuzzer targets (tests/fuzz/): they build, every file of the seed
# corpus (crashes found earlier among them) runs without a crash, and a
# short fuzzing run of each target finds none.  `make fuzz` runs them
# longer (FUZZ_SECONDS).

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

FUZZ_CI_SECONDS=${FUZZ_CI_SECONDS:-10}

# fz_build: builds the fuzzers into ./build, or skips saying why not.
fz_build()
{
	run=$T_SRC/fuzz/run.sh
	[ -f "$run" ] || atf_fail "$run is missing"
	FUZZ_OUT=$(pwd)/build
	FUZZ_WORK=$(pwd)/work
	export FUZZ_OUT FUZZ_WORK
	rc=0
	sh "$run" build >build.log 2>&1 || rc=$?
	if [ $rc -eq 3 ]; then
		cat build.log >&2
		atf_skip "SKIPPED: cannot build libFuzzer programs here" \
		    "(clang and libclang-rt-14-dev: sh mk/deps.sh fuzz)"
	fi
	[ $rc -eq 0 ] || { cat build.log >&2; atf_fail "building the" \
	    "fuzzers failed"; }
}

atf_test_case fuzz
fuzz_head()
{
	atf_set descr "Every seed and regression input of each fuzzer" \
	    "(PEM scanner and certificate set, configuration parser, pidfile reader, store" \
	    "index) runs" \
	    "without a crash or a sanitizer report, and then each fuzzer" \
	    "runs ${FUZZ_CI_SECONDS:-10} s without finding one"
	atf_set timeout 300
}
fuzz_body()
{
	fz_build
	# Every corpus input replays without a crash (a crash is a line
	# "fuzz: TARGET: CRASH ..." on stdout, and exit 1).
	re="replayed [1-9][0-9]* corpus files, no crash"
	set --
	for t in certset conf pidfile index; do
		set -- "$@" -o "match:fuzz: $t: $re"
	done
	atf_check -o save:replay.log -e save:replay.err "$@" sh "$run" replay
	cat replay.log
	# Each fuzzer runs without finding a crash.
	set --
	for t in certset conf pidfile index; do
		set -- "$@" -o "match:fuzz: $t: [0-9]+ executions .* no crash"
	done
	atf_check -o save:run.log -e save:run.err "$@" \
	    env FUZZ_SECONDS="$FUZZ_CI_SECONDS" sh "$run" fuzz
	cat run.log
}

atf_init_test_cases()
{
	atf_add_test_case fuzz
}
