#! /usr/bin/env atf-sh
#
# rc.d/smtlsd against a real smtlsd daemon.
#
# FreeBSD's rc.subr does not exist on Linux, so the script is installed by
# mk/install.sh (FreeBSD layout, PREFIX in the work directory) and its one
# ". /etc/rc.subr" line is pointed at tests/rcd/rc.subr, a stand-in that
# behaves as FreeBSD 14's rc.subr in what the script uses (see its
# header): /etc/defaults/rc.conf, rc.conf, rc.conf.local and rc.conf.d/
# below $RCD_ROOT (./root here), the fast/force/one/quiet prefixes, boot
# ($autoboot: no pid check), limits -C daemon, and $pidfile evaluated
# unquoted.  It does NOT cover: rcorder(8) ordering (PROVIDE/REQUIRE/
# BEFORE/KEYWORD are only checked as text here), the rest of /etc/rc,
# limits(1) itself and login classes, smtlsd_user/chroot/nice/env and the
# other ${name}_* knobs, service jails, syslog through logger(1), and
# ps(1) (it reads /proc instead).  Those stay for a test on FreeBSD.
#
# Each test has its own work directory: configuration, CA bundle, cert_dir,
# pidfile and status file all live there, and the daemon never touches
# /etc/mail or signals anything (reload_signal none).

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

# Sets up the work directory; $1: rc.conf lines beyond the defaults.
setup()
{
	t_need_bin
	W=$PWD
	# shellcheck disable=SC2034 # read by lib.sh
	D_STATUS=$W/smtlsd.status
	P=$W/prefix
	env SMTLSD_OS=FreeBSD sh "$T_TOP/mk/install.sh" \
	    install "" "$P" > install.out 2>&1 ||
	    atf_fail "mk/install.sh failed: $(cat install.out)"
	RCD=$W/smtlsd.rc
	sed "s|^\. /etc/rc\.subr\$|. $T_SRC/rcd/rc.subr|" \
	    "$P/etc/rc.d/smtlsd" > "$RCD"
	grep -q "rcd/rc.subr" "$RCD" || atf_fail "no '. /etc/rc.subr' line"

	make_ca ca1 "smtlsd rc.d test CA one"
	make_ca ca2 "smtlsd rc.d test CA two"
	make_ca ca3 "smtlsd rc.d test CA three"
	{
		echo "Bundle for the rc.d test"
		cat ca1.pem
		echo "text between certificates"
		cat ca2.pem
	} > bundle.pem
	mkdir certs acme acme/mail.example.test

	CONF=$P/etc/smtlsd.conf
	cat > "$CONF" <<-EOF
	ca_bundle $W/bundle.pem
	cert_dir $W/certs
	pidfile $W/smtlsd.pid
	status_file $W/smtlsd.status
	dh_params $W/certs/dh.param
	dh_params_source ffdhe2048
	acme_cert $W/acme/mail.example.test
	reload_signal none
	settle 0.2
	verify_smtp none
	EOF
	chmod 600 "$CONF"

	# The rc.conf files rc.subr reads, below $ROOT.
	ROOT=$W/root
	mkdir -p "$ROOT/etc/defaults" "$ROOT/usr/local/etc"
	cat > "$ROOT/etc/defaults/rc.conf" <<-EOF
	# What rc.d/smtlsd and rc.subr use of FreeBSD 14's defaults.
	rc_conf_files="/etc/rc.conf /etc/rc.conf.local"
	rc_startmsgs="YES"
	local_startup="/usr/local/etc/rc.d"
	sendmail_enable="NO"
	sendmail_cert_create="YES"
	EOF
	RCCONF=$ROOT/etc/rc.conf
	cat > "$RCCONF" <<-EOF
	smtlsd_enable="YES"
	smtlsd_start_wait="20"
	sendmail_cert_create="NO"
	${1:-}
	EOF
	# The script, run as service(8) would, with the stand-in's root.
	RC=$W/rc
	cat > "$RC" <<-EOF
	#!/bin/sh
	exec env RCD_ROOT="$ROOT" RCD_LIMITS_LOG="$W/limits.log" sh "$RCD" "\$@"
	EOF
	chmod 755 "$RC"
}

