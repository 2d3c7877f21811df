#! /usr/bin/env atf-sh
# The daemon process (issue 3, "Process"): start-up line, pidfile and a
# second instance, signals (SIGUSR1, SIGHUP with a broken and a good
# configuration, SIGTERM, SIGINT), smtlsd -R, daemon(3).

# SC2016: the single-quoted conditions are evaluated later, by eval.
# shellcheck disable=SC1091,SC2016
. "$(atf_get_srcdir)/lib.sh"

# ok_status: the status file says ok.
ok_status()
{
	[ "$(daemon_status 5)" = ok ]
}

# --------------------------------------------------------------------

atf_test_case startup_line cleanup
startup_line_head()
{
	atf_set descr "The start-up line names the versions of smtlsd," \
	    "OpenSSL and libevent and the watch method"
	atf_set require.progs "openssl"
	atf_set timeout 30
}
startup_line_body()
{
	daemon_setup
	daemon_conf
	daemon_start
	line=$(grep 'starting' daemon.log | head -n 1)
	echo "$line"
	echo "$line" | grep -Eq "smtlsd [0-9]+\.[0-9]+[^ ]* starting" ||
	    atf_fail "no smtlsd version: $line"
	ov=$(openssl version | awk '{ print $2 }')
	echo "$line" | grep -q "OpenSSL ${ov%%[-a-z]*}" ||
	    atf_fail "no OpenSSL version ($ov): $line"
	if lv=$(pkg-config --modversion libevent 2>/dev/null); then
		echo "$line" | grep -q "libevent ${lv%%-*}" ||
		    atf_fail "no libevent version ($lv): $line"
	else
		echo "$line" | grep -Eq "libevent [0-9]+\.[0-9]+" ||
		    atf_fail "no libevent version: $line"
	fi
	case $(uname -s) in
	Linux)	w=inotify ;;
	*)	w=kqueue ;;
	esac
	echo "$line" | grep -q "watch $w" || atf_fail "not watch $w: $line"
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
	# The status line: pid passes resyncs time result message.
	awk -v p="$D_PID" '$1 == p && $2 ~ /^[0-9]+$/ && $3 == 0 &&
	    $4 ~ /^[0-9]+$/ { ok = 1 } END { exit !ok }' aux/status ||
	    atf_fail "status file: $(cat aux/status)"
}
startup_line_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case second_instance cleanup
second_instance_head()
{
	atf_set descr "A second instance is refused, naming the pid of the" \
	    "first; SIGTERM then ends the first cleanly, pidfile removed"
	atf_set require.progs "openssl"
	atf_set timeout 30
}
second_instance_body()
{
	daemon_setup
	daemon_conf
	daemon_start
	[ "$(cat aux/smtlsd.pid)" = "$D_PID" ] ||
	    atf_fail "the pidfile does not name smtlsd"
	# The second instance refuses, naming the first.
	atf_check -s exit:1 -o ignore -e match:"already running as pid $D_PID" \
	    timeout 10 "$SMTLSD" -d -f "$(pwd)/conf"
	daemon_alive "$D_PID" || atf_fail "the first instance died"
	[ "$(cat aux/smtlsd.pid)" = "$D_PID" ] ||
	    atf_fail "the second instance touched the pidfile"
	kill -TERM "$D_PID"
	rc=0
	wait "$D_PID" || rc=$?
	[ "$rc" -eq 0 ] || atf_fail "smtlsd exited $rc after SIGTERM"
	[ ! -e aux/smtlsd.pid ] || atf_fail "the pidfile is left after SIGTERM"
	[ "$(daemon_status 5)" = stopped ] ||
	    atf_fail "status after SIGTERM: $(cat aux/status)"
	daemon_logged 1 "exiting" || atf_fail "no message on exit"
}
second_instance_cleanup()
{
	daemon_cleanup
}

