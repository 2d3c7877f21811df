#! /usr/bin/env atf-sh
# Faults while the daemon runs: a full file system and a read-only one
# under cert_dir, cert_dir replaced by a symbolic link, symbolic links
# planted at a <hash>.N name, at a temporary file's name and at the
# index, a configuration file others may write, a DH child that dies, a
# reload_command that hangs.  Each must give one clear message, write
# or follow nothing outside cert_dir, keep the old state, and leave the
# daemon running; when the fault goes away, it recovers by itself.
# Tests that need root (mounts) skip, saying so, when not root.

# The daemon here may run under valgrind or be killed mid-pass.
D_DEADLINE=${D_DEADLINE:-20}
. "$(atf_get_srcdir)/lib.sh"

# f_conf FILE [LINE...]: a configuration for the CA store alone
# (daemon_conf_alone) in W, dh_params in cert_dir as by default, then
# the LINEs.
f_conf()
{
	_c_file=$1
	shift
	daemon_conf_alone "$_c_file" "$W" "$W/certs" \
	    "dh_params $W/certs/dh.param" "$@"
}

# f_setup NCERTS: work/ (W) with a pool of NCERTS generated
# certificates (W/pool/NNNNN.pem), cert_dir W/certs, a directory
# W/outside holding a file smtlsd must never touch, and the
# configuration W/conf (f_conf).
f_setup()
{
	t_copy_bin
	W=$(pwd)/work
	daemon_elsewhere "$W"
	mkdir -p "$W/certs" "$W/outside"
	echo "not smtlsd's" >"$W/outside/victim"
	if [ "$1" -le 20 ]; then
		# A few: openssl is quicker than making gencerts' keys.
		# shellcheck disable=SC2046
		t_cc capath_check "$T_SRC/hardening/capath_check.c" \
		    $(sh "$T_SRC/../mk/config.sh" libs)
		mkdir -p "$W/pool"
		_i=1
		while [ "$_i" -le "$1" ]; do
			t_cert "$W/pool/$(printf %05d "$_i")" \
			    "/O=smtlsd fault test/CN=CA $_i"
			_i=$((_i + 1))
		done
		rm -f "$W/pool/"*.key
	else
		t_tools
		./gencerts -n "$1" -s 42 -o "$W/pool.pem" 2>gencerts.log ||
		    { cat gencerts.log >&2; atf_fail "gencerts failed"; }
		t_split "$W/pool.pem" "$W/pool"
	fi
	f_bundle 1 "$1"
	f_conf "$W/conf"
	f_outside >outside.before
}

# f_bundle FIRST LAST: the bundle holds pool certificates FIRST..LAST,
# replaced atomically.
f_bundle()
{
	_i=$1
	: >"$W/bundle.tmp"
	while [ "$_i" -le "$2" ]; do
		cat "$W/pool/$(printf %05d "$_i").pem" >>"$W/bundle.tmp"
		_i=$((_i + 1))
	done
	mv "$W/bundle.tmp" "$W/bundle.pem"
}

# f_stat FILE: name, inode, size, mtime (ns) and type of FILE itself.
f_stat()
{
	case $(uname -s) in
	Linux)	stat -c '%n %i %s %.9Y %F' "$1" ;;
	*)	stat -f '%N %i %z %Fm %HT' "$1" ;;
	esac
}

# f_outside: a listing of W/outside (names, inodes, sizes, mtimes).
f_outside()
{
	# shellcheck disable=SC2012
	(cd "$W/outside" && ls -A | LC_ALL=C sort | while read -r _f; do
		f_stat "$_f"
		[ -L "$_f" ] || [ ! -f "$_f" ] || cksum <"$_f"
	done)
}

# f_outside_untouched: nothing in W/outside was created, changed or
# removed.
f_outside_untouched()
{
	f_outside >outside.after
	cmp -s outside.before outside.after || { diff outside.before \
	    outside.after >&2; atf_fail "something outside cert_dir was" \
	    "written"; }
}

# f_listing: cert_dir's entries with inode, size and mtime.
f_listing()
{
	# shellcheck disable=SC2012
	(cd "$W/certs" && ls -A | LC_ALL=C sort | while read -r _f; do
		f_stat "$_f"
	done)
}

