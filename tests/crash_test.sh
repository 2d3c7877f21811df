#! /usr/bin/env atf-sh
# Crash consistency: smtlsd is killed with SIGKILL at random moments of
# passes over a large bundle that changes a lot between runs (a random
# 70% of a pool of generated certificates each time).  After every kill
# cert_dir must be a valid CApath: every <hash>.N a complete certificate
# of that hash, no gap in any hash's numbers.  Regularly, and at the end,
# a pass runs to completion: then no temporary file is left, cert_dir
# holds what openssl rehash makes of the split bundle, and one more pass
# changes nothing.
#
# The moments are picked three ways: a random delay after starting
# smtlsd -1; the same with the daemon (smtlsd -d, whose pidfile the kill
# leaves behind); and, when strace can trace, the N-th call of one of the
# system calls a pass writes with (strace -e inject=SC:signal=KILL), so
# that every step of a pass is hit, however short.
#
# CI runs CRASH_KILLS=80 over CRASH_CERTS=1000; the hardening run of
# issue 6 used CRASH_KILLS=400 CRASH_CERTS=3000:
#	cd tests && CRASH_KILLS=400 CRASH_CERTS=3000 kyua test crash_test.sh

# The daemon here may run under valgrind or be killed mid-pass.
D_DEADLINE=${D_DEADLINE:-20}
. "$(atf_get_srcdir)/lib.sh"

CRASH_KILLS=${CRASH_KILLS:-80}
CRASH_CERTS=${CRASH_CERTS:-1000}
CRASH_CONVERGE=${CRASH_CONVERGE:-8}
CRASH_SEED=${CRASH_SEED:-$(date +%s)}

# crash_bundle ROUND: $S/bundle.pem becomes a random 70% of the pool
# (the same for the same seed and ROUND), replaced atomically; sets
# changes to the number of certificates that came or went.
crash_bundle()
{
	awk -v s="$((CRASH_SEED % 1000000 * 1000 + $1))" -v sel="$S/sel.new" '
	    BEGIN { srand(s) }
	    /^-----BEGIN CERTIFICATE-----/ {
		n++; keep = rand() < 0.7; if (keep) print n > sel }
	    keep { print }
	' "$S/pool.pem" >"$S/bundle.tmp"
	mv "$S/bundle.tmp" "$S/bundle.pem"
	touch "$S/sel"
	sort "$S/sel" >"$S/sel.old.s"
	sort "$S/sel.new" >"$S/sel.new.s"
	adds=$(comm -13 "$S/sel.old.s" "$S/sel.new.s" | wc -l)
	removes=$(comm -23 "$S/sel.old.s" "$S/sel.new.s" | wc -l)
	changes=$((adds + removes))
	mv "$S/sel.new" "$S/sel"
}

# crash_calls SC: how many calls of SC a pass of the current changes
# makes, about (each new file: openat, fchmod, write, close, linkat,
# unlinkat of its temporary name; each stale one: unlinkat).
crash_calls()
{
	case $1 in
	openat|write|fchmod|linkat)	echo $((adds + 2)) ;;
	close)		echo $((adds * 2 + 10)) ;;
	unlinkat)	echo $((changes + 2)) ;;
	*)		echo 3 ;;
	esac
}

# crash_valid WHAT: cert_dir is a valid CApath and holds nothing but
# hash-named files, the index and temporary files; WHAT says what
# happened before, for the failure message.
crash_valid()
{
	if ! ./capath_check "$S/certs" >check.out; then
		cat check.out >&2
		echo "---- smtlsd's stderr" >&2
		tail -n 20 run.err >&2
		atf_fail "after $1: $S/certs is not a valid CApath"
	fi
	tmps=$(sed -n 's/.* \([0-9]*\) temporary files.*/\1/p' check.out)
	# shellcheck disable=SC2010
	stray=$(ls -A "$S/certs" | grep -Ev \
	    '^([0-9a-f]{8}\.[0-9]+|\.smtlsd\.index|\.smtlsd\.tmp\..*)$' |
	    head -n 3)
	[ -z "$stray" ] || atf_fail "after $1: unexpected files in" \
	    "cert_dir: $stray"
}

