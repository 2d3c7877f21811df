#! /usr/bin/env atf-sh
# sendmail's safefile rules (lib/safefile.c) and smtlsd -C (issue 12):
# the checklist against hand-made sendmail.cf files and stand-ins for
# "sendmail -d0.10 -bt"; each safefile rule refused with its message and
# relaxed by what DontBlameSendmail relaxes; a reload into files sendmail
# would refuse is held (the stand-in gets no signal) until they are
# fixed, then made once, by the daemon and by -1; and the attacks of an
# unprivileged owner of the domain directory.  Root only (chown).
#
# The test's directory is below /tmp, which is world-writable and
# sticky: sendmail refuses files there unless DontBlameSendmail has
# TrustStickyBit, so the good sendmail.cf here has it (and the case
# sticky_tmp shows the rule).

# SC2016: the single-quoted conditions are evaluated later, by eval;
# SC2034: D_SETTLE is read by lib.sh's daemon_conf.
# shellcheck disable=SC1091,SC2016,SC2034
. "$(atf_get_srcdir)/lib.sh"

DOM="le/certs/$D_DOMAIN"

# ck_need: root, and the daemon built.
ck_need()
{
	[ "$(id -u)" -eq 0 ] || atf_skip "needs root (files of other owners)"
	daemon_need
}

# ck_sendmail [starttls] [chain] [ec] [hang]: sbin/sendmail, a stand-in
# for "sendmail -d0.10 -bt" that prints the compile options named
# (Debian's 8.17 output, with or without them); hang: then sleeps.
ck_sendmail()
{
	_s_tls='' _s_ffr='' _s_ec='' _s_hang=''
	for _s_a in "$@"; do
		case $_s_a in
		starttls) _s_tls=STARTTLS ;;
		chain) _s_ffr=_FFR_TLS_USE_CERTIFICATE_CHAIN_FILE ;;
		ec) _s_ec=TLS_EC ;;
		hang) _s_hang="exec sleep 60" ;;
		esac
	done
	mkdir -p sbin
	cat >sbin/sendmail <<EOF
#!/bin/sh
cat <<'OUT'
Version 8.17.1.9
 Compiled with: DNSMAP IPV6_FULL LDAPMAP LOG MAP_REGEX MATCHGECOS
		MILTER NETINET NETINET6 NETUNIX NEWDB=5.3 PIPELINING $_s_tls
		TCPWRAPPERS $_s_ec TLS_VRFY_PER_CTX USERDB XDEBUG
    OS Defines: ADDRCONFIG_IS_BROKEN HASFCHOWN HASFCHMOD HASFLOCK
    FFR Defines: _FFR_QUEUE_SCHED_DBG $_s_ffr
Canonical name: mail.example.test
OUT
$_s_hang
echo "/etc/mail/sendmail.cf: line 0: cannot open" >&2
exit 72
EOF
	chmod 0755 sbin/sendmail
}

# ck_cf [LINE...]: aux/sendmail.cf, as m4 makes it from the seed page's
# sendmail.mc for this test's directories, then the LINEs (the last
# setting of an option wins, as in sendmail).
ck_cf()
{
	_f_top=$(pwd)
	{
		echo "# generated from sendmail.mc"
		echo "O CACertPath=$_f_top/certs"
		echo "O CACertFile=$_f_top/$DOM/chain.pem"
		echo "O ServerCertFile=$_f_top/$DOM/fullchain.pem"
		echo "O ServerKeyFile=$_f_top/$DOM/privkey.pem"
		echo "O DHParameters=$_f_top/aux/dh.param"
		echo "O CipherList=ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-GCM-SHA256:AES128-SHA"
		echo "O ServerSSLOptions=SSL_OP_NO_SSLv3,SSL_OP_NO_TLSv1,"
		echo "	SSL_OP_CIPHER_SERVER_PREFERENCE"
		echo "O DontBlameSendmail=TrustStickyBit"
		for _f_l in "$@"; do
			echo "$_f_l"
		done
	} >aux/sendmail.cf.tmp
	chmod 0644 aux/sendmail.cf.tmp
	mv aux/sendmail.cf.tmp aux/sendmail.cf
}

