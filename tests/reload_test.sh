#! /usr/bin/env atf-sh
# Reloading sendmail (issue 3, "Reloading sendmail"): never two signals
# close together, no signal on a stale pidfile, reload_command.  The
# reloads are triggered by deleting dh.param (smtlsd writes the
# ffdhe2048 group back at once, and sendmail must read it) or by a
# replayed renewal.

# SC2016: the single-quoted conditions are evaluated later, by eval.
# shellcheck disable=SC1091,SC2016
. "$(atf_get_srcdir)/lib.sh"

DOM="le/certs/$D_DOMAIN"

# prepare [LINE...]: test CA, leaf1 installed, one pass (smtlsd -1:
# store and dh.param), and the configuration with the LINEs.  Neither
# the stand-in nor smtlsd runs yet.
prepare()
{
	daemon_setup
	daemon_install leaf1
	daemon_conf
	daemon_once
	daemon_conf "$@"
}

# dh_trigger: deletes dh.param; smtlsd writes it back and wants a reload.
dh_trigger()
{
	rm -f aux/dh.param
}

# renew KEY-AND-CERT [WAIT]: a renewal with pki/NAME.key, pki/NAME.pem.
renew()
{
	daemon_replay -s debian -w "${2:-0.2}" "$DOM" "pki/$1.key" \
	    "pki/$1.pem" pki/int.pem
}

# quiet: time for smtlsd to do something wrong; only to prove that
# nothing happens.
quiet()
{
	sleep 0.8
}

# ok_status: the status file says ok.
ok_status()
{
	[ "$(daemon_status 5)" = ok ]
}

# spaced N: the stand-in got exactly N SIGHUPs and is alive, and each
# SIGHUP after the first went to the pid of the stand-in's latest start,
# after that start (i.e. after the pidfile named the new pid).
spaced()
{
	daemon_wait 20 "$1 SIGHUPs" daemon_hups_are "$1"
	daemon_wait 20 "the stand-in back after $1 reloads" \
	    daemon_sendmail_back "$1"
	quiet
	daemon_hups_are "$1" || atf_fail "$(daemon_hups) SIGHUPs, not $1"
	daemon_sendmail_ok || atf_fail "the stand-in died"
	awk '
	    $1 == "start" { spid = $2; st = $3; n++ }
	    $1 == "hup" {
		h++
		if (h > 1 && ($2 != spid || $3 <= st)) {
			printf "SIGHUP %d went to %s at %s; the stand-in" \
			    " started last as %s at %s\n", h, $2, $3, spid, st
			bad = 1
		}
	    }
	    END { exit bad }
	' aux/sendmail.log >spaced.out || { cat aux/sendmail.log >&2;
	    atf_fail "$(cat spaced.out)"; }
}

# --------------------------------------------------------------------

