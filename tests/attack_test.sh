#! /usr/bin/env atf-sh
# The dehydrated directory is untrusted input (issue 10): a user less
# privileged than root who owns dehydrated's BASEDIR must not be able to
# steer smtlsd.  Each case creates (once, for every case) the user
# smtlsd-attacker, makes it own BASEDIR, and as that user tries one
# attack against the running daemon or against smtlsd -1; it asserts
# the outcome: nothing published, the daemon alive, no signal, the
# pruning still done, one warning.  Root only (Linux: setpriv, /proc).
#
# The attacker's BASEDIR is a fresh $A/le (A=/tmp/smtlsd-attack.XXXXXX,
# mode 0755): the test case's work directory may sit below a directory
# the attacker cannot enter.  $A/pub holds what the attacker may read
# (public certificates, its own keys, the replay script), $A/root what
# only root may (mode 0700).  To check the suite against another build:
#	kyua test -v test_suites.smtlsd.attack_smtlsd=/path/to/smtlsd \
#	    attack_test.sh

# SC2016: the single-quoted conditions are evaluated later, by eval.
# shellcheck disable=SC1091,SC2016
. "$(atf_get_srcdir)/lib.sh"

A_USER=smtlsd-attacker
A_PTY="$T_SRC/attack_pty"
NL='
'
ESC=$(printf '\033')

# atk_user: the user smtlsd-attacker exists (made when missing; never
# deleted, since cases run side by side); A_UID and A_GID are its ids.
atk_user()
{
	_u_i=0
	until id -u "$A_USER" >/dev/null 2>&1; do
		# Two cases may race for /etc/passwd's lock: try again.
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin \
		    "$A_USER" >useradd.out 2>&1 || sleep 0.2
		_u_i=$((_u_i + 1))
		[ "$_u_i" -lt 50 ] || { cat useradd.out >&2;
		    atf_fail "cannot create the user $A_USER"; }
	done
	A_UID=$(id -u "$A_USER")
	A_GID=$(id -g "$A_USER")
	[ "$A_UID" -ne 0 ] || atf_fail "$A_USER has uid 0"
}

# as_atk CMD...: CMD as the attacker (no supplementary groups), in $A.
as_atk()
{
	(cd "$A" && exec setpriv --reuid="$A_UID" --regid="$A_GID" \
	    --clear-groups -- "$@")
}

