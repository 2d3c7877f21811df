#! /usr/bin/env atf-sh
# The running daemon's watching (issue 3, "Watching"): the CA store
# follows the bundle however it is changed, a burst gives one pass,
# changes during a pass are not lost, and idle means idle.

# SC2016: the single-quoted conditions are evaluated later, by eval.
# shellcheck disable=SC1091,SC2016
. "$(atf_get_srcdir)/lib.sh"

# How late the store may follow a change, beyond settle (seconds).
MARGIN=2

# follows DESC CMD...: CMD becomes true within settle + MARGIN of now
# (call it right after the change).
follows()
{
	_f_desc=$1
	shift
	_f_t0=$(daemon_ms)
	daemon_wait 20 "$_f_desc" "$@"
	_f_ms=$(($(daemon_ms) - _f_t0))
	_f_max=$(echo "$D_SETTLE $MARGIN" | awk '{ printf "%d", ($1 + $2) * 1000 }')
	[ "$_f_ms" -le "$_f_max" ] ||
	    atf_fail "$_f_desc took $_f_ms ms (settle $D_SETTLE s + ${MARGIN} s)"
	echo "$_f_desc: $_f_ms ms"
}

# newca NAME: one more unrelated CA, pki/NAME.pem.
newca()
{
	t_cert "pki/$1" "/O=smtlsd test/CN=Unrelated CA $1"
}

# --------------------------------------------------------------------

