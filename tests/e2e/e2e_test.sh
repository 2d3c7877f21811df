#! /usr/bin/env atf-sh
# shellcheck source-path=SCRIPTDIR
# End-to-end tests with the real programs (issue 5): pebble issues and
# renews through dehydrated, smtlsd keeps cert_dir and dh.param right and
# reloads a real sendmail, a real TLS client checks what is served.
# Each case runs scenarios.sh inside private namespaces (lib.sh); where that
# is impossible (not root, no unshare, no sendmail packages) it is skipped
# with the reason.  Each case has its own namespaces, /dev (and so
# /dev/log) and scratch directory: the cases may run side by side.

e2e_case()
{
	atf_test_case "$1"
	eval "$1_head() { atf_set descr '$2'; atf_set timeout ${3:-120}; }"
	eval "$1_body() { e2e_atf_run $1; }"
}

# e2e_atf_run NAME: run scenario NAME in the namespaces; pass, fail with
# the scenario's reason, or skip.
e2e_atf_run()
{
	srcdir=$(atf_get_srcdir)
	. "$srcdir/lib.sh"
	if reason=$(e2e_skip_reason); then
		atf_skip "e2e cannot run here: $reason"
	fi
	E2E_SMTLSD=$(cd "$srcdir/../.." && pwd)/daemon/smtlsd
	[ -x "$E2E_SMTLSD" ] || atf_fail "no $E2E_SMTLSD: build it first (make)"
	E2E=$(pwd)/e2e
	export E2E E2E_SMTLSD
	e2e_ns_run sh "$srcdir/scenarios.sh" "$1"
	rc=$?
	case $rc in
	0)	;;
	77)	atf_skip "$(sed -n 's/^e2e: SKIP: //p' "$E2E/run/skipped" 2>/dev/null)" ;;
	*)	if [ -s "$E2E/run/failed" ]; then
			atf_fail "$1: $(head -n 1 "$E2E/run/failed")"
		fi
		atf_fail "$1: scenario exited $rc without a reason (see stdout)"
		;;
	esac
}

atf_test_case harness_lint
harness_lint_head()
{
	atf_set descr "The e2e harness scripts parse and are clean under shellcheck"
	atf_set require.progs shellcheck
}
harness_lint_body()
{
	d=$(atf_get_srcdir)
	for f in lib.sh scenarios.sh selftest.sh demo.sh e2e_test.sh; do
		atf_check -s exit:0 sh -n "$d/$f"
	done
	atf_check -s exit:0 -o empty -e empty shellcheck -s sh -x -e SC1091 \
	    "$d/lib.sh" "$d/scenarios.sh" "$d/selftest.sh" "$d/demo.sh" \
	    "$d/e2e_test.sh"
}

atf_test_case harness_selftest
harness_selftest_head()
{
	atf_set descr "The harness alone (no smtlsd): pebble, dehydrated and sendmail work here, a hand-made CA dir and SIGHUP serve the renewed certificate"
	atf_set timeout 120
}
harness_selftest_body()
{
	srcdir=$(atf_get_srcdir)
	. "$srcdir/lib.sh"
	if reason=$(e2e_skip_reason); then
		atf_skip "e2e cannot run here: $reason"
	fi
	sh "$srcdir/selftest.sh" "$(pwd)/e2e"
	rc=$?
	[ $rc -eq 0 ] && return
	[ -s e2e/run/failed ] && atf_fail "selftest: $(head -n 1 e2e/run/failed)"
	atf_fail "selftest exited $rc"
}
e2e_case first_start \
    "First start: cert_dir from the bundle, dh.param created, sendmail started after it uses them"
e2e_case renewal \
    "dehydrated renews: new serial served within seconds, exactly one reload, chain verifies"
e2e_case renewal_repeat \
    "Renewals in a row: one reload each, sendmail never dies, handshakes fail only while refused" 180
e2e_case broken_renewal \
    "Failed run, mismatched key, empty certificate: no reload, old certificate still served"
e2e_case ca_dir_live \
    "A client CA added to and removed from the bundle: verify=OK then FAIL, no reload"
e2e_case dh_param_deleted \
    "dh.param deleted: recreated and sendmail reloaded once"
e2e_case stale_pidfile \
    "Stale sendmail pidfile: no signal, clear message; sendmail restarted is reloaded next time"
e2e_case verify_renewals \
    "verify_smtp: renewals verified as served each time, once sendmail is back" 180
e2e_case verify_wrong_cert \
    "verify_smtp: a sendmail restarted by hand with another ServerCertFile serves the wrong certificate" 180

atf_init_test_cases()
{
	atf_add_test_case harness_lint
	atf_add_test_case harness_selftest
	for c in first_start renewal renewal_repeat broken_renewal \
	    ca_dir_live dh_param_deleted stale_pidfile check_setup \
	    held_renewal safefile_rules verify_renewals verify_wrong_cert \
	    expiry_short; do
		atf_add_test_case "$c"
	done
}

# Issue 12 (branch check): smtlsd -C and sendmail's safefile rules.
e2e_case check_setup \
    "smtlsd -C against the real sendmail.cf and binary: all ok (chain file may warn); each wrong line FAILs its check alone"
e2e_case held_renewal \
    "A renewal sendmail would refuse (group-readable key, group-writable directory): no reload, old certificate served with STARTTLS; the fix reloads once" 180
e2e_case safefile_rules \
    "Each safefile rule: smtlsd -C FAILs it and the real sendmail drops STARTTLS; DontBlameSendmail relaxes what it relaxes" 180

# Issue 12: the expiry watch with a certificate pebble issues for 10 days.
e2e_case expiry_short \
    "pebble issues a 10-day certificate, expiry_warn 14: status failed with the expiry warning, logged; sendmail serves it"