# f_failed N: waits for pass N, which must have failed.
f_failed()
{
	daemon_wait "$D_DEADLINE" "pass $1" daemon_passed "$1"
	[ "$(daemon_status 5)" = failed ] ||
	    { daemon_show; atf_fail "pass $1 did not fail"; }
}

# f_ok_after N: waits for a pass after N that succeeded (a retry).
f_ok_after()
{
	daemon_wait 30 "a good pass after pass $1" f_is_ok_after "$1"
}

f_is_ok_after()
{
	[ "$(daemon_status 2)" -gt "$1" ] 2>/dev/null &&
	    [ "$(daemon_status 5)" = ok ]
}

# f_once REGEX: daemon.log has exactly one line matching REGEX.
f_once()
{
	_n=$(daemon_count "$1")
	[ "$_n" -eq 1 ] || { daemon_show; atf_fail "$_n messages match '$1'," \
	    "expected one"; }
}

# f_holds FIRST LAST: cert_dir is a valid CApath holding exactly the
# pool certificates FIRST..LAST (as openssl rehash would name them).
f_holds()
{
	./capath_check -t "$W/certs" >check.out ||
	    { cat check.out >&2; atf_fail "cert_dir is not a valid CApath"; }
	_i=$1
	: >want.pem
	while [ "$_i" -le "$2" ]; do
		cat "$W/pool/$(printf %05d "$_i").pem" >>want.pem
		_i=$((_i + 1))
	done
	t_same_as_rehash_in "$W/certs" want.pem "$(pwd)" ||
	    atf_fail "cert_dir does not hold certificates $1..$2"
}

# f_need_linux: skips, saying so, where mount(8) differs (remount).
f_need_linux()
{
	[ "$(uname -s)" = Linux ] || atf_skip "SKIPPED: written for Linux's" \
	    "mount -o remount; on $(uname -s) it needs porting"
}

# f_mount_tmpfs DIR SIZE: a tmpfs at DIR (unmounted by the cleanup).
f_mount_tmpfs()
{
	mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" ||
	    atf_fail "mount -t tmpfs failed"
	echo "$1" >>mounts
}

f_cleanup()
{
	daemon_cleanup
	[ -f mounts ] && while read -r _m; do
		umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
	done <mounts
	chattr -i work/conf 2>/dev/null
	return 0
}

# ------------------------------------------------------------------

atf_test_case full_disk cleanup
full_disk_head()
{
	atf_set descr "cert_dir on a full file system: one message, the" \
	    "old files kept, no temporary file left, the daemon runs on" \
	    "and catches up by itself once there is room"
	atf_set require.progs "openssl cc mount umount"
	atf_set timeout 300
}
full_disk_body()
{
	t_need_root
	f_need_linux
	f_setup 160
	# tmpfs counts whole pages: 40 files fit in 200 KiB, 160 do not.
	f_mount_tmpfs "$W/certs" 200k
	f_bundle 1 30
	daemon_start_conf "$W/conf"
	[ "$(daemon_status 5)" = ok ] ||
	    { daemon_show; atf_fail "first pass failed"; }
	f_listing >before
	f_bundle 1 160
	f_failed 2
	f_once 'No space left on device'
	daemon_logged 1 'nothing was changed' || atf_fail "no 'nothing was" \
	    "changed'"
	f_listing >after
	cmp -s before after || { diff before after >&2; atf_fail "the old" \
	    "files were not kept as they were"; }
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	mount -o remount,size=4m "$W/certs" || atf_fail "remount failed"
	f_ok_after 2
	f_holds 1 160
	f_outside_untouched
	daemon_stop_ok
}
full_disk_cleanup()
{
	f_cleanup
}

atf_test_case read_only cleanup
read_only_head()
{
	atf_set descr "A read-only cert_dir: one message, nothing changed," \
	    "the daemon runs on and catches up by itself once it is" \
	    "writable again"
	atf_set require.progs "openssl cc mount umount"
	atf_set timeout 300
}
read_only_body()
{
	t_need_root
	f_need_linux
	f_setup 20
	f_mount_tmpfs "$W/certs" 4m
	f_bundle 1 10
	daemon_start_conf "$W/conf"
	f_listing >before
	mount -o remount,ro "$W/certs" || atf_fail "remount ro failed"
	f_bundle 5 20
	f_failed 2
	f_once 'Read-only file system'
	f_listing >after
	cmp -s before after || atf_fail "cert_dir changed while read-only"
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	mount -o remount,rw "$W/certs" || atf_fail "remount rw failed"
	f_ok_after 2
	f_holds 5 20
	f_outside_untouched
	daemon_stop_ok
}
read_only_cleanup()
{
	f_cleanup
}

