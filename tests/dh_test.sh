#! /usr/bin/env atf-sh
# DH parameters in the running daemon (issue 3, "DH parameters"):
# missing ones are made (generated in a child, or an RFC 7919 group),
# come back when deleted with one reload, and generation never blocks
# the loop.

# SC2016: the single-quoted conditions are evaluated later, by eval.
# shellcheck disable=SC1091,SC2016
. "$(atf_get_srcdir)/lib.sh"

# bits FILE: the size of the DH parameters in FILE.
bits()
{
	openssl pkeyparam -in "$1" -noout -text 2>/dev/null |
	    sed -n 's/.*DH Parameters: (\([0-9]*\) bit).*/\1/p'
}

# mode FILE
mode()
{
	case $(uname -s) in
	Linux)	stat -c %a "$1" ;;
	*)	stat -f %Lp "$1" ;;
	esac
}

# is_group FILE GROUP: FILE holds exactly the RFC 7919 group GROUP, as
# openssl writes it.
is_group()
{
	openssl genpkey -genparam -algorithm DH -pkeyopt "group:$2" \
	    -out "ref-$2.pem" 2>/dev/null || atf_fail "openssl genpkey $2"
	cmp -s "$1" "ref-$2.pem" || return 1
	openssl pkeyparam -in "$1" -noout -text | grep -q "GROUP: $2"
}

# one_reload: the stand-in got exactly one SIGHUP and is back.
one_reload()
{
	daemon_wait 10 "a SIGHUP" daemon_hups_are 1
	daemon_wait 10 "the stand-in back" daemon_sendmail_back 1
	sleep 0.8	# room for a wrong second signal
	daemon_hups_are 1 || atf_fail "$(daemon_hups) SIGHUPs, not one"
}

# --------------------------------------------------------------------

atf_test_case generated_at_start cleanup
generated_at_start_head()
{
	atf_set descr "dh.param missing at start: generated in a child" \
	    "process (dh_bits 1024), mode 0644; sendmail reloaded once"
	atf_set require.progs "openssl"
	atf_set timeout 120
}
generated_at_start_body()
{
	daemon_setup
	daemon_conf "dh_params_source generate" "dh_bits 1024"
	daemon_sendmail
	daemon_start
	daemon_wait_log "generating 1024-bit DH parameters in child [0-9]+"
	child=$(sed -n 's/.*generating 1024-bit DH parameters in child \([0-9]*\).*/\1/p' daemon.log | head -n 1)
	daemon_remember "$child"
	[ "$child" != "$D_PID" ] || atf_fail "generated in smtlsd itself"
	daemon_wait 90 "dh.param to be written" daemon_logged 1 \
	    "dh_params .*: written"
	[ "$(bits aux/dh.param)" = 1024 ] ||
	    atf_fail "dh.param holds $(bits aux/dh.param) bits, not 1024"
	head -n 1 aux/dh.param | grep -q -- "-----BEGIN DH PARAMETERS-----" ||
	    atf_fail "dh.param does not hold PKCS#3 DH PARAMETERS"
	[ "$(mode aux/dh.param)" = 644 ] ||
	    atf_fail "dh.param has mode $(mode aux/dh.param)"
	one_reload
	daemon_dead "$child" || atf_fail "the child is still running"
}
generated_at_start_cleanup()
{
	daemon_cleanup
}