# make_ca name subject: a self-signed CA in name.pem, its hash in name.hash.
make_ca()
{
	t_cert "$1" "/CN=$2" 30
	t_hash "$1" > "$1.hash"
}

hashfile()
{
	echo "$W/certs/$(cat "$1.hash").0"
}

# pidfile_live file: file names a live smtlsd.
pidfile_live()
{
	[ -s "$1" ] || return 1
	read -r _p _junk < "$1"
	daemon_running "$_p"
}

daemon_pid()
{
	pidfile_live "$W/smtlsd.pid" && echo "$_p"
}

# The pass number in the status file ("pid passes resyncs time state
# message") once it is past "starting".
finished_pass()
{
	_state=$(daemon_status 5)
	[ "$_state" = ok ] || [ "$_state" = failed ] || return 1
	daemon_status 2
}

# stop_daemon [pidfile]: stops the daemon the pidfile (smtlsd.pid) names,
# if it still runs, as daemon_cleanup does.
stop_daemon()
{
	[ -s "${1:-smtlsd.pid}" ] || return 0
	read -r _p _junk < "${1:-smtlsd.pid}"
	daemon_remember "$_p"
	daemon_cleanup
}

atf_test_case script_lint
script_lint_head()
{
	atf_set "descr" "rc.d/smtlsd is clean under shellcheck and has the" \
	    "rcorder(8) header of a mail-related port"
	atf_set "require.progs" "shellcheck"
}
script_lint_body()
{
	s="$T_TOP/rc.d/smtlsd"
	atf_check -s exit:0 -o empty -e empty shellcheck -s sh "$s"
	atf_check -o ignore grep -x '# PROVIDE: smtlsd' "$s"
	atf_check -o ignore grep -x '# REQUIRE: LOGIN FILESYSTEMS' "$s"
	atf_check -o ignore grep -x '# BEFORE: mail' "$s"
	atf_check -o ignore grep -x '# KEYWORD: shutdown' "$s"
	atf_check -o ignore grep -x 'rcvar="smtlsd_enable"' "$s"
	atf_check -o ignore grep -x 'extra_commands="reload resync check"' "$s"
}

atf_test_case start_status_stop cleanup
start_status_stop_head()
{
	atf_set "descr" "start runs the daemon and reports its first pass;" \
	    "status shows it; a second start is refused; stop ends it"
	atf_set "require.progs" "openssl"
}
start_status_stop_body()
{
	setup
	atf_check -s exit:0 -o match:'^Starting smtlsd\.$' \
	    -o match:'^smtlsd: pass [0-9]+ ok' -e empty \
	    "$RC" start
	pid=$(daemon_pid) || atf_fail "no live smtlsd in $W/smtlsd.pid"
	# The first pass was over when start returned.
	atf_check test -f "$(hashfile ca1)"
	atf_check test -f "$(hashfile ca2)"
	atf_check test -f "$W/certs/dh.param"

	atf_check -s exit:0 -o match:"^smtlsd is running as pid $pid\.\$" \
	    -o match:'^smtlsd: pass [0-9]+ ok [0-9]+ s ago' -e empty \
	    "$RC" status
	atf_check -s exit:1 -o empty \
	    -e match:"smtlsd already running\?  \(pid=$pid\)\.\$" \
	    "$RC" start

	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' -e empty \
	    "$RC" stop
	# stop waits for the process to be gone.
	! daemon_running "$pid" || atf_fail "pid $pid still runs"
	atf_check test ! -e "$W/smtlsd.pid"
	atf_check -s exit:1 -o match:'^smtlsd is not running\.$' \
	    "$RC" status
	atf_check -s exit:1 -e match:'smtlsd not running\?' \
	    "$RC" stop
}
start_status_stop_cleanup()
{
	stop_daemon
}

