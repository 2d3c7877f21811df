#! /usr/bin/env atf-sh
#
# rc.d/smtlsd against a real smtlsd daemon.
#
# FreeBSD's rc.subr does not exist on Linux, so the script is installed by
# mk/install.sh (FreeBSD layout, PREFIX in the work directory) and its one
# ". /etc/rc.subr" line is pointed at tests/rcd/rc.subr, a small stand-in
# that implements the rc.subr functions the script uses.  The stand-in
# does NOT cover: rcorder(8) ordering (PROVIDE/REQUIRE/BEFORE/KEYWORD are
# only checked as text here), boot through /etc/rc (autoboot, "fast"),
# /etc/defaults/rc.conf and rc.conf.d, limits(1) and login classes,
# smtlsd_user/chroot/nice/env and the other ${name}_* knobs, service jails,
# syslog through logger(1), and ps(1) (it reads /proc instead).  Those
# stay for a test on FreeBSD itself.
#
# Each test has its own work directory: configuration, CA bundle, cert_dir,
# pidfile and status file all live there, and the daemon never touches
# /etc/mail or signals anything (reload_signal none).

# Sets up the work directory; $1: rc.conf lines beyond the defaults.
setup()
{
	smtlsd="$(atf_get_srcdir)/../daemon/smtlsd"
	[ -x "$smtlsd" ] || atf_fail "$smtlsd is not built"
	W=$PWD
	P=$W/prefix
	env SMTLSD_OS=FreeBSD sh "$(atf_get_srcdir)/../mk/install.sh" \
	    install "" "$P" > install.out 2>&1 ||
	    atf_fail "mk/install.sh failed: $(cat install.out)"
	RCD=$W/smtlsd.rc
	sed "s|^\. /etc/rc\.subr\$|. $(atf_get_srcdir)/rcd/rc.subr|" \
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
	EOF
	chmod 600 "$CONF"

	RCCONF=$W/rc.conf
	cat > "$RCCONF" <<-EOF
	smtlsd_enable="YES"
	smtlsd_start_wait="20"
	sendmail_cert_create="NO"
	${1:-}
	EOF
}

# make_ca name subject: a self-signed CA in name.pem, its hash in name.hash.
make_ca()
{
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
	    > /dev/null 2>&1 || atf_fail "openssl could not make $1"
	openssl x509 -noout -subject_hash -in "$1.pem" > "$1.hash"
}

hashfile()
{
	echo "$W/certs/$(cat "$1.hash").0"
}

daemon_pid()
{
	[ -s "$W/smtlsd.pid" ] || return 1
	read -r _p _junk < "$W/smtlsd.pid"
	alive "$_p" && echo "$_p"
}

# alive pid: the process runs (not a zombie) and is smtlsd.
alive()
{
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] &&
	    tr '\0' '\n' < "/proc/$1/cmdline" | head -n 1 | grep -q 'smtlsd$'
}

dead()
{
	! alive "$1"
}

status_field()
{
	cut -d ' ' -f "$1" "$W/smtlsd.status"
}

# The pass number in the status file ("pid passes resyncs time state
# message") once it is past "starting".
finished_pass()
{
	_state=$(status_field 5)
	[ "$_state" = ok ] || [ "$_state" = failed ] || return 1
	status_field 2
}