atf_test_case cert_dir_symlink cleanup
cert_dir_symlink_head()
{
	atf_set descr "cert_dir replaced by a symbolic link: refused with" \
	    "one message, nothing written where it points (not even" \
	    "dh.param), recovered once it is a directory again"
	atf_set require.progs "openssl cc"
	atf_set timeout 300
}
cert_dir_symlink_body()
{
	f_setup 20
	f_bundle 1 10
	daemon_start_conf "$W/conf"
	# The attack: cert_dir becomes a link to another directory.
	mv "$W/certs" "$W/certs.real"
	ln -s "$W/outside" "$W/certs"
	f_outside >outside.before
	rm -f "$W/certs.real/dh.param"
	f_bundle 5 20
	f_failed 2
	f_once 'cert_dir .*/certs: is a symbolic link'
	f_once 'dh_params .*: its directory is a symbolic link'
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	f_outside_untouched
	rm "$W/certs"
	mv "$W/certs.real" "$W/certs"
	f_ok_after 2
	f_holds 5 20
	[ -f "$W/certs/dh.param" ] || atf_fail "dh.param was not made again"
	daemon_stop_ok
}
cert_dir_symlink_cleanup()
{
	f_cleanup
}

atf_test_case symlink_at_slot cleanup
symlink_at_slot_head()
{
	atf_set descr "Symbolic links planted at <hash>.N names (before a" \
	    "pass, and over a file of ours) are left alone, never followed" \
	    "or written through, reported once each; the certificates" \
	    "take the next numbers, and a link OpenSSL cannot load before" \
	    "them fails the pass"
	atf_set require.progs "openssl cc"
	atf_set timeout 300
}
symlink_at_slot_body()
{
	f_setup 6
	h1=$(openssl x509 -noout -hash -in "$W/pool/00001.pem")
	h2=$(openssl x509 -noout -hash -in "$W/pool/00002.pem")
	# Before the first pass: a link where certificate 1 would go, and
	# a dangling one to a file that must never be created.
	ln -s "$W/outside/victim" "$W/certs/$h1.0"
	ln -s "$W/outside/created" "$W/certs/$h2.1"
	f_bundle 1 3
	daemon_start_conf "$W/conf"
	[ -L "$W/certs/$h1.0" ] || atf_fail "the link at $h1.0 was replaced"
	tail -n +2 "$W/certs/$h1.1" | cmp -s - "$W/pool/00001.pem" ||
	    atf_fail "certificate 1 is not at $h1.1"
	f_once "$h1.0: not written by smtlsd"
	f_once "$h2.1: not written by smtlsd"
	# Over a file of ours: certificate 3 moves on.
	h3=$(openssl x509 -noout -hash -in "$W/pool/00003.pem")
	rm "$W/certs/$h3.0"
	ln -s "$W/outside/victim" "$W/certs/$h3.0"
	daemon_pass_sig USR1
	daemon_pass_sig USR1
	# A link OpenSSL cannot load before our file hides it: failed.
	[ "$(daemon_status 5)" = failed ] || { daemon_show;
	    atf_fail "the pass did not fail on the link hiding $h3.1"; }
	daemon_logged 1 "$h3.0: OpenSSL cannot load it" ||
	    { daemon_show; atf_fail "the link at $h3.0 is not named"; }
	[ -L "$W/certs/$h3.0" ] || atf_fail "the link at $h3.0 was replaced"
	tail -n +2 "$W/certs/$h3.1" | cmp -s - "$W/pool/00003.pem" ||
	    atf_fail "certificate 3 is not at $h3.1"
	f_once "$h3.0: not written by smtlsd"
	# A bundle without certificate 1: the link stays, not removed.
	f_bundle 2 3
	daemon_pass_sig USR1
	[ -L "$W/certs/$h1.0" ] || atf_fail "the link at $h1.0 was removed"
	[ ! -e "$W/certs/$h1.1" ] || atf_fail "$h1.1 was not removed"
	f_outside_untouched
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	daemon_stop_ok
}
symlink_at_slot_cleanup()
{
	f_cleanup
}