# crash_converge HOW: a pass to completion (HOW: once with -1, daemon
# with the daemon), then the checks of the end state.
crash_converge()
{
	case $1 in
	once)
		_t0=$(daemon_ms)
		"$SMTLSD" -f "$S/conf" -1 >run.out 2>run.err ||
		    { cat run.err >&2; atf_fail "smtlsd -1 failed after" \
		    "$kills kills"; }
		# How long a pass of such changes takes, for timed kills.
		est=$((($(daemon_ms) - _t0 + est) / 2))
		[ "$est" -ge 10 ] || est=10
		;;
	daemon)
		: >daemon.log
		daemon_start_conf "$S/conf"
		cp daemon.log run.err
		[ "$(daemon_status 5)" = ok ] || { daemon_show; atf_fail \
		    "the daemon's pass after $kills kills failed:" \
		    "$(cat "$D_AUX/status")"; }
		daemon_stop_ok
		;;
	esac
	if ! ./capath_check -t "$S/certs" >check.out; then
		cat check.out >&2
		atf_fail "after a complete pass ($1) following a kill:" \
		    "$S/certs is not clean"
	fi
	t_same_as_rehash_in "$S/certs" "$S/bundle.pem" "$S" ||
	    atf_fail "after a complete pass ($1) following $kills kills," \
	    "cert_dir does not hold the bundle"
	# A second pass changes nothing.
	atf_check -o ignore -e match:' 0 added, 0 replaced, 0 removed' \
	    "$SMTLSD" -f "$S/conf" -1
	converged=$((converged + 1))
}

# crash_kill_after MS ARGS...: starts smtlsd ARGS, SIGKILL after MS ms;
# sets rc.
crash_kill_after()
{
	_ms=$1
	shift
	"$SMTLSD" "$@" >run.out 2>run.err &
	_pid=$!
	daemon_remember "$_pid"
	sleep "$(echo "$_ms" | awk '{ printf "%.3f", $1 / 1000 }')"
	kill -KILL "$_pid" 2>/dev/null
	rc=0
	wait "$_pid" || rc=$?
}