# Stops whatever daemon a test left behind.
stop_daemon()
{
	[ -s smtlsd.pid ] || return 0
	read -r _p _junk < smtlsd.pid
	alive "$_p" || return 0
	kill -TERM "$_p"
	_n=50
	while alive "$_p" && [ $_n -gt 0 ]; do
		sleep 0.1
		_n=$(( _n - 1 ))
	done
	alive "$_p" && kill -KILL "$_p"
	return 0
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
	s="$(atf_get_srcdir)/../rc.d/smtlsd"
	atf_check -s exit:0 -o empty -e empty shellcheck -s sh "$s"
	atf_check -o ignore grep -x '# PROVIDE: smtlsd' "$s"
	atf_check -o ignore grep -x '# REQUIRE: LOGIN FILESYSTEMS' "$s"
	atf_check -o ignore grep -x '# BEFORE: mail' "$s"
	atf_check -o ignore grep -x '# KEYWORD: shutdown' "$s"
	atf_check -o ignore grep -x 'rcvar="smtlsd_enable"' "$s"
	atf_check -o ignore grep -x 'extra_commands="reload resync"' "$s"
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
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	pid=$(daemon_pid) || atf_fail "no live smtlsd in $W/smtlsd.pid"
	# The first pass was over when start returned.
	atf_check test -f "$(hashfile ca1)"
	atf_check test -f "$(hashfile ca2)"
	atf_check test -f "$W/certs/dh.param"

	atf_check -s exit:0 -o match:"^smtlsd is running as pid $pid\.\$" \
	    -o match:'^smtlsd: pass [0-9]+ ok [0-9]+ s ago' -e empty \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" status
	atf_check -s exit:1 -o empty \
	    -e match:"smtlsd already running\? \(pid=$pid\)" \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start

	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' -e empty \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" stop
	# stop waits for the process to be gone.
	dead "$pid" || atf_fail "pid $pid still runs"
	atf_check test ! -e "$W/smtlsd.pid"
	atf_check -s exit:1 -o match:'^smtlsd is not running\.$' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" status
	atf_check -s exit:1 -e match:'smtlsd not running\?' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" stop
}
start_status_stop_cleanup()
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
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	! daemon_pid > /dev/null || atf_fail "a daemon runs"
	atf_check -s exit:0 -o match:"Cannot 'resync' smtlsd" \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" resync
	atf_check test ! -e "$(hashfile ca1)"

	atf_check -s exit:0 -o match:'^Starting smtlsd\.$' -o ignore \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" onestart
	pid=$(daemon_pid) || atf_fail "onestart did not start smtlsd"
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" onestop
	dead "$pid" || atf_fail "pid $pid still runs"
}
disabled_cleanup()
{
	stop_daemon
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
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	pid=$(daemon_pid) || atf_fail "smtlsd did not start"
	before=$(finished_pass) || atf_fail "start returned before pass 1"

	# A file of ours that went missing: the resync pass puts it back.
	rm "$(hashfile ca2)"
	atf_check -s exit:0 -o match:'smtlsd: resync finished: ok' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" resync
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
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	pid=$(daemon_pid) || atf_fail "smtlsd did not start"
	# cert_dir replaced by a file: no pass can write the CA directory.
	mv "$W/certs" "$W/certs.away"
	echo "not a directory" > "$W/certs"
	atf_check -s exit:1 -o match:'smtlsd: resync finished: failed: .+' \
	    -e ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" resync
	atf_check -s exit:0 -o match:'^smtlsd: pass [0-9]+ failed' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" status
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"

	rm "$W/certs"
	mv "$W/certs.away" "$W/certs"
	atf_check -s exit:0 -o match:'smtlsd: resync finished: ok' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" resync
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
	    -e ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" resync
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
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	pid=$(daemon_pid) || atf_fail "smtlsd did not start"
	atf_check test ! -e "$(hashfile ca3)"

	cp ca3.pem bundle3.pem
	echo "ca_bundle $W/bundle3.pem" >> "$CONF"
	atf_check -s exit:0 -o empty -e empty \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" reload
	# The same daemon now knows the new bundle: a pass writes its CA.
	atf_check -s exit:0 -o match:'resync finished: ok' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" resync
	atf_check test -f "$(hashfile ca3)"
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"

	cp "$CONF" good.conf
	echo "no_such_keyword 1" >> "$CONF"
	line=$(wc -l < "$CONF" | tr -d ' ')
	atf_check -s exit:1 -o empty \
	    -e match:"smtlsd\.conf:$line: unknown keyword" \
	    -e match:"has errors; 'reload' not done" \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" reload
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"
	# restart is refused too, and leaves the daemon running.
	atf_check -s exit:1 -o empty -e match:"has errors; 'restart' not done" \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" restart
	[ "$(daemon_pid)" = "$pid" ] || atf_fail "daemon $pid is gone"
	# With the pidfile unknown, status and stop still find the daemon.
	atf_check -s exit:0 -o match:"^smtlsd is running as pid $pid\.\$" \
	    -o match:"smtlsd: $CONF has errors" \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" status
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" stop
	dead "$pid" || atf_fail "pid $pid still runs"
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
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	old=$(daemon_pid) || atf_fail "smtlsd did not start"
	atf_check -s exit:0 -o match:'^Stopping smtlsd\.$' \
	    -o match:'^Starting smtlsd\.$' -o match:'pass [0-9]+ ok' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" restart
	dead "$old" || atf_fail "pid $old still runs"
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
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	! daemon_pid > /dev/null || atf_fail "a daemon runs"

	mv "$CONF.away" "$CONF"
	echo "settle forever" >> "$CONF"
	line=$(wc -l < "$CONF" | tr -d ' ')
	atf_check -s exit:1 -o empty -e match:"smtlsd\.conf:$line: settle" \
	    -e match:"has errors; 'start' not done" \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
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
		    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
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
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" stop

	echo 'sendmail_cert_create="YES"' >> "$RCCONF"
	atf_check -s exit:0 -o ignore -e match:'sendmail_cert_create' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" stop

	# sendmail not run by rc at all: nothing to warn about.
	echo 'sendmail_enable="NONE"' >> "$RCCONF"
	atf_check -s exit:0 -o ignore -e empty \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" stop

	echo 'sendmail_enable="YES"' >> "$RCCONF"
	echo 'sendmail_cert_create="NO"' >> "$RCCONF"
	atf_check -s exit:0 -o ignore -e empty \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" stop

	# What an earlier sendmail_cert_create=YES left behind.
	touch "$W/certs/host.cert" "$W/certs/cacert.pem"
	atf_check -s exit:0 -o ignore \
	    -e match:'still holds host.cert or cacert.pem' \
	    env RCD_RC_CONF="$RCCONF" sh "$RCD" start
	atf_check -o ignore env RCD_RC_CONF="$RCCONF" sh "$RCD" stop
}
cert_create_warning_cleanup()
{
	stop_daemon
}

atf_init_test_cases()
{
	atf_add_test_case script_lint
	atf_add_test_case start_status_stop
	atf_add_test_case disabled
	atf_add_test_case resync_running
	atf_add_test_case resync_failed
	atf_add_test_case resync_stopped
	atf_add_test_case reload
	atf_add_test_case restart
	atf_add_test_case start_refused
	atf_add_test_case start_dies
	atf_add_test_case cert_create_warning
}