atf_test_case symlink_at_tmp cleanup
symlink_at_tmp_head()
{
	atf_set descr "Symbolic links planted at temporary-file names and" \
	    "at the index are removed or replaced as links, never" \
	    "followed: what they point to is not touched or created"
	atf_set require.progs "openssl cc"
	atf_set timeout 300
}
symlink_at_tmp_body()
{
	f_setup 6
	f_bundle 1 3
	daemon_start_conf "$W/conf"
	ln -s "$W/outside/victim" "$W/certs/.smtlsd.tmp.0123456789abcdef"
	ln -s "$W/outside/created" "$W/certs/.smtlsd.tmp.fedcba9876543210"
	rm "$W/certs/.smtlsd.index"
	ln -s "$W/outside/victim" "$W/certs/.smtlsd.index"
	f_bundle 1 6
	daemon_wait "$D_DEADLINE" "a pass after the bundle changed" \
	    daemon_passed 2
	[ "$(daemon_status 5)" = ok ] ||
	    { daemon_show; atf_fail "the pass failed"; }
	f_once 'tmp.0123456789abcdef: removed a temporary file'
	f_once 'tmp.fedcba9876543210: removed a temporary file'
	f_once 'smtlsd.index: is a symbolic link: not followed'
	if [ -L "$W/certs/.smtlsd.index" ] || [ ! -f "$W/certs/.smtlsd.index" ]
	then
		atf_fail "the index is still a link"
	fi
	f_holds 1 6
	f_outside_untouched
	daemon_stop_ok
}
symlink_at_tmp_cleanup()
{
	f_cleanup
}

atf_test_case conf_writable cleanup
conf_writable_head()
{
	atf_set descr "A configuration file others may write is refused" \
	    "at start (exit 1) and at SIGHUP (the old one kept, the daemon" \
	    "runs on), with one message each time"
	atf_set require.progs "openssl cc"
	atf_set timeout 300
}
conf_writable_body()
{
	f_setup 4
	chmod 0666 "$W/conf"
	rc=0
	"$SMTLSD" -d -f "$W/conf" >start.out 2>start.err || rc=$?
	[ "$rc" -eq 1 ] || atf_fail "smtlsd started with a 0666" \
	    "configuration (exit $rc)"
	grep -q 'writable by group or others' start.err ||
	    atf_fail "no clear message: $(cat start.err)"
	if [ -e "$W/aux/smtlsd.pid" ] || [ -e "$W/aux/status" ]; then
		atf_fail "a refused start wrote the pidfile or status"
	fi
	chmod 0644 "$W/conf"
	daemon_start_conf "$W/conf"
	for mode in 0666 0620; do
		n=$(daemon_status 2)
		chmod "$mode" "$W/conf"
		k=$(daemon_count 'keeping the configuration in use')
		kill -HUP "$D_PID"
		daemon_wait "$D_DEADLINE" "SIGHUP with a mode $mode file" \
		    daemon_logged $((k + 1)) 'keeping the configuration in use'
		n_msg=$(daemon_count \
		    "writable by group or others \\(mode $mode\\)")
		[ "$n_msg" -eq 1 ] ||
		    { daemon_show; atf_fail "not one message for $mode"; }
		[ "$(daemon_status 2)" -eq "$n" ] || atf_fail "a refused" \
		    "configuration caused a pass"
		daemon_alive "$D_PID" || atf_fail "smtlsd died"
	done
	chmod 0644 "$W/conf"
	daemon_pass_sig HUP
	[ "$(daemon_status 5)" = ok ] || atf_fail "the pass after SIGHUP failed"
	daemon_stop_ok
}
conf_writable_cleanup()
{
	f_cleanup
}