atf_test_case kill9 cleanup
kill9_head()
{
	atf_set descr "SIGKILL at random moments of passes over a large," \
	    "changing bundle never leaves an invalid CApath, and the next" \
	    "complete pass cleans up and converges"
	atf_set require.progs "openssl cc awk"
	atf_set timeout 3600
}
kill9_body()
{
	t_copy_bin
	t_tools
	daemon_scratch crash
	S=$D_S
	daemon_elsewhere "$S"
	echo "seed $CRASH_SEED, $CRASH_CERTS certificates, $CRASH_KILLS" \
	    "kills, scratch $S"
	./gencerts -n "$CRASH_CERTS" -s "$CRASH_SEED" -o "$S/pool.pem" \
	    2>gencerts.log || { cat gencerts.log >&2
	    atf_fail "gencerts failed"; }
	mkdir "$S/certs"
	daemon_conf_alone "$S/conf" "$S" "$S/certs"

	strace_ok=0
	if command -v strace >/dev/null 2>&1 &&
	    strace -f -o /dev/null -e inject=getpid:error=ENOSYS true \
	    >/dev/null 2>&1; then
		strace_ok=1
	else
		echo "strace cannot inject here: timed kills only"
	fi
	syscalls="openat write fchmod close linkat renameat unlinkat syncfs"
	syscalls="$syscalls fsync"

	crash_bundle 0
	t0=$(daemon_ms)
	atf_check -o save:run.out -e save:run.err "$SMTLSD" -f "$S/conf" -1
	full=$(($(daemon_ms) - t0))
	echo "a full pass into an empty directory: $full ms"
	[ "$full" -ge 20 ] || full=20
	est=$((full / 2))	# a pass of the changes; measured below

	kills=0 midpass=0 finished=0 leftovers=0 converged=0
	n_once=0 n_daemon=0 n_strace=0 round=0
	while [ "$kills" -lt "$CRASH_KILLS" ]; do
		round=$((round + 1))
		crash_bundle "$round"
		r=$(t_rand 4)
		if [ "$strace_ok" -eq 1 ] && [ "$r" -ge 2 ]; then
			# shellcheck disable=SC2086
			set -- $syscalls
			shift "$(t_rand $#)"
			sc=$1
			when=$(( $(t_rand "$(crash_calls "$sc")") + 1 ))
			how="the call $when of $sc (strace inject)"
			rc=0
			# LeakSanitizer (SANITIZE=1) cannot run under ptrace.
			ASAN_OPTIONS=detect_leaks=0 \
			    strace -f -o /dev/null -e trace="$sc" \
			    -e inject="$sc:signal=KILL:when=$when" \
			    "$SMTLSD" -f "$S/conf" -1 >run.out 2>run.err ||
			    rc=$?
			n_strace=$((n_strace + 1))
		elif [ "$r" -eq 1 ]; then
			ms=$(t_rand $((est * 6 / 5 + 1)))
			how="$ms ms after the daemon started"
			crash_kill_after "$ms" -d -f "$S/conf"
			n_daemon=$((n_daemon + 1))
		else
			ms=$(t_rand $((est * 6 / 5 + 1)))
			how="$ms ms into smtlsd -1"
			crash_kill_after "$ms" -f "$S/conf" -1
			n_once=$((n_once + 1))
		fi
		kills=$((kills + 1))
		case $rc in
		137)	midpass=$((midpass + 1)) ;;
		0)	finished=$((finished + 1)) ;;
		*)	cat run.err >&2
			atf_fail "smtlsd exited $rc (killed $how)" ;;
		esac
		crash_valid "a kill $how ($changes changes)"
		[ "${tmps:-0}" -eq 0 ] || leftovers=$((leftovers + 1))
		echo "kill $kills: $how, +$adds -$removes: exit $rc," \
		    "${tmps:-0} temporary files" >>kills.log
		if [ $((kills % CRASH_CONVERGE)) -eq 0 ]; then
			if [ $((kills / CRASH_CONVERGE % 2)) -eq 0 ]; then
				crash_converge daemon
			else
				crash_converge once
			fi
		fi
	done
	crash_converge once
	echo "$kills kills ($n_once timed in smtlsd -1, $n_daemon timed in" \
	    "the daemon, $n_strace at a system call): $midpass killed," \
	    "$finished finished first; $leftovers left temporary" \
	    "files; every state a valid CApath; $converged complete passes" \
	    "converged to openssl rehash's content" | tee summary
}
kill9_cleanup()
{
	daemon_cleanup
}

# crash_need_inject: a copy of smtlsd and ./capath_check; skips when
# strace cannot inject faults here.
crash_need_inject()
{
	t_copy_bin
	t_cc capath_check "$T_SRC/hardening/capath_check.c"
	if ! strace -f -o /dev/null -e inject=getpid:error=ENOSYS true \
	    >/dev/null 2>&1; then
		atf_skip "SKIPPED: strace cannot inject faults here"
	fi
}

