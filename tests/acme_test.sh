#! /usr/bin/env atf-sh
# Renewals by dehydrated (issue 3, "Renewals by dehydrated"): a renewal
# replayed file by file in dehydrated's order and timing leads to
# exactly one SIGHUP of the sendmail stand-in, after cert.pem is
# swapped, and a broken one to none.

# SC2016: the single-quoted conditions are evaluated later, by eval.
# shellcheck disable=SC1091,SC2016
. "$(atf_get_srcdir)/lib.sh"

# How long cert-TS.pem stays empty in the replays (4 s in reality; the
# tests of the renewal itself use 1.5 s, the others less).
EMPTY=0.4
DOM="le/certs/$D_DOMAIN"

# prepare: the test CA, leaf1 installed as a finished earlier renewal,
# one pass (smtlsd -1: the store and dh.param), the stand-in started
# after that (so that the set is older than sendmail), and smtlsd
# running with the configuration LINEs.
prepare()
{
	daemon_setup
	daemon_install leaf1
	daemon_conf "$@"
	daemon_once
	daemon_sendmail
	daemon_start
}

# renew STYLE KEY CERT [REPLAY OPTIONS...]: one renewal with pki/KEY.key
# and pki/CERT.pem, chain pki/$CHAIN.pem (default int).
renew()
{
	_r_style=$1 _r_key=$2 _r_cert=$3
	shift 3
	daemon_replay -s "$_r_style" -w "$EMPTY" "$@" "$DOM" \
	    "pki/$_r_key.key" "pki/$_r_cert.pem" "pki/${CHAIN:-int}.pem"
}

# quiet: gives smtlsd time to do something wrong (a signal too many):
# well beyond settle.  Only used to prove that nothing happens.
quiet()
{
	sleep 0.8
}

# one_hup_after STEP: exactly one SIGHUP reached the stand-in, later
# than STEP of the replay; the stand-in came back and smtlsd saw it.
one_hup_after()
{
	daemon_wait 10 "a SIGHUP to the stand-in" daemon_hups_are 1
	_o_t=$(daemon_when "$1")
	_o_h=$(daemon_hup_times | head -n 1)
	[ -n "$_o_t" ] || atf_fail "the timeline has no step $1"
	daemon_before "$_o_t" "$_o_h" || { daemon_show;
	    atf_fail "SIGHUP at $_o_h, before $1 at $_o_t"; }
	daemon_wait 10 "the stand-in to come back" daemon_sendmail_back 1
	daemon_wait 10 "smtlsd to see the stand-in back" \
	    daemon_logged 1 "is back as pid $(daemon_sendmail_pid)"
	quiet
	daemon_hups_are 1 || { daemon_show;
	    atf_fail "$(daemon_hups) SIGHUPs for one renewal"; }
	daemon_sendmail_ok || atf_fail "the stand-in died"
}

# first_pass_ok: the set of leaf1 was seen as good at start, without a
# reload (it is older than sendmail), and the chain is in the store.
first_pass_ok()
{
	daemon_logged 1 "$DOM: certificate set is complete and valid" ||
	    { daemon_show; atf_fail "the first set was not seen as good"; }
	daemon_hups_are 0 || atf_fail "a reload at start for an old set"
	daemon_in_store int ||
	    atf_fail "the intermediate of chain.pem is not in the store"
}

# --------------------------------------------------------------------

renewal()
{
	prepare
	first_pass_ok
	renew "$1" leaf2 leaf2
	one_hup_after link-cert.pem
	# Each step was acted on only when complete: no set was refused.
	daemon_logged 1 "not using this certificate set" && atf_fail \
	    "a step of the renewal was taken for a broken set"
	# The new certificate verifies against the store.
	atf_check -o match:': OK$' -e ignore \
	    openssl verify -CApath certs -purpose sslserver "$DOM/cert.pem"
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
}