atf_test_case dh_child_dies cleanup
dh_child_dies_head()
{
	atf_set descr "The child generating DH parameters is killed: one" \
	    "message, no file written, the daemon runs on and makes them" \
	    "by itself later"
	atf_set require.progs "openssl cc"
	atf_set timeout 300
}
dh_child_dies_body()
{
	f_setup 4
	f_conf "$W/conf" \
	    "dh_params_source generate" "dh_bits 4096"
	daemon_start_conf "$W/conf"
	daemon_wait "$D_DEADLINE" "the DH child" daemon_logged 1 \
	    'generating 4096-bit DH parameters in child'
	child=$(sed -n 's/.*DH parameters in child \([0-9]*\).*/\1/p' \
	    daemon.log | tail -n 1)
	if [ -z "$child" ] || ! daemon_alive "$child"; then
		atf_fail "the DH child ($child) is not running"
	fi
	# The retry must make parameters quickly: ask for fewer bits.
	f_conf "$W/conf.1024" \
	    "dh_params_source generate" "dh_bits 1024"
	kill -KILL "$child"
	daemon_wait "$D_DEADLINE" "the death of the child reported" \
	    daemon_logged 1 \
	    'DH parameter generation failed \(child killed by signal 9\)'
	f_once 'DH parameter generation failed'
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	daemon_dead "$child" || atf_fail "the child was not reaped"
	[ ! -e "$W/certs/dh.param" ] || atf_fail "dh.param was written"
	for f in "$W"/certs/.smtlsd.tmp.*; do
		[ ! -e "$f" ] || atf_fail "a temporary file was left: $f"
	done
	daemon_logged 1 'trying again in 5 s' || { daemon_show
	    atf_fail "no retry announced"; }
	# By itself, 5 s later, the daemon starts another child; that one
	# is killed too, and the next retry waits longer.
	daemon_wait 30 "a new DH child by itself" daemon_logged 2 \
	    'generating 4096-bit DH parameters in child'
	child=$(sed -n 's/.*DH parameters in child \([0-9]*\).*/\1/p' \
	    daemon.log | tail -n 1)
	kill -KILL "$child"
	daemon_wait "$D_DEADLINE" "the second retry announced" \
	    daemon_logged 1 'trying again in 10 s'
	# Then fewer bits, so that the test ends soon: SIGHUP makes them.
	mv "$W/conf.1024" "$W/conf"
	kill -HUP "$D_PID"
	daemon_wait 120 "new DH parameters" \
	    daemon_logged 1 'dh_params .*: written'
	# dh.param is valid.
	atf_check -o ignore -e ignore \
	    openssl dhparam -in "$W/certs/dh.param" -noout -check
	f_outside_untouched
	daemon_stop_ok
}
dh_child_dies_cleanup()
{
	f_cleanup
}

atf_test_case reload_hangs cleanup
reload_hangs_head()
{
	atf_set descr "A reload_command that hangs (ignoring SIGTERM, with" \
	    "a child of its own) is killed with its process group after" \
	    "reload_timeout, with one message; meanwhile the daemon runs" \
	    "passes, and the reload wanted meanwhile runs afterwards"
	atf_set require.progs "openssl cc"
	atf_set timeout 300
}
reload_hangs_body()
{
	f_setup 4
	cat >"$W/reload.sh" <<EOF
#!/bin/sh
echo "\$\$" >>"$W/reload.pids"
if [ -e "$W/hang" ]; then
	trap '' TERM HUP INT
	sleep 1000 &
	echo "\$!" >>"$W/reload.pids"
	wait
fi
echo done >>"$W/reload.done"
EOF
	chmod 0755 "$W/reload.sh"
	touch "$W/hang"
	f_conf "$W/conf" \
	    "reload_command \"$W/reload.sh\"" "reload_timeout 4"
	# New DH parameters want a reload: the first pass makes them.
	daemon_start_conf "$W/conf"
	daemon_wait "$D_DEADLINE" "reload_command started" daemon_logged 1 \
	    'running reload_command'
	# The loop is not blocked: a pass runs while the command hangs, and
	# its new DH parameters want a second reload, which must wait.
	rm -f "$W/certs/dh.param"
	daemon_pass_sig USR1
	[ -e "$W/reload.done" ] && atf_fail "the command did not hang"
	[ "$(daemon_count 'running reload_command')" -eq 1 ] ||
	    atf_fail "a second reload_command ran while the first hung"
	rm -f "$W/hang"
	daemon_wait 20 "the hung command killed" daemon_logged 1 \
	    'still running after 4000 ms; killing it'
	f_once 'still running after 4000 ms'
	daemon_wait "$D_DEADLINE" "its end reported" daemon_logged 1 \
	    'reload_command .* killed by signal 9'
	for p in $(head -n 2 "$W/reload.pids"); do
		daemon_wait "$D_DEADLINE" "process $p of the command gone" \
		    daemon_dead "$p"
	done
	daemon_wait "$D_DEADLINE" "the pending reload" test -e "$W/reload.done"
	daemon_wait "$D_DEADLINE" "its end reported" daemon_logged 1 \
	    'reload_command .* done'
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	f_outside_untouched
	daemon_stop_ok
}
reload_hangs_cleanup()
{
	f_cleanup
}