atf_test_case status_verify cleanup
status_verify_head()
{
	atf_set "descr" "status shows the STARTTLS probe's line of the status" \
	    "file: what sendmail serves, until when, how long ago"
	atf_set "require.progs" "openssl"
}
status_verify_body()
{
	setup
	atf_check -s exit:0 -o ignore -e empty "$RC" start
	pid=$(daemon_pid) || atf_fail "no live smtlsd in $W/smtlsd.pid"
	# verify_smtp none here: the probe's line says off, and status
	# shows none of it.
	atf_check -s exit:0 -o not-match:'verify' -e empty "$RC" status
	# The line a probe writes (the daemon rewrites the file only at a
	# pass, which nothing causes meanwhile).
	now=$(date +%s)
	{
		head -n 1 "$W/smtlsd.status"
		echo "verify $((now - 7)) ok sendmail serves mail.example.test" \
		    "serial 1A2B until 2027-03-01 12:00 UTC"
	} > "$W/status.tmp"
	mv "$W/status.tmp" "$W/smtlsd.status"
	atf_check -s exit:0 -o match:"^smtlsd is running as pid $pid\.\$" \
	    -o match:'^smtlsd: pass [0-9]+ ok [0-9]+ s ago' \
	    -o match:'^smtlsd: verify ok [0-9]+ s ago: sendmail serves mail\.example\.test serial 1A2B until 2027-03-01 12:00 UTC$' \
	    -e empty "$RC" status
	atf_check -s exit:0 -o ignore "$RC" stop
}
status_verify_cleanup()
{
	stop_daemon
}

atf_test_case disabled cleanup
disabled_head()
{
	atf_set "descr" "With smtlsd_enable=NO, start and resync are refused" \
	    "and the one* forms work"
	atf_set "require.progs" "openssl"
}
disabled_body()
{
	setup 'smtlsd_enable="NO"'
	atf_check -s exit:0 -o match:"Cannot 'start' smtlsd\. Set smtlsd_enable to YES" \
	    "$RC" start
	! daemon_pid > /dev/null || atf_fail "a daemon runs"
	atf_check -s exit:0 -o match:"Cannot 'resync' smtlsd" \
	    "$RC" resync
	atf_check test ! -e "$(hashfile ca1)"

	atf_check -s exit:0 -o match:'^Starting smtlsd\.$' -o ignore \
	    "$RC" onestart
	pid=$(daemon_pid) || atf_fail "onestart did not start smtlsd"
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    "$RC" onestop
	! daemon_running "$pid" || atf_fail "pid $pid still runs"
}
disabled_cleanup()
{
	stop_daemon
}

atf_test_case check
check_head()
{
	atf_set "descr" "check prints smtlsd -C's checklist and exits as it" \
	    "does; it needs no running daemon"
	atf_set "require.progs" "openssl"
}
check_body()
{
	setup
	echo "sendmail_cf $W/missing.cf" >> "$CONF"
	echo "sendmail_path $W/missing-sendmail" >> "$CONF"
	atf_check -s exit:1 \
	    -o match:"^FAIL sendmail.cf: $W/missing.cf: no such file" \
	    -o match:'^ok   leftovers: ' \
	    -o match:'^FAIL STARTTLS: ' "$RC" check
	# A good sendmail.cf is checked against smtlsd's cert_dir.
	echo "O CACertPath=$W/elsewhere" > "$W/missing.cf"
	chmod 644 "$W/missing.cf"
	atf_check -s exit:1 -o match:'^ok   sendmail.cf' \
	    -o match:"^FAIL CACertPath: $W/elsewhere, not smtlsd's cert_dir" \
	    "$RC" check
	! daemon_pid > /dev/null || atf_fail "check started a daemon"
}