atf_test_case sigint cleanup
sigint_head()
{
	atf_set descr "SIGINT ends smtlsd cleanly too, and the DH child it" \
	    "runs; a new instance can start at once"
	atf_set require.progs "openssl"
	atf_set timeout 30
}
sigint_body()
{
	daemon_setup
	daemon_conf "dh_params_source generate" "dh_bits 4096"
	daemon_start
	daemon_wait_log "generating 4096-bit DH parameters in child [0-9]+"
	child=$(sed -n 's/.*in child \([0-9]*\).*/\1/p' daemon.log | head -n 1)
	daemon_remember "$child"
	kill -INT "$D_PID"
	rc=0
	wait "$D_PID" || rc=$?
	[ "$rc" -eq 0 ] || atf_fail "smtlsd exited $rc after SIGINT"
	[ ! -e aux/smtlsd.pid ] || atf_fail "the pidfile is left after SIGINT"
	daemon_wait 5 "the DH child to end" daemon_dead "$child"
	# The pidfile lock went with it: a new instance starts.
	daemon_conf
	daemon_start
}
sigint_cleanup()
{
	daemon_cleanup
}

# try_start NAME: starts smtlsd -d -v (D_PID), logging to daemon.log; it
# must start, not be refused.
try_start()
{
	_t_n=$(wc -l <daemon.log)
	"$SMTLSD" -d -v -f "$(pwd)/conf" 2>>daemon.log &
	D_PID=$!
	daemon_remember "$D_PID"
	daemon_wait 10 "the $1 instance to start or be refused" eval \
	    'tail -n +$((_t_n + 1)) daemon.log | grep -Eq "starting|already running"'
	if tail -n +$((_t_n + 1)) daemon.log | grep -q "already running"; then
		atf_fail "the $1 instance was refused:" \
		    "$(tail -n +$((_t_n + 1)) daemon.log)"
	fi
}

