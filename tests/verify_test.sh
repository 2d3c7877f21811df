#! /usr/bin/env atf-sh
# The STARTTLS probe (verify_smtp): against a small scripted SMTP server
# (verify_server.py) that is right, wrong, slow or hostile.  smtlsd -1
# probes at its end; the daemon after every pass, once sendmail is back.

# shellcheck disable=SC1091
. "$(atf_get_srcdir)/lib.sh"

V_SERVER="$(atf_get_srcdir)/verify_server.py"
ESC=$(printf '\033')

# v_setup: the daemon tests' set-up with leaf1 installed as the domain's
# set, and served.pem/served.key (what the server serves) being leaf1
# with the intermediate.
v_setup()
{
	daemon_setup
	daemon_install leaf1
	v_serve leaf1 int
}

# v_serve LEAF [INT]: the server serves pki/LEAF.pem (and pki/INT.pem
# after it) from its next connection on.
v_serve()
{
	if [ -n "${2:-}" ]; then
		cat "pki/$1.pem" "pki/$2.pem" >served.tmp
	else
		cat "pki/$1.pem" >served.tmp
	fi
	cp "pki/$1.key" served.key
	mv served.tmp served.pem
}

# v_server MODE: starts verify_server.py MODE; V_PORT is its port.
v_server()
{
	rm -f port port.log
	python3 "$V_SERVER" "$(pwd)/port" "$1" "$(pwd)/served.pem" \
	    "$(pwd)/served.key" 2>server.err &
	echo $! >server.pid
	daemon_wait 10 "the test server to listen" test -s port
	V_PORT=$(cat port)
}

# v_conf: daemon_conf probing the test server.
v_conf()
{
	daemon_conf "verify_smtp 127.0.0.1:$V_PORT"
}

# v_once: smtlsd -1 -v; its exit status in V_RC, stderr in once.err,
# how long it took (seconds) in V_TOOK.
v_once()
{
	_o_t0=$(date +%s)
	V_RC=0
	timeout 90 "$SMTLSD" -1 -v -f "$(pwd)/conf" >once.out 2>once.err ||
	    V_RC=$?
	V_TOOK=$(($(date +%s) - _o_t0))
}

# v_once_says STATUS REGEX: v_once exits STATUS, and stderr has a line
# matching REGEX.
v_once_says()
{
	v_once
	if [ "$V_RC" -ne "$1" ] || ! grep -Eq -- "$2" once.err; then
		cat once.err >&2
		atf_fail "smtlsd -1 exited $V_RC (wanted $1), or said no" \
		    "line matching: $2"
	fi
}

# v_status_line2: the status file's second line (the probe's).
v_status2()
{
	sed -n 2p aux/status 2>/dev/null
}

# v_status2_is RESULT: the probe's line says RESULT.
v_status2_is()
{
	[ "$(v_status2 | awk '{ print $3 }')" = "$1" ]
}

v_cleanup()
{
	[ -f server.pid ] && kill "$(cat server.pid)" 2>/dev/null
	daemon_cleanup
}