atf_test_case renewal_then_dh cleanup
renewal_then_dh_head()
{
	atf_set descr "A renewal, then dh.param regenerated while sendmail" \
	    "is still coming back: the second SIGHUP waits for the new pid" \
	    "(the stand-in dies on a SIGHUP within 0.8 s of the first)"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
renewal_then_dh_body()
{
	prepare
	daemon_sendmail -k 800
	daemon_start
	renew leaf2
	daemon_wait 10 "the first SIGHUP" daemon_hups_are 1
	dh_trigger
	daemon_wait 10 "dh.param back" test -s aux/dh.param
	spaced 2
}
renewal_then_dh_cleanup()
{
	daemon_cleanup
}

atf_test_case renewals_back_to_back cleanup
renewals_back_to_back_head()
{
	atf_set descr "Two renewals back to back: the second SIGHUP waits" \
	    "for sendmail's new pid (the stand-in dies on a SIGHUP within" \
	    "0.8 s of the first)"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
renewals_back_to_back_body()
{
	prepare
	daemon_leaf leaf3
	daemon_sendmail -k 800
	daemon_start
	renew leaf2
	daemon_wait 10 "the first SIGHUP" daemon_hups_are 1
	renew leaf3 0
	spaced 2
}
renewals_back_to_back_cleanup()
{
	daemon_cleanup
}

atf_test_case slow_pidfile cleanup
slow_pidfile_head()
{
	atf_set descr "sendmail rewrites its pidfile 1 s after the SIGHUP: a" \
	    "reload wanted meanwhile is sent only after that"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
slow_pidfile_body()
{
	prepare
	daemon_sendmail -k 300 -w 1000
	daemon_start
	dh_trigger
	daemon_wait 10 "the first SIGHUP" daemon_hups_are 1
	dh_trigger
	daemon_wait 10 "dh.param back" test -s aux/dh.param
	spaced 2
}
slow_pidfile_cleanup()
{
	daemon_cleanup
}

atf_test_case await_timeout cleanup
await_timeout_head()
{
	atf_set descr "sendmail not back with a new pid 15 s after the" \
	    "SIGHUP: one warning, the daemon goes on, and the next reload" \
	    "goes to the pid the pidfile names once it is back"
	atf_set require.progs "openssl"
	atf_set timeout 90
}
await_timeout_body()
{
	prepare
	daemon_sendmail -w 21000
	daemon_start
	dh_trigger
	daemon_wait 10 "the first SIGHUP" daemon_hups_are 1
	t0=$(daemon_ms)
	daemon_wait 25 "the warning" daemon_logged 1 \
	    "did not come back with a new pid in .* within 15 s of the reload; check it"
	t=$(($(daemon_ms) - t0))
	[ "$t" -ge 14000 ] || atf_fail "the warning came after $t ms, not 15 s"
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
	daemon_wait 10 "the stand-in back" daemon_sendmail_back 1
	new=$(daemon_sendmail_pid)
	dh_trigger
	daemon_wait 10 "the second SIGHUP" daemon_hups_are 2
	daemon_logged 1 "reloaded sendmail \(pid $new\)" ||
	    { daemon_show; atf_fail "the second reload did not go to $new"; }
	[ "$(daemon_count "did not come back")" -eq 1 ] ||
	    atf_fail "more than one warning"
}
await_timeout_cleanup()
{
	daemon_cleanup
}

atf_test_case one_pass_one_reload cleanup
one_pass_one_reload_head()
{
	atf_set descr "A renewal and new DH parameters in one pass give one" \
	    "SIGHUP"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
one_pass_one_reload_body()
{
	prepare
	daemon_sendmail
	daemon_start
	dh_trigger
	renew leaf2 0
	daemon_wait 10 "the SIGHUP" daemon_hups_are 1
	spaced 1
	[ "$(daemon_count "reloaded sendmail")" -eq 1 ] ||
	    atf_fail "more than one reload logged"
}
one_pass_one_reload_cleanup()
{
	daemon_cleanup
}

atf_test_case back_before_watch cleanup
back_before_watch_head()
{
	atf_set descr "sendmail back under its new pid before smtlsd watches" \
	    "its pidfile (strace slows smtlsd's inotify_add_watch): smtlsd" \
	    "still sees it back at once, not after its 15 s limit"
	atf_set require.progs "openssl strace"
	atf_set timeout 60
}
back_before_watch_body()
{
	daemon_need_strace
	prepare
	daemon_sendmail
	daemon_start
	grep -q 'watch inotify' daemon.log ||
	    atf_skip "only for inotify: strace slows inotify_add_watch"
	daemon_slow inotify_add_watch 150000 tr/slow
	dh_trigger
	daemon_wait 10 "the SIGHUP" daemon_hups_are 1
	daemon_wait 10 "the stand-in back" daemon_sendmail_back 1
	t0=$(daemon_ms)
	daemon_wait 10 "smtlsd to see the stand-in back" \
	    daemon_logged 1 "is back as pid $(daemon_sendmail_pid)"
	echo "seen back $(($(daemon_ms) - t0)) ms after the stand-in was"
	daemon_logged 1 "did not come back" &&
	    atf_fail "smtlsd gave up waiting"
	true
}
back_before_watch_cleanup()
{
	daemon_cleanup
}

atf_test_case usr1_same_pid cleanup
usr1_same_pid_head()
{
	atf_set descr "reload_signal USR1 to a program that reloads under" \
	    "the same pid: smtlsd does not wait for a new pid, and a second" \
	    "reload follows within settle"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
usr1_same_pid_body()
{
	prepare "reload_signal USR1" "reload_process usr1prog"
	# A program named usr1prog that logs each SIGUSR1, same pid.
	printf '%s\n' '#!/bin/sh' \
	    'trap "echo usr1 >>$1" USR1' \
	    'while :; do sleep 0.1; done' >bin/usr1prog
	chmod +x bin/usr1prog
	"$(pwd)/bin/usr1prog" "$(pwd)/usr1.log" &
	up=$!
	daemon_remember "$up"
	echo "$up" >aux/sendmail.pid
	daemon_wait 5 "usr1prog to run" eval \
	    '[ "$(ps -o comm= -p "$up")" = usr1prog ]'
	daemon_start
	dh_trigger
	daemon_wait 10 "the first SIGUSR1" eval \
	    '[ "$(grep -c usr1 usr1.log 2>/dev/null)" = 1 ]'
	dh_trigger
	daemon_wait 5 "the second SIGUSR1, without waiting for a new pid" \
	    eval '[ "$(grep -c usr1 usr1.log 2>/dev/null)" = 2 ]'
	daemon_logged 1 "did not come back" && atf_fail "smtlsd waited for" \
	    "a new pid after SIGUSR1"
	daemon_alive "$up" || atf_fail "usr1prog died"
}
usr1_same_pid_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

# refuse DESC REGEX: makes smtlsd want a reload; it must refuse with
# one message matching REGEX and say failed in the status.
refuse()
{
	_r_n=$(daemon_count "not reloading sendmail")
	dh_trigger
	daemon_wait 10 "the refusal for $1" \
	    daemon_logged $((_r_n + 1)) "not reloading sendmail"
	tail -n 3 daemon.log | grep -Eq -- "not reloading sendmail: .*$2" ||
	    { daemon_show; atf_fail "$1: the message does not say: $2"; }
	grep -Eq -- "$2" aux/status || atf_fail "$1: status: $(cat aux/status)"
	[ "$(daemon_status 5)" = failed ] ||
	    atf_fail "$1: status is not failed: $(cat aux/status)"
}

atf_test_case stale_pidfile cleanup
stale_pidfile_head()
{
	atf_set descr "A pidfile naming an unrelated live process, a zombie" \
	    "called sendmail, a dead one, pid 1, garbage, nothing, a negative or huge number: no" \
	    "signal and one clear message each; the reload stays owed (status" \
	    "failed) until a sendmail started since runs, or the pidfile" \
	    "names the old one again (then it is sent); no pidfile: no" \
	    "signal, no error"
	atf_set require.progs "openssl"
	atf_set timeout 90
}
stale_pidfile_body()
{
	prepare
	daemon_start
	sleep 100 &
	sp=$!
	daemon_remember $sp

	echo "$sp" >aux/sendmail.pid
	refuse "sleep" "process $sp is \"sleep\", not \"sendmail\""
	daemon_alive "$sp" || atf_fail "the unrelated process was signalled"

	# A zombie named sendmail (a copy of sleep, ending after 0.3 s):
	# its parent, which is sleep after the exec, never reaps it.
	mkdir -p zombie
	cp "$(command -v sleep)" zombie/sendmail
	sh -c "$(pwd)/zombie/sendmail 0.3 & echo \$! >$(pwd)/zombie.pid; exec sleep 100" &
	daemon_remember $!
	daemon_wait 5 "the zombie" eval '[ -s zombie.pid ] &&
	    ps -o stat= -p "$(cat zombie.pid)" | grep -q Z'
	zp=$(cat zombie.pid)
	echo "$zp" >aux/sendmail.pid
	refuse "a zombie" "process $zp is a zombie"

	sh -c 'exit 0' &
	dp=$!
	wait $dp
	printf '%s\n/usr/sbin/sendmail -bd\n' "$dp" >aux/sendmail.pid
	refuse "a dead pid" "process $dp is not running"

	echo 1 >aux/sendmail.pid
	refuse "pid 1" "not a valid process id"
	echo hello >aux/sendmail.pid
	refuse "garbage" "first line is garbage"
	: >aux/sendmail.pid
	refuse "an empty file" "first line is empty"
	printf '%s\n' "-$sp" >aux/sendmail.pid
	refuse "a negative number" "not a process id"
	echo 99999999999999999999 >aux/sendmail.pid
	refuse "a huge number" "not a valid process id"
	echo 4294967297 >aux/sendmail.pid
	refuse "a number that wraps to 1" "not a valid process id"

	n=$(daemon_count "not reloading sendmail")
	p=$(daemon_passes)
	kill -USR1 "$D_PID"
	daemon_wait 10 "a forced pass" daemon_passed $((p + 1))
	[ "$(daemon_count "not reloading sendmail")" -eq "$n" ] ||
	    atf_fail "a pass without a new reload repeated the message"
	[ "$(daemon_status 5)" = failed ] ||
	    atf_fail "a pass forgot the refused reload: $(cat aux/status)"

	# sendmail starts (a new pidfile): it read the new files, nothing
	# is owed any more, and it gets no signal.
	daemon_sendmail
	daemon_wait 10 "the new sendmail seen" daemon_logged 1 \
	    "sendmail \(pid $(daemon_sendmail_pid)\) started after the reload was refused"
	daemon_wait 5 "status ok" ok_status
	quiet
	daemon_hups_are 0 || atf_fail "the new sendmail was signalled"

	# Refused again; then the pidfile names that (older) sendmail once
	# more: the reload still owed is sent, once.
	good=$(daemon_sendmail_pid)
	mv aux/sendmail.pid aux/sendmail.pid.good
	echo "$sp" >aux/sendmail.pid
	refuse "sleep again" "process $sp is \"sleep\", not \"sendmail\""
	mv aux/sendmail.pid.good aux/sendmail.pid
	daemon_wait 10 "the owed reload" daemon_logged 1 \
	    "reloaded sendmail \(pid $good\): owed since it was refused"
	daemon_wait 10 "sendmail back" daemon_sendmail_back 1
	daemon_wait 5 "status ok" ok_status
	quiet
	daemon_hups_are 1 || atf_fail "$(daemon_hups) SIGHUPs, not 1"

	n=$(daemon_count "not reloading sendmail")
	rm aux/sendmail.pid
	dh_trigger
	daemon_wait 10 "no pidfile: nothing to reload" \
	    daemon_logged 1 "no pidfile .*: not running: nothing to reload"
	[ "$(daemon_count "not reloading sendmail")" -eq "$n" ] ||
	    atf_fail "no pidfile was taken for an error"
	[ "$(daemon_status 5)" = ok ] ||
	    atf_fail "no pidfile: status is $(cat aux/status)"
	daemon_alive "$sp" || atf_fail "the unrelated process died"
}
stale_pidfile_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case command_child cleanup
command_child_head()
{
	atf_set descr "reload_command runs in a child of smtlsd, instead of" \
	    "a signal; its exit status is logged"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
command_child_body()
{
	prepare "reload_command \"echo \$\$ \$PPID >>$(pwd)/cmd.out; exit \$(cat $(pwd)/cmd.rc)\""
	echo 0 >cmd.rc
	daemon_sendmail
	daemon_start
	dh_trigger
	daemon_wait 10 "reload_command to run" test -s cmd.out
	# shellcheck disable=SC2046 # two numbers, split on purpose
	set -- $(cat cmd.out)
	[ "$2" = "$D_PID" ] || atf_fail "the command's parent is $2, not smtlsd"
	[ "$1" != "$D_PID" ] || atf_fail "the command ran as smtlsd itself"
	daemon_wait 10 "the exit status" daemon_logged 1 \
	    'reload_command ".*" done'
	echo 3 >cmd.rc
	dh_trigger
	daemon_wait 10 "the exit status 3" daemon_logged 1 \
	    'reload_command ".*" exited 3'
	daemon_hups_are 0 || atf_fail "sendmail was signalled as well"
}
command_child_cleanup()
{
	daemon_cleanup
}

atf_test_case command_serial cleanup
command_serial_head()
{
	atf_set descr "A reload wanted while reload_command still runs waits" \
	    "for it: the runs never overlap, and none is lost"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
command_serial_body()
{
	prepare "reload_command \"echo start >>$(pwd)/runs; sleep 1; echo end >>$(pwd)/runs\""
	daemon_start
	dh_trigger
	daemon_wait 10 "the first run" grep -q start runs
	dh_trigger
	daemon_wait 10 "dh.param back" test -s aux/dh.param
	daemon_wait 10 "two runs" eval '[ "$(grep -c end runs)" = 2 ]'
	[ "$(tr '\n' ' ' <runs)" = "start end start end " ] ||
	    atf_fail "the runs overlapped: $(tr '\n' ' ' <runs)"
}
command_serial_cleanup()
{
	daemon_cleanup
}

atf_test_case command_timeout cleanup
command_timeout_head()
{
	atf_set descr "A hanging reload_command is killed at reload_timeout;" \
	    "smtlsd keeps working meanwhile"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
command_timeout_body()
{
	prepare "reload_command \"echo \$\$ >$(pwd)/cmd.pid; exec sleep 60\"" \
	    "reload_timeout 2.5"
	daemon_start
	dh_trigger
	daemon_wait 10 "reload_command to start" test -s cmd.pid
	cp_=$(cat cmd.pid)
	daemon_remember "$cp_"
	daemon_wait 5 "the command running as sleep" eval \
	    '[ "$(ps -o comm= -p "$cp_")" = sleep ]'
	# The loop is not blocked by the command.
	cat pki/root.pem >bundle.pem
	daemon_wait 2 "the store to follow during the command" \
	    daemon_not_in_store other1
	daemon_alive "$cp_" || atf_fail "the command ended too early"
	daemon_wait 10 "the time limit" daemon_logged 1 \
	    'still running after 2500 ms; killing it'
	daemon_wait 10 "the exit status" daemon_logged 1 \
	    'reload_command ".*" killed by signal 9'
	daemon_wait 5 "the command to be gone" daemon_dead "$cp_"
}
command_timeout_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case renewal_then_dh
	atf_add_test_case renewals_back_to_back
	atf_add_test_case slow_pidfile
	atf_add_test_case await_timeout
	atf_add_test_case one_pass_one_reload
	atf_add_test_case back_before_watch
	atf_add_test_case usr1_same_pid
	atf_add_test_case stale_pidfile
	atf_add_test_case command_child
	atf_add_test_case command_serial
	atf_add_test_case command_timeout
}