atf_test_case groups cleanup
groups_head()
{
	atf_set descr "dh_params_source ffdhe2048/3072/4096 write the RFC 7919" \
	    "group at once: with -1, and in the daemon with one reload"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
groups_body()
{
	daemon_setup
	for g in ffdhe2048 ffdhe3072 ffdhe4096; do
		rm -f aux/dh.param
		daemon_conf "dh_params_source $g" "dh_bits 2048"
		daemon_once
		is_group aux/dh.param "$g" || atf_fail "-1 did not write $g"
	done
	rm aux/dh.param
	daemon_conf "dh_params_source ffdhe3072" "dh_bits 3072"
	daemon_sendmail
	daemon_start
	daemon_wait 10 "dh.param" test -s aux/dh.param
	is_group aux/dh.param ffdhe3072 || atf_fail "the daemon did not write" \
	    "ffdhe3072"
	daemon_logged 1 "generating" && atf_fail "a group was generated"
	[ "$(mode aux/dh.param)" = 644 ] ||
	    atf_fail "dh.param has mode $(mode aux/dh.param)"
	one_reload
}
groups_cleanup()
{
	daemon_cleanup
}

atf_test_case comes_back cleanup
comes_back_head()
{
	atf_set descr "dh.param deleted while smtlsd runs comes back, and so" \
	    "does one overwritten with garbage or weaker parameters; one" \
	    "reload each"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
comes_back_body()
{
	daemon_setup
	daemon_conf
	daemon_once
	daemon_sendmail
	daemon_start
	daemon_hups_are 0 || atf_fail "a reload at start"
	rm aux/dh.param
	daemon_wait 10 "dh.param back" test -s aux/dh.param
	is_group aux/dh.param ffdhe2048 || atf_fail "not ffdhe2048"
	one_reload

	echo garbage >aux/dh.param
	daemon_wait 10 "dh.param repaired" is_group aux/dh.param ffdhe2048
	daemon_wait 10 "a second SIGHUP" daemon_hups_are 2
	daemon_wait 10 "the stand-in back" daemon_sendmail_back 2
	daemon_logged 1 "dh_params .*: not DH parameters|no DH PARAMETERS" ||
	    atf_fail "no message about the garbage"

	# Weaker (1536 bits, RFC 3526), put in place by rename.
	atf_check -e ignore openssl genpkey -genparam -algorithm DH \
	    -pkeyopt group:modp_1536 -out aux/weak.pem
	mv aux/weak.pem aux/dh.param
	daemon_wait 10 "weak dh.param replaced" is_group aux/dh.param ffdhe2048
	daemon_wait 10 "a third SIGHUP" daemon_hups_are 3
	daemon_logged 1 "1536 bits, fewer than dh_bits 2048" ||
	    atf_fail "no message about the weak parameters"
	daemon_wait 10 "the stand-in back" daemon_sendmail_back 3
}
comes_back_cleanup()
{
	daemon_cleanup
}

atf_test_case replaced_by_admin cleanup
replaced_by_admin_head()
{
	atf_set descr "Good DH parameters put in place by someone else:" \
	    "left alone, sendmail reloaded once to read them"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
replaced_by_admin_body()
{
	daemon_setup
	daemon_conf "dh_bits 2048"
	daemon_once
	daemon_sendmail
	daemon_start
	atf_check -e ignore openssl genpkey -genparam -algorithm DH \
	    -pkeyopt group:ffdhe3072 -out new.pem
	cp new.pem aux/dh.new
	mv aux/dh.new aux/dh.param
	one_reload
	cmp -s new.pem aux/dh.param || atf_fail "smtlsd replaced good parameters"
}
replaced_by_admin_cleanup()
{
	daemon_cleanup
}

atf_test_case loop_responsive cleanup
loop_responsive_head()
{
	atf_set descr "While DH parameters are generated (dh_bits 4096, in a" \
	    "child) a bundle change is acted on within settle; SIGTERM ends" \
	    "the child too"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
loop_responsive_body()
{
	daemon_setup
	daemon_conf "dh_params_source generate" "dh_bits 4096"
	daemon_start
	daemon_wait_log "generating 4096-bit DH parameters in child [0-9]+"
	child=$(sed -n 's/.*generating 4096-bit DH parameters in child \([0-9]*\).*/\1/p' daemon.log | head -n 1)
	daemon_remember "$child"
	daemon_alive "$child" || atf_skip "generation ended before the test" \
	    "could use it"
	cat pki/root.pem >bundle.pem
	t0=$(daemon_ms)
	daemon_wait 10 "the store to follow during generation" \
	    daemon_not_in_store other1
	ms=$(($(daemon_ms) - t0))
	echo "store followed in $ms ms during generation"
	daemon_alive "$child" || atf_skip "generation ended before the store" \
	    "followed: nothing proved"
	max=$(echo "$D_SETTLE" | awk '{ printf "%d", ($1 + 1.5) * 1000 }')
	[ "$ms" -le "$max" ] ||
	    atf_fail "the store followed in $ms ms, more than settle + 1.5 s"
	[ ! -e aux/dh.param ] || atf_fail "dh.param exists before generation ended"
	daemon_stop
	daemon_wait 5 "the child to end with smtlsd" daemon_dead "$child"
	[ ! -e aux/smtlsd.pid ] || atf_fail "the pidfile is left"
}
loop_responsive_cleanup()
{
	daemon_cleanup
}

atf_test_case the_block_sendmail_reads cleanup
the_block_sendmail_reads_head()
{
	atf_set descr "-1 judges dh.param by the block sendmail's" \
	    "PEM_read_bio_DHparams reads (the first DH PARAMETERS or X9.42" \
	    "DH PARAMETERS block): kept after a certificate, replaced when" \
	    "X9.42, damaged, not DH or too small, each saying why"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
the_block_sendmail_reads_body()
{
	daemon_setup
	daemon_conf "dh_params_source ffdhe2048" "dh_bits 2048"
	atf_check -e ignore openssl genpkey -genparam -algorithm DH \
	    -pkeyopt group:ffdhe3072 -out good.pem
	atf_check -e ignore openssl genpkey -genparam -algorithm DHX \
	    -pkeyopt dh_rfc5114:2 -out x942.pem
	atf_check -e ignore openssl genpkey -genparam -algorithm DH \
	    -pkeyopt group:modp_1536 -out weak.pem

	# A certificate first: sendmail skips to the DH block, and so do we.
	cat bundle.pem good.pem >aux/dh.param
	cp aux/dh.param before.pem
	daemon_once
	cmp -s aux/dh.param before.pem || atf_fail "a good dh.param replaced"
	grep -q "dh_params" once.err && atf_fail "said: $(cat once.err)"

	# Each of these is replaced by ffdhe2048 and the reason is said.
	head -c 200 good.pem >damaged.pem
	{
		echo "-----BEGIN DH PARAMETERS-----"
		sed -n 2p bundle.pem
		echo "-----END DH PARAMETERS-----"
	} >notdh.pem
	cat x942.pem good.pem >x942first.pem
	for f in x942:"X9.42 DH parameters, not PKCS#3" \
	    x942first:"X9.42 DH parameters, not PKCS#3" \
	    damaged:"damaged DH PARAMETERS block" \
	    notdh:"not DH parameters" \
	    weak:"1536 bits, fewer than dh_bits 2048"; do
		cp "${f%%:*}.pem" aux/dh.param
		daemon_once
		grep -q "dh_params .*: ${f#*:}; making ffdhe2048" once.err ||
		    atf_fail "${f%%:*}: not said: $(cat once.err)"
		is_group aux/dh.param ffdhe2048 ||
		    atf_fail "${f%%:*}: dh.param not replaced by ffdhe2048"
	done
}
the_block_sendmail_reads_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case generated_at_start
	atf_add_test_case groups
	atf_add_test_case comes_back
	atf_add_test_case replaced_by_admin
	atf_add_test_case loop_responsive
	atf_add_test_case the_block_sendmail_reads
}
