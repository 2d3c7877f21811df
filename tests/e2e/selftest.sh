#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# Proves the e2e harness against the real programs, without smtlsd:
# pebble issues a certificate through dehydrated, a hand-made CA directory
# and dh.param, sendmail serves STARTTLS; dehydrated renews, sendmail gets a
# SIGHUP by hand and serves the new serial.  Prints timings.
# Usage (as root, Linux): sh tests/e2e/selftest.sh [scratch-dir]
# Exit status: 0 passed, 1 failed, 77 cannot run here (reason printed).

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ "${1:-}" != --inner ]; then
	if reason=$(e2e_skip_reason); then
		echo "selftest: skipped: $reason"
		exit 77
	fi
	E2E=${1:-$(mktemp -d /tmp/smtlsd-e2e.XXXXXX)}
	export E2E
	echo "selftest: scratch directory $E2E"
	e2e_ns_run sh "$here/selftest.sh" --inner
	rc=$?
	[ $rc -eq 0 ] && echo "selftest: passed" || echo "selftest: FAILED ($rc)"
	exit $rc
fi

e2e_init || exit 1
e2e_trap
certdir=$E2E/certs
mkdir -p "$certdir"

e2e_log "namespace: host $(hostname), pid $$, interfaces: $(ip -o link | awk -F': ' '{ printf "%s ", $2 }')"
e2e_syslog_start
t=$(e2e_now_ms); e2e_pebble_start
e2e_log "pebble up, root saved ($(( $(e2e_now_ms) - t )) ms)"
t=$(e2e_now_ms); e2e_acme_register
e2e_log "dehydrated registered ($(( $(e2e_now_ms) - t )) ms)"
e2e_acme_issue || e2e_fail "dehydrated -c failed (see $E2E/log/dehydrated.log)"
serial1=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
e2e_log "issued $serial1 in $E2E_ACME_MS ms"

# The CA directory by hand: pebble's root and the intermediate from
# dehydrated's chain.pem, named by subject hash.
cp "$E2E_ROOT" "$certdir/pebble-root.pem"
cp "$E2E_CERTS/chain.pem" "$certdir/pebble-chain.pem"
openssl rehash "$certdir" || e2e_fail "openssl rehash failed"
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe3072 \
    -out "$certdir/dh.param" || e2e_fail "no DH parameters"
e2e_log "CA dir: $(cd "$certdir" && echo *)"

t=$(e2e_now_ms); e2e_sm_start "$certdir"
e2e_log "sendmail pid $E2E_SM_PID ($(e2e_comm "$E2E_SM_PID")) accepting ($(( $(e2e_now_ms) - t )) ms)"
e2e_log "pidfile: $(tr '\n' '|' <"$E2E_SMPID")"
e2e_starttls_offered || e2e_fail "STARTTLS not offered: $(e2e_ehlo)"
e2e_log "EHLO offers STARTTLS"
s=$(e2e_tls_serial) || e2e_fail "no certificate over STARTTLS"
[ "$s" = "$serial1" ] || e2e_fail "served serial $s, expected $serial1"
e2e_log "served serial $s"
e2e_log "chain: $(e2e_tls_chain | tr '\n' ';')"
e2e_tls_has_intermediate || e2e_fail "the intermediate is not sent"
e2e_tls_verify || e2e_fail "chain does not verify against pebble's root"
e2e_log "chain verifies against pebble's root, host name checked"
e2e_log "DH: $(e2e_tls_dh)"
e2e_tls_dh | grep -q '3072' || e2e_fail "sendmail does not use dh.param (3072 bits)"

if ! e2e_make_ca clientca || ! e2e_make_client clientca client1; then
	e2e_fail "cannot make the test client CA"
fi
v=$(e2e_client_verify "$E2E/ca/client1.pem" "$E2E/ca/client1.key")
e2e_log "client cert, CA not in the CA dir: verify=$v"
[ "$v" = FAIL ] || e2e_fail "expected verify=FAIL, got '$v'"
cp "$E2E/ca/clientca.pem" "$certdir/clientca.pem" && openssl rehash "$certdir"
v=$(e2e_client_verify "$E2E/ca/client1.pem" "$E2E/ca/client1.key")
e2e_log "client CA added to the CA dir (no reload): verify=$v"
[ "$v" = OK ] || e2e_fail "expected verify=OK, got '$v'"
[ "$(e2e_sm_pid)" = "$E2E_SM_PID" ] || e2e_fail "sendmail pid changed"

e2e_acme_renew || e2e_fail "dehydrated -c --force failed"
serial2=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
[ "$serial2" != "$serial1" ] || e2e_fail "renewal kept the serial"
e2e_log "renewed: $serial2 in $E2E_ACME_MS ms"
s=$(e2e_tls_serial)
[ "$s" = "$serial1" ] || e2e_fail "before SIGHUP sendmail serves $s, expected the old $serial1"
e2e_log "before SIGHUP sendmail still serves $s"
old=$E2E_SM_PID
t=$(e2e_now_ms); e2e_sm_hup
e2e_log "SIGHUP: pid $old -> $E2E_SM_PID ($(( $(e2e_now_ms) - t )) ms until accepting)"
e2e_wait 5 e2e_serial_is "$serial2" ||
    e2e_fail "after SIGHUP sendmail serves $(e2e_tls_serial), expected $serial2"
e2e_log "new daemon: comm '$(e2e_comm "$E2E_SM_PID")', cmdline '$(tr '\0' ' ' </proc/"$E2E_SM_PID"/cmdline)'"
e2e_log "old pid $old: $(e2e_alive "$old" && echo alive || echo "gone or zombie")"
e2e_log "after SIGHUP sendmail serves $(e2e_tls_serial); verify: $(e2e_tls_verify && echo ok || echo FAILED)"
e2e_log "sendmail log: $(e2e_syslog | wc -l) lines, STARTTLS lines:"
e2e_syslog | grep -i 'starttls\|tls' | tail -n 5 | sed 's/^/    /'
e2e_log "done"