atf_test_case resync_running cleanup
resync_running_head()
{
	atf_set "descr" "resync makes the running daemon do a pass, waits for" \
	    "it and reports ok"
	atf_set "require.progs" "openssl"
}
resync_running_body()
{
	setup
	atf_check -o ignore "$RC" start
	pid=$(daemon_pid) || atf_fail "smtlsd did not start"
	before=$(finished_pass) || atf_fail "start returned before pass 1"

	# A file of ours that went missing: the resync pass puts it back.
	rm "$(hashfile ca2)"
	atf_check -s exit:0 -o match:'smtlsd: resync finished: ok' \
	    "$RC" resync
	atf_check test -f "$(hashfile ca2)"
	after=$(finished_pass) || atf_fail "no finished pass after resync"
	[ "$after" -gt "$before" ] ||
	    atf_fail "pass number $before did not grow ($after)"
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"
}
resync_running_cleanup()
{
	stop_daemon
}

atf_test_case resync_failed cleanup
resync_failed_head()
{
	atf_set "descr" "resync reports a failed pass and exits 1, without" \
	    "the administrator reading syslog"
	atf_set "require.progs" "openssl"
}
resync_failed_body()
{
	setup
	atf_check -o ignore "$RC" start
	pid=$(daemon_pid) || atf_fail "smtlsd did not start"
	# cert_dir replaced by a file: no pass can write the CA directory.
	mv "$W/certs" "$W/certs.away"
	echo "not a directory" > "$W/certs"
	atf_check -s exit:1 -o match:'smtlsd: resync finished: failed: .+' \
	    -e ignore "$RC" resync
	atf_check -s exit:0 -o match:'^smtlsd: pass [0-9]+ failed' \
	    "$RC" status
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"

	rm "$W/certs"
	mv "$W/certs.away" "$W/certs"
	atf_check -s exit:0 -o match:'smtlsd: resync finished: ok' \
	    "$RC" resync
}
resync_failed_cleanup()
{
	stop_daemon
}

atf_test_case resync_stopped
resync_stopped_head()
{
	atf_set "descr" "resync with no daemon running does one pass itself"
	atf_set "require.progs" "openssl"
}
resync_stopped_body()
{
	setup
	! daemon_pid > /dev/null || atf_fail "a daemon runs"
	atf_check -s exit:0 -o match:'no daemon running; ran one pass: ok' \
	    -e ignore "$RC" resync
	atf_check test -f "$(hashfile ca1)"
	atf_check test -f "$(hashfile ca2)"
	# It did the pass and left no daemon behind.
	! daemon_pid > /dev/null || atf_fail "a daemon runs"
}

atf_test_case reload cleanup
reload_head()
{
	atf_set "descr" "reload makes the daemon use the changed configuration;" \
	    "a configuration with errors is shown and not sent, and does" \
	    "not keep status and stop from finding the daemon"
	atf_set "require.progs" "openssl"
}
reload_body()
{
	setup
	atf_check -o ignore "$RC" start
	pid=$(daemon_pid) || atf_fail "smtlsd did not start"
	atf_check test ! -e "$(hashfile ca3)"

	cp ca3.pem bundle3.pem
	echo "ca_bundle $W/bundle3.pem" >> "$CONF"
	atf_check -s exit:0 -o empty -e empty \
	    "$RC" reload
	# The same daemon now knows the new bundle: a pass writes its CA.
	atf_check -s exit:0 -o match:'resync finished: ok' \
	    "$RC" resync
	atf_check test -f "$(hashfile ca3)"
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"

	cp "$CONF" good.conf
	echo "no_such_keyword 1" >> "$CONF"
	line=$(wc -l < "$CONF" | tr -d ' ')
	atf_check -s exit:1 -o empty \
	    -e match:"smtlsd\.conf:$line: unknown keyword" \
	    -e match:"has errors; 'reload' not done" \
	    "$RC" reload
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"
	# restart is refused too, and leaves the daemon running.
	atf_check -s exit:1 -o empty -e match:"has errors; 'restart' not done" \
	    "$RC" restart
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"
	# With the pidfile unknown, status and stop still find the daemon.
	atf_check -s exit:0 -o match:"^smtlsd is running as pid $pid\.\$" \
	    -o match:"smtlsd: $CONF has errors" \
	    "$RC" status
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    "$RC" stop
	! daemon_running "$pid" || atf_fail "pid $pid still runs"
}
reload_cleanup()
{
	stop_daemon
}