atf_test_case bundle_changes cleanup
bundle_changes_head()
{
	atf_set descr "The store follows the bundle within settle when it is" \
	    "replaced by rename, rewritten in place, deleted and re-created;" \
	    "sendmail is not reloaded for that"
	atf_set require.progs "openssl"
	atf_set timeout 90
}
bundle_changes_body()
{
	daemon_setup
	newca other3
	newca other4
	daemon_conf
	daemon_once
	daemon_sendmail
	daemon_start
	daemon_in_store root || atf_fail "the root is not in the store"
	daemon_in_store other1 || atf_fail "other1 is not in the store"

	# Replaced by rename.
	cat pki/root.pem pki/other1.pem pki/other2.pem pki/other3.pem >new.pem
	mv new.pem bundle.pem
	follows "other3 after a rename" daemon_in_store other3

	# Rewritten in place (same inode): other1 leaves.
	cat pki/root.pem pki/other2.pem pki/other3.pem >bundle.pem
	follows "other1 removed after an in-place rewrite" \
	    daemon_not_in_store other1

	# Deleted: the pass fails, nothing is removed.
	p=$(daemon_passes)
	rm bundle.pem
	daemon_wait 10 "a pass after the bundle was deleted" \
	    daemon_passed $((p + 1))
	[ "$(daemon_status 5)" = failed ] ||
	    atf_fail "status is not failed without the bundle: $(cat aux/status)"
	grep -q "bundle.pem" aux/status ||
	    atf_fail "the status does not name the missing bundle"
	daemon_in_store other3 ||
	    atf_fail "other3 was removed while the bundle was missing"

	# Re-created: followed, and all good again.
	cat pki/root.pem pki/other4.pem >bundle.pem
	follows "other4 after the bundle came back" daemon_in_store other4
	daemon_wait 10 "status ok" eval '[ "$(daemon_status 5)" = ok ]'
	daemon_not_in_store other3 ||
	    atf_fail "other3 stayed after the bundle came back without it"

	# Deleted and re-created at once (within settle).
	rm bundle.pem
	cat pki/root.pem pki/other1.pem >bundle.pem
	follows "other1 after delete and re-create" daemon_in_store other1
	daemon_not_in_store other4 || atf_fail "other4 stayed"
	# sendmail reads the CA directory per connection: no reload.
	daemon_hups_are 0 || atf_fail "sendmail was reloaded for the CA store"
}
bundle_changes_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case slow_writer cleanup
slow_writer_head()
{
	atf_set descr "A bundle rewritten in place by a writer that pauses" \
	    "longer than settle between two certificates is read only once" \
	    "the writer closes it: nothing it still holds leaves the store"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
slow_writer_body()
{
	daemon_setup
	newca other3
	daemon_conf
	cat pki/root.pem pki/other1.pem pki/other2.pem pki/other3.pem \
	    >bundle.pem
	daemon_once
	daemon_start
	p=$(daemon_passes)
	# First the root, then a pause of ten settle times, then the rest.
	(
		exec 3>bundle.pem
		cat pki/root.pem >&3
		sleep 3
		cat pki/other1.pem pki/other2.pem pki/other3.pem >&3
		exec 3>&-
		echo closed >closed
	) &
	daemon_remember $!
	sleep 1.5
	[ -e closed ] && atf_fail "the writer was quicker than planned"
	[ "$(daemon_passes)" -eq "$p" ] ||
	    atf_fail "a pass read the bundle while it was being written"
	daemon_in_store other3 || atf_fail "other3 left the store meanwhile"
	daemon_logged 1 "bundle.pem: still open for writing; waiting" ||
	    atf_fail "no message about the writer"
	daemon_wait 10 "the writer" test -e closed
	daemon_wait 10 "a pass after the close" daemon_passed $((p + 1))
	[ "$(daemon_passes)" -eq $((p + 1)) ] ||
	    atf_fail "more than one pass for one rewrite"
	for ca in root other1 other2 other3; do
		daemon_in_store "$ca" || atf_fail "$ca left the store"
	done
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
}
slow_writer_cleanup()
{
	daemon_cleanup
}

atf_test_case writer_never_closes cleanup
writer_never_closes_head()
{
	atf_set descr "A writer that keeps the bundle open is waited for 30 s" \
	    "after settle, then the bundle is read as it is, with a warning"
	atf_set require.progs "openssl"
	atf_set timeout 90
}
writer_never_closes_body()
{
	daemon_setup
	daemon_conf
	daemon_once
	daemon_start
	p=$(daemon_passes)
	(
		exec 3>>bundle.pem
		echo "# a comment, and the file stays open" >&3
		sleep 60
	) &
	daemon_remember $!
	daemon_wait_log "bundle.pem: still open for writing; waiting"
	t0=$(daemon_ms)
	daemon_wait 40 "the pass after 30 s" daemon_passed $((p + 1))
	waited=$(($(daemon_ms) - t0))
	echo "read after $waited ms"
	[ "$waited" -ge 28000 ] || atf_fail "read after $waited ms, not 30 s"
	daemon_logged 1 "bundle.pem: still open for writing after 30 s; reading it as it is" ||
	    atf_fail "no warning"
	daemon_in_store root || atf_fail "the root left the store"
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
}
writer_never_closes_cleanup()
{
	daemon_cleanup
}

atf_test_case bundle_symlink cleanup
bundle_symlink_head()
{
	atf_set descr "A bundle reached through a symbolic link: the store" \
	    "follows when the link is swapped and when its target changes"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
bundle_symlink_body()
{
	daemon_setup
	newca other3
	mkdir -p real
	cp bundle.pem real/a.pem
	cat pki/root.pem pki/other3.pem >real/b.pem
	rm bundle.pem
	ln -s real/a.pem bundle.pem
	daemon_conf
	daemon_start
	daemon_in_store other1 || atf_fail "other1 is not in the store"
	ln -s real/b.pem new.lnk
	mv -f new.lnk bundle.pem
	follows "other3 after the link was swapped" daemon_in_store other3
	daemon_not_in_store other1 || atf_fail "other1 stayed"
	cat pki/root.pem pki/other3.pem pki/other2.pem >real/b.pem
	follows "other2 after the link's target was rewritten" \
	    daemon_in_store other2
}
bundle_symlink_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case burst cleanup
burst_head()
{
	atf_set descr "A burst of hundreds of writes to the bundle gives one" \
	    "pass, after the burst"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
burst_body()
{
	# A longer settle: the burst's writes must come closer together
	# than settle even on a busy machine.
	D_SETTLE=0.8
	daemon_setup
	newca other3
	daemon_conf
	daemon_start
	p=$(daemon_passes)
	logged=$(daemon_count 'pass [0-9]+:')
	cp bundle.pem orig.pem
	i=0
	while [ $i -lt 300 ]; do
		echo "# comment $i" >>bundle.pem
		i=$((i + 1))
	done
	i=0
	while [ $i -lt 100 ]; do
		{ cat orig.pem; echo "# rename $i"; } >new.pem
		mv new.pem bundle.pem
		i=$((i + 1))
	done
	cat orig.pem pki/other3.pem >>bundle.pem
	daemon_wait 20 "other3 in the store" daemon_in_store other3
	# Absence of a second pass: wait well beyond settle.
	sleep 1.5
	[ "$(daemon_passes)" -eq $((p + 1)) ] ||
	    atf_fail "400 writes gave $(($(daemon_passes) - p)) passes, not 1"
	[ "$(daemon_count 'pass [0-9]+:')" -eq $((logged + 1)) ] ||
	    atf_fail "the log shows more than one pass for the burst"
}
burst_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

# during_pass METHOD: a change to the bundle made while a pass runs,
# after that pass has read the bundle, starts another pass.  strace
# holds every getdents64 of smtlsd for 0.4 s, which makes a pass slow;
# the change is made while the pass reads cert_dir, after the bundle.
during_pass()
{
	daemon_setup
	newca other3
	newca other4
	if [ "$1" = poll ]; then
		daemon_conf "watch poll" "poll_interval 0.1"
	else
		daemon_conf
	fi
	daemon_start
	daemon_slow getdents64 400000 tr/inject
	p=$(daemon_passes)
	cat pki/root.pem pki/other3.pem >bundle.pem
	daemon_wait 20 "the pass to reach cert_dir" daemon_at_certdir tr/inject
	cat pki/root.pem pki/other4.pem >bundle.pem
	echo "changed the bundle at $(daemon_now)"
	kill -TERM "$D_STRACE"	# lets go: the next pass runs at full speed
	daemon_wait 30 "other4 in the store (the change during the pass)" \
	    daemon_in_store other4
	daemon_not_in_store other3 || atf_fail "other3 stayed"
	# other4's file is there before the pass that wrote it says it is
	# over (the status comes last): wait for that, not for the file.
	daemon_wait 10 "a second pass to finish" daemon_passed $((p + 2))
	daemon_wait 10 "status ok" eval '[ "$(daemon_status 5)" = ok ]'
}

atf_test_case during_pass cleanup
during_pass_head()
{
	atf_set descr "A change that arrives during a pass starts another" \
	    "pass after it (inotify/kqueue): none is lost"
	atf_set require.progs "openssl strace"
	atf_set timeout 90
}
during_pass_body()
{
	daemon_need_strace
	during_pass native
}
during_pass_cleanup()
{
	daemon_cleanup
}

atf_test_case during_pass_poll cleanup
during_pass_poll_head()
{
	atf_set descr "A change that arrives during a pass starts another" \
	    "pass after it with watch poll too"
	atf_set require.progs "openssl strace"
	atf_set timeout 90
}
during_pass_poll_body()
{
	daemon_need_strace
	during_pass poll
}
during_pass_poll_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case during_first_pass cleanup
during_first_pass_head()
{
	atf_set descr "A change made during the first pass, after it read" \
	    "the bundle, is not lost (smtlsd runs under strace, which makes" \
	    "its passes slow)"
	atf_set require.progs "openssl strace"
	atf_set timeout 90
}
during_first_pass_body()
{
	daemon_need_strace
	daemon_setup
	newca other3
	daemon_conf
	timeout 60 strace -o tr/inject -e trace=getdents64,openat \
	    -e inject=getdents64:delay_enter=400000 \
	    "$SMTLSD" -d -v -f "$(pwd)/conf" 2>>daemon.log &
	daemon_remember $!
	daemon_wait 20 "the first pass to reach cert_dir" \
	    daemon_at_certdir tr/inject
	D_PID=$(cat aux/smtlsd.pid)
	daemon_remember "$D_PID"
	cat pki/root.pem pki/other3.pem >bundle.pem
	daemon_wait 30 "other3 in the store (the change during the first pass)" \
	    daemon_in_store other3
}
during_first_pass_cleanup()
{
	daemon_cleanup
}

atf_test_case during_hup_pass cleanup
during_hup_pass_head()
{
	atf_set descr "A change made during the pass after SIGHUP, after it" \
	    "read the bundle, is not lost"
	atf_set require.progs "openssl strace"
	atf_set timeout 90
}
during_hup_pass_body()
{
	daemon_need_strace
	daemon_setup
	newca other3
	daemon_conf
	daemon_start
	daemon_slow getdents64 400000 tr/inject
	kill -HUP "$D_PID"
	daemon_wait 20 "the pass after SIGHUP to reach cert_dir" \
	    daemon_at_certdir tr/inject
	cat pki/root.pem pki/other3.pem >bundle.pem
	daemon_wait 30 "other3 in the store (the change during the pass)" \
	    daemon_in_store other3
}
during_hup_pass_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

# exhaust: smtlsd ($D_PID) is running; strace attaches to it and makes
# every inotify_add_watch from now on fail with ENOSPC, as when root's
# fs.inotify.max_user_watches are used up (by thousands of domains, or
# by another process); D_STRACE is strace's pid.  D_WARNING matches
# the warning about it.  Then a full pass
# (SIGUSR1), whose re-arm finds room for no watch.
D_WARNING="watch inotify: no room to watch [0-9]+ of [0-9]+ paths; polling them every 0.2 s instead \(raise fs.inotify.max_user_watches, or have fewer domains\)"
exhaust()
{
	timeout 120 strace -p "$D_PID" -o tr/inject \
	    -e trace=inotify_add_watch \
	    -e inject=inotify_add_watch:error=ENOSPC 2>tr/inject.err &
	D_STRACE=$!
	daemon_remember "$D_STRACE"
	daemon_wait 10 "strace to attach" grep -q attached tr/inject.err
	_e_p=$(daemon_passes)
	kill -USR1 "$D_PID"
	daemon_wait 10 "the pass after SIGUSR1" daemon_passed $((_e_p + 1))
	grep -q 'inotify_add_watch(.*ENOSPC' tr/inject ||
	    atf_fail "strace injected no ENOSPC"
}

# more_passes N: N full passes (SIGUSR1), one after the other.
more_passes()
{
	_m_i=0
	while [ $_m_i -lt "$1" ]; do
		_m_p=$(daemon_passes)
		kill -USR1 "$D_PID"
		daemon_wait 10 "pass $((_m_p + 1))" daemon_passed $((_m_p + 1))
		_m_i=$((_m_i + 1))
	done
}

# exhausted_start: smtlsd with polling every 0.2 s, a CA other3 to add
# later, and no inotify watch left (exhaust); skips where that cannot be.
exhausted_start()
{
	daemon_need_strace
	[ "$(uname -s)" = Linux ] || atf_skip "inotify only"
	daemon_setup
	newca other3
	daemon_conf "poll_interval 0.2"
	daemon_start
	exhaust
}

atf_test_case exhausted cleanup
exhausted_head()
{
	atf_set descr "With no inotify watches left, smtlsd warns once over" \
	    "many re-arms and polls what it could not watch: a bundle" \
	    "change and a renewal are still seen"
	atf_set require.progs "openssl strace"
	atf_set timeout 90
}
exhausted_body()
{
	exhausted_start
	more_passes 3
	# The bundle and the domain directory are polled now.
	cat pki/root.pem pki/other3.pem >bundle.pem
	follows "other3 after a rewrite of the polled bundle" \
	    daemon_in_store other3
	daemon_install leaf1
	daemon_wait 10 "the renewal in the polled domain directory" \
	    daemon_logged 1 "certificate set is complete and valid|new certificate"
	more_passes 2
	n=$(daemon_count "no room to watch")
	[ "$n" -eq 1 ] || atf_fail "$n warnings about watches, not 1"
	daemon_logged 1 "$D_WARNING" || atf_fail "the warning says too little"
	daemon_logged 1 "inotify: watching" &&
	    atf_fail "a warning for each path that could not be watched"
	daemon_logged 1 "polling stopped" &&
	    atf_fail "said polling stopped while still exhausted"
	n=$(grep -c 'ENOSPC' tr/inject)
	[ "$n" -ge 10 ] || atf_fail "only $n calls refused: too few re-arms"
}
exhausted_cleanup()
{
	daemon_cleanup
}

atf_test_case exhausted_recovers cleanup
exhausted_recovers_head()
{
	atf_set descr "Once there are inotify watches again, the next re-arm" \
	    "says so once and stops polling: idle is idle again, and changes" \
	    "are still seen"
	atf_set require.progs "openssl strace"
	atf_set timeout 90
}
exhausted_recovers_body()
{
	exhausted_start
	daemon_logged 1 "$D_WARNING" || atf_fail "no warning about watches"
	kill -TERM "$D_STRACE"	# room again
	daemon_wait 10 "strace to detach" daemon_dead "$D_STRACE"
	n=$(daemon_syscalls "$D_PID" 1 tr/polling)
	grep -q 'bundle.pem' tr/polling ||
	    atf_fail "the bundle is not polled while exhausted ($n calls)"
	more_passes 2
	daemon_wait_log "watch inotify: every path is watched again; polling stopped"
	n=$(daemon_count 'polling stopped')
	[ "$n" -eq 1 ] || atf_fail "said $n times that polling stopped"
	# Let the last settle timer run out.
	sleep 0.6
	n=$(daemon_syscalls "$D_PID" 2 tr/idle)
	if [ "$n" -ne 0 ]; then
		head -n 40 tr/idle >&2
		atf_fail "smtlsd made $n system calls in 2 idle seconds"
	fi
	cat pki/root.pem pki/other3.pem >bundle.pem
	follows "other3 after the bundle changed" daemon_in_store other3
	n=$(daemon_count 'no room to watch')
	[ "$n" -eq 1 ] || atf_fail "$n warnings about watches, not 1"
}
exhausted_recovers_cleanup()
{
	daemon_cleanup
}

atf_test_case idle cleanup
idle_head()
{
	atf_set descr "Idle means idle: with event-based watching smtlsd" \
	    "makes no system call for 3 s and has no timer armed; it still" \
	    "notices a change afterwards"
	atf_set require.progs "openssl strace"
	atf_set timeout 60
}
idle_body()
{
	daemon_need_strace
	daemon_setup
	daemon_conf
	daemon_start
	grep -q 'watch poll' daemon.log && atf_fail "watch auto chose poll"
	grep -q 'no room to watch' daemon.log &&
	    atf_fail "a warning about watches without exhaustion"
	# A domain set, a stand-in and a reload first: every timer the
	# daemon arms on the way must be gone afterwards.
	daemon_install leaf1
	daemon_sendmail
	daemon_wait 10 "the set to be seen" daemon_logged 1 \
	    "certificate set is complete and valid|new certificate"
	daemon_replay -w 0 "le/certs/$D_DOMAIN" pki/leaf2.key pki/leaf2.pem \
	    pki/int.pem
	daemon_wait 10 "the reload" daemon_hups_are 1
	daemon_wait 10 "the stand-in to come back" daemon_sendmail_back 1
	daemon_wait 10 "smtlsd to see it back" daemon_logged 1 "is back as pid"
	# Let the last settle timer run out.
	sleep 0.6
	n=$(daemon_syscalls "$D_PID" 3 tr/idle)
	if [ "$n" -ne 0 ]; then
		head -n 40 tr/idle >&2
		atf_fail "smtlsd made $n system calls in 3 idle seconds"
	fi
	# The call it sleeps in has no timeout (Linux shows it in /proc).
	if [ -r "/proc/$D_PID/syscall" ]; then
		# shellcheck disable=SC2046 # the fields, split on purpose
		set -- $(cat "/proc/$D_PID/syscall")
		echo "blocked in: $*"
		case $1 in
		232|281|7|22)	# epoll_wait, epoll_pwait, poll
			case $5 in
			0xffffffff|0xffffffffffffffff) ;;
			*) atf_fail "smtlsd sleeps with a timeout ($5): a" \
			    "timer is armed while idle" ;;
			esac ;;
		*)	echo "unknown system call $1: not checked" ;;
		esac
	fi
	cat pki/root.pem >bundle.pem
	daemon_wait 10 "other1 to leave the store" daemon_not_in_store other1
}
idle_cleanup()
{
	daemon_cleanup
}

