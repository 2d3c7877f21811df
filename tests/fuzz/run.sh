#!/bin/sh
# Builds and runs smtlsd's libFuzzer targets (clang, -fsanitize=fuzzer,
# address and undefined behaviour).
#
# Usage: sh tests/fuzz/run.sh build
#        sh tests/fuzz/run.sh replay [target...]
#        sh tests/fuzz/run.sh fuzz [target...]
#        sh tests/fuzz/run.sh run [target...]
#
#  build   compiles the library and tests/fuzz/<target>_fuzz for every target
#  replay  runs each file of the seed corpus tests/fuzz/corpus/<target>/
#          once (crashes found earlier are kept there as regressions)
#  fuzz    fuzz each (built) target for FUZZ_SECONDS
#  run     build, replay, then fuzz
#
# Targets: certset (certset_read_mem, the PEM scanner), conf (conf_load), pidfile
# (reload_read_pid), index (the store's .smtlsd.index, read by a dry-run
# pass); all by default.
# Environment: FUZZ_SECONDS (default 60), FUZZ_OUT (where the fuzzers are
# built; default tests/fuzz), FUZZ_WORK (the growing corpus and crash
# artifacts; default ${TMPDIR:-/tmp}/smtlsd-fuzz), CLANG (default clang).
# Exits 0 when nothing crashed, 1 when something did (the input that
# crashed is named), 3 when the fuzzers cannot be built here.

# Corpus names are libFuzzer's (hex digests) or ours: ls is fine.
# shellcheck disable=SC2012
set -u

top=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
fz=$top/tests/fuzz
out=${FUZZ_OUT:-$fz}
work=${FUZZ_WORK:-${TMPDIR:-/tmp}/smtlsd-fuzz}
secs=${FUZZ_SECONDS:-60}
clang=${CLANG:-clang}
all="certset conf pidfile index"

say()
{
	echo "fuzz: $*"
}

# Library sources the targets need, and the flags to build them.
lib_srcs()
{
	echo log conf pem certset file reload store store_index \
	    "osdep-$(sh "$top/mk/config.sh" osdep)"
}

build()
{
	command -v "$clang" >/dev/null 2>&1 ||
	    { say "$clang not found (sh mk/deps.sh fuzz)"; return 3; }
	mkdir -p "$out/obj" || return 1
	# shellcheck disable=SC2046
	set -- -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
	    -I"$top/lib" $(sh "$top/mk/config.sh" cflags)
	probe=$out/obj/probe
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)%s\n' \
	    '{ (void)d; (void)n; return 0; }' >"$probe.c"
	if ! "$clang" -fsanitize=fuzzer,address,undefined -o "$probe" \
	    "$probe.c" >"$probe.log" 2>&1; then
		cat "$probe.log" >&2
		say "$clang cannot build libFuzzer programs" \
		    "(libclang-rt-*-dev missing? sh mk/deps.sh fuzz)"
		return 3
	fi
	rm -f "$probe" "$probe.c" "$probe.log"
	objs=""
	for s in $(lib_srcs); do
		"$clang" "$@" -fsanitize=fuzzer-no-link,address,undefined \
		    -c "$top/lib/$s.c" -o "$out/obj/$s.o" || return 1
		objs="$objs $out/obj/$s.o"
	done
	for t in $all; do
		# shellcheck disable=SC2046,SC2086
		"$clang" "$@" -fsanitize=fuzzer,address,undefined \
		    -o "$out/${t}_fuzz" "$fz/${t}_fuzz.c" "$fz/fuzz.c" $objs \
		    $(sh "$top/mk/config.sh" libs) || return 1
	done
	say "built $(for t in $all; do printf '%s ' "$out/${t}_fuzz"; done)"
}

# Flags for each target.
flags()
{
	case $1 in
	certset) echo "-max_len=16384 -dict=$fz/certset.dict" ;;
	conf)	echo "-max_len=4096 -dict=$fz/conf.dict" ;;
	pidfile) echo "-max_len=5000" ;;
	index)	echo "-max_len=8192 -dict=$fz/index.dict" ;;
	esac
}

replay()
{
	rc=0
	for t in "$@"; do
		[ -x "$out/${t}_fuzz" ] || { say "$out/${t}_fuzz: not built"
		    return 1; }
		n=$(ls "$fz/corpus/$t" | wc -l)
		log=$work/$t.replay.log
		# shellcheck disable=SC2046
		if "$out/${t}_fuzz" -close_fd_mask=2 $(flags "$t") \
		    "$fz/corpus/$t"/* >"$log" 2>&1; then
			say "$t: replayed $n corpus files, no crash"
		else
			tail -n 40 "$log" >&2
			say "$t: CRASH replaying the corpus (log: $log)"
			rc=1
		fi
	done
	return $rc
}

fuzz()
{
	rc=0
	for t in "$@"; do
		mkdir -p "$work/corpus/$t" "$work/crashes/$t" || return 1
		log=$work/$t.log
		# shellcheck disable=SC2046
		"$out/${t}_fuzz" -close_fd_mask=2 $(flags "$t") \
		    -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		    -artifact_prefix="$work/crashes/$t/" \
		    "$work/corpus/$t" "$fz/corpus/$t" >"$log" 2>&1
		st=$?
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 |
		    sed -n 's/.* cov: \([0-9]*\).*/\1/p')
		if [ $st -eq 0 ]; then
			say "$t: ${runs:-?} executions in ${secs} s, coverage" \
			    "${cov:-?} edges, $(ls "$work/corpus/$t" | wc -l)" \
			    "inputs in $work/corpus/$t, no crash"
		else
			grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$log" |
			    head -n 20 >&2
			tail -n 30 "$log" >&2
			say "$t: CRASH after ${runs:-?} executions; input:" \
			    "$(ls -t "$work/crashes/$t" | head -n 1 |
			    sed "s|^|$work/crashes/$t/|") (log: $log)"
			rc=1
		fi
	done
	return $rc
}

cmd=${1:-run}
[ $# -gt 0 ] && shift
# shellcheck disable=SC2086
[ $# -gt 0 ] || set -- $all
for t in "$@"; do
	case " $all " in
	*" $t "*) ;;
	*) say "unknown target $t (one of: $all)"; exit 2 ;;
	esac
done
mkdir -p "$work" || exit 1
# Where the conf and pidfile targets write their inputs: memory-backed
# when possible, removed at the end whatever happened.
SMTLSD_FUZZ_TMP=$(mktemp -d /dev/shm/smtlsd-fuzz.XXXXXX 2>/dev/null ||
    mktemp -d "${TMPDIR:-/tmp}/smtlsd-fuzz.XXXXXX") || exit 1
export SMTLSD_FUZZ_TMP
trap 'rm -rf "$SMTLSD_FUZZ_TMP"' EXIT
trap 'exit 1' HUP INT TERM
case $cmd in
build)	build ;;
replay)	replay "$@" ;;
fuzz)	fuzz "$@" ;;
run)	build && replay "$@" && fuzz "$@" ;;
*)	echo "usage: run.sh build|replay|fuzz|run [target...]" >&2; exit 2 ;;
esac