atf_test_case restart cleanup
restart_head()
{
	atf_set "descr" "restart stops the daemon and starts a new one"
	atf_set "require.progs" "openssl"
}
restart_body()
{
	setup
	atf_check -o ignore "$RC" start
	old=$(daemon_pid) || atf_fail "smtlsd did not start"
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    -o match:'^Starting smtlsd\.$' -o match:'pass [0-9]+ ok' \
	    "$RC" restart
	! daemon_running "$old" || atf_fail "pid $old still runs"
	new=$(daemon_pid) || atf_fail "no daemon after restart"
	[ "$new" != "$old" ] || atf_fail "same pid $old after restart"
}
restart_cleanup()
{
	stop_daemon
}

atf_test_case start_refused
start_refused_head()
{
	atf_set "descr" "start with a missing or broken configuration fails" \
	    "and says why"
	atf_set "require.progs" "openssl"
}
start_refused_body()
{
	setup
	mv "$CONF" "$CONF.away"
	atf_check -s exit:1 -o empty -e match:"$CONF is not readable" \
	    "$RC" start
	! daemon_pid > /dev/null || atf_fail "a daemon runs"

	mv "$CONF.away" "$CONF"
	echo "settle forever" >> "$CONF"
	line=$(wc -l < "$CONF" | tr -d ' ')
	atf_check -s exit:1 -o empty -e match:"smtlsd\.conf:$line: settle" \
	    -e match:"has errors; 'start' not done" \
	    "$RC" start
	! daemon_pid > /dev/null || atf_fail "a daemon runs"
}

atf_test_case start_dies cleanup
start_dies_head()
{
	atf_set "descr" "A daemon that cannot start makes start fail at once" \
	    "with its message, also a second time"
	atf_set "require.progs" "openssl"
}
start_dies_body()
{
	setup
	# Valid for smtlsd -n, but this system has no such watch method:
	# the daemon says so on stderr and exits 1 before it detaches.
	# (The script's "exited right after it started" branch, for a
	# daemon that dies after detaching, is not exercised here.)
	case "$(uname -s)" in
	Linux)	echo "watch kqueue" >> "$CONF"; m=kqueue ;;
	*)	echo "watch inotify" >> "$CONF"; m=inotify ;;
	esac
	for attempt in first second; do
		atf_check -s exit:1 -o match:'^Starting smtlsd\.$' \
		    -e match:"watch $m is not available here" \
		    -e match:'failed to start smtlsd' \
		    "$RC" start
		! daemon_pid > /dev/null ||
		    atf_fail "a daemon runs after the $attempt start"
	done
}
start_dies_cleanup()
{
	stop_daemon
}