atf_test_case ok cleanup
ok_head()
{
	atf_set descr "smtlsd -1: sendmail serves the good set with its" \
	    "chain: ok, naming the domain, serial and date; EHLO's" \
	    "STARTTLS in the middle of a multi-line reply; QUIT at the end"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
ok_body()
{
	v_setup
	v_server ok
	v_conf
	serial=$(openssl x509 -noout -serial -in pki/leaf1.pem | cut -d= -f2)
	v_once_says 0 "verify: ok: sendmail serves $D_DOMAIN serial $serial until 20[0-9-]+ [0-9:]+ UTC$"
	grep -q '^got EHLO ' port.log || atf_fail "no EHLO: $(cat port.log)"
	grep -q '^got STARTTLS' port.log || atf_fail "no STARTTLS"
	grep -q '^tls TLSv1' port.log || atf_fail "no TLS: $(cat port.log)"
	grep -q '^got QUIT' port.log || atf_fail "no QUIT: $(cat port.log)"
	# verify_smtp none: no connection at all.
	daemon_conf "verify_smtp none"
	: >port.log
	daemon_once
	[ ! -s port.log ] || atf_fail "verify_smtp none connected: $(cat port.log)"
}
ok_cleanup()
{
	v_cleanup
}

atf_test_case multiline_greeting cleanup
multiline_greeting_head()
{
	atf_set descr "A greeting of three lines (220-, 220-, 220 ) is" \
	    "read whole before EHLO"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
multiline_greeting_body()
{
	v_setup
	v_server multiline
	v_conf
	v_once_says 0 "verify: ok: sendmail serves $D_DOMAIN"
	[ "$(grep -c '^got EHLO' port.log)" -eq 1 ] ||
	    atf_fail "EHLO not sent once: $(cat port.log)"
}
multiline_greeting_cleanup()
{
	v_cleanup
}

atf_test_case no_starttls cleanup
no_starttls_head()
{
	atf_set descr "EHLO without STARTTLS: failed, saying so, and QUIT"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
no_starttls_body()
{
	v_setup
	v_server nostarttls
	v_conf
	v_once_says 1 "verify: failed: sendmail on 127.0.0.1:$V_PORT does not offer STARTTLS"
	grep -q '^got QUIT' port.log || atf_fail "no QUIT: $(cat port.log)"
	grep -q '^got STARTTLS' port.log && atf_fail "asked for STARTTLS"
	return 0
}
no_starttls_cleanup()
{
	v_cleanup
}

atf_test_case garbage cleanup
garbage_head()
{
	atf_set descr "A greeting that is no SMTP reply, data after the" \
	    "220 to STARTTLS, an EHLO reply of 200 lines: bad reply, quoted"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
garbage_body()
{
	v_setup
	v_server garbage
	v_conf
	v_once_says 1 'verify: failed: bad reply: 127.0.0.1:[0-9]+ sent "hello there, this is no SMTP server", which is not an SMTP reply'
	kill "$(cat server.pid)"
	v_server inject
	v_conf
	v_once_says 1 'verify: failed: bad reply: .* sent more after its 220 to STARTTLS, before the TLS handshake'
	kill "$(cat server.pid)"
	v_server manylines
	v_conf
	v_once_says 1 'verify: failed: bad reply: .* sent a reply of more than 64 lines \("250-x"\.\.\.\)'
}
garbage_cleanup()
{
	v_cleanup
}

atf_test_case wrong_cert cleanup
wrong_cert_head()
{
	atf_set descr "Another certificate served: failed, naming the" \
	    "serial served and the one expected"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
wrong_cert_body()
{
	v_setup
	v_serve leaf2 int
	v_server ok
	v_conf
	s1=$(openssl x509 -noout -serial -in pki/leaf1.pem | cut -d= -f2)
	s2=$(openssl x509 -noout -serial -in pki/leaf2.pem | cut -d= -f2)
	v_once_says 1 "verify: failed: sendmail on 127.0.0.1:$V_PORT serves the wrong certificate: serial $s2 .*expected serial $s1 of $D_DOMAIN"
}
wrong_cert_cleanup()
{
	v_cleanup
}

atf_test_case served_expiry cleanup
served_expiry_head()
{
	atf_set descr "sendmail serves an old certificate that runs out" \
	    "within expiry_warn days while the good set does not: the" \
	    "warning is about the one served"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
served_expiry_body()
{
	v_setup
	daemon_leaf old +$((3 * 86400 + 3600))
	v_serve old int
	v_server ok
	daemon_conf "verify_smtp 127.0.0.1:$V_PORT" "expiry_warn 14"
	old=$(openssl x509 -noout -serial -in pki/old.pem | cut -d= -f2)
	v_once_says 1 "the certificate sendmail serves \(serial $old\) expires in 3 days, on 20[0-9-]+ "
	grep -q 'serves the wrong certificate' once.err ||
	    atf_fail "the probe did not fail: $(cat once.err)"
	daemon_start
	daemon_wait 20 "the probe" v_status2_is failed
	head -n 1 aux/status | grep -q "failed the certificate sendmail serves (serial $old) expires in 3 days" ||
	    atf_fail "status: $(cat aux/status)"
	v_status2 | grep -q "serves the wrong certificate: serial $old" ||
	    atf_fail "status: $(cat aux/status)"
	daemon_stop
}
served_expiry_cleanup()
{
	v_cleanup
}

atf_test_case two_sets cleanup
two_sets_head()
{
	atf_set descr "Two good sets: one connection, SNI the first one's" \
	    "name; the leaf served may be either set's (sendmail has one" \
	    "ServerCertFile), and a third certificate is wrong"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
two_sets_body()
{
	v_setup
	D_DOMAIN=www.example.test daemon_leaf www
	mkdir -p le/certs/www.example.test
	daemon_replay -w 0 le/certs/www.example.test pki/www.key pki/www.pem \
	    pki/int.pem
	v_serve www int
	v_server ok
	v_conf
	# (The test PKI's leaves are all for mail.example.test: the name
	# of the www set is its certificate's.)
	www=$(openssl x509 -noout -serial -in pki/www.pem | cut -d= -f2)
	v_once_says 0 "verify: ok: sendmail serves mail\.example\.test serial $www until"
	[ "$(grep -c '^conn ' port.log)" -eq 1 ] ||
	    atf_fail "not one connection: $(cat port.log)"
	v_serve leaf2 int
	v_once_says 1 'serves the wrong certificate: .*expected serial [0-9A-F]+ of mail\.example\.test .*, or another of the good sets'
}
two_sets_cleanup()
{
	v_cleanup
}

atf_test_case chain_incomplete cleanup
chain_incomplete_head()
{
	atf_set descr "The leaf served without its intermediate (which a" \
	    "client without cert_dir cannot verify): chain incomplete"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
chain_incomplete_body()
{
	v_setup
	v_serve leaf1
	v_server ok
	v_conf
	v_once_says 1 'verify: failed: chain incomplete: sendmail does not send the intermediate "smtlsd Test Intermediate CA" for mail.example.test'
}
chain_incomplete_cleanup()
{
	v_cleanup
}

atf_test_case refused cleanup
refused_head()
{
	atf_set descr "Nothing listening: connection refused, tried again" \
	    "for about 20 s, then failed"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
refused_body()
{
	v_setup
	v_server ok
	port=$V_PORT
	kill "$(cat server.pid)"
	V_PORT=$port
	daemon_wait 10 "the server to end" sh -c "! kill -0 $(cat server.pid) 2>/dev/null"
	v_conf
	v_once_says 1 "verify: failed: 127.0.0.1:$port: connection refused"
	[ "$(grep -c 'connection refused; trying again' once.err)" -ge 2 ] ||
	    atf_fail "not tried again: $(cat once.err)"
	[ "$V_TOOK" -le 40 ] || atf_fail "took $V_TOOK s"
}
refused_cleanup()
{
	v_cleanup
}

atf_test_case tls_stall cleanup
tls_stall_head()
{
	atf_set descr "A peer that says 220 to STARTTLS and never does the" \
	    "handshake: a timeout in bounded time"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
tls_stall_body()
{
	v_setup
	v_server tlsstall
	v_conf
	v_once_says 1 "verify: failed: 127.0.0.1:$V_PORT: no answer within 10 s \(timeout\) waiting for the TLS handshake"
	if [ "$V_TOOK" -lt 10 ] || [ "$V_TOOK" -gt 40 ]; then
		atf_fail "took $V_TOOK s, not 10 to 40"
	fi
}
tls_stall_cleanup()
{
	v_cleanup
}

atf_test_case daemon_stall cleanup
daemon_stall_head()
{
	atf_set descr "A listener that accepts and never answers: the daemon" \
	    "still serves a resync meanwhile, and the probe times out"
	atf_set require.progs "openssl python3"
	atf_set timeout 150
}
daemon_stall_body()
{
	v_setup
	mkdir trace	# strace's output, where nothing is watched
	v_server silent
	v_conf
	daemon_start
	v_status2_is running || atf_fail "probe not running: $(cat aux/status)"
	# The loop is not blocked: a resync's pass is done at once.
	n=$(daemon_passes)
	t0=$(date +%s)
	kill -USR1 "$D_PID"
	daemon_wait 5 "the resync's pass during the stall" daemon_passed \
	    $((n + 1))
	[ $(($(date +%s) - t0)) -le 5 ] || atf_fail "the resync waited"
	daemon_wait 60 "the probe to time out" v_status2_is failed
	v_status2 | grep -q 'no answer within 10 s (timeout) waiting for the greeting' ||
	    atf_fail "status: $(cat aux/status)"
	[ "$(daemon_status 5)" = failed ] ||
	    atf_fail "status is not failed: $(cat aux/status)"
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	daemon_wait 60 "the resync's probe to time out too" \
	    daemon_logged 2 'verify: failed: .*timeout'
	# The probe's timers are gone with it: idle, no system call.
	if [ -z "$(daemon_strace_reason)" ]; then
		n=$(daemon_syscalls "$D_PID" 3 trace/strace.out)
		[ "$n" -eq 0 ] || { cat trace/strace.out >&2;
		    atf_fail "$n system calls while idle after the probes"; }
	fi
	daemon_stop
}
daemon_stall_cleanup()
{
	v_cleanup
}

atf_test_case sendmail_later cleanup
sendmail_later_head()
{
	atf_set descr "smtlsd starts before sendmail (as at boot): its probe" \
	    "is refused; sendmail's start (its pidfile) brings a pass and a" \
	    "probe that is ok, with no reload and no polling meanwhile"
	atf_set require.progs "openssl python3"
	atf_set timeout 150
}
sendmail_later_body()
{
	v_setup
	v_server ok
	port=$V_PORT
	kill "$(cat server.pid)"
	daemon_wait 10 "the server to end" sh -c "! kill -0 $(cat server.pid) 2>/dev/null"
	v_conf
	daemon_start
	daemon_wait 60 "the refused probe" v_status2_is failed
	v_status2 | grep -q 'connection refused' || atf_fail "$(cat aux/status)"
	n=$(daemon_passes)
	VS_PORT=$port
	export VS_PORT
	v_server ok
	unset VS_PORT
	# Nothing happens until sendmail starts: no pass, no probe.
	sleep 1
	[ "$(daemon_passes)" -eq "$n" ] || atf_fail "a pass without an event"
	daemon_sendmail
	daemon_wait 30 "the probe after sendmail's start" v_status2_is ok
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
	daemon_hups_are 0 || atf_fail "sendmail was reloaded"
	daemon_stop
}
sendmail_later_cleanup()
{
	v_cleanup
}

atf_test_case daemon_reload cleanup
daemon_reload_head()
{
	atf_set descr "The daemon probes at start, after a reload once" \
	    "sendmail is back (the old certificate still served: failed)," \
	    "and at a resync (the new one served: ok); -R prints it"
	atf_set require.progs "openssl python3"
	atf_set timeout 150
}
daemon_reload_body()
{
	v_setup
	daemon_sendmail
	v_server ok
	v_conf
	daemon_start
	daemon_wait 20 "the probe at start" v_status2_is ok
	v_status2 | grep -Eq "^verify [0-9]+ ok sendmail serves $D_DOMAIN serial [0-9A-F]+ until " ||
	    atf_fail "status: $(cat aux/status)"
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
	# A renewal: sendmail reloads, comes back, and (this stand-in)
	# still serves leaf1.
	s2=$(openssl x509 -noout -serial -in pki/leaf2.pem | cut -d= -f2)
	daemon_install leaf2
	daemon_wait 20 "the reload" daemon_sendmail_back 1
	daemon_wait 20 "the probe after the reload" \
	    daemon_logged 1 'verify: failed: .*serves the wrong certificate'
	daemon_wait 5 "the status to say failed" sh -c \
	    "head -n 1 aux/status | grep -q 'failed verify: failed: .*expected serial $s2'"
	# Back comes before the probe, in the log.
	back=$(grep -n 'is back as pid' daemon.log | tail -n 1 | cut -d: -f1)
	probe=$(grep -n 'verify: failed' daemon.log | head -n 1 | cut -d: -f1)
	[ "$back" -lt "$probe" ] || { daemon_show;
	    atf_fail "probed before sendmail was back"; }
	# Now it serves leaf2: a resync says so.
	v_serve leaf2 int
	atf_check -s exit:0 \
	    -o match:'^smtlsd: resync finished: ok$' \
	    -o match:"^smtlsd: verified 20[0-9-]+ [0-9:]+ UTC: sendmail serves $D_DOMAIN serial $s2 until " \
	    "$SMTLSD" -R -f "$(pwd)/conf"
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
	daemon_stop
}
daemon_reload_cleanup()
{
	v_cleanup
}

atf_test_case attack_reply cleanup
attack_reply_head()
{
	atf_set descr "Whoever listens on verify_smtp sends terminal escapes" \
	    "or a huge line: escaped and bounded in the log and status"
	atf_set require.progs "openssl python3"
	atf_set timeout 150
}
attack_reply_body()
{
	v_setup
	v_server escapes
	v_conf
	daemon_start
	daemon_wait 20 "the probe" v_status2_is failed
	for f in daemon.log aux/status; do
		grep -q "$ESC" "$f" && atf_fail "$f holds a raw ESC"
		grep -q "$(printf '\007')" "$f" && atf_fail "$f holds a BEL"
	done
	grep -q 'greets with "554 \^\[\[2J\^\[\]0;owned\^G evil M-\^\[31m"' \
	    aux/status || atf_fail "not quoted visibly: $(cat aux/status)"
	[ "$(wc -l <aux/status)" -eq 2 ] || atf_fail "status: $(cat aux/status)"
	daemon_stop
	kill "$(cat server.pid)"
	v_server hugeline
	v_conf
	: >daemon.log
	daemon_start
	daemon_wait 20 "the probe" v_status2_is failed
	grep -q 'sent a line longer than 1000 bytes ("220 AAAA' aux/status ||
	    atf_fail "status: $(cat aux/status)"
	[ "$(wc -c <aux/status)" -le 2048 ] ||
	    atf_fail "status file of $(wc -c <aux/status) bytes"
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' daemon.log)" -le 1024 ] ||
	    atf_fail "a log line over 1024 bytes"
	daemon_stop
}
attack_reply_cleanup()
{
	v_cleanup
}

atf_test_case check_line cleanup
check_line_head()
{
	atf_set descr "smtlsd -C: the live probe's line, ok when sendmail" \
	    "serves the good set, FAIL when it serves another"
	atf_set require.progs "openssl python3"
	atf_set timeout 120
}
check_line_body()
{
	v_setup
	v_server ok
	daemon_conf "verify_smtp 127.0.0.1:$V_PORT" "sendmail_cf none"
	daemon_once
	rc=0
	"$SMTLSD" -C -f "$(pwd)/conf" >check.out 2>check.err || rc=$?
	grep -Eq "^ok   live probe: sendmail serves $D_DOMAIN serial [0-9A-F]+ until " check.out ||
	    { cat check.out check.err >&2; atf_fail "no ok live probe line"; }
	v_serve leaf2 int
	rc=0
	"$SMTLSD" -C -f "$(pwd)/conf" >check.out 2>check.err || rc=$?
	[ "$rc" -eq 1 ] || atf_fail "-C exited $rc with the wrong certificate"
	grep -q "^FAIL live probe: sendmail on 127.0.0.1:$V_PORT serves the wrong certificate" check.out ||
	    { cat check.out check.err >&2; atf_fail "no FAIL live probe line"; }
	# verify_smtp none: no such line.
	daemon_conf "verify_smtp none" "sendmail_cf none"
	"$SMTLSD" -C -f "$(pwd)/conf" >check.out 2>&1 || true
	grep -q 'live probe' check.out && atf_fail "a live probe line with verify_smtp none"
	return 0
}
check_line_cleanup()
{
	v_cleanup
}

atf_test_case leaks cleanup
leaks_head()
{
	atf_set descr "Under valgrind (or LeakSanitizer with SANITIZE=1):" \
	    "probes that succeed, fail or are cut short by the daemon's" \
	    "exit leak nothing and touch no memory they should not"
	atf_set require.progs "openssl python3"
	atf_set timeout 200
}
leaks_body()
{
	if grep -q __asan_init "$SMTLSD" 2>/dev/null; then
		# Built with SANITIZE=1: LeakSanitizer reports at exit (its
		# status 23), and valgrind cannot run it.
		set --
	else
		command -v valgrind >/dev/null 2>&1 ||
		    atf_skip "valgrind is not installed (sh mk/deps.sh test)"
		set -- valgrind -q --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect \
		    --error-exitcode=99
	fi
	v_setup
	for m in ok nostarttls garbage hugeline; do
		v_server "$m"
		v_conf
		rc=0
		"$@" "$SMTLSD" -1 -f "$(pwd)/conf" >/dev/null 2>"vg.$m" || rc=$?
		[ "$rc" -lt 2 ] || { cat "vg.$m" >&2;
		    atf_fail "$m: valgrind reports errors or leaks (exit $rc)"; }
		kill "$(cat server.pid)"
	done
	# The daemon ends while a probe waits on a silent listener.
	v_server silent
	v_conf
	"$@" "$SMTLSD" -d -f "$(pwd)/conf" 2>vg.daemon &
	D_PID=$!
	daemon_remember "$D_PID"
	daemon_wait 60 "the probe to start" grep -q 'probing' aux/status
	sleep 1
	kill -TERM "$D_PID"
	rc=0
	wait "$D_PID" || rc=$?
	[ "$rc" -eq 0 ] || { cat vg.daemon >&2;
	    atf_fail "daemon: valgrind reports errors or leaks (exit $rc)"; }
}
leaks_cleanup()
{
	v_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case ok
	atf_add_test_case multiline_greeting
	atf_add_test_case no_starttls
	atf_add_test_case garbage
	atf_add_test_case wrong_cert
	atf_add_test_case served_expiry
	atf_add_test_case two_sets
	atf_add_test_case chain_incomplete
	atf_add_test_case refused
	atf_add_test_case tls_stall
	atf_add_test_case daemon_stall
	atf_add_test_case sendmail_later
	atf_add_test_case daemon_reload
	atf_add_test_case attack_reply
	atf_add_test_case check_line
	atf_add_test_case leaks
}