atf_test_case killed_restart cleanup
killed_restart_head()
{
	atf_set descr "After smtlsd was killed (SIGKILL, pidfile left), a new" \
	    "instance starts although the old one's children live on: a" \
	    "DH child and what a reload_command started"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
killed_restart_body()
{
	daemon_setup
	daemon_conf
	daemon_once
	# A reload_command that leaves a process behind, as "service
	# sendmail restart" leaves sendmail; new DH parameters make it run.
	printf '#!/bin/sh\nsleep 60 &\necho $! >"$1"\n' >leave.sh
	chmod +x leave.sh
	daemon_conf "reload_command \"$(pwd)/leave.sh $(pwd)/cmd.pid\""
	daemon_start
	rm aux/dh.param
	daemon_wait 10 "the reload_command's process" test -s cmd.pid
	left=$(cat cmd.pid)
	daemon_remember "$left"
	daemon_alive "$left" || atf_fail "the command's process is not running"
	kill -KILL "$D_PID"
	daemon_wait 5 "smtlsd to die" daemon_dead "$D_PID"
	[ -e aux/smtlsd.pid ] || atf_fail "the pidfile went with SIGKILL?"
	try_start second

	# The same with a DH child.
	daemon_conf "dh_params_source generate" "dh_bits 4096"
	rm aux/dh.param
	kill -HUP "$D_PID"
	daemon_wait 10 "the DH child" daemon_logged 1 \
	    "generating 4096-bit DH parameters in child [0-9]+"
	child=$(sed -n 's/.*in child \([0-9]*\).*/\1/p' daemon.log | tail -n 1)
	daemon_remember "$child"
	kill -KILL "$D_PID"
	daemon_wait 5 "smtlsd to die" daemon_dead "$D_PID"
	daemon_alive "$child" || atf_skip "the DH child ended too soon"
	try_start third
}
killed_restart_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case leftover_tmp cleanup
leftover_tmp_head()
{
	atf_set descr "At start, the temporary files a kill -9 left beside" \
	    "the status file and a dh.param outside cert_dir are removed;" \
	    "a symbolic link of that name is removed, not followed; other" \
	    "names stay"
	atf_set require.progs "openssl"
	atf_set timeout 30
}
leftover_tmp_body()
{
	daemon_setup
	mkdir dh
	daemon_conf "dh_params $(pwd)/dh/dh.param"
	daemon_once
	echo precious >precious
	: >aux/.smtlsd.tmp.0123456789abcdef
	: >dh/.smtlsd.tmp.fedcba9876543210
	ln -s "$(pwd)/precious" dh/.smtlsd.tmp.link
	: >aux/.smtlsd.tmpx
	: >aux/x.smtlsd.tmp.1
	daemon_start
	for f in aux/.smtlsd.tmp.0123456789abcdef \
	    dh/.smtlsd.tmp.fedcba9876543210 dh/.smtlsd.tmp.link; do
		[ -e "$f" ] || [ -L "$f" ] && atf_fail "$f is still there"
		grep -q "$(pwd)/$f: removed a temporary file" daemon.log ||
		    atf_fail "no log line for $f: $(cat daemon.log)"
	done
	[ "$(cat precious)" = precious ] || atf_fail "followed the link"
	[ -e aux/.smtlsd.tmpx ] && [ -e aux/x.smtlsd.tmp.1 ] ||
	    atf_fail "removed a file that is not a temporary file of ours"
	[ -s dh/dh.param ] || atf_fail "dh.param went"
}
leftover_tmp_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case sigusr1 cleanup
sigusr1_head()
{
	atf_set descr "SIGUSR1 forces a full pass: a file removed from" \
	    "cert_dir behind smtlsd's back comes back"
	atf_set require.progs "openssl"
	atf_set timeout 30
}
sigusr1_body()
{
	daemon_setup
	daemon_conf
	daemon_start
	h=$(openssl x509 -noout -hash -in pki/other1.pem)
	[ -f "certs/$h.0" ] || atf_fail "certs/$h.0 is missing"
	rm "certs/$h.0"
	p=$(daemon_passes)
	kill -USR1 "$D_PID"
	daemon_wait 10 "the forced pass" daemon_passed $((p + 1))
	[ "$(daemon_status 3)" = 1 ] || atf_fail "resyncs: $(cat aux/status)"
	daemon_in_store other1 || atf_fail "the pass did not restore certs/$h.0"
	daemon_logged 1 "SIGUSR1" || atf_fail "no message about SIGUSR1"
}
sigusr1_cleanup()
{
	daemon_cleanup
}

atf_test_case resync cleanup
resync_head()
{
	atf_set descr "smtlsd -R: with a daemon running it reports the" \
	    "forced pass ok or failed; without one it runs one pass itself"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
resync_body()
{
	daemon_setup
	daemon_conf
	# No daemon: one pass here.
	atf_check -o match:"no daemon running; ran one pass: ok" -e ignore \
	    timeout 30 "$SMTLSD" -R -f "$(pwd)/conf"
	daemon_in_store other1 || atf_fail "-R alone did not fill the store"
	[ ! -e aux/smtlsd.pid ] || atf_fail "-R left a pidfile"

	daemon_start
	atf_check -o match:"resync finished: ok" -e ignore \
	    timeout 30 "$SMTLSD" -R -f "$(pwd)/conf"
	[ "$(daemon_status 3)" = 1 ] || atf_fail "resyncs: $(cat aux/status)"

	mv bundle.pem bundle.away
	atf_check -s exit:1 -e ignore \
	    -o match:"resync finished: failed: CA bundle .*bundle.pem" \
	    timeout 30 "$SMTLSD" -R -f "$(pwd)/conf"
	mv bundle.away bundle.pem
	daemon_wait 10 "status ok again" ok_status
	atf_check -o ignore -e ignore timeout 30 "$SMTLSD" -R -f "$(pwd)/conf"
	[ "$(daemon_status 3)" = 3 ] || atf_fail "resyncs: $(cat aux/status)"
}
resync_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case sighup_config cleanup
sighup_config_head()
{
	atf_set descr "SIGHUP with a broken configuration: reported, the old" \
	    "one kept, smtlsd keeps working; with a good one: it takes effect"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
sighup_config_body()
{
	daemon_setup
	t_cert pki/b2 "/CN=Second bundle CA"
	cp pki/b2.pem bundle2.pem
	daemon_conf
	daemon_start
	cp conf conf.good

	# Broken: an unknown keyword.
	echo "no_such_keyword 1" >>conf
	p=$(daemon_passes)
	kill -HUP "$D_PID"
	daemon_wait 10 "the broken configuration reported" \
	    daemon_logged 1 "keeping the configuration in use"
	daemon_logged 1 "conf:[0-9]+: .*no_such_keyword" ||
	    atf_fail "the message does not name the line"
	daemon_alive "$D_PID" || atf_fail "smtlsd died on a broken configuration"
	cat pki/root.pem >bundle.pem
	daemon_wait 10 "the store to follow with the old configuration" \
	    daemon_not_in_store other1

	# Broken: writable by others.
	cp conf.good conf
	chmod 0666 conf
	n=$(daemon_count "keeping the configuration in use")
	kill -HUP "$D_PID"
	daemon_wait 10 "the unsafe configuration reported" \
	    daemon_logged $((n + 1)) "keeping the configuration in use"

	# Good: a second bundle, a longer settle.
	daemon_conf "ca_bundle $(pwd)/bundle2.pem"
	kill -HUP "$D_PID"
	daemon_wait 10 "the second bundle in the store" daemon_in_store b2
	daemon_in_store root || atf_fail "the first bundle was dropped"
	daemon_alive "$D_PID" || atf_fail "smtlsd died"

	# And its watches: a change to the new bundle is followed.
	cat pki/b2.pem pki/other2.pem >bundle2.pem
	daemon_wait 10 "a change to the second bundle" daemon_in_store other2
}
sighup_config_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case detaches cleanup
detaches_head()
{
	atf_set descr "Without -d smtlsd detaches (daemon(3)): the command" \
	    "returns, the pidfile names the daemon; SIGHUP re-reads the" \
	    "file given by a relative -f path; SIGTERM removes the pidfile"
	atf_set require.progs "openssl"
	atf_set timeout 30
}
detaches_body()
{
	daemon_setup
	daemon_conf
	atf_check -o ignore -e ignore timeout 10 "$SMTLSD" -f ./conf
	daemon_wait 10 "the pidfile" test -s aux/smtlsd.pid
	D_PID=$(cat aux/smtlsd.pid)
	daemon_remember "$D_PID"
	daemon_wait 10 "the first pass" daemon_passed 1
	[ "$(ps -o comm= -p "$D_PID")" = smtlsd ] ||
	    atf_fail "the pidfile does not name smtlsd"
	[ "$(ps -o ppid= -p "$D_PID" | tr -d ' ')" != "$$" ] ||
	    atf_fail "smtlsd did not detach"
	daemon_in_store other1 || atf_fail "the store was not made"
	# SIGHUP: the new configuration (found from / after daemon(3)).
	cat pki/other1.pem >bundle2.pem
	daemon_conf "ca_bundle $(pwd)/bundle2.pem"
	sed '1d' conf >conf.new && mv conf.new conf	# only bundle2.pem
	chmod 0644 conf
	kill -HUP "$D_PID"
	daemon_wait 10 "the new configuration (root gone)" \
	    daemon_not_in_store root
	daemon_in_store other1 || atf_fail "other1 left the store"
	kill -TERM "$D_PID"
	daemon_wait 10 "smtlsd to exit" daemon_dead "$D_PID"
	daemon_wait 5 "the pidfile to go" test ! -e aux/smtlsd.pid
}
detaches_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case startup_line
	atf_add_test_case second_instance
	atf_add_test_case sigint
	atf_add_test_case killed_restart
	atf_add_test_case leftover_tmp
	atf_add_test_case sigusr1
	atf_add_test_case resync
	atf_add_test_case sighup_config
	atf_add_test_case detaches
}