atf_test_case cert_create_warning cleanup
cert_create_warning_head()
{
	atf_set "descr" "start warns while sendmail_cert_create is not NO and" \
	    "while its files are still in cert_dir"
	atf_set "require.progs" "openssl"
}
cert_create_warning_body()
{
	# Not set at all: rc.conf's default is YES.
	setup 'unset sendmail_cert_create'
	atf_check -s exit:0 -o ignore \
	    -e match:'WARNING: sendmail_cert_create is not "NO"' \
	    "$RC" start
	atf_check -o ignore "$RC" stop

	echo 'sendmail_cert_create="YES"' >> "$RCCONF"
	atf_check -s exit:0 -o ignore -e match:'sendmail_cert_create' \
	    "$RC" start
	atf_check -o ignore "$RC" stop

	# sendmail not run by rc: "service sendmail onestart" still makes
	# them.
	echo 'sendmail_enable="NONE"' >> "$RCCONF"
	atf_check -s exit:0 -o ignore \
	    -e match:'WARNING: sendmail_cert_create is not "NO"' \
	    -e match:"in /etc/mail/certs \(smtlsd's cert_dir is $W/certs\)" \
	    "$RC" start
	atf_check -o ignore "$RC" stop

	echo 'sendmail_enable="YES"' >> "$RCCONF"
	echo 'sendmail_cert_create="NO"' >> "$RCCONF"
	atf_check -s exit:0 -o ignore -e empty \
	    "$RC" start
	atf_check -o ignore "$RC" stop

	# What an earlier sendmail_cert_create=YES left behind.
	touch "$W/certs/host.cert" "$W/certs/cacert.pem"
	atf_check -s exit:0 -o ignore \
	    -e match:'still holds host.cert or cacert.pem' \
	    "$RC" start
	atf_check -o ignore "$RC" stop
}
cert_create_warning_cleanup()
{
	stop_daemon
}

atf_test_case boot_faststart_faststop cleanup
boot_faststart_faststop_head()
{
	atf_set "descr" "At boot /etc/rc runs faststart (no pid check; the" \
	    "start message only with rc_startmsgs) through limits -C daemon;" \
	    "at shutdown faststop, silent when nothing runs"
	atf_set "require.progs" "openssl"
}
boot_faststart_faststop_body()
{
	setup
	atf_check -s exit:0 -o match:'^Starting smtlsd\.$' \
	    -o match:'^smtlsd: pass [0-9]+ ok' -e empty \
	    env autoboot=yes "$RC" faststart
	pid=$(daemon_pid) || atf_fail "faststart did not start smtlsd"
	atf_check -o match:"^limits -C daemon +$P/sbin/smtlsd +-f $CONF\$" \
	    cat limits.log
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' -e empty \
	    "$RC" faststop
	! daemon_running "$pid" || atf_fail "pid $pid still runs"
	atf_check -s exit:0 -o empty -e empty "$RC" faststop

	echo 'rc_startmsgs="NO"' >> "$RCCONF"
	atf_check -s exit:0 -o not-match:'Starting' -e empty \
	    env autoboot=yes "$RC" faststart
	daemon_pid > /dev/null || atf_fail "faststart did not start smtlsd"
}
boot_faststart_faststop_cleanup()
{
	stop_daemon
}

atf_test_case quietstart cleanup
quietstart_head()
{
	atf_set "descr" "quietstart starts like start; while smtlsd runs it" \
	    "fails without the 'already running' message"
	atf_set "require.progs" "openssl"
}
quietstart_body()
{
	setup
	atf_check -s exit:0 -o match:'^Starting smtlsd\.$' -e empty \
	    "$RC" quietstart
	pid=$(daemon_pid) || atf_fail "quietstart did not start smtlsd"
	atf_check -s exit:1 -o empty -e empty "$RC" quietstart
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"
	# Disabled: quiet says nothing.
	echo 'smtlsd_enable="NO"' >> "$RCCONF"
	atf_check -s exit:0 -o empty -e empty "$RC" quietstart
}
quietstart_cleanup()
{
	stop_daemon
}