atf_test_case renewal_debian cleanup
renewal_debian_head()
{
	atf_set descr "A renewal with atomic link swaps (Debian) and the" \
	    "long-empty cert-TS.pem: exactly one SIGHUP, after cert.pem"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
renewal_debian_body()
{
	EMPTY=1.5
	renewal debian
}
renewal_debian_cleanup()
{
	daemon_cleanup
}

atf_test_case renewal_freebsd cleanup
renewal_freebsd_head()
{
	atf_set descr "A renewal with delete-then-create links (FreeBSD) and" \
	    "the long-empty cert-TS.pem: exactly one SIGHUP, after cert.pem"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
renewal_freebsd_body()
{
	EMPTY=1.5
	renewal freebsd
}
renewal_freebsd_cleanup()
{
	daemon_cleanup
}

atf_test_case renewal_poll cleanup
renewal_poll_head()
{
	atf_set descr "With watch poll a renewal gets exactly one SIGHUP," \
	    "after cert.pem"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
renewal_poll_body()
{
	prepare "watch poll" "poll_interval 0.1"
	first_pass_ok
	renew freebsd leaf2 leaf2
	one_hup_after link-cert.pem
	daemon_logged 1 "not using this certificate set" && atf_fail \
	    "a step of the renewal was taken for a broken set"
	true
}
renewal_poll_cleanup()
{
	daemon_cleanup
}

# slow STYLE: a renewal whose every half-done state lasts longer than
# settle: smtlsd waits through all of them (never reports the set as
# broken), and signals once, after cert.pem.
slow()
{
	prepare
	first_pass_ok
	EMPTY=0.2 renew "$1" leaf2 leaf2 -P 0.4
	one_hup_after link-cert.pem
	daemon_logged 1 "not using this certificate set" && { daemon_show;
	    atf_fail "a half-done set was taken for a broken one"; }
	daemon_logged 1 "waiting: $2" || { daemon_show;
	    atf_fail "no pass saw the half-done set ($2)"; }
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
}

atf_test_case slow_debian cleanup
slow_debian_head()
{
	atf_set descr "A slow renewal with atomic link swaps: half-swapped" 	    "sets are waited out; one SIGHUP after cert.pem"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
slow_debian_body()
{
	slow debian "privkey.pem and cert.pem are from different renewals|.* and .* are from different renewals"
}
slow_debian_cleanup()
{
	daemon_cleanup
}

atf_test_case slow_freebsd cleanup
slow_freebsd_head()
{
	atf_set descr "A slow renewal with delete-then-create links: missing" 	    "links and half-swapped sets are waited out; one SIGHUP after" 	    "cert.pem"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
slow_freebsd_body()
{
	slow freebsd "(privkey|chain|fullchain|cert).pem is missing"
}
slow_freebsd_cleanup()
{
	daemon_cleanup
}

atf_test_case same_second cleanup
same_second_head()
{
	atf_set descr "A renewal in the same second as the last one rewrites" 	    "the files cert.pem points at, leaving it empty for seconds:" 	    "waited out; one SIGHUP after cert.pem"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
same_second_body()
{
	prepare
	first_pass_ok
	ts=$(readlink "$DOM/cert.pem" | sed 's/^cert-\([0-9]*\)\.pem$/\1/')
	[ -n "$ts" ] || atf_fail "cannot read the timestamp of cert.pem"
	EMPTY=1.5 renew debian leaf2 leaf2 -T "$ts"
	one_hup_after link-cert.pem
	daemon_logged 1 "waiting: cert.pem is empty|waiting: cert.pem does not hold" ||
	    { daemon_show; atf_fail "no pass saw cert.pem empty"; }
	daemon_logged 1 "not using this certificate set" && { daemon_show;
	    atf_fail "the set was taken for a broken one"; }
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
}
same_second_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case chain_follows cleanup
chain_follows_head()
{
	atf_set descr "The intermediate of chain.pem is in the store, and a" \
	    "renewal under a new intermediate replaces it there"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
chain_follows_body()
{
	prepare
	first_pass_ok
	daemon_int int2
	D_ISSUER=int2 daemon_leaf leaf3
	CHAIN=int2 renew debian leaf3 leaf3
	one_hup_after link-cert.pem
	daemon_in_store int2 || atf_fail "the new intermediate is not in the store"
	daemon_not_in_store int ||
	    atf_fail "the old intermediate stayed after it left chain.pem"
	daemon_in_store root || atf_fail "the root left the store"
	# The new certificate verifies against the store.
	atf_check -o match:': OK$' -e ignore \
	    openssl verify -CApath certs -purpose sslserver "$DOM/cert.pem"
}
chain_follows_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

# refused REASON-REGEX [then-good]: no SIGHUP, one message with the
# reason, the status says failed; more passes do not repeat the message;
# with then-good, a later good renewal gets its SIGHUP.
refused()
{
	daemon_wait 10 "the set to be refused" \
	    daemon_logged 1 "not using this certificate set: $1"
	# The pass logs first and writes its status when it ends.
	daemon_wait 10 "the status to say failed" \
	    eval '[ "$(daemon_status 5)" = failed ]'
	quiet
	daemon_hups_are 0 || atf_fail "sendmail was signalled for a broken set"
	grep -Eq "$1" aux/status || atf_fail "the status does not say why"
	p=$(daemon_passes)
	kill -USR1 "$D_PID"
	daemon_wait 10 "a forced pass" daemon_passed $((p + 1))
	kill -USR1 "$D_PID"
	daemon_wait 10 "a forced pass" daemon_passed $((p + 2))
	[ "$(daemon_count "not using this certificate set")" -eq 1 ] ||
	    atf_fail "the broken set was reported more than once"
	daemon_hups_are 0 || atf_fail "sendmail was signalled for a broken set"
	[ "${2:-}" = then-good ] || return 0
	daemon_leaf leaf9
	renew debian leaf9 leaf9
	one_hup_after link-cert.pem
}

atf_test_case key_mismatch cleanup
key_mismatch_head()
{
	atf_set descr "A renewal whose key does not match its certificate:" \
	    "no signal, one message naming the reason"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
key_mismatch_body()
{
	prepare
	first_pass_ok
	renew debian leaf1 leaf2
	refused "privkey.pem does not match cert.pem" then-good
}
key_mismatch_cleanup()
{
	daemon_cleanup
}

atf_test_case expired cleanup
expired_head()
{
	atf_set descr "A renewal with an expired certificate: no signal, one" \
	    "message naming the reason"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
expired_body()
{
	prepare
	first_pass_ok
	daemon_leaf old expired
	renew freebsd old old
	refused "cert.pem has expired"
}
expired_cleanup()
{
	daemon_cleanup
}

atf_test_case untrusted cleanup
untrusted_head()
{
	atf_set descr "A renewal whose chain does not verify up to a CA in" \
	    "the store: no signal, one message naming the reason"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
untrusted_body()
{
	prepare
	first_pass_ok
	# A certificate from a CA the bundle does not hold.
	t_cert pki/stranger "/CN=Stranger CA"
	D_ISSUER=stranger daemon_leaf alien
	CHAIN=stranger renew debian alien alien
	refused "the chain does not verify"
}
untrusted_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case lock_held cleanup
lock_held_head()
{
	atf_set descr "A failed dehydrated run (key, csr, empty cert, no new" \
	    "links) changes nothing; while dehydrated's lock file exists" \
	    "smtlsd waits; one SIGHUP once it is gone"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
lock_held_body()
{
	prepare
	first_pass_ok
	p=$(daemon_passes)
	renew freebsd leaf2 leaf2 -F -l "$(pwd)/le/lock"
	daemon_wait 10 "a pass after the failed run" daemon_passed $((p + 1))
	quiet
	daemon_hups_are 0 || atf_fail "a SIGHUP after a failed run"
	[ "$(daemon_status 5)" = ok ] || atf_fail "status: $(cat aux/status)"
	renew debian leaf2 leaf2 -l "$(pwd)/le/lock" -L 0.6
	one_hup_after unlock
	daemon_logged 1 "waiting: dehydrated is running" ||
	    atf_fail "no message about the lock"
}
lock_held_cleanup()
{
	daemon_cleanup
}

# --------------------------------------------------------------------

atf_test_case new_domain cleanup
new_domain_head()
{
	atf_set descr "A domain directory added to acme_dir while smtlsd" \
	    "runs is picked up: its first set gets one SIGHUP"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
new_domain_body()
{
	prepare
	first_pass_ok
	DOM=le/certs/second.example.test
	renew debian leaf2 leaf2
	one_hup_after link-cert.pem
	daemon_logged 1 "new certificate in .*second.example.test" ||
	    atf_fail "the reload does not name the new domain"
}
new_domain_cleanup()
{
	daemon_cleanup
}

atf_test_case acme_cert cleanup
acme_cert_head()
{
	atf_set descr "acme_cert names one domain directory: its renewal gets" \
	    "one SIGHUP"
	atf_set require.progs "openssl"
	atf_set timeout 60
}
acme_cert_body()
{
	daemon_setup
	mkdir -p other/certs
	DOM=other/certs/single.example.test
	renew debian leaf1 leaf1 -w 0
	daemon_conf "acme_cert $(pwd)/$DOM"
	# acme_cert alone: no acme_dir.
	grep -v '^acme_dir' conf >conf.new && mv conf.new conf
	chmod 0644 conf
	daemon_once
	daemon_sendmail
	daemon_start
	first_pass_ok
	renew freebsd leaf2 leaf2
	one_hup_after link-cert.pem
}
acme_cert_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case renewal_debian
	atf_add_test_case renewal_freebsd
	atf_add_test_case renewal_poll
	atf_add_test_case slow_debian
	atf_add_test_case slow_freebsd
	atf_add_test_case same_second
	atf_add_test_case chain_follows
	atf_add_test_case key_mismatch
	atf_add_test_case expired
	atf_add_test_case untrusted
	atf_add_test_case lock_held
	atf_add_test_case new_domain
	atf_add_test_case acme_cert
}
