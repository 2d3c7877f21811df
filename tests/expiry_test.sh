#! /usr/bin/env atf-sh
# expiry_warn: a good set whose certificate (or a CA of its chain) runs
# out within expiry_warn days makes the pass fail saying so, logged once
# a day; the daemon waits for that moment with one timer, no polling.

# shellcheck disable=SC1091
. "$(atf_get_srcdir)/lib.sh"

DAY=86400

# status_is RESULT: the status file's result field is RESULT.
status_is()
{
	[ "$(daemon_status 5)" = "$1" ]
}

# short NAME SECONDS: leaf NAME running out SECONDS from now, installed
# as a finished renewal.
short()
{
	daemon_leaf "$1" "+$2"
	daemon_install "$1"
}

atf_test_case once_warns
once_warns_head()
{
	atf_set descr "smtlsd -1: a certificate expiring within expiry_warn" \
	    "days fails the pass, naming the domain, the days and the date"
	atf_set require.progs "openssl"
}
once_warns_body()
{
	daemon_setup
	short soon $((5 * DAY + 3600))
	daemon_conf "expiry_warn 14"
	atf_check -s exit:1 -o ignore \
	    -e match:"mail.example.test: the certificate expires in 5 days, on [0-9-]+ \(renewed last on [0-9-]+; is dehydrated running\?\)" \
	    "$SMTLSD" -1 -f "$(pwd)/conf"
	# Outside the window, or with the warning off: a good pass.
	daemon_conf "expiry_warn 4"
	atf_check -s exit:0 -o ignore -e not-match:expires \
	    "$SMTLSD" -1 -f "$(pwd)/conf"
	daemon_conf "expiry_warn 0"
	atf_check -s exit:0 -o ignore -e not-match:expires \
	    "$SMTLSD" -1 -f "$(pwd)/conf"
}

atf_test_case daemon_timer cleanup
daemon_timer_head()
{
	atf_set descr "The daemon warns at the moment the window opens," \
	    "with no change to any file: status failed, one warning"
	atf_set require.progs "openssl"
	atf_set timeout 120
}
daemon_timer_body()
{
	daemon_setup
	# The window of expiry_warn 1 opens 4 s after the certificate is
	# made (at second resolution).
	short soon $((DAY + 4))
	daemon_conf "expiry_warn 1"
	daemon_start
	[ "$(daemon_status 5)" = ok ] ||
	    { daemon_show; atf_fail "the first pass was not ok"; }
	daemon_wait 15 "the expiry warning" daemon_logged 1 \
	    'the certificate expires in [01] days?, on'
	daemon_wait 5 "the status to say failed" status_is failed
	grep -q 'the certificate expires in' aux/status ||
	    atf_fail "the status does not say why: $(cat aux/status)"
	# Once a day, not at every pass.
	kill -USR1 "$D_PID"
	daemon_wait 10 "a second pass" daemon_passed 3
	[ "$(daemon_count 'the certificate expires in')" -eq 1 ] ||
	    { daemon_show; atf_fail "the warning was logged more than once"; }
}
daemon_timer_cleanup()
{
	daemon_cleanup
}

atf_test_case renewed cleanup
renewed_head()
{
	atf_set descr "A renewal ends the warning: the status is ok again"
	atf_set require.progs "openssl"
	atf_set timeout 120
}
renewed_body()
{
	daemon_setup
	short soon $((3 * DAY))
	daemon_conf "expiry_warn 14"
	daemon_start
	[ "$(daemon_status 5)" = failed ] ||
	    { daemon_show; atf_fail "no warning at start: $(cat aux/status)"; }
	n=$(daemon_passes)
	daemon_install leaf2
	daemon_wait 15 "a pass after the renewal" daemon_passed $((n + 1))
	daemon_wait 5 "the status to be ok" status_is ok
}
renewed_cleanup()
{
	daemon_cleanup
}

atf_init_test_cases()
{
	atf_add_test_case once_warns
	atf_add_test_case daemon_timer
	atf_add_test_case renewed
}