atf_test_case pidfile_space cleanup
pidfile_space_head()
{
	atf_set "descr" "A pidfile whose path has a space (which rc.subr" \
	    "evaluates unquoted) works for start, status, restart and stop"
	atf_set "require.progs" "openssl"
}
pidfile_space_body()
{
	setup
	mkdir "$W/run dir"
	echo "pidfile \"$W/run dir/smtlsd.pid\"" >> "$CONF"
	atf_check -s exit:0 -o match:'^Starting smtlsd\.$' \
	    -o match:'pass [0-9]+ ok' -e empty "$RC" start
	read -r pid _junk < "$W/run dir/smtlsd.pid"
	daemon_running "$pid" || atf_fail "no smtlsd as $W/run dir/smtlsd.pid says"
	atf_check -s exit:0 -o match:"^smtlsd is running as pid $pid\.\$" \
	    -o match:'pass [0-9]+ ok' -e empty "$RC" status
	atf_check -s exit:1 -e match:"already running\?  \(pid=$pid\)" \
	    "$RC" start
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    -o match:'^Starting smtlsd\.$' -e empty "$RC" restart
	! daemon_running "$pid" || atf_fail "pid $pid still runs after restart"
	read -r pid _junk < "$W/run dir/smtlsd.pid"
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' -e empty \
	    "$RC" stop
	! daemon_running "$pid" || atf_fail "pid $pid still runs"
	atf_check -s exit:1 -o match:'^smtlsd is not running\.$' \
	    "$RC" status
	# Nothing of the script's is left in /tmp.
	atf_check -o empty find /tmp -maxdepth 1 -name 'smtlsd.rc.*' \
	    -newer "$CONF"
}
pidfile_space_cleanup()
{
	stop_daemon "run dir/smtlsd.pid"
}

atf_test_case broken_config_two_instances cleanup
broken_config_two_instances_head()
{
	atf_set "descr" "With errors in smtlsd_config, status and stop reach" \
	    "the daemon started with it, and never a second smtlsd with its" \
	    "own configuration and pidfile"
	atf_set "require.progs" "openssl pgrep"
}
broken_config_two_instances_body()
{
	setup
	atf_check -o ignore "$RC" start
	pid=$(daemon_pid) || atf_fail "smtlsd did not start"

	# A second instance: its own configuration, pidfile, everything.
	mkdir other other/certs
	sed -e "s|$W/smtlsd.pid|$W/other/smtlsd.pid|" \
	    -e "s|$W/smtlsd.status|$W/other/smtlsd.status|" \
	    -e "s|$W/certs|$W/other/certs|g" "$CONF" > other/smtlsd.conf
	chmod 600 other/smtlsd.conf
	atf_check -o ignore -e ignore "$P/sbin/smtlsd" -f "$W/other/smtlsd.conf"
	daemon_wait 10 "the second smtlsd to start" \
	    pidfile_live other/smtlsd.pid
	read -r other _junk < other/smtlsd.pid
	[ "$other" != "$pid" ] || atf_fail "one pid for two daemons"

	echo "no_such_keyword 1" >> "$CONF"
	atf_check -s exit:0 -o match:"^smtlsd is running as pid $pid\.\$" \
	    -o not-match:"$other" -o match:"$CONF has errors" \
	    "$RC" status
	atf_check -s exit:1 -e match:"already running\?  \(pid=$pid\)\." \
	    "$RC" start
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    -o not-match:"$other" "$RC" stop
	! daemon_running "$pid" || atf_fail "our pid $pid still runs"
	daemon_running "$other" || atf_fail "stop killed the other smtlsd ($other)"
	atf_check -s exit:1 -o match:'^smtlsd is not running\.$' \
	    "$RC" status
	atf_check -s exit:1 -e match:'smtlsd not running\?' "$RC" stop
	daemon_running "$other" || atf_fail "the other smtlsd ($other) is gone"
}
broken_config_two_instances_cleanup()
{
	stop_daemon
	stop_daemon other/smtlsd.pid
}

