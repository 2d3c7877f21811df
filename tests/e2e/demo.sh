#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2012,SC2119 # ls for people to read; optional arguments
# The whole story with the real programs, narrated (make demo runs it):
# a bundle becomes the CA directory, dh.param appears, pebble issues a
# certificate through dehydrated, sendmail serves it with STARTTLS,
# dehydrated renews, smtlsd reloads sendmail once and the new certificate
# is served.  Everything runs in private namespaces and stops at the end;
# the scratch directory with the logs is kept and named at the end.
# Usage (root, Linux): sh tests/e2e/demo.sh [scratch-dir]

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ "${1:-}" != --inner ]; then
	if reason=$(e2e_skip_reason); then
		echo "demo: the end-to-end part cannot run here: $reason"
		exit 77
	fi
	E2E_SMTLSD=${E2E_SMTLSD:-$(cd "$here/../.." && pwd)/daemon/smtlsd}
	if [ ! -x "$E2E_SMTLSD" ]; then
		echo "demo: no $E2E_SMTLSD: run make first" >&2
		exit 1
	fi
	E2E=${1:-$(mktemp -d "${TMPDIR:-/tmp}/smtlsd-e2e-demo.XXXXXX")}
	export E2E E2E_SMTLSD
	e2e_ns_run sh "$here/demo.sh" --inner
	rc=$?
	echo
	if [ $rc -eq 0 ]; then
		echo "==> Where to look (everything has been stopped):"
	else
		echo "==> The demo FAILED ($rc); the logs:"
	fi
	echo "    $E2E/log/smtlsd.log       what smtlsd said"
	echo "    $E2E/log/syslog           sendmail's log"
	echo "    $E2E/log/dehydrated.log   dehydrated's runs"
	echo "    $E2E/certs/               the CA directory smtlsd keeps, and dh.param"
	echo "    $E2E/acme/certs/$E2E_DOMAIN/   dehydrated's certificates"
	echo "    $E2E/smtlsd.conf  $E2E/sm/test.mc"
	echo "    run it again: sh tests/e2e/demo.sh; the tests: kyua test -k tests/e2e/Kyuafile"
	exit $rc
fi

say()
{
	printf '\n==> %s\n' "$*"
}

# show PATH: the path as seen outside the namespace.
show()
{
	printf '%s\n' "$E2E_OUTER${1#"$E2E"}"
}

# smtlsd_says SINCE: smtlsd's new log lines, indented.
smtlsd_says()
{
	e2e_smtlsd_log_since "$1" | sed "s|$E2E|$E2E_OUTER|g; s/^/    /"
}

e2e_init || exit 1
e2e_trap

say "A private network (only 127.0.0.1) and host name $(hostname); nothing leaves the machine"
e2e_syslog_start
e2e_pebble_start
e2e_log "pebble, an ACME test CA, listens on 127.0.0.1:$E2E_ACME_PORT"

say "dehydrated registers with pebble and gets a certificate for $E2E_DOMAIN"
e2e_acme_register
e2e_acme_issue || e2e_fail "dehydrated -c failed"
serial0=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
e2e_log "issued in $E2E_ACME_MS ms, serial $serial0, in $(show "$E2E_CERTS")/:"
(cd "$E2E_CERTS" && ls -l | sed 's/^/    /')

say "A CA bundle: this system's CAs plus pebble's root (which real clients would not trust)"
set -- "$E2E_ROOT"
[ -r /etc/ssl/certs/ca-certificates.crt ] &&
    set -- "$@" /etc/ssl/certs/ca-certificates.crt
e2e_bundle_write "$@"
e2e_log "$(grep -c 'BEGIN CERTIFICATE' "$E2E/bundle.pem") certificates in $(show "$E2E/bundle.pem")"