atf_test_case removal_order cleanup
removal_order_head()
{
	atf_set descr "Both certificates under one hash leave the bundle:" \
	    "a kill between the two removals leaves no gap (<hash>.1" \
	    "without <hash>.0), at every removal"
	atf_set require.progs "openssl cc strace"
	atf_set timeout 300
}
removal_order_body()
{
	crash_need_inject
	mkdir -p aux certs
	for n in 1 2 3; do
		t_cert "c$n" "/CN=smtlsd collision"
	done
	t_cert o "/CN=smtlsd other"
	h=$(openssl x509 -noout -hash -in c1.pem)
	daemon_conf_alone conf "$(pwd)" "$(pwd)/certs"
	for when in 1 2 3; do
		cat c1.pem c2.pem c3.pem o.pem >bundle.pem
		atf_check -o save:run.out -e save:run.err "$SMTLSD" -f conf -1
		[ -f "certs/$h.2" ] || atf_fail "no $h.2"
		cat o.pem >bundle.pem
		rc=0
		ASAN_OPTIONS=detect_leaks=0 strace -f -o /dev/null \
		    -e trace=unlinkat \
		    -e inject="unlinkat:signal=KILL:when=$when" \
		    "$SMTLSD" -f conf -1 >run.out 2>run.err || rc=$?
		[ "$rc" -eq 137 ] || atf_fail "smtlsd was not killed at" \
		    "unlinkat $when (exit $rc)"
		./capath_check certs >check.out || { cat check.out >&2
		    atf_fail "a kill at unlinkat $when left an invalid" \
		    "CApath"; }
	done
}
removal_order_cleanup()
{
	daemon_cleanup
}

atf_test_case link_kill cleanup
link_kill_head()
{
	atf_set descr "A kill between linking a new file into place and" \
	    "removing its temporary name (issue 14): the next pass that" \
	    "drops the certificate removes the file"
	atf_set require.progs "openssl cc strace"
	atf_set timeout 300
}
link_kill_body()
{
	crash_need_inject
	mkdir -p aux certs
	for n in kept dropped; do
		t_cert "$n" "/CN=smtlsd $n"
	done
	x=$(openssl x509 -noout -hash -in dropped.pem).0
	daemon_conf_alone conf "$(pwd)" "$(pwd)/certs"
	cat kept.pem >bundle.pem
	atf_check -o save:run.out -e save:run.err "$SMTLSD" -f conf -1

	# One file to add, no temporary file to sweep: the first unlinkat
	# is the removal of its temporary name, right after its linkat.
	cat kept.pem dropped.pem >bundle.pem
	rc=0
	ASAN_OPTIONS=detect_leaks=0 strace -f -o /dev/null \
	    -e trace=unlinkat -e inject=unlinkat:signal=KILL:when=1 \
	    "$SMTLSD" -f conf -1 >run.out 2>run.err || rc=$?
	[ "$rc" -eq 137 ] || atf_fail "smtlsd was not killed at unlinkat" \
	    "(exit $rc)"
	tmp=$(ls -A certs | grep '^\.smtlsd\.tmp\.' | head -n 1)
	[ -n "$tmp" ] && [ "certs/$tmp" -ef "certs/$x" ] ||
	    atf_fail "the kill did not leave $x linked to a temporary name"

	# The pass read $x before it swept the temporary name, which
	# changed $x's ctime: have readdir list $x first, whatever the
	# file system's order (a temporary name it is still).
	i=0
	while [ "$(ls -f certs | grep -E "^($x|\.smtlsd\.tmp\..*)\$" |
	    head -n 1)" != "$x" ]; do
		i=$((i + 1))
		[ "$i" -le 64 ] || atf_skip "SKIPPED: readdir never lists" \
		    "$x before a temporary name here"
		mv "certs/$tmp" "certs/.smtlsd.tmp.order$i"
		tmp=.smtlsd.tmp.order$i
	done

	cat kept.pem >bundle.pem
	atf_check -o save:run.out -e save:run.err "$SMTLSD" -f conf -1
	[ ! -e "certs/$x" ] || { cat run.err >&2
	    atf_fail "$x, of a certificate the bundle dropped, is left"; }
	./capath_check -t certs >check.out ||
	    { cat check.out >&2; atf_fail "certs is not clean"; }
	t_same_as_rehash_in certs bundle.pem "$(pwd)" ||
	    atf_fail "certs does not hold the bundle"
	# A second pass changes nothing.
	atf_check -o ignore -e match:' 0 added, 0 replaced, 0 removed' \
	    "$SMTLSD" -f conf -1
}
link_kill_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case kill9
	atf_add_test_case removal_order
	atf_add_test_case link_kill
}