atf_test_case rc_conf_d cleanup
rc_conf_d_head()
{
	atf_set "descr" "Settings come from rc.conf, rc.conf.local and" \
	    "rc.conf.d/smtlsd (a file, or a directory of files, also" \
	    "below local_startup), later ones winning, as in rc.subr"
	atf_set "require.progs" "openssl"
}
rc_conf_d_body()
{
	setup 'smtlsd_enable="NO"'
	atf_check -s exit:0 -o match:"Cannot 'start'" "$RC" start
	mkdir "$ROOT/etc/rc.conf.d"
	echo 'smtlsd_enable="YES"' > "$ROOT/etc/rc.conf.d/smtlsd"
	# A wait that is not a number is reported: proof it was read.
	mkdir -p "$ROOT/usr/local/etc/rc.conf.d/smtlsd"
	echo 'smtlsd_start_wait="soon"' \
	    > "$ROOT/usr/local/etc/rc.conf.d/smtlsd/wait"
	atf_check -s exit:0 -o match:'^Starting smtlsd\.$' \
	    -e match:'smtlsd_start_wait is not a number' "$RC" start
	daemon_wait 10 "smtlsd to start" pidfile_live smtlsd.pid
	atf_check -o ignore "$RC" stop
	# rc.conf.local comes after rc.conf and before rc.conf.d.
	rm "$ROOT/usr/local/etc/rc.conf.d/smtlsd/wait"
	echo 'smtlsd_flags="-z"' > "$ROOT/etc/rc.conf.local"
	atf_check -s exit:1 -o ignore -e match:'failed to start smtlsd' \
	    "$RC" start
	echo 'smtlsd_flags=""' >> "$ROOT/etc/rc.conf.d/smtlsd"
	atf_check -s exit:0 -o match:'pass [0-9]+ ok' "$RC" start
}
rc_conf_d_cleanup()
{
	stop_daemon
}

atf_test_case describe_rcvar_enable
describe_rcvar_enable_head()
{
	atf_set "descr" "describe, extracommands, rcvar, enable and disable" \
	    "answer as rc.subr's do"
	atf_set "require.progs" "openssl"
}
describe_rcvar_enable_body()
{
	setup 'smtlsd_enable="NO"'
	atf_check -o inline:"Keep sendmail's STARTTLS certificates, CA directory and DH parameters right\n" \
	    "$RC" describe
	# rc.subr asks for smtlsd_enable before extracommands, too.
	atf_check -o match:"Cannot 'extracommands' smtlsd" "$RC" extracommands
	atf_check -o inline:"reload resync check\n" "$RC" oneextracommands
	atf_check -o inline:"# smtlsd : Keep sendmail's STARTTLS certificates, CA directory and DH parameters right\n#\nsmtlsd_enable=\"NO\"\n#   (default: \"\")\n\n" \
	    "$RC" rcvar
	atf_check -s exit:1 "$RC" enabled
	atf_check -o inline:"smtlsd enabled in /etc/rc.conf\n" "$RC" enable
	atf_check -o match:'^smtlsd_enable="YES"$' cat "$RCCONF"
	atf_check -s exit:0 "$RC" enabled
	atf_check -o inline:"smtlsd disabled in /etc/rc.conf\n" "$RC" disable
	atf_check -s exit:1 "$RC" enabled
	atf_check -s exit:1 -e match:'Usage: .*\(start\|stop\|.*\|resync\|check\|status\|poll\)' \
	    "$RC" frobnicate
}

atf_init_test_cases()
{
	atf_add_test_case boot_faststart_faststop
	atf_add_test_case quietstart
	atf_add_test_case pidfile_space
	atf_add_test_case broken_config_two_instances
	atf_add_test_case rc_conf_d
	atf_add_test_case describe_rcvar_enable
	atf_add_test_case script_lint
	atf_add_test_case start_status_stop
	atf_add_test_case status_verify
	atf_add_test_case disabled
	atf_add_test_case check
	atf_add_test_case resync_running
	atf_add_test_case resync_failed
	atf_add_test_case resync_stopped
	atf_add_test_case reload
	atf_add_test_case restart
	atf_add_test_case start_refused
	atf_add_test_case start_dies
	atf_add_test_case cert_create_warning
}