# ck_setup [CONF-LINE...]: the daemon tests' layout, a set for leaf1,
# one pass, the good sendmail.cf, a sendmail with every option, and
# the configuration pointing at both.
ck_setup()
{
	ck_need
	daemon_setup
	daemon_install leaf1
	daemon_conf
	daemon_once
	ck_cf
	ck_sendmail starttls chain ec
	daemon_conf "sendmail_cf $(pwd)/aux/sendmail.cf" \
	    "sendmail_path $(pwd)/sbin/sendmail" "$@"
}

# ck_run: smtlsd -C -f conf, stdout in out, stderr in err; its status.
ck_run()
{
	_r_rv=0
	timeout 60 "$SMTLSD" -C -f "$(pwd)/conf" >out 2>err || _r_rv=$?
	return "$_r_rv"
}

# ck_line LEVEL NAME REGEX: out has "LEVEL NAME: ..." matching REGEX.
ck_line()
{
	grep -E -- "^$1 +$2: .*$3" out >/dev/null || {
	    echo "---- out"; cat out; echo "---- err"; cat err; } >&2
	grep -E -- "^$1 +$2: .*$3" out >/dev/null ||
	    atf_fail "no line \"$1 $2: ...$3\" in the output of smtlsd -C"
}

# ck_only_fail NAME: exactly one FAIL line, and it is NAME's.
ck_only_fail()
{
	_o_n=$(grep -c '^FAIL' out)
	if [ "$_o_n" -ne 1 ] || ! grep -q "^FAIL $1:" out; then
		cat out >&2
		atf_fail "expected one FAIL, for $1; got $_o_n"
	fi
}

# ck_key_fails REGEX: smtlsd -C exits 1 with a safefile FAIL matching
# REGEX.
ck_key_fails()
{
	atf_check -s exit:1 -o match:"^FAIL safefile: .*$1" -e empty \
	    "$SMTLSD" -C -f "$(pwd)/conf"
}

# ck_key_ok: smtlsd -C says sendmail accepts the files, exits 0.
ck_key_ok()
{
	atf_check -s exit:0 -o match:'^ok   safefile: sendmail accepts' \
	    -o not-match:'^FAIL' -e empty "$SMTLSD" -C -f "$(pwd)/conf"
}

atf_test_case all_ok
all_ok_head()
{
	atf_set descr "-C: the seed page's set-up passes every check"
}
all_ok_body()
{
	ck_setup
	atf_check -s exit:0 -o not-match:'^(FAIL|warn)' -e empty \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	ck_run
	for _n in sendmail.cf CACertPath DHParameters ServerCertFile \
	    ServerKeyFile safefile protocols "cipher order" leftovers \
	    STARTTLS "chain file" ECDHE; do
		ck_line ok "$_n" ""
	done
	ck_line ok protocols "SSLv3 and TLSv1 off"
	ck_line ok "cipher order" "starts with ECDHE-RSA-AES128-GCM-SHA256"
}