atf_test_case reload_hangs_once cleanup
reload_hangs_once_head()
{
	atf_set descr "smtlsd -1 with a reload_command that hangs ends after" \
	    "reload_timeout, exit 1 and one message"
	atf_set require.progs "openssl cc"
	atf_set timeout 120
}
reload_hangs_once_body()
{
	f_setup 4
	f_conf "$W/conf" \
	    "reload_command \"trap '' TERM; sleep 1000\"" "reload_timeout 0.5"
	t0=$(daemon_ms)
	rc=0
	"$SMTLSD" -f "$W/conf" -1 >once.out 2>once.err || rc=$?
	t=$(($(daemon_ms) - t0))
	[ "$rc" -eq 1 ] || { cat once.err >&2; atf_fail "exit $rc, not 1"; }
	[ "$t" -lt 10000 ] || atf_fail "took $t ms"
	[ "$(grep -c 'killed after 500 ms' once.err)" -ge 1 ] ||
	    { cat once.err >&2; atf_fail "no clear message"; }
	f_holds 1 4
}
reload_hangs_once_cleanup()
{
	f_cleanup
}

atf_test_case odd_acme_set cleanup
odd_acme_set_head()
{
	atf_set descr "A dehydrated set with absurd timestamps (30 digits)" \
	    "and a chain.pem of a self-signed certificate only: smtlsd -1" \
	    "reports, never crashes (regression: undefined behaviour that" \
	    "SANITIZE=1 turned into aborts)"
	atf_set require.progs "openssl cc"
	atf_set timeout 120
}
odd_acme_set_body()
{
	f_setup 2
	d=$W/le/certs/mail.example.test
	mkdir -p "$d"
	ts=999999999999999999999999999999
	daemon_ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj "/CN=mail.example.test" -days 30 \
	    -keyout "$d/privkey-$ts.pem" -out "$d/cert-$ts.pem" ||
	    atf_fail "openssl req failed"
	chmod 0600 "$d/privkey-$ts.pem"
	cp "$d/cert-$ts.pem" "$d/chain-$ts.pem"
	cp "$d/cert-$ts.pem" "$d/fullchain-$ts.pem"
	for n in cert chain fullchain privkey; do
		ln -s "$n-$ts.pem" "$d/$n.pem"
	done
	# The certificate is its own CA, in the bundle: the set is good.
	cat "$d/cert-$ts.pem" >>"$W/bundle.pem"
	daemon_conf_alone "$W/conf" "$W" "$W/certs" "acme_dir $W/le/certs"
	rc=0
	"$SMTLSD" -f "$W/conf" -1 >once.out 2>once.err || rc=$?
	cat once.err
	[ "$rc" -lt 2 ] || atf_fail "smtlsd -1 exited $rc"
	! grep -q 'runtime error' once.err ||
	    atf_fail "undefined behaviour: $(grep 'runtime error' once.err)"
	f_outside_untouched
}
odd_acme_set_cleanup()
{
	f_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case full_disk
	atf_add_test_case read_only
	atf_add_test_case cert_dir_symlink
	atf_add_test_case symlink_at_slot
	atf_add_test_case symlink_at_tmp
	atf_add_test_case conf_writable
	atf_add_test_case dh_child_dies
	atf_add_test_case reload_hangs
	atf_add_test_case reload_hangs_once
	atf_add_test_case odd_acme_set
}