say "smtlsd's configuration (verify_smtp: where sendmail listens, for the STARTTLS probe)"
E2E_VERIFY=127.0.0.1:$E2E_PORT
e2e_smtlsd_conf
sed "s|$E2E|$E2E_OUTER|g; s/^/    /" "$E2E/smtlsd.conf"

say "Start smtlsd -d: it fills the CA directory and creates dh.param"
e2e_smtlsd_start
smtlsd_says 0
e2e_log "$(find "$E2E_CERTDIR" -name '????????.[0-9]*' | wc -l | tr -d ' ') <hash>.N files in $(show "$E2E_CERTDIR"), and dh.param: $(openssl dhparam -in "$E2E_CERTDIR/dh.param" -noout -text 2>/dev/null | sed -n 's/.*(\(.*\)).*/\1/p' | head -n 1)"

say "sendmail, built from an .mc whose TLS part is:"
e2e_sm_config "$E2E_CERTDIR"
grep -E 'CACERT|SERVER_|DH_PARAM|DAEMON_OPTIONS' "$E2E/sm/test.mc" |
    sed "s|$E2E|$E2E_OUTER|g; s/dnl$//; s/^/    /"
e2e_sm_start "$E2E_CERTDIR"
e2e_log "sendmail runs, pid $E2E_SM_PID, on 127.0.0.1:$E2E_PORT"

say "A TLS client: openssl s_client -starttls smtp -connect 127.0.0.1:$E2E_PORT"
e2e_starttls_offered && e2e_log "EHLO offers STARTTLS"
e2e_log "serial served: $(e2e_tls_serial)"
e2e_log "chain sent (the intermediate comes from the CA directory):"
e2e_tls_chain | sed 's/^/    depth /'
e2e_tls_verify && e2e_log "verifies against pebble's root, host name $E2E_DOMAIN checked"

say "smtlsd -R: a full pass, then smtlsd's own STARTTLS probe of what sendmail serves"
"$E2E_SMTLSD" -R -f "$E2E/smtlsd.conf" 2>&1 | sed 's/^/    /'

say "dehydrated -c --force: a renewal (takes a few seconds; cert-TS.pem sits empty meanwhile)"
e2e_pidtrack_start
l=$(e2e_smtlsd_log_lines)
old=$(e2e_sm_pid)
e2e_acme_renew || e2e_fail "dehydrated -c --force failed"
done_ms=$(e2e_now_ms)
serial1=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
e2e_log "dehydrated done in $E2E_ACME_MS ms: new serial $serial1"
e2e_wait 10 e2e_serial_is "$serial1" ||
    e2e_fail "sendmail still serves $(e2e_tls_serial)"
e2e_log "sendmail serves $serial1 $(( $(e2e_now_ms) - done_ms )) ms after dehydrated finished"
e2e_holds 1.5 e2e_sm_running
e2e_log "sendmail reloaded $(e2e_reloads) time(s): pid $old -> $(e2e_sm_pid)"
e2e_wait 30 sh -c "sed -n 2p '$E2E/run/smtlsd.status' | grep -q ' ok .* serial $serial1 '" ||
    e2e_fail "smtlsd's probe does not say $serial1 is served: $(e2e_smtlsd_status)"
say "What smtlsd said meanwhile (its probe once sendmail was back)"
smtlsd_says "$l"
e2e_tls_verify && e2e_log "the new chain verifies too"
say "The status file, as service smtlsd status and smtlsd -R show it"
sed "s/^/    /" "$E2E/run/smtlsd.status"

say "smtlsd -C: the seed page's set-up checked line by line (this .mc lacks its CipherList and ServerSSLOptions)"
e2e_smtlsd_conf "sendmail_cf $E2E/sm/test.cf" "sendmail_path $E2E_SMBIN"
"$E2E_SMTLSD" -C -f "$E2E/smtlsd.conf" 2>&1 |
    sed "s|$E2E|$E2E_OUTER|g; s/^/    /" || true

say "All done; stopping sendmail, smtlsd, pebble"