atf_test_case wrong_lines
wrong_lines_head()
{
	atf_set descr "-C: each wrong sendmail.cf line FAILs its check alone"
}
wrong_lines_body()
{
	ck_setup
	_t=$(pwd)
	cp "$DOM/fullchain.pem" aux/fullchain.pem
	for _case in \
	    "CACertPath|O CACertPath=/etc/mail/certs.old|not smtlsd's cert_dir" \
	    "DHParameters|O DHParameters=$_t/aux/other.param|not smtlsd's dh_params" \
	    "ServerCertFile|O ServerCertFile=$_t/aux/fullchain.pem|not in a domain directory smtlsd watches" \
	    "ServerKeyFile|O ServerKeyFile=$_t/$DOM/cert.pem|use privkey.pem" \
	    "protocols|O ServerSSLOptions=SSL_OP_NO_SSLv3,SSL_OP_CIPHER_SERVER_PREFERENCE|TLSv1 still allowed" \
	    "protocols|O ServerSSLOptions=SSL_OP_NO_SSLv3 -SSL_OP_NO_TLSv1 SSL_OP_CIPHER_SERVER_PREFERENCE|TLSv1 still allowed" \
	    "cipher order|O CipherList=AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256|not ECDHE"; do
		_name=${_case%%|*}
		_rest=${_case#*|}
		_line=${_rest%%|*}
		_msg=${_rest#*|}
		ck_cf "$_line"
		ck_run && atf_fail "smtlsd -C exited 0 with $_line"
		ck_line FAIL "$_name" "$_msg"
		ck_only_fail "$_name"
	done
	# Unset: the missing server files FAIL; DHParameters only warns.
	ck_cf
	grep -v '^O DHParameters=' aux/sendmail.cf >aux/cf.tmp
	mv aux/cf.tmp aux/sendmail.cf
	atf_check -s exit:0 -o match:'^warn DHParameters: not set' \
	    -o not-match:'^FAIL' "$SMTLSD" -C -f "$(pwd)/conf"
	grep -v '^O ServerKeyFile=' aux/sendmail.cf >aux/cf.tmp
	mv aux/cf.tmp aux/sendmail.cf
	atf_check -s exit:1 -o match:'^FAIL ServerKeyFile: not set' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
}

atf_test_case cf_refused
cf_refused_head()
{
	atf_set descr "-C: a missing, writable or huge sendmail.cf FAILs"
}
cf_refused_body()
{
	ck_setup
	chmod 0664 aux/sendmail.cf
	atf_check -s exit:1 -o match:'^FAIL sendmail.cf: .*group or others can write it.*chmod go-w' \
	    -o not-match:'^ok   CACertPath' "$SMTLSD" -C -f "$(pwd)/conf"
	chmod 0644 aux/sendmail.cf
	chown nobody aux/sendmail.cf
	atf_check -s exit:1 -o match:'^FAIL sendmail.cf: .*not root' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	chown root aux/sendmail.cf
	dd if=/dev/zero of=aux/sendmail.cf bs=1048576 count=5 2>/dev/null
	atf_check -s exit:1 -o match:'^FAIL sendmail.cf: .*larger than' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	rm aux/sendmail.cf
	atf_check -s exit:1 -o match:'^FAIL sendmail.cf: .*no such file' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	daemon_conf "sendmail_cf none" "sendmail_path $(pwd)/sbin/sendmail"
	atf_check -s exit:0 -o match:'^warn sendmail.cf: sendmail_cf none' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
}

atf_test_case binary
binary_head()
{
	atf_set descr "-C: STARTTLS FAILs when missing, the FFR options warn"
}
binary_body()
{
	ck_setup
	ck_sendmail chain ec
	atf_check -s exit:1 -o match:'^FAIL STARTTLS: .*without STARTTLS' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	ck_run || true
	ck_only_fail STARTTLS
	ck_sendmail starttls
	atf_check -s exit:0 \
	    -o match:'^warn chain file: no _FFR_TLS_USE_CERTIFICATE_CHAIN_FILE: .*intermediates into CACertPath' \
	    -o match:'^warn ECDHE: no TLS_EC' "$SMTLSD" -C -f "$(pwd)/conf"
	# Not root's, or writable by others: not run.
	ck_sendmail starttls chain ec
	chmod 0775 sbin/sendmail
	atf_check -s exit:1 -o match:'^FAIL STARTTLS: .*not running it' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	chmod 0755 sbin/sendmail
	chown nobody sbin/sendmail
	atf_check -s exit:1 -o match:'^FAIL STARTTLS: .*not running it' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	chown root sbin/sendmail
	daemon_conf "sendmail_cf $(pwd)/aux/sendmail.cf" \
	    "sendmail_path $(pwd)/sbin/missing"
	atf_check -s exit:1 -o match:'^FAIL STARTTLS: .*No such file' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
}

atf_test_case binary_hangs
binary_hangs_head()
{
	atf_set descr "-C: a sendmail that never ends is killed after 10 s"
	atf_set timeout 60
}
binary_hangs_body()
{
	ck_setup
	ck_sendmail starttls chain ec hang
	_t0=$(date +%s)
	atf_check -s exit:0 -o match:'^ok   STARTTLS' -o match:'^ok   ECDHE' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	_t=$(($(date +%s) - _t0))
	[ "$_t" -le 20 ] || atf_fail "smtlsd -C took $_t s"
	# Its process group was killed: no sleep of the stand-in is left.
	sleep 0.2
	! pgrep -f "sbin/sendmail" >/dev/null ||
	    atf_fail "the stand-in still runs: $(pgrep -af sbin/sendmail)"
}

atf_test_case leftovers
leftovers_head()
{
	atf_set descr "-C: sendmail_cert_create's files in cert_dir"
}
leftovers_body()
{
	ck_setup
	cp pki/other1.key certs/host.key
	cp pki/other1.pem certs/host.cert
	atf_check -s exit:0 -o match:'^warn leftovers: .*host.cert.*made by sendmail_cert_create' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
	cp pki/other1.pem certs/cacert.pem
	ln -s cacert.pem certs/0badcafe.0
	atf_check -s exit:1 -o match:'^FAIL leftovers: .*links to cacert.pem' \
	    "$SMTLSD" -C -f "$(pwd)/conf"
}

atf_test_case rule_group_readable_key
rule_group_readable_key_head()
{
	atf_set descr "safefile: a group-readable key, and GroupReadableKeyFile"
}
rule_group_readable_key_body()
{
	ck_setup
	chmod 0640 "$DOM/privkey.pem"
	ck_key_fails "privkey.pem: the key is readable by its group \(mode 0640\).*E_SM_GRFILE.*chmod 600 .*privkey.pem"
	ck_cf "O DontBlameSendmail=TrustStickyBit,GroupReadableKeyFile"
	ck_key_ok
	# Not readable by others, whatever DontBlameSendmail says.
	chmod 0644 "$DOM/privkey.pem"
	ck_key_fails "the key is readable by others \(mode 0644\).*E_SM_WRFILE.*chmod 640"
	ck_cf
	ck_key_fails "the key is readable by its group"
}

atf_test_case rule_writable_file
rule_writable_file_head()
{
	atf_set descr "safefile: a group- or world-writable certificate or key"
}
rule_writable_file_body()
{
	ck_setup
	_c=$(readlink -f "$DOM/fullchain.pem")
	chmod 0620 "$_c"
	ck_key_fails "fullchain.pem: the certificate is writable by its group.*E_SM_GWFILE"
	# GroupReadableKeyFile and GroupWritableDirPathSafe do not help.
	ck_cf "O DontBlameSendmail=TrustStickyBit GroupReadableKeyFile GroupWritableDirPathSafe"
	ck_key_fails "writable by its group"
	chmod 0602 "$_c"
	ck_key_fails "writable by others.*E_SM_WWFILE"
	chmod 0600 "$_c"
	ck_key_ok
	chmod 0602 "$(readlink -f "$DOM/chain.pem")"
	ck_key_fails "chain.pem: the certificate is writable by others"
}

atf_test_case rule_dir_path
rule_dir_path_head()
{
	atf_set descr "safefile: a group-writable directory on the path"
}
rule_dir_path_body()
{
	ck_setup
	chmod g+w le
	ck_key_fails "the directory .*/le on its path is writable by its group.*E_SM_GWDIR.*chmod g-w"
	ck_cf "O DontBlameSendmail=TrustStickyBit,GroupWritableDirPathSafe"
	ck_key_ok
	ck_cf
	chmod g-w le
	chmod o+w le/certs
	ck_key_fails "the directory .*/le/certs on its path is writable by others.*E_SM_WWDIR"
	chmod o-w le/certs
	ck_key_ok
}

atf_test_case rule_dir_link
rule_dir_link_head()
{
	atf_set descr "safefile: a directory on the path that is a link is followed"
}
rule_dir_link_body()
{
	ck_setup
	mkdir -p shared/g
	chmod 0775 shared/g
	mv le shared/g/le
	ln -s shared/g/le le
	ck_key_fails "the directory .*/shared/g on its path is writable by its group"
	chmod 0755 shared/g
	ck_key_ok
}

atf_test_case rule_links_final
rule_links_final_head()
{
	atf_set descr "safefile: the file itself may be a link (dehydrated's are)"
}
rule_links_final_body()
{
	ck_setup
	# privkey.pem is dehydrated's relative link already: accepted.
	[ -L "$DOM/privkey.pem" ] || atf_fail "privkey.pem is not a link"
	ck_key_ok
	# Its target must still be a regular file.
	_k=$(readlink -f "$DOM/privkey.pem")
	mv "$_k" "$_k.real"
	mkfifo "$_k"
	ck_key_fails "not a regular file.*E_SM_REGONLY"
	rm "$_k"
	mv "$_k.real" "$_k"
	ck_key_ok
}

atf_test_case rule_owner
rule_owner_head()
{
	atf_set descr "safefile: owned by root or TrustedUser"
}
rule_owner_body()
{
	ck_setup
	chown -h nobody "$(readlink -f "$DOM/privkey.pem")"
	ck_key_fails "the key is owned by nobody uid 65534, not by root or TrustedUser.*chown root"
	ck_cf "O TrustedUser=nobody"
	ck_key_ok
	ck_cf "O TrustedUser=no-such-user-here"
	ck_key_fails "TrustedUser no-such-user-here: no such user"
}

atf_test_case sticky_tmp
sticky_tmp_head()
{
	atf_set descr "safefile: below /tmp only with TrustStickyBit"
}
sticky_tmp_body()
{
	ck_setup
	case $(pwd) in
	/tmp/*) ;;
	*) atf_skip "the work directory is not below /tmp" ;;
	esac
	ck_cf "O DontBlameSendmail=Safe"
	ck_key_fails "the directory /tmp on its path is writable by others.*TrustStickyBit"
}

# ck_start_daemon: the stand-in and smtlsd, with the test's sendmail.cf.
ck_start_daemon()
{
	daemon_sendmail
	daemon_start
}

# A group-writable domain directory: sendmail refuses every file in it
# (E_SM_GWDIR), while the set itself is complete and valid (acme.c
# checks the files' own modes; a group-readable privkey.pem is refused
# there already, see attack_group_readable).

atf_test_case reload_held
reload_held_head()
{
	atf_set descr "a renewal sendmail would refuse is not reloaded; the fix reloads once"
}
reload_held_body()
{
	D_SETTLE=1
	ck_setup
	ck_start_daemon
	daemon_replay -w 0.1 "$DOM" pki/leaf2.key pki/leaf2.pem pki/int.pem
	# The directory made group-writable before settle ends.
	chmod g+w "$DOM"
	daemon_wait_log "not reloading sendmail \(new certificate in .*\): .*mail.example.test on its path is writable by its group.*chmod g-w"
	daemon_wait "$D_DEADLINE" "status failed" \
	    eval '[ "$(daemon_status 5)" = failed ]'
	grep -q "on its path is writable by its group" aux/status ||
	    atf_fail "the status does not say why: $(cat aux/status)"
	sleep 1.5
	daemon_hups_are 0 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
	# Passes meanwhile do not say it again.
	touch "$DOM/cert.csr"
	sleep 1.5
	[ "$(daemon_count 'not reloading sendmail')" -eq 1 ] ||
	    atf_fail "the refusal was logged $(daemon_count 'not reloading sendmail') times"
	daemon_hups_are 0 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
	# The fix is an event on the directory: one reload, then quiet.
	chmod g-w "$DOM"
	daemon_wait "$D_DEADLINE" "one SIGHUP" daemon_hups_are 1
	daemon_wait_log "reloaded sendmail .*new certificate in"
	daemon_wait "$D_DEADLINE" "status ok" \
	    eval '[ "$(daemon_status 5)" = ok ]'
	touch "$DOM/cert.csr"
	sleep 1.5
	daemon_hups_are 1 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
}
reload_held_cleanup()
{
	daemon_cleanup
}

atf_test_case reload_owed_held
reload_owed_held_head()
{
	atf_set descr "a reload owed since a stale pidfile is checked too: held while sendmail would refuse its files"
}
reload_owed_held_body()
{
	D_SETTLE=0.5
	ck_setup
	ck_start_daemon
	good=$(daemon_sendmail_pid)
	sleep 100 &
	sp=$!
	daemon_remember $sp
	# The renewal meets a stale pidfile: the reload is refused, owed.
	mv aux/sendmail.pid aux/sendmail.pid.good
	echo "$sp" >aux/sendmail.pid
	daemon_replay -w 0.1 "$DOM" pki/leaf2.key pki/leaf2.pem pki/int.pem
	daemon_wait_log "not reloading sendmail: process $sp is \"sleep\""
	# Meanwhile sendmail's files become ones it refuses; then the
	# pidfile names the old sendmail again and the owed reload is due.
	chmod g+w "$DOM"
	sleep 1
	mv aux/sendmail.pid.good aux/sendmail.pid
	kill -USR1 "$D_PID"
	daemon_wait_log "not reloading sendmail \(owed since it was refused\): .*mail.example.test on its path is writable by its group"
	sleep 1
	daemon_hups_are 0 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
	[ "$(daemon_status 5)" = failed ] ||
	    atf_fail "status is not failed: $(cat aux/status)"
	# The fix: the owed reload goes, once.
	chmod g-w "$DOM"
	daemon_wait "$D_DEADLINE" "one SIGHUP" daemon_hups_are 1
	daemon_wait 10 "sendmail back" daemon_sendmail_back 1
	[ "$(daemon_sendmail_pid)" != "$good" ] ||
	    atf_fail "sendmail was not reloaded: pid $good still"
	touch "$DOM/cert.csr"
	sleep 1.5
	daemon_hups_are 1 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
}
reload_owed_held_cleanup()
{
	daemon_cleanup
}

atf_test_case reload_held_once
reload_held_once_head()
{
	atf_set descr "-1: the same refusal, exit 1; after the fix one reload"
}
reload_held_once_body()
{
	ck_setup
	daemon_sendmail
	sleep 0.05
	daemon_replay -w 0 "$DOM" pki/leaf2.key pki/leaf2.pem pki/int.pem
	chmod o+w "$DOM"
	atf_check -s exit:1 -o ignore \
	    -e match:'not reloading sendmail .*mail.example.test on its path is writable by others' \
	    "$SMTLSD" -1 -f "$(pwd)/conf"
	daemon_hups_are 0 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
	chmod o-w "$DOM"
	atf_check -s exit:0 -o ignore -e match:'reloaded sendmail' \
	    "$SMTLSD" -1 -f "$(pwd)/conf"
	daemon_hups_are 1 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
}
reload_held_once_cleanup()
{
	daemon_cleanup
}

atf_test_case reload_no_cf
reload_no_cf_head()
{
	atf_set descr "without a sendmail.cf nothing is held"
}
reload_no_cf_body()
{
	ck_setup "sendmail_cf $(pwd)/aux/none.cf"
	daemon_sendmail
	sleep 0.05
	daemon_replay -w 0 "$DOM" pki/leaf2.key pki/leaf2.pem pki/int.pem
	chmod g+w "$DOM"
	atf_check -s exit:0 -o ignore -e match:'reloaded sendmail' \
	    "$SMTLSD" -1 -f "$(pwd)/conf"
	daemon_hups_are 1 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
}
reload_no_cf_cleanup()
{
	daemon_cleanup
}

# ck_as_owner CMD...: CMD as nobody, the unprivileged owner of le/.
ck_as_owner()
{
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

# ck_owner_setup: le/ belongs to nobody (dehydrated's own user, trusted
# by sendmail with TrustedUser), the renewal's files in pub/ for it.
ck_owner_setup()
{
	D_SETTLE=1
	ck_setup "acme_cert $(pwd)/$DOM"
	command -v setpriv >/dev/null || atf_skip "setpriv(1) is missing"
	chown -R nobody:nogroup le
	ck_cf "O TrustedUser=nobody"
	mkdir -m 0755 pub
	cp pki/leaf2.key pki/leaf2.pem pki/int.pem \
	    "$(atf_get_srcdir)/dehydrated_replay.sh" pub/
	chown nobody pub/*
	ck_start_daemon
}

atf_test_case attack_group_readable
attack_group_readable_head()
{
	atf_set descr "attack: dehydrated's user makes its new key group-readable, or its directory group-writable"
}
attack_group_readable_body()
{
	ck_owner_setup
	ck_as_owner sh pub/dehydrated_replay.sh -w 0.1 "$DOM" pub/leaf2.key \
	    pub/leaf2.pem pub/int.pem || atf_fail "the owner's renewal failed"
	ck_as_owner chmod 0640 "$DOM/privkey.pem"
	daemon_wait_log "privkey.pem is readable by group or others; sendmail would refuse it"
	sleep 1
	daemon_hups_are 0 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
	ck_as_owner chmod 0600 "$DOM/privkey.pem"
	ck_as_owner chmod 0770 "$DOM"
	daemon_wait_log "not reloading sendmail .*on its path is writable by its group"
	sleep 1
	daemon_hups_are 0 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
}
attack_group_readable_cleanup()
{
	daemon_cleanup
}

atf_test_case attack_dir_link
attack_dir_link_head()
{
	atf_set descr "attack: the owner swaps certs/ for a link into a group-writable directory, then renews"
}
attack_dir_link_body()
{
	ck_owner_setup
	mkdir -m 0775 open
	chown nobody:nogroup open
	ck_as_owner mv le/certs open/certs
	ck_as_owner ln -s "$(pwd)/open/certs" le/certs
	ck_as_owner sh pub/dehydrated_replay.sh -w 0.1 \
	    "open/certs/$D_DOMAIN" pub/leaf2.key pub/leaf2.pem pub/int.pem ||
	    atf_fail "the owner's renewal failed"
	daemon_wait_log "not reloading sendmail .*/open on its path is writable by its group"
	sleep 1
	daemon_hups_are 0 || atf_fail "sendmail got $(daemon_hups) SIGHUPs"
	daemon_alive "$D_PID" || atf_fail "smtlsd died"
}
attack_dir_link_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case all_ok
	atf_add_test_case wrong_lines
	atf_add_test_case cf_refused
	atf_add_test_case binary
	atf_add_test_case binary_hangs
	atf_add_test_case leftovers
	atf_add_test_case rule_group_readable_key
	atf_add_test_case rule_writable_file
	atf_add_test_case rule_dir_path
	atf_add_test_case rule_dir_link
	atf_add_test_case rule_links_final
	atf_add_test_case rule_owner
	atf_add_test_case sticky_tmp
	atf_add_test_case reload_held
	atf_add_test_case reload_held_once
	atf_add_test_case reload_owed_held
	atf_add_test_case reload_no_cf
	atf_add_test_case attack_group_readable
	atf_add_test_case attack_dir_link
}