atf_test_case idle_poll cleanup
idle_poll_head()
{
	atf_set descr "With watch poll smtlsd does wake up while idle, and" \
	    "notices changes"
	atf_set require.progs "openssl strace"
	atf_set timeout 60
}
idle_poll_body()
{
	daemon_need_strace
	daemon_setup
	newca other3
	daemon_conf "watch poll" "poll_interval 0.2"
	daemon_start
	daemon_logged 1 'watch poll' || atf_fail "the start-up line does not" \
	    "say watch poll"
	n=$(daemon_syscalls "$D_PID" 2 tr/idle)
	[ "$n" -ge 5 ] || atf_fail "watch poll made only $n system calls in 2 s"
	grep -q "bundle.pem" tr/idle ||
	    atf_fail "watch poll did not look at the bundle"
	p=$(daemon_passes)
	[ "$p" -eq 1 ] || atf_fail "polling alone made passes ($p)"
	cat pki/root.pem pki/other3.pem >bundle.pem
	follows "other3 with watch poll" daemon_in_store other3
	daemon_not_in_store other1 || atf_fail "other1 stayed"
}
idle_poll_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case bundle_changes
	atf_add_test_case slow_writer
	atf_add_test_case writer_never_closes
	atf_add_test_case bundle_symlink
	atf_add_test_case burst
	atf_add_test_case during_pass
	atf_add_test_case during_pass_poll
	atf_add_test_case during_first_pass
	atf_add_test_case during_hup_pass
	atf_add_test_case exhausted
	atf_add_test_case exhausted_recovers
	atf_add_test_case idle
	atf_add_test_case idle_poll
}