# atk_init: skips unless root on Linux; the user, daemon_setup, and the
# attacker's tree in a fresh $A (see the top of the file).
atk_init()
{
	[ "$(id -u)" -eq 0 ] || atf_skip "needs root: it creates the user" \
	    "$A_USER and attacks root's smtlsd as that user"
	[ "$(uname -s)" = Linux ] || atf_skip "Linux only (setpriv, /proc)"
	command -v setpriv >/dev/null 2>&1 ||
	    atf_skip "setpriv(1) (util-linux) is missing"
	command -v useradd >/dev/null 2>&1 || id -u "$A_USER" >/dev/null \
	    2>&1 || atf_skip "useradd(8) is missing"
	SMTLSD=$(atf_config_get attack_smtlsd "$SMTLSD")
	atk_user
	daemon_setup
	rm -rf le
	A=$(mktemp -d /tmp/smtlsd-attack.XXXXXX) || atf_fail "mktemp -d"
	echo "$A" >atk.dir
	chmod 0755 "$A"
	mkdir -p "$A/le/certs" "$A/pub" "$A/root"
	chmod 0700 "$A/root"
	cp pki/*.pem pki/leaf1.key pki/leaf2.key "$A/pub/"
	cp "$D_REPLAY" "$A/pub/replay.sh"
	[ -x "$A_PTY" ] && cp "$A_PTY" "$A/pub/attack_pty"
	chmod -R a+rX "$A/pub"
	chown -R "$A_UID:$A_GID" "$A/le"
	DOM="$A/le/certs/$D_DOMAIN"
}

# atk_cleanup: every process the case started, then $A.
atk_cleanup()
{
	[ -f atk.pids ] && while read -r _c_p; do
		[ "$(ps -o comm= -p "$_c_p" 2>/dev/null)" = attack_pty ] &&
		    kill -TERM "$_c_p" 2>/dev/null
	done <atk.pids
	daemon_cleanup
	_c_a=$(cat atk.dir 2>/dev/null)
	case $_c_a in
	/tmp/smtlsd-attack.?*) rm -rf "$_c_a" ;;
	esac
	return 0
}

# atk_conf [LINE...]: daemon_conf with acme_dir the attacker's
# $A/le/certs.
atk_conf()
{
	daemon_conf "$@"
	sed "s|^acme_dir $(pwd)/le/certs\$|acme_dir $A/le/certs|" conf \
	    >conf.tmp
	chmod 0644 conf.tmp
	mv conf.tmp conf
}

# atk_replay ARGS...: tests/dehydrated_replay.sh as the attacker.
atk_replay()
{
	as_atk sh "$A/pub/replay.sh" -t /dev/null "$@" ||
	    atf_fail "the attacker's dehydrated_replay.sh $* failed"
}

# atk_install CERT [DOMAIN [KEY]]: the attacker installs a finished set
# for pki/CERT.pem (key pki/KEY.key, default CERT; chain pki/$CHAIN.pem,
# default int) in $A/le/certs/DOMAIN (default mail.example.test).
atk_install()
{
	atk_replay -w 0 "$A/le/certs/${2:-$D_DOMAIN}" "$A/pub/${3:-$1}.key" \
	    "$A/pub/$1.pem" "$A/pub/${CHAIN:-int}.pem"
}

# atk_prepare [LINE...]: leaf1 installed by the attacker, the
# configuration with the LINEs, one pass (-1), then the stand-in
# started (so that the set is older than sendmail).
atk_prepare()
{
	atk_install leaf1
	atk_conf "$@"
	daemon_once
	daemon_sendmail
}

# atk_start_setsid: smtlsd -d -v as a session leader without a
# controlling terminal (setsid), as at boot; D_PID from its pidfile.
atk_start_setsid()
{
	setsid "$SMTLSD" -d -v -f "$(pwd)/conf" >>daemon.out 2>>daemon.log &
	daemon_remember $!
	daemon_wait "$D_DEADLINE" "smtlsd's pidfile" \
	    grep -q '^[0-9][0-9]*$' aux/smtlsd.pid
	D_PID=$(head -n 1 aux/smtlsd.pid)
	daemon_remember "$D_PID"
	daemon_wait "$D_DEADLINE" "the first pass of smtlsd" daemon_passed 1
	[ "$(ps -o sid= -p "$D_PID" | tr -d ' ')" = "$D_PID" ] ||
	    atf_fail "smtlsd is not a session leader"
	[ "$(atk_tty "$D_PID")" = 0 ] ||
	    atf_fail "smtlsd has a controlling terminal from the start"
}

# atk_tty PID: tty_nr of PID (/proc/PID/stat; the name has no space).
atk_tty()
{
	awk '{ print $7 }' "/proc/$1/stat"
}

# atk_resync: smtlsd -R: the running daemon does a full pass, and must
# answer (it did not hang, and is alive).
atk_resync()
{
	_r_rc=0
	timeout 20 "$SMTLSD" -R -f "$(pwd)/conf" >resync.out 2>&1 ||
	    _r_rc=$?
	case $_r_rc in
	0|1)	;;
	*)	daemon_show; cat resync.out >&2
		atf_fail "smtlsd -R: no answer from the daemon (status" \
		    "$_r_rc): it hangs" ;;
	esac
	if grep -q 'no daemon running' resync.out || ! daemon_alive "$D_PID"
	then
		daemon_show
		atf_fail "smtlsd died"
	fi
}

# atk_act daemon|once: the attack is acted on by the running daemon
# (atk_resync) or by smtlsd -1 (atk_once); A_LOG is the log that tells
# how (daemon.log or once.err).
atk_act()
{
	if [ "$1" = daemon ]; then
		atk_resync
		A_LOG=daemon.log
	else
		atk_once
		A_LOG=once.err
	fi
}

# atk_once: smtlsd -1 -v, which may fail (a refused set) but must end,
# and not of a signal; its stderr is once.err.
atk_once()
{
	A_RC=0
	timeout 60 "$SMTLSD" -1 -v -f "$(pwd)/conf" >once.out 2>once.err ||
	    A_RC=$?
	[ "$A_RC" -lt 124 ] || { cat once.err >&2;
	    atf_fail "smtlsd -1 hung or died (status $A_RC)"; }
}

# atk_secret NAME: pki/NAME.pem as $A/root/NAME.pem, root's, mode 0600
# in a 0700 directory: the attacker cannot read it.
atk_secret()
{
	cp "pki/$1.pem" "$A/root/$1.pem"
	chmod 0600 "$A/root/$1.pem"
	if as_atk cat "$A/root/$1.pem" >/dev/null 2>&1; then
		atf_fail "the attacker can read $A/root/$1.pem"
	fi
}

# atk_quiet: time for smtlsd to do something wrong (a signal too many).
atk_quiet()
{
	sleep 0.8
}

# atk_no_leak LOG: neither LOG nor the status file names anything in
# $A/root (a link's target) or a mode 0600 (the target's).
atk_no_leak()
{
	for _n_f in "$1" aux/status; do
		[ -f "$_n_f" ] || continue
		if grep -F "$A/root" "$_n_f" >&2; then
			atf_fail "$_n_f names the target of the attacker's link"
		fi
		if grep -E '(^|[^0-9])0?600([^0-9]|$)' "$_n_f" |
		    grep -E 'chain|cert|privkey|mode' >&2; then
			atf_fail "$_n_f gives the mode of the link's target"
		fi
	done
}

# atk_hups_none: the stand-in got no SIGHUP and is alive.
atk_hups_none()
{
	daemon_hups_are 0 || { daemon_show;
	    atf_fail "sendmail was signalled for the attacker's set"; }
	daemon_sendmail_ok || atf_fail "the sendmail stand-in died"
}

# atk_bundle_drop: root's bundle without other1 (replaced by rename).
atk_bundle_drop()
{
	cat pki/root.pem pki/other2.pem >bundle.tmp
	mv bundle.tmp bundle.pem
}

# --------------------------------------------------------------------
# 1. Links out of the domain directory.

# symlink_chain daemon|once: chain.pem -> a root-only file holding a CA
# certificate (int2, an intermediate of the test root, which the store
# would take): it never reaches cert_dir, nor is its path or mode told.
symlink_chain()
{
	atk_init
	daemon_int int2
	atk_secret int2
	atk_prepare
	[ "$1" = daemon ] && daemon_start
	daemon_in_store int || atf_fail "the legitimate intermediate is" \
	    "not in cert_dir"
	as_atk ln -sfn "$A/root/int2.pem" "$DOM/chain.pem"
	atk_act "$1"
	atk_quiet
	daemon_not_in_store int2 || { cat "$A_LOG" >&2; atf_fail \
	    "the root-only certificate behind chain.pem is in cert_dir"; }
	atk_no_leak "$A_LOG"
	atk_hups_none
}

atf_test_case symlink_chain_daemon cleanup
symlink_chain_daemon_head()
{
	atf_set descr "Running daemon: chain.pem a symlink to a root-only" \
	    "CA certificate: never in cert_dir, its path and mode not told"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
symlink_chain_daemon_body()
{
	symlink_chain daemon
}
symlink_chain_daemon_cleanup()
{
	atk_cleanup
}

atf_test_case symlink_chain_once cleanup
symlink_chain_once_head()
{
	atf_set descr "smtlsd -1: chain.pem a symlink to a root-only CA" \
	    "certificate: never in cert_dir, its path and mode not told"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
symlink_chain_once_body()
{
	symlink_chain once
}
symlink_chain_once_cleanup()
{
	atk_cleanup
}

# symlink_key daemon|once: cert.pem and privkey.pem -> a root-only
# certificate and key (leaf2's, which the attacker must not have) in
# a 0700 directory, with a fullchain.pem for it: the set is not used
# (no reload), and the targets are not told.
symlink_key()
{
	atk_init
	cp pki/leaf2.pem "$A/root/c.pem"
	cp pki/leaf2.key "$A/root/k.pem"
	chmod 0600 "$A/root/c.pem" "$A/root/k.pem"
	atk_prepare
	[ "$1" = daemon ] && daemon_start
	# The attacker knows leaf2's certificate (it is public), not its
	# key.
	as_atk sh -c 'cat "$1/leaf2.pem" "$1/int.pem" >"$2/fullchain-x.pem" &&
	    ln -sfn fullchain-x.pem "$2/fullchain.pem" &&
	    ln -sfn "$3/k.pem" "$2/privkey.pem" &&
	    ln -sfn "$3/c.pem" "$2/cert.pem"' sh "$A/pub" "$DOM" "$A/root" ||
	    atf_fail "the attacker's links"
	atk_act "$1"
	atk_quiet
	atk_hups_none
	if grep -E 'reloaded sendmail|new certificate' "$A_LOG" >&2; then
		atf_fail "smtlsd took the set of cert.pem and privkey.pem" \
		    "outside the domain directory"
	fi
	atk_no_leak "$A_LOG"
}

atf_test_case symlink_key_daemon cleanup
symlink_key_daemon_head()
{
	atf_set descr "Running daemon: cert.pem and privkey.pem symlinks to" \
	    "a root-only set: not used, no reload, targets not told"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
symlink_key_daemon_body()
{
	symlink_key daemon
}
symlink_key_daemon_cleanup()
{
	atk_cleanup
}

atf_test_case symlink_key_once cleanup
symlink_key_once_head()
{
	atf_set descr "smtlsd -1: cert.pem and privkey.pem symlinks to a" \
	    "root-only set: not used, no reload, targets not told"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
symlink_key_once_body()
{
	symlink_key once
}
symlink_key_once_cleanup()
{
	atk_cleanup
}

# A domain directory that is a link, under the attacker's acme_dir, to a
# directory of root's holding a complete, valid set (leaf2's, as root's
# own dehydrated would keep it elsewhere): smtlsd does not go there.
atf_test_case domain_link cleanup
domain_link_head()
{
	atf_set descr "smtlsd -1: a domain directory that is a link to root's" \
	    "own set is not followed: not checked, not used, not named"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
domain_link_body()
{
	atk_init
	mkdir "$A/root/set"
	daemon_replay -w 0 "$A/root/set" pki/leaf2.key pki/leaf2.pem \
	    pki/int.pem
	atk_prepare
	as_atk ln -s "$A/root/set" "$A/le/certs/other.example.test" ||
	    atf_fail "the attacker's link"
	atk_once
	atk_hups_none
	if grep 'other\.example\.test' once.err >&2; then
		atf_fail "smtlsd followed the link to root's domain directory"
	fi
}
domain_link_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 2. A hard link to root's file.

atf_test_case hardlink cleanup
hardlink_head()
{
	atf_set descr "chain.pem a hard link to a root-only CA certificate" \
	    "(made by root: FreeBSD's hardlink_check_uid=0): not used"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
hardlink_body()
{
	atk_init
	daemon_int int2
	atk_secret int2
	atk_prepare
	daemon_start
	# Without protected_hardlinks the attacker could make it itself.
	rm -f "$DOM/chain.pem"
	ln "$A/root/int2.pem" "$DOM/chain.pem"
	atk_resync
	atk_quiet
	daemon_not_in_store int2 || atf_fail "the root-only certificate" \
	    "hard-linked as chain.pem is in cert_dir"
	atk_no_leak daemon.log
	atk_hups_none
}
hardlink_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 3. A terminal as chain.pem.

atf_test_case pty cleanup
pty_head()
{
	atf_set descr "chain.pem a symlink to the attacker's pty slave:" \
	    "smtlsd, a session leader without a terminal, does not get it" \
	    "as its controlling terminal, and survives ^C and ^\\ on it"
	atf_set require.progs "openssl setsid"
	atf_set timeout 60
}
pty_body()
{
	atk_init
	[ -x "$A/pub/attack_pty" ] ||
	    atf_fail "$A_PTY is missing: run make check-tests first"
	atk_prepare
	atk_start_setsid
	(cd "$A" && exec setpriv --reuid="$A_UID" --regid="$A_GID" \
	    --clear-groups -- "$A/pub/attack_pty" "$A/le/pty") &
	echo $! >>atk.pids
	daemon_wait 5 "the attacker's pty" test -s "$A/le/pty"
	slave=$(cat "$A/le/pty")
	[ -c "$slave" ] || atf_fail "$slave is not a terminal"
	# A new domain, so that smtlsd has no good chain of it to keep.
	as_atk mkdir "$A/le/certs/pty.example.test"
	as_atk ln -s "$slave" "$A/le/certs/pty.example.test/chain.pem"
	atk_resync
	tty=$(atk_tty "$D_PID")
	kill -USR1 "$(cat atk.pids)"
	daemon_wait 5 "the attacker's ^C" test -f "$A/le/pty.sent"
	sleep 0.5
	daemon_alive "$D_PID" || { daemon_show; atf_fail "smtlsd died of the" \
	    "attacker's ^C (its tty_nr was $tty)"; }
	if [ "$tty" != 0 ] || [ "$(atk_tty "$D_PID")" != 0 ]; then
		atf_fail "smtlsd has the attacker's $slave as its" \
		    "controlling terminal"
	fi
	atk_resync
	atk_hups_none
}
pty_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 4. What cannot be read does not stop the pruning.

# not_readable SETUP-COMMAND: a new domain whose chain.pem the attacker
# makes with SETUP-COMMAND DIR; the pass ends, and a CA that left the
# bundle leaves cert_dir.
not_readable()
{
	atk_init
	atk_prepare
	daemon_start
	daemon_in_store other1 || atf_fail "other1 is not in cert_dir"
	as_atk mkdir "$A/le/certs/bad.example.test"
	as_atk "$@" "$A/le/certs/bad.example.test/chain.pem" ||
	    atf_fail "the attacker's $*"
	atk_resync
	atk_bundle_drop
	daemon_wait 10 "other1 to leave cert_dir" daemon_not_in_store other1
	atk_resync
	daemon_in_store root || atf_fail "the root left cert_dir"
	daemon_in_store int || atf_fail "the intermediate left cert_dir"
	atk_hups_none
}

atf_test_case fifo cleanup
fifo_head()
{
	atf_set descr "chain.pem a FIFO in a new domain: the pass ends (no" \
	    "hang), and a CA removed from the bundle leaves cert_dir"
	atf_set require.progs "openssl mkfifo"
	atf_set timeout 60
}
fifo_body()
{
	not_readable mkfifo
}
fifo_cleanup()
{
	atk_cleanup
}

atf_test_case dangling cleanup
dangling_head()
{
	atf_set descr "chain.pem a dangling symlink in a new domain: a CA" \
	    "removed from the bundle still leaves cert_dir"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
dangling_body()
{
	not_readable ln -s chain-1700000000.pem
}
dangling_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 5. A CA that nothing vouches for.

# stranger_pki: pki/sroot.pem (self-signed, in no bundle), pki/sint.pem
# (an intermediate under it), and the leaf pki/alien.pem under sint.
stranger_pki()
{
	daemon_ca_pair pki sroot sint attacker Attacker
	D_ISSUER=sint daemon_leaf alien
	cp pki/alien.pem pki/alien.key pki/sint.pem "$A/pub/"
	cat pki/sint.pem pki/sroot.pem >"$A/pub/schain.pem"
	chmod a+r "$A/pub/"*
}

unverifiable()
{
	atk_init
	stranger_pki
	atk_prepare
	[ "$1" = daemon ] && daemon_start
	CHAIN=schain atk_install alien alien.example.test
	atk_act "$1"
	atk_quiet
	daemon_not_in_store sint || atf_fail "the attacker's intermediate," \
	    "which no CA of the bundles vouches for, is in cert_dir"
	daemon_not_in_store sroot || atf_fail "the attacker's root is in" \
	    "cert_dir"
	daemon_in_store int || atf_fail "the legitimate intermediate left" \
	    "cert_dir"
	atk_hups_none
}

atf_test_case unverifiable_daemon cleanup
unverifiable_daemon_head()
{
	atf_set descr "Running daemon: a complete set under a CA in no" \
	    "bundle: its intermediate never reaches cert_dir"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
unverifiable_daemon_body()
{
	unverifiable daemon
}
unverifiable_daemon_cleanup()
{
	atk_cleanup
}

atf_test_case unverifiable_once cleanup
unverifiable_once_head()
{
	atf_set descr "smtlsd -1: a complete set under a CA in no bundle:" \
	    "its intermediate never reaches cert_dir"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
unverifiable_once_body()
{
	unverifiable once
}
unverifiable_once_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 6. A flood of CA certificates in a valid chain.pem.

atf_test_case flood cleanup
flood_head()
{
	atf_set descr "A valid set whose chain.pem holds the intermediate" \
	    "and 50 more CA certificates: cert_dir gains only the" \
	    "intermediate"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
flood_body()
{
	atk_init
	stranger_pki
	# 25 intermediates under the attacker's root, 25 under the test
	# root (they verify, but are on no path of the leaf): one key.
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 \
	    -out pki/flood.key 2>/dev/null || atf_fail "openssl genpkey"
	cp pki/int.pem "$A/pub/flood.pem"
	i=0
	while [ $i -lt 50 ]; do
		i=$((i + 1))
		if [ $i -le 25 ]; then iss=sroot; else iss=root; fi
		openssl req -new -x509 -key pki/flood.key -CA "pki/$iss.pem" \
		    -CAkey "pki/$iss.key" -set_serial "$((5000 + i))" \
		    -subj "/O=attacker/CN=Flood CA $i" -days 365 \
		    -addext basicConstraints=critical,CA:TRUE \
		    >>"$A/pub/flood.pem" 2>ossl.out ||
		    { cat ossl.out >&2; atf_fail "openssl req -CA"; }
	done
	chmod a+r "$A/pub/flood.pem"
	[ "$(grep -c 'BEGIN CERTIFICATE' "$A/pub/flood.pem")" -eq 51 ] ||
	    atf_fail "the flood chain does not hold 51 certificates"
	atk_conf
	CHAIN=flood atk_install leaf1
	atk_once
	daemon_in_store int || { cat once.err >&2;
	    atf_fail "the intermediate is not in cert_dir"; }
	n=0
	for f in certs/*; do
		case ${f#certs/} in
		[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].[0-9]*)
			n=$((n + 1)) ;;
		esac
	done
	[ "$n" -eq 4 ] || atf_fail "cert_dir holds $n certificates, not the" \
	    "3 of the bundle and the intermediate"
}
flood_cleanup()
{
	atk_cleanup
}

# A set file larger than the limit: refused by name and size, whatever
# it holds (here the attacker's intermediate, then 2 MiB of text).
atf_test_case oversized cleanup
oversized_head()
{
	atf_set descr "chain.pem over 1 MiB: the set is refused, saying so," \
	    "and nothing of it joins cert_dir"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
oversized_body()
{
	atk_init
	stranger_pki
	{
		cat pki/int.pem pki/sint.pem
		head -c 2097152 /dev/zero | tr '\0' 'x'
	} >"$A/pub/big.pem"
	chmod a+r "$A/pub/big.pem"
	atk_conf
	CHAIN=big atk_install leaf1
	atk_once
	[ "$A_RC" -eq 1 ] || { cat once.err >&2;
	    atf_fail "smtlsd -1 exited $A_RC, expected 1 (a refused set)"; }
	grep -q 'chain.pem is larger than 1024 KiB' once.err ||
	    { cat once.err >&2; atf_fail "no clear message for the size"; }
	daemon_not_in_store sint || atf_fail "the attacker's CA is in cert_dir"
}
oversized_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 7. More domain directories than max_domains.

atf_test_case many_domains cleanup
many_domains_head()
{
	atf_set descr "60 domain directories with max_domains 20: one" \
	    "warning, the daemon lives, passes stay quick, and a bundle" \
	    "change is still applied"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
many_domains_body()
{
	atk_init
	atk_install leaf1
	atk_conf "max_domains 20"
	atf_check -s exit:0 -o ignore -e ignore "$SMTLSD" -n -f "$(pwd)/conf"
	daemon_once
	daemon_sendmail
	daemon_start
	as_atk sh -c 'i=0; while [ $i -lt 60 ]; do i=$((i + 1));
	    mkdir "$1/d$i.example.test" || exit 1; done' sh "$A/le/certs" ||
	    atf_fail "the attacker's directories"
	atk_resync
	t0=$(daemon_ms)
	atk_resync
	atk_resync
	t=$(($(daemon_ms) - t0))
	[ "$t" -lt 6000 ] || atf_fail "two passes took $t ms"
	n=$(daemon_count 'max_domains')
	[ "$n" -eq 1 ] || { daemon_show;
	    atf_fail "$n warnings about max_domains, not 1"; }
	atk_bundle_drop
	daemon_wait 10 "other1 to leave cert_dir" daemon_not_in_store other1
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
	[ "$(daemon_count 'max_domains')" -eq 1 ] ||
	    atf_fail "the warning about max_domains was repeated"
	atk_hups_none
}
many_domains_cleanup()
{
	atk_cleanup
}

# The attacker fills its acme_dir before the mail domain is made, so
# that max_domains leaves the mail domain out; the administrator names
# it with acme_cert and sends SIGHUP: it is checked all the same.
atf_test_case crowded_out cleanup
crowded_out_head()
{
	atf_set descr "A full acme_dir cannot crowd out a domain named with" \
	    "acme_cert (max_domains)"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
crowded_out_body()
{
	atk_init
	as_atk sh -c 'i=0; while [ $i -lt 10 ]; do i=$((i + 1));
	    mkdir "$1/d$i.example.test" || exit 1; done' sh "$A/le/certs" ||
	    atf_fail "the attacker's directories"
	atk_conf "max_domains 5"
	daemon_start
	daemon_logged 1 'more domain directories than max_domains' ||
	    { daemon_show; atf_fail "no warning about max_domains"; }
	atk_install leaf1
	atk_resync
	daemon_logged 1 "$D_DOMAIN: certificate set" &&
	    atf_fail "the domain was checked although over max_domains"
	atk_conf "max_domains 5" "acme_cert $DOM"
	n=$(daemon_passes)
	kill -HUP "$D_PID"
	daemon_wait 10 "the pass after SIGHUP" daemon_passed $((n + 1))
	daemon_wait 5 "the acme_cert domain to be checked" daemon_logged 1 \
	    "$D_DOMAIN: (certificate set is complete and valid|new certificate)"
}
crowded_out_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 8. Changes that never stop.

atf_test_case touch_loop cleanup
touch_loop_head()
{
	atf_set descr "settle 1, settle_max 3, the attacker touches its" \
	    "chain.pem every 0.3 s forever: a bundle change is applied" \
	    "within settle_max anyway"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
touch_loop_body()
{
	atk_init
	atk_install leaf1
	atk_conf "settle 1" "settle_max 3"
	atf_check -s exit:0 -o ignore -e ignore "$SMTLSD" -n -f "$(pwd)/conf"
	daemon_once
	daemon_sendmail
	daemon_start
	(cd "$A" && exec setpriv --reuid="$A_UID" --regid="$A_GID" \
	    --clear-groups -- sh -c 'while :; do touch -h "$1/chain.pem";
	    sleep 0.3; done' sh "$DOM") &
	daemon_remember $!
	sleep 1.5
	t0=$(daemon_ms)
	atk_bundle_drop
	daemon_wait 8 "other1 to leave cert_dir while the attacker touches" \
	    daemon_not_in_store other1
	echo "applied after $(($(daemon_ms) - t0)) ms"
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
}
touch_loop_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 9. Domain names that forge log lines.

atf_test_case forged_name cleanup
forged_name_head()
{
	atf_set descr "Domain directories named with a newline and a forged" \
	    "log line, and with an ESC sequence: no log line starts with" \
	    "the forged text, no raw ESC in the log or the status file," \
	    "which others cannot read"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
forged_name_body()
{
	atk_init
	atk_prepare
	daemon_start
	forged="smtlsd: reloaded sendmail (pid 1): forged"
	# Complete sets whose key does not match: each is reported.
	atk_install leaf1 "esc${ESC}[2Jname" leaf2
	atk_resync
	atk_install leaf1 "x${NL}${forged}" leaf2
	atk_resync
	daemon_logged 1 'forged' || { daemon_show;
	    atf_fail "the forged domain was never reported"; }
	if grep -n "^$forged" daemon.log >&2; then
		atf_fail "a log line starts with the forged text"
	fi
	for f in daemon.log aux/status; do
		if grep -q "$ESC" "$f"; then
			atf_fail "$f holds a raw ESC"
		fi
	done
	# A line for the last pass, one for the STARTTLS probe.
	[ "$(wc -l <aux/status)" -eq 2 ] || { cat aux/status >&2;
	    atf_fail "the status file is not two lines"; }
	# It names what smtlsd found in the attacker's directories (and
	# could name more): not for others to read.
	m=$(stat -c %a aux/status)
	[ "$m" = 640 ] || atf_fail "the status file has mode $m, not 640"
	atk_hups_none
}
forged_name_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 10. smtlsd's own pidfile and status file.

# refuses_start WHAT-REGEX: smtlsd -d with conf exits 1 at once, saying
# WHAT-REGEX (not running on until timeout ends it).
refuses_start()
{
	atf_check -s exit:1 -o ignore -e match:"$1" \
	    timeout 10 "$SMTLSD" -d -f "$(pwd)/conf"
}

# start_planted TARGET WHAT-REGEX: smtlsd -d with a symlink planted at
# one of its files, to $A/root/TARGET: the target keeps its contents
# (checked first: the worse outcome), and smtlsd exits 1 at once,
# saying WHAT-REGEX.
start_planted()
{
	_p_rc=0
	timeout 10 "$SMTLSD" -d -f "$(pwd)/conf" >start.out 2>start.err ||
	    _p_rc=$?
	[ "$(cat "$A/root/$1")" = "root's $1" ] || { cat start.err >&2;
	    atf_fail "the target of the planted symlink was overwritten"; }
	[ "$_p_rc" -eq 1 ] || { cat start.err >&2; atf_fail "smtlsd did" \
	    "not refuse to start (exit $_p_rc; 124: ran until killed)"; }
	grep -Eq -- "$2" start.err || { cat start.err >&2;
	    atf_fail "the message does not say: $2"; }
}

atf_test_case pidfile_dir cleanup
pidfile_dir_head()
{
	atf_set descr "pidfile in a directory the attacker owns, or in a" \
	    "1777 one: smtlsd refuses to start, naming the directory"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
pidfile_dir_body()
{
	atk_init
	atk_install leaf1
	atk_conf "pidfile $A/le/smtlsd.pid"
	refuses_start "$A/le"
	mkdir -m 1777 "$A/sticky"
	atk_conf "pidfile $A/sticky/smtlsd.pid"
	refuses_start "$A/sticky"
}
pidfile_dir_cleanup()
{
	atk_cleanup
}

# precious NAME: $A/root/NAME, a file of root's with known contents.
precious()
{
	echo "root's $1" >"$A/root/$1"
}

atf_test_case pidfile_symlink cleanup
pidfile_symlink_head()
{
	atf_set descr "A symlink planted at smtlsd's pidfile, to a root" \
	    "file: smtlsd refuses to start and the target is not truncated"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
pidfile_symlink_body()
{
	atk_init
	atk_install leaf1
	atk_conf
	precious passwd
	ln -s "$A/root/passwd" aux/smtlsd.pid
	start_planted passwd "smtlsd\.pid"
}
pidfile_symlink_cleanup()
{
	atk_cleanup
}

atf_test_case status_dir cleanup
status_dir_head()
{
	atf_set descr "status_file in a directory the attacker owns, or in" \
	    "a 1777 one: smtlsd refuses to start, naming the directory"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
status_dir_body()
{
	atk_init
	atk_install leaf1
	atk_conf "status_file $A/le/smtlsd.status"
	refuses_start "$A/le"
	mkdir -m 1777 "$A/sticky"
	atk_conf "status_file $A/sticky/smtlsd.status"
	refuses_start "$A/sticky"
}
status_dir_cleanup()
{
	atk_cleanup
}

atf_test_case status_symlink cleanup
status_symlink_head()
{
	atf_set descr "A symlink planted at status_file, to a root file:" \
	    "smtlsd refuses to start and the target is not truncated"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
status_symlink_body()
{
	atk_init
	atk_install leaf1
	atk_conf
	precious shadow
	ln -s "$A/root/shadow" aux/status
	start_planted shadow "aux/status"
}
status_symlink_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 11. sendmail's pidfile.

# Why a reload is refused, as the status file says it.
REFUSED='not followed|not trusted|not the MTA|refus|not reloading'

# refused_reload: makes smtlsd want a reload (dh.param deleted; it writes
# the group back) and waits until it refused or signalled; the status
# must say failed and why.
refused_reload()
{
	rm -f aux/dh.param
	daemon_wait 10 "the reload refused (or sent)" eval \
	    '[ "$(daemon_status 5)" = failed ] || [ "$(daemon_hups)" -gt 0 ]'
	atk_quiet
	daemon_hups_are 0 || { daemon_show;
	    atf_fail "sendmail was signalled: $(cat aux/status)"; }
	grep -Eiq "$REFUSED" aux/status ||
	    atf_fail "the status does not say why: $(cat aux/status)"
}

# stand_in PIDFILE: the sendmail stand-in (root's) writing PIDFILE.
stand_in()
{
	"$(pwd)/bin/sendmail" -p "$1" -l "$(pwd)/aux/sendmail.log" ||
	    atf_fail "the sendmail stand-in did not start"
	daemon_remember "$(head -n 1 "$1")"
}

atf_test_case reload_pidfile_symlink cleanup
reload_pidfile_symlink_head()
{
	atf_set descr "reload_pidfile a symlink to a pidfile naming a real" \
	    "sendmail: no signal, the status says why"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
reload_pidfile_symlink_body()
{
	atk_init
	atk_install leaf1
	atk_conf
	daemon_once
	stand_in "$(pwd)/aux/real.pid"
	ln -s real.pid aux/sendmail.pid
	daemon_start
	refused_reload
}
reload_pidfile_symlink_cleanup()
{
	atk_cleanup
}

# pidfile_writable MODE [GROUP]: reload_pidfile in $A/run, root's
# directory of mode MODE (and group GROUP) that the attacker can write:
# the root stand-in's pidfile there is not believed.
pidfile_writable()
{
	atk_init
	atk_install leaf1
	mkdir "$A/run"
	[ -z "${2:-}" ] || chgrp "$2" "$A/run"
	chmod "$1" "$A/run"
	as_atk touch "$A/run/probe" ||
	    atf_fail "the attacker cannot write $A/run"
	atk_conf "reload_pidfile $A/run/sendmail.pid"
	daemon_once
	stand_in "$A/run/sendmail.pid"
	daemon_start
	refused_reload
}

atf_test_case reload_pidfile_sticky cleanup
reload_pidfile_sticky_head()
{
	atf_set descr "reload_pidfile in a 1777 directory: no signal, the" \
	    "status says why"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
reload_pidfile_sticky_body()
{
	pidfile_writable 1777
}
reload_pidfile_sticky_cleanup()
{
	atk_cleanup
}

atf_test_case reload_pidfile_group cleanup
reload_pidfile_group_head()
{
	atf_set descr "reload_pidfile in root's directory that the" \
	    "attacker's group can write: no signal, the status says why"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
reload_pidfile_group_body()
{
	atk_user
	pidfile_writable 0770 "$A_GID"
}
reload_pidfile_group_cleanup()
{
	atk_cleanup
}

atf_test_case reload_nonroot cleanup
reload_nonroot_head()
{
	atf_set descr "reload_pidfile (root's) names the attacker's process" \
	    "called sendmail (a copy of sleep): no signal, the status says" \
	    "why"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
reload_nonroot_body()
{
	atk_init
	atk_install leaf1
	atk_conf
	daemon_once
	as_atk mkdir "$A/le/bin"
	as_atk cp "$(command -v sleep)" "$A/le/bin/sendmail"
	(cd "$A" && exec setpriv --reuid="$A_UID" --regid="$A_GID" \
	    --clear-groups -- "$A/le/bin/sendmail" 60) &
	sp=$!
	daemon_remember "$sp"
	daemon_wait 5 "the attacker's sendmail" eval \
	    '[ "$(ps -o comm= -p "$sp")" = sendmail ]'
	echo "$sp" >aux/sendmail.pid
	daemon_start
	rm -f aux/dh.param
	daemon_wait 10 "the reload refused (or sent)" eval \
	    '[ "$(daemon_status 5)" = failed ] || daemon_dead "$sp"'
	atk_quiet
	daemon_alive "$sp" || atf_fail "the attacker's process was signalled"
	grep -Eiq "$REFUSED" aux/status ||
	    atf_fail "the status does not say why: $(cat aux/status)"
}
reload_nonroot_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 12. What reload_command inherits.

atf_test_case command_env cleanup
command_env_head()
{
	atf_set descr "reload_command after a renewal gets only PATH and" \
	    "SMTLSD_* in its environment, fds 0 1 2, no signal ignored or" \
	    "blocked"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
command_env_body()
{
	atk_init
	w=$(pwd)
	atk_prepare "reload_command \"env >$w/env.tmp; ls -l /proc/self/fd >$w/fds.out; grep -E ^Sig /proc/self/status >$w/sig.out; mv $w/env.tmp $w/env.out\""
	# That -1 ran the command for the new dh.param: not the one to see.
	rm -f env.out fds.out sig.out
	SECRET_TEST_VAR=smtlsd-secret
	export SECRET_TEST_VAR
	# smtlsd starts holding fd 7 on a file of root's.
	exec 7<"$A/root"
	daemon_start
	exec 7<&-
	atk_install leaf2
	daemon_wait 10 "reload_command to run" test -f env.out
	daemon_logged 1 'running reload_command .*new certificate' ||
	    { daemon_show; atf_fail "the command did not run for the renewal"; }
	# (sh itself sets PWD.)
	if grep -Ev '^(PATH|SMTLSD_[A-Za-z0-9_]*|PWD)=' env.out >&2; then
		atf_fail "reload_command inherited more than PATH and SMTLSD_*"
	fi
	# Each "... FD -> TARGET", but ls's own /proc/PID/fd.
	fds=$(awk '$(NF - 1) == "->" && $NF !~ /^\/proc\/[0-9]+\/fd$/ {
	    print $(NF - 2) }' fds.out | sort -n | tr '\n' ' ')
	[ "$fds" = "0 1 2 " ] || atf_fail "reload_command has the fds $fds"
	# Signals 1 to 31 only: glibc keeps 32 and 33 for itself and
	# refuses to change them, so whatever the daemon inherited there
	# stays (the suite under kyua has them ignored at times).
	for m in SigIgn SigBlk; do
		v=$(awk -v m="$m:" '$1 == m { print $2 }' sig.out)
		[ -n "$v" ] || atf_fail "no $m line in /proc/self/status"
		[ $((0x$v & 0x7fffffff)) -eq 0 ] ||
		    atf_fail "reload_command starts with $m $v (not none)"
	done
}
command_env_cleanup()
{
	atk_cleanup
}

# --------------------------------------------------------------------
# 13. A NUL byte in the configuration.

atf_test_case conf_nul
conf_nul_head()
{
	atf_set descr "A NUL byte in the configuration file: smtlsd -n" \
	    "fails with file:line:"
}
conf_nul_body()
{
	SMTLSD=$(atf_config_get attack_smtlsd "$SMTLSD")
	[ -x "$SMTLSD" ] || atf_fail "$SMTLSD is missing: run make first"
	printf 'settle 1\nsettle 2\000pidfile /etc/passwd\n' >conf
	chmod 0644 conf
	atf_check -s not-exit:0 -o ignore -e match:"conf:2:" \
	    "$SMTLSD" -n -f "$(pwd)/conf"
}

atf_init_test_cases()
{
	atf_add_test_case symlink_chain_daemon
	atf_add_test_case symlink_chain_once
	atf_add_test_case symlink_key_daemon
	atf_add_test_case symlink_key_once
	atf_add_test_case domain_link
	atf_add_test_case hardlink
	atf_add_test_case pty
	atf_add_test_case fifo
	atf_add_test_case dangling
	atf_add_test_case unverifiable_daemon
	atf_add_test_case unverifiable_once
	atf_add_test_case flood
	atf_add_test_case oversized
	atf_add_test_case many_domains
	atf_add_test_case crowded_out
	atf_add_test_case touch_loop
	atf_add_test_case forged_name
	atf_add_test_case pidfile_dir
	atf_add_test_case pidfile_symlink
	atf_add_test_case status_dir
	atf_add_test_case status_symlink
	atf_add_test_case reload_pidfile_symlink
	atf_add_test_case reload_pidfile_sticky
	atf_add_test_case reload_pidfile_group
	atf_add_test_case reload_nonroot
	atf_add_test_case command_env
	atf_add_test_case conf_nul
}
