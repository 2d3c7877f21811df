#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# The end-to-end scenarios of issue 5, one shell function each, run inside
# the namespaces by e2e_test.sh (or by hand):
#	E2E=/tmp/x E2E_SMTLSD=$PWD/daemon/smtlsd \
#	    sh -c '. tests/e2e/lib.sh; e2e_ns_run sh tests/e2e/scenarios.sh renewal'
# Exit status 0 passed, 1 failed (reason in $E2E/run/failed), 77 skipped.
# E2E_CONF_EXTRA (lines) is appended to smtlsd.conf: run a scenario against
# a deliberately wrong set-up to see it fail.

# shellcheck disable=SC2012,SC2119 # ls: plain names; optional arguments

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

# sc_setup: pebble, an account, a first certificate, the
# bundle (pebble's root and SC_BUNDLE_EXTRA), smtlsd (first pass done),
# then sendmail with smtlsd's CA directory.
sc_setup()
{
	e2e_syslog_start
	e2e_pebble_start
	e2e_acme_register
	e2e_acme_issue || e2e_fail "dehydrated -c failed (see log/dehydrated.log)"
	SERIAL0=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	e2e_log "dehydrated issued $SERIAL0 in $E2E_ACME_MS ms"
	# shellcheck disable=SC2086
	e2e_bundle_write "$E2E_ROOT" ${SC_BUNDLE_EXTRA:-}
	e2e_smtlsd_conf
	e2e_smtlsd_start
	e2e_log "smtlsd pid $E2E_SMTLSD_PID, first pass done: $(e2e_smtlsd_status)"
	e2e_sm_start "$E2E_CERTDIR"
	e2e_log "sendmail pid $E2E_SM_PID accepting on 127.0.0.1:$E2E_PORT"
}

# sc_expect_serving SERIAL: STARTTLS offered, SERIAL served, chain with
# the intermediate, verified against pebble's root with the host name.
sc_expect_serving()
{
	e2e_starttls_offered || e2e_fail "STARTTLS is not offered; EHLO says: $(e2e_ehlo | tr '\n' ' ')"
	_s=$(e2e_tls_serial)
	[ "$_s" = "$1" ] || e2e_fail "sendmail serves serial '$_s', expected $1"
	e2e_tls_has_intermediate ||
	    e2e_fail "the intermediate is not in the chain sendmail sends: $(e2e_tls_chain | tr '\n' ';')"
	e2e_tls_verify ||
	    e2e_fail "the served chain does not verify against pebble's root for $E2E_DOMAIN"
}

# sc_reloads: sendmail restarts since the pid tracker started.
sc_reloads()
{
	e2e_reloads
}

sc_reloads_are()
{
	[ "$(sc_reloads)" -eq "$1" ]
}

# sc_log_says SINCE PATTERN: smtlsd logged a line matching the extended
# regular expression PATTERN (case-insensitive) after line SINCE.
sc_log_says()
{
	e2e_smtlsd_log_since "$1" | grep -Eqi "$2"
}

# ------------------------------------------------------------------ 1
# First start: smtlsd builds the CA directory from a bundle and creates
# dh.param; sendmail started after it serves STARTTLS with those DH
# parameters.  Files in cert_dir that smtlsd did not write stay as they are.
sc_first_start()
{
	E2E_DH_SOURCE=ffdhe3072	# not sendmail's built-in 2048-bit group
	e2e_syslog_start
	e2e_pebble_start
	e2e_acme_register
	e2e_acme_issue || e2e_fail "dehydrated -c failed"
	SERIAL0=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	e2e_log "dehydrated issued $SERIAL0 in $E2E_ACME_MS ms"
	set -- "$E2E_ROOT"
	[ -r /etc/ssl/certs/ca-certificates.crt ] &&
	    set -- "$@" /etc/ssl/certs/ca-certificates.crt
	e2e_bundle_write "$@"
	e2e_log "bundle: pebble's root$([ $# -gt 1 ] && echo " and $2")"
	e2e_smtlsd_conf
	# Somebody else's files in the CA directory.
	e2e_make_ca foreignca
	fh=$(openssl x509 -noout -hash -in "$E2E/ca/foreignca.pem")
	cp "$E2E/ca/foreignca.pem" "$E2E_CERTDIR/$fh.0"
	echo "not smtlsd's" >"$E2E_CERTDIR/README.local"
	before=$(cd "$E2E_CERTDIR" && ls -li "$fh.0" README.local | md5sum)
	[ ! -e "$E2E_CERTDIR/dh.param" ] || e2e_fail "dh.param exists before start"

	t=$(e2e_now_ms)
	e2e_smtlsd_start
	e2e_log "smtlsd first pass in $(( $(e2e_now_ms) - t )) ms: $(e2e_smtlsd_status)"
	case "$(e2e_smtlsd_state)" in
	ok)	;;
	failed)	e2e_log "NOTE: first pass reported failed (sendmail is not running yet)" ;;
	esac

	n=$(e2e_pem_split "$E2E/bundle.pem" "$E2E/run/bundle.split")
	e2e_capath_verify "$E2E_CERTDIR" "$E2E/run/bundle.split"/*.pem \
	    >"$E2E/run/missing" ||
	    e2e_fail "bundle certificates not found in cert_dir: $(head -n 3 "$E2E/run/missing")"
	e2e_capath_has "$E2E_CERTDIR" "$E2E_ROOT" ||
	    e2e_fail "pebble's root is not in cert_dir"
	e2e_log "all $n bundle certificates are in cert_dir as <hash>.N"
	e2e_capath_has "$E2E_CERTDIR" "$E2E_CERTS/chain.pem" ||
	    e2e_fail "the intermediate from dehydrated's chain.pem is not in cert_dir"
	e2e_log "the intermediate from chain.pem is in cert_dir"
	after=$(cd "$E2E_CERTDIR" && ls -li "$fh.0" README.local | md5sum)
	[ "$before" = "$after" ] || e2e_fail "smtlsd touched files it did not write"
	cmp -s "$E2E/ca/foreignca.pem" "$E2E_CERTDIR/$fh.0" ||
	    e2e_fail "smtlsd changed a foreign <hash>.0"
	e2e_log "foreign files in cert_dir untouched"

	[ -s "$E2E_CERTDIR/dh.param" ] || e2e_fail "no dh.param after the first pass"
	openssl dhparam -in "$E2E_CERTDIR/dh.param" -noout -text 2>/dev/null |
	    grep -q '(3072 bit)' || e2e_fail "dh.param is not 3072-bit DH parameters"
	mode=$(stat -c %a "$E2E_CERTDIR/dh.param")
	[ "$mode" = 644 ] || e2e_fail "dh.param has mode $mode, expected 644"
	e2e_log "dh.param: 3072-bit DH parameters, mode $mode"

	e2e_sm_start "$E2E_CERTDIR"
	e2e_log "sendmail started: pid $E2E_SM_PID"
	sc_expect_serving "$SERIAL0"
	dh=$(e2e_tls_dh)
	e2e_log "DHE handshake: server temp key '$dh'"
	case "$dh" in
	*3072*)	;;
	*)	e2e_fail "sendmail does not use dh.param: server temp key '$dh', expected 3072 bits" ;;
	esac
	if [ -f "$E2E/run/devlog-ours" ]; then
		e2e_wait 3 sh -c "grep -q 'Diffie-Hellman init, key=3072 bit' '$E2E_SYSLOG'" ||
		    e2e_fail "sendmail's log does not say it loaded 3072-bit DH parameters"
		e2e_log "sendmail's log: $(e2e_syslog | grep -m1 'Diffie-Hellman init' | sed 's/.*]: //')"
	fi
}

# ------------------------------------------------------------------ 2
# Renewal: within a few seconds of dehydrated finishing the new serial is
# served, sendmail's pid changed exactly once, the chain verifies.
sc_renewal()
{
	sc_setup
	e2e_pidtrack_start
	sc_expect_serving "$SERIAL0"
	e2e_acme_renew || e2e_fail "dehydrated -c --force failed"
	done_ms=$(e2e_now_ms)
	serial1=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	[ "$serial1" != "$SERIAL0" ] || e2e_fail "dehydrated kept the serial"
	e2e_log "dehydrated renewed: $serial1 in $E2E_ACME_MS ms"
	e2e_wait 5 e2e_serial_is "$serial1" ||
	    e2e_fail "5 s after dehydrated finished sendmail still serves $(e2e_tls_serial)"
	e2e_log "new serial served $(( $(e2e_now_ms) - done_ms )) ms after dehydrated finished"
	e2e_holds 2 sc_reloads_are 1 ||
	    e2e_fail "sendmail's pid changed $(sc_reloads) times, expected once"
	e2e_sm_running || e2e_fail "sendmail is not running"
	sc_expect_serving "$serial1"
	e2e_log "exactly one reload (pid $(sed -n 1p "$E2E/run/pidtrack" | cut -d' ' -f2) -> $(e2e_sm_pid)); chain verifies"
}

# ------------------------------------------------------------------ 3
# Several renewals in a row: one reload each, sendmail never dies, no
# handshake fails except by a refused connection during a restart (or one
# cut by it); the refused windows are measured and reported.
sc_renewal_repeat()
{
	rounds=${E2E_ROUNDS:-3}
	sc_setup
	e2e_pidtrack_start
	e2e_connprobe_start
	e2e_tlsprobe_start
	serial=$SERIAL0
	i=1
	while [ "$i" -le "$rounds" ]; do
		e2e_acme_renew || e2e_fail "renewal $i: dehydrated failed"
		done_ms=$(e2e_now_ms)
		new=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
		[ "$new" != "$serial" ] || e2e_fail "renewal $i kept the serial"
		# A deadline, not a latency target (bench/ measures that):
		# on a loaded machine dehydrated alone took 27 s a renewal.
		e2e_wait 30 e2e_serial_is "$new" ||
		    e2e_fail "renewal $i: sendmail still serves $(e2e_tls_serial)"
		lat=$(( $(e2e_now_ms) - done_ms ))
		e2e_wait 5 sc_reloads_are "$i" ||
		    e2e_fail "renewal $i: $(sc_reloads) reloads in all, expected $i"
		e2e_log "renewal $i: dehydrated $E2E_ACME_MS ms, new serial $new served after $lat ms, pid $(e2e_sm_pid)"
		serial=$new
		i=$((i + 1))
	done
	e2e_holds 2 sc_reloads_are "$rounds" ||
	    e2e_fail "$(sc_reloads) reloads for $rounds renewals"
	e2e_sm_running || e2e_fail "sendmail is not running"
	e2e_probes_stop
	sc_expect_serving "$serial"
	e2e_connprobe_windows >"$E2E/run/refused"
	# A handshake that was under way when sendmail closed its socket to
	# re-execute is cut (seen only on a loaded machine): it counts with
	# the refused ones when it began at most 2 s before a restart (a
	# refused window, or the pidfile naming a new pid), at most one per
	# restart.  Any other failure is one.
	awk -v rounds="$rounds" '
	    FILENAME ~ /refused$/ { r[n++] = $1; next }
	    FILENAME ~ /pidtrack$/ { if (FNR > 1) r[n++] = $1; next }
	    $2 == "FAIL" {
		cut = 0
		for (i = 0; i < n; i++)
			if ($1 <= r[i] && $1 >= r[i] - 2000) cut = 1
		if (cut && ++ncut <= rounds) print > (dir "/tlsprobe.cut")
		else print > (dir "/tlsprobe.fail")
	    }' dir="$E2E/run" "$E2E/run/refused" "$E2E/run/pidtrack" \
	    "$E2E/run/tlsprobe"
	: >>"$E2E/run/tlsprobe.fail"
	: >>"$E2E/run/tlsprobe.cut"
	fails=$(wc -l <"$E2E/run/tlsprobe.fail" | tr -d ' ')
	cut=$(wc -l <"$E2E/run/tlsprobe.cut" | tr -d ' ')
	oks=$(grep -c ' ok ' "$E2E/run/tlsprobe")
	refused=$(grep -c ' refused' "$E2E/run/tlsprobe")
	e2e_log "handshakes: $oks ok, $refused refused, $cut cut by a restart, $fails failed"
	[ "$fails" -eq 0 ] ||
	    e2e_fail "handshakes failed: $(head -n 3 "$E2E/run/tlsprobe.fail")"
	[ "$oks" -gt 0 ] || e2e_fail "the handshake probe never succeeded"
	nw=$(wc -l <"$E2E/run/refused" | tr -d ' ')
	e2e_log "connections refused $nw times: $(awk '{ printf "%s ms ", $2 }' "$E2E/run/refused")"
	awk '$2 < 0 || $2 > 1000 { bad = 1 } END { exit bad }' "$E2E/run/refused" ||
	    e2e_fail "a refused window longer than 1 s: $(cat "$E2E/run/refused")"
	[ "$nw" -le "$rounds" ] ||
	    e2e_fail "connections were refused $nw times for $rounds reloads"
}

# ------------------------------------------------------------------ 4
# Broken renewals give no reload; sendmail keeps serving the previous
# certificate with STARTTLS; smtlsd says why.
sc_broken_renewal()
{
	sc_setup
	e2e_pidtrack_start
	d=$E2E_CERTS

	# a) A real failed dehydrated run: pebble goes away while dehydrated
	# waits with its new cert-TS.pem still empty.
	p=$(e2e_smtlsd_pass)
	e2e_acme_start_renew
	e2e_wait 15 sc_empty_cert_appeared ||
	    e2e_fail "dehydrated never created its empty cert-TS.pem"
	e2e_stop "$E2E_PEBBLE_PID" 5
	e2e_wait 30 e2e_dead "$E2E_ACME_PID" || e2e_fail "dehydrated hangs without pebble"
	wait "$E2E_ACME_PID" && e2e_fail "dehydrated succeeded without pebble"
	for f in "$d"/cert-*.pem; do
		[ -s "$f" ] || e2e_log "dehydrated failed and left $(basename "$f") empty"
	done
	e2e_smtlsd_wait_pass $((p + 1)) ||
	    e2e_fail "smtlsd ran no pass after the failed dehydrated run"
	sc_still_serving "failed dehydrated run"

	# b) A new set, complete and linked in dehydrated's order, whose key
	# does not match its certificate.
	ts0=$(readlink "$d/cert.pem" | sed -n 's/^cert-\([0-9]*\)\.pem$/\1/p')
	[ -n "$ts0" ] || e2e_fail "cannot read dehydrated's cert.pem link"
	ts=$(( $(date +%s) + 100 ))
	openssl genrsa -out "$d/privkey-$ts.pem" 2048 2>/dev/null
	chmod 600 "$d/privkey-$ts.pem"
	for f in cert chain fullchain; do
		cp "$d/$f-$ts0.pem" "$d/$f-$ts.pem"
	done
	sc_broken "key that does not match" 'match' sc_swap_links "$ts"

	# c) The links back on the set sendmail serves: nothing to do.
	p=$(e2e_smtlsd_pass)
	sc_swap_links "$ts0"
	e2e_smtlsd_wait_pass $((p + 1)) || e2e_fail "no pass after the set came back"
	sc_still_serving "links back on the served set"

	# d) A new set whose certificate files are empty.
	ts=$((ts + 100))
	cp "$d/privkey-$ts0.pem" "$d/privkey-$ts.pem"
	cp "$d/chain-$ts0.pem" "$d/chain-$ts.pem"
	: >"$d/cert-$ts.pem"
	: >"$d/fullchain-$ts.pem"
	sc_broken "empty certificate" 'empty|no certificate|cannot read|unable|invalid' \
	    sc_swap_links "$ts"

	sc_reloads_are 0 || e2e_fail "sendmail was reloaded $(sc_reloads) times"
	e2e_log "sendmail never reloaded, still pid $(e2e_sm_pid), serving $SERIAL0 with STARTTLS"
}

sc_empty_cert_appeared()
{
	for _f in "$E2E_CERTS"/cert-*.pem; do
		[ -f "$_f" ] && [ ! -s "$_f" ] && return 0
	done
	return 1
}

# sc_swap_links TS: point the four links at the TS files, as dehydrated
# does on Debian (ln -sf renames over each link), cert.pem last.
sc_swap_links()
{
	for _l in privkey chain fullchain cert; do
		ln -sf "$_l-$1.pem" "$E2E_CERTS/$_l.pem"
	done
}

# sc_broken WHAT PATTERN CMD...: run CMD (which breaks the set), wait for
# smtlsd's pass, check nothing was reloaded and smtlsd's log matches
# PATTERN.
sc_broken()
{
	_what=$1 _pat=$2
	shift 2
	_p=$(e2e_smtlsd_pass)
	_l=$(e2e_smtlsd_log_lines)
	"$@"
	e2e_smtlsd_wait_pass $((_p + 1)) || e2e_fail "$_what: smtlsd ran no pass"
	e2e_wait 5 sc_log_says "$_l" "$_pat" ||
	    e2e_fail "$_what: smtlsd's log does not say why: $(e2e_smtlsd_log_since "$_l" | tr '\n' '|')"
	e2e_log "$_what: smtlsd says: $(e2e_smtlsd_log_since "$_l" | grep -Ei "$_pat" | head -n 1)"
	sc_still_serving "$_what"
}

# sc_still_serving WHAT: over 1.5 s (three settle times), no reload and the
# first certificate still served with STARTTLS.
sc_still_serving()
{
	e2e_holds 1.5 sc_reloads_are 0 ||
	    e2e_fail "$1: sendmail was reloaded"
	e2e_sm_running || e2e_fail "$1: sendmail died"
	sc_expect_serving "$SERIAL0"
	e2e_log "$1: no reload, still serving $SERIAL0 with STARTTLS"
}

# ------------------------------------------------------------------ 5
# The CA directory is live: a client certificate from a test CA is
# verified once the CA is in the bundle and refused once it is removed,
# with no reload of sendmail.
sc_ca_dir_live()
{
	sc_setup
	e2e_pidtrack_start
	if ! e2e_make_ca clientca || ! e2e_make_client clientca client1; then
		e2e_fail "cannot make the test client CA"
	fi
	v=$(e2e_client_verify "$E2E/ca/client1.pem" "$E2E/ca/client1.key")
	e2e_log "client certificate, CA not in the bundle: verify=$v"
	[ "$v" = FAIL ] || e2e_fail "expected verify=FAIL before the CA is added, got '$v'"

	t=$(e2e_now_ms)
	e2e_bundle_write "$E2E_ROOT" "$E2E/ca/clientca.pem"
	e2e_wait 10 e2e_capath_has "$E2E_CERTDIR" "$E2E/ca/clientca.pem" ||
	    e2e_fail "the new CA did not reach cert_dir"
	e2e_log "CA added to the bundle: in cert_dir after $(( $(e2e_now_ms) - t )) ms"
	e2e_wait 3 sc_verify_is OK ||
	    e2e_fail "expected verify=OK once the CA is in cert_dir, got '$(sc_verify)'"
	e2e_log "client certificate: verify=OK"

	t=$(e2e_now_ms)
	e2e_bundle_write "$E2E_ROOT"
	e2e_wait 10 e2e_capath_lacks "$E2E_CERTDIR" "$E2E/ca/clientca.pem" ||
	    e2e_fail "the removed CA is still in cert_dir"
	e2e_log "CA removed from the bundle: gone from cert_dir after $(( $(e2e_now_ms) - t )) ms"
	e2e_wait 3 sc_verify_is FAIL ||
	    e2e_fail "expected verify=FAIL once the CA is gone, got '$(sc_verify)'"
	e2e_log "client certificate: verify=FAIL"
	e2e_capath_has "$E2E_CERTDIR" "$E2E_ROOT" ||
	    e2e_fail "pebble's root went missing from cert_dir"
	sc_reloads_are 0 || e2e_fail "sendmail was reloaded $(sc_reloads) times"
	e2e_log "no reload of sendmail (pid $(e2e_sm_pid) throughout)"
}

sc_verify()
{
	e2e_client_verify "$E2E/ca/client1.pem" "$E2E/ca/client1.key"
}

sc_verify_is()
{
	[ "$(sc_verify)" = "$1" ]
}

# ------------------------------------------------------------------ 6
# dh.param deleted while everything runs: it comes back and sendmail is
# reloaded once.
sc_dh_param_deleted()
{
	E2E_DH_SOURCE=ffdhe3072
	sc_setup
	e2e_pidtrack_start
	l=$(e2e_smtlsd_log_lines)
	t=$(e2e_now_ms)
	rm -f "$E2E_CERTDIR/dh.param"
	e2e_wait 10 test -s "$E2E_CERTDIR/dh.param" || e2e_fail "dh.param did not come back"
	e2e_log "dh.param back after $(( $(e2e_now_ms) - t )) ms"
	openssl dhparam -in "$E2E_CERTDIR/dh.param" -noout -text 2>/dev/null |
	    grep -q '(3072 bit)' || e2e_fail "the new dh.param is not 3072-bit DH parameters"
	e2e_wait 10 sc_reloads_are 1 || e2e_fail "sendmail was not reloaded"
	e2e_log "sendmail reloaded $(( $(e2e_now_ms) - t )) ms after the delete: pid $(e2e_sm_pid)"
	e2e_holds 2 sc_reloads_are 1 || e2e_fail "sendmail reloaded $(sc_reloads) times"
	e2e_sm_running || e2e_fail "sendmail is not running"
	case "$(e2e_tls_dh)" in
	*3072*)	;;
	*)	e2e_fail "after the reload sendmail's DH key is '$(e2e_tls_dh)'" ;;
	esac
	sc_expect_serving "$SERIAL0"
	e2e_log "smtlsd said: $(e2e_smtlsd_log_since "$l" | grep -i 'dh' | head -n 2 | tr '\n' '|')"
}

# ------------------------------------------------------------------ 7
# sendmail stopped, its pidfile left behind: a renewal signals nobody and
# smtlsd says so clearly; a pidfile naming an unrelated live process is not
# signalled either; sendmail started again is reloaded by the next renewal.
sc_stale_pidfile()
{
	sc_setup
	cp "$E2E_SMPID" "$E2E/run/sendmail.pid.saved"
	stale=$(e2e_sm_pid)
	e2e_sm_stop
	e2e_dead "$stale" || e2e_fail "sendmail did not stop"
	[ -s "$E2E_SMPID" ] || cp "$E2E/run/sendmail.pid.saved" "$E2E_SMPID"
	e2e_log "sendmail (pid $stale) stopped; pidfile left: $(sed -n 1p "$E2E_SMPID")"

	p=$(e2e_smtlsd_pass)
	l=$(e2e_smtlsd_log_lines)
	e2e_acme_renew || e2e_fail "dehydrated -c --force failed"
	serial1=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	e2e_log "dehydrated renewed: $serial1"
	e2e_smtlsd_wait_pass $((p + 1)) || e2e_fail "smtlsd ran no pass after the renewal"
	e2e_wait 5 sc_log_says "$l" "$stale|not running|stale|no such process" ||
	    e2e_fail "smtlsd does not say that sendmail is not running: $(e2e_smtlsd_log_since "$l" | tr '\n' '|')"
	e2e_log "smtlsd says: $(e2e_smtlsd_log_since "$l" | grep -Ei "$stale|not running|stale|no such process" | head -n 1)"
	e2e_alive "$E2E_SMTLSD_PID" || e2e_fail "smtlsd died"

	# A stale pidfile whose pid now belongs to an unrelated process.
	e2e_spawn decoy sleep 600
	decoy=$E2E_LASTPID
	printf '%s\n%s\n' "$decoy" "$E2E_SMBIN -C $E2E/sm/test.cf -bd" >"$E2E_SMPID"
	p=$(e2e_smtlsd_pass)
	l=$(e2e_smtlsd_log_lines)
	rm -f "$E2E_CERTDIR/dh.param"	# makes smtlsd want a reload
	e2e_wait 10 test -s "$E2E_CERTDIR/dh.param" || e2e_fail "dh.param did not come back"
	e2e_smtlsd_wait_pass $((p + 1)) || e2e_fail "smtlsd ran no pass for dh.param"
	e2e_wait 5 sc_log_says "$l" "$decoy|sleep|not sendmail" ||
	    e2e_fail "smtlsd does not say it will not signal pid $decoy (sleep): $(e2e_smtlsd_log_since "$l" | tr '\n' '|')"
	e2e_holds 1 e2e_alive "$decoy" ||
	    e2e_fail "smtlsd signalled pid $decoy, which is not sendmail"
	e2e_log "pidfile naming 'sleep' (pid $decoy): not signalled; smtlsd says: $(e2e_smtlsd_log_since "$l" | grep -Ei "$decoy|sleep|not sendmail" | head -n 1)"
	e2e_stop "$decoy"

	# sendmail back: it reads the renewed files at start; the next
	# renewal reloads it once.
	e2e_sm_start "$E2E_CERTDIR"
	sc_expect_serving "$serial1"
	e2e_pidtrack_start
	if ! e2e_holds 1.5 sc_reloads_are 0; then
		e2e_log "NOTE: smtlsd reloaded the freshly started sendmail"
		e2e_wait 5 e2e_sm_running
		e2e_pidtrack_start
	fi
	e2e_log "sendmail started again: pid $(e2e_sm_pid), serving $serial1"
	e2e_acme_renew || e2e_fail "second renewal failed"
	serial2=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	e2e_wait 30 e2e_serial_is "$serial2" ||
	    e2e_fail "after the second renewal sendmail still serves $(e2e_tls_serial)"
	e2e_holds 2 sc_reloads_are 1 ||
	    e2e_fail "sendmail's pid changed $(sc_reloads) times, expected once"
	sc_expect_serving "$serial2"
	e2e_log "second renewal: one reload, serving $serial2"
}

# ------------------------------------------------------------------ verify
# The STARTTLS probe (verify_smtp) against the real sendmail: each renewal
# is verified as served once sendmail is back; a sendmail killed and
# started by hand with another ServerCertFile is reported as serving the
# wrong certificate.

# sc_verify_status: the status file's second line, the probe's.
sc_verify_status()
{
	sed -n 2p "$E2E/run/smtlsd.status" 2>/dev/null
}

# sc_verify_ok SERIAL: the probe's line says sendmail serves SERIAL.
sc_verify_ok()
{
	sc_verify_status | grep -Eq "^verify [0-9]+ ok sendmail serves $E2E_DOMAIN serial $1 until "
}

# sc_resync: smtlsd -R, its output in $E2E/run/resync.out; its status.
sc_resync()
{
	timeout 120 "$E2E_SMTLSD" -R -f "$E2E/smtlsd.conf" \
	    >"$E2E/run/resync.out" 2>&1
}

sc_verify_renewals()
{
	E2E_VERIFY=127.0.0.1:$E2E_PORT
	sc_setup
	# smtlsd started before sendmail: its first probe was refused (or
	# met sendmail while it tried again); a resync probes anew.
	sc_resync || e2e_fail "smtlsd -R failed: $(cat "$E2E/run/resync.out")"
	grep -Eq "^smtlsd: verified .*: sendmail serves $E2E_DOMAIN serial $SERIAL0 until " \
	    "$E2E/run/resync.out" ||
	    e2e_fail "-R does not say sendmail serves $SERIAL0: $(cat "$E2E/run/resync.out")"
	e2e_log "smtlsd -R: $(tail -n 1 "$E2E/run/resync.out")"
	serial=$SERIAL0
	for i in 1 2; do
		l=$(e2e_smtlsd_log_lines)
		e2e_acme_renew || e2e_fail "renewal $i: dehydrated failed"
		new=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
		[ "$new" != "$serial" ] || e2e_fail "renewal $i kept the serial"
		e2e_wait 30 sc_verify_ok "$new" ||
		    e2e_fail "renewal $i: the probe does not say $new is served: $(sc_verify_status)"
		e2e_serial_is "$new" ||
		    e2e_fail "renewal $i: the probe said ok, s_client sees $(e2e_tls_serial)"
		# The probe came after sendmail was back, and said ok.
		e2e_smtlsd_log_since "$l" >"$E2E/run/log.$i"
		back=$(grep -n 'is back as pid' "$E2E/run/log.$i" | head -n 1 | cut -d: -f1)
		ok=$(grep -n "verify: ok: sendmail serves $E2E_DOMAIN serial $new" "$E2E/run/log.$i" | head -n 1 | cut -d: -f1)
		if [ -z "$back" ] || [ -z "$ok" ] || [ "$back" -ge "$ok" ]; then
			e2e_fail "renewal $i: no 'back' before 'verify: ok' in the log"
		fi
		grep -q 'verify: failed' "$E2E/run/log.$i" &&
		    e2e_fail "renewal $i: a probe failed: $(grep 'verify: failed' "$E2E/run/log.$i" | head -n 1)"
		[ "$(e2e_smtlsd_state)" = ok ] ||
		    e2e_fail "renewal $i: status $(e2e_smtlsd_status)"
		e2e_log "renewal $i: $(sc_verify_status)"
		serial=$new
	done
}

sc_verify_wrong_cert()
{
	E2E_VERIFY=127.0.0.1:$E2E_PORT
	sc_setup
	sc_resync || e2e_fail "smtlsd -R failed: $(cat "$E2E/run/resync.out")"
	# Another certificate and key, as a hand-edited sendmail.cf names.
	w=$E2E/wrong
	mkdir -m 0700 "$w"
	openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=$E2E_DOMAIN" \
	    -days 30 -keyout "$w/key.pem" -out "$w/cert.pem" \
	    >"$E2E/log/wrong.log" 2>&1 || e2e_fail "openssl req failed"
	chmod 0600 "$w/key.pem"
	wrong=$(e2e_cert_serial "$w/cert.pem")
	e2e_sm_stop
	cp "$E2E/sm/test.cf" "$E2E/sm/test.cf.good"
	sed -e "s|^O ServerCertFile=.*|O ServerCertFile=$w/cert.pem|" \
	    -e "s|^O ServerKeyFile=.*|O ServerKeyFile=$w/key.pem|" \
	    "$E2E/sm/test.cf.good" >"$E2E/sm/test.cf"
	grep -q "^O ServerCertFile=$w/cert.pem" "$E2E/sm/test.cf" ||
	    e2e_fail "no ServerCertFile line in test.cf"
	e2e_sm_start "$E2E_CERTDIR"
	e2e_serial_is "$wrong" || e2e_fail "sendmail does not serve the wrong certificate"
	e2e_log "sendmail restarted by hand with another ServerCertFile: serves $wrong"
	rc=0
	sc_resync || rc=$?
	[ "$rc" -eq 1 ] || e2e_fail "smtlsd -R exited $rc, not 1: $(cat "$E2E/run/resync.out")"
	grep -q "serves the wrong certificate: serial $wrong" "$E2E/run/resync.out" ||
	    e2e_fail "-R does not report the wrong certificate: $(cat "$E2E/run/resync.out")"
	[ "$(e2e_smtlsd_state)" = failed ] ||
	    e2e_fail "status is not failed: $(e2e_smtlsd_status)"
	e2e_log "smtlsd -R: $(tail -n 1 "$E2E/run/resync.out")"
	# Put right by hand again: the next probe says so.
	e2e_sm_stop
	cp "$E2E/sm/test.cf.good" "$E2E/sm/test.cf"
	e2e_sm_start "$E2E_CERTDIR"
	sc_resync || e2e_fail "smtlsd -R failed: $(cat "$E2E/run/resync.out")"
	sc_verify_ok "$SERIAL0" || e2e_fail "status: $(sc_verify_status)"
	e2e_log "sendmail put right: $(sc_verify_status)"
}

# ------------------------------------------------------------------ 12
# Issue 12 (branch check): smtlsd -C against the real sendmail.cf and
# binary, a renewal held back because sendmail would refuse its files, and
# each safefile rule shown against the real sendmail (it drops STARTTLS).
# The main block follows these functions.

# sc_check_cf [M4-LINE...]: $E2E/sm/check.cf, from test.mc with the
# seed page's TLS lines, then the M4-LINEs (a later define wins).
sc_check_cf()
{
	_k_mc=$E2E/sm/check.mc
	{
		sed '/^FEATURE(`no_default_msa/,$d' "$E2E/sm/test.mc"
		echo "define(\`confSERVER_SSL_OPTIONS', \`SSL_OP_NO_SSLv3,SSL_OP_NO_TLSv1,SSL_OP_CIPHER_SERVER_PREFERENCE')dnl"
		echo "define(\`confCIPHER_LIST', \`ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA:AES128-GCM-SHA256:AES128-SHA256:AES128-SHA')dnl"
		for _k_l in "$@"; do
			echo "$_k_l"
		done
		sed -n '/^FEATURE(`no_default_msa/,$p' "$E2E/sm/test.mc"
	} >"$_k_mc"
	m4 -D_CF_DIR_="$E2E_SMCFDIR/" "$E2E_SMCFDIR/m4/cf.m4" "$_k_mc" \
	    >"$E2E/sm/check.cf" 2>>"$E2E/log/m4.log" ||
	    e2e_fail "m4 could not build check.cf"
	chmod 644 "$E2E/sm/check.cf"
}

# sc_check OUT: smtlsd -C with check.cf and the real binary into OUT;
# its exit status.
sc_check()
{
	e2e_smtlsd_conf "sendmail_cf $E2E/sm/check.cf" \
	    "sendmail_path $E2E_SMBIN"
	timeout 60 "$E2E_SMTLSD" -C -f "$E2E/smtlsd.conf" >"$1" 2>&1
}

sc_check_setup()
{
	sc_setup
	sc_check_cf
	sc_check "$E2E/run/check.out" ||
	    e2e_fail "smtlsd -C FAILs with the seed page's set-up: $(grep -v '^ok' "$E2E/run/check.out" | tr '\n' '|')"
	e2e_log "smtlsd -C, the seed page's set-up:"
	sed 's/^/    /' "$E2E/run/check.out" >&2
	for _n in sendmail.cf CACertPath DHParameters ServerCertFile \
	    ServerKeyFile safefile protocols "cipher order" leftovers STARTTLS \
	    ECDHE; do
		grep -q "^ok   $_n:" "$E2E/run/check.out" ||
		    e2e_fail "smtlsd -C: no ok for $_n"
	done
	# Debian's 8.17 lacks the chain-file FFR option: a warning only.
	grep -Eq '^(ok  |warn) chain file:' "$E2E/run/check.out" ||
	    e2e_fail "smtlsd -C: no chain file line"
	# Each wrong line in turn: that check FAILs, no other.
	for _w in \
	    "CACertPath|define(\`confCACERT_PATH', \`/etc/mail/certs.other')dnl" \
	    "DHParameters|define(\`confDH_PARAMETERS', \`$E2E/sm/other.param')dnl" \
	    "ServerCertFile|define(\`confSERVER_CERT', \`$E2E/sm/test.mc')dnl" \
	    "ServerKeyFile|define(\`confSERVER_KEY', \`$E2E_CERTS/cert.pem')dnl" \
	    "protocols|define(\`confSERVER_SSL_OPTIONS', \`SSL_OP_NO_SSLv3,SSL_OP_CIPHER_SERVER_PREFERENCE')dnl" \
	    "cipher order|define(\`confCIPHER_LIST', \`AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256')dnl"; do
		_name=${_w%%|*}
		sc_check_cf "${_w#*|}"
		if sc_check "$E2E/run/check.out"; then
			e2e_fail "smtlsd -C exits 0 with ${_w#*|}"
		fi
		grep -q "^FAIL $_name:" "$E2E/run/check.out" ||
		    e2e_fail "smtlsd -C: no FAIL for $_name with ${_w#*|}: $(tr '\n' '|' <"$E2E/run/check.out")"
		_others=$(grep '^FAIL' "$E2E/run/check.out" |
		    grep -v "^FAIL $_name:" | tr '\n' '|')
		[ -z "$_others" ] ||
		    e2e_fail "smtlsd -C, wrong $_name: other checks FAIL too: $_others"
		e2e_log "wrong $_name: $(grep "^FAIL $_name:" "$E2E/run/check.out" | head -n 1)"
	done
}

# sc_watch_keys: in the background, makes every new privkey-*.pem in the
# domain directory group-readable as soon as dehydrated writes it.
sc_watch_keys()
{
	ls "$E2E_CERTS"/privkey-*.pem >"$E2E/run/keys.before" 2>/dev/null
	cat >"$E2E/run/keywatch.sh" <<'KEYWATCH'
trap 'exit 0' TERM
while :; do
	for k in "$1"/privkey-*.pem; do
		[ -f "$k" ] && ! grep -qx "$k" "$2" && chmod 0640 "$k"
	done
	sleep 0.01
done
KEYWATCH
	e2e_spawn keywatch sh "$E2E/run/keywatch.sh" "$E2E_CERTS" \
	    "$E2E/run/keys.before"
	E2E_KEYWATCH_PID=$E2E_LASTPID
}

sc_held_renewal()
{
	e2e_syslog_start
	e2e_pebble_start
	e2e_acme_register
	e2e_acme_issue || e2e_fail "dehydrated -c failed"
	serial0=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	e2e_bundle_write "$E2E_ROOT"
	e2e_sm_config "$E2E/certs"
	e2e_smtlsd_conf "sendmail_cf $E2E/sm/test.cf"
	e2e_smtlsd_start
	e2e_sm_start "$E2E_CERTDIR"
	sc_expect_serving "$serial0"
	e2e_pidtrack_start

	# 1. A renewal whose new key is group-readable: never reloaded.
	l=$(e2e_smtlsd_log_lines)
	sc_watch_keys
	e2e_acme_renew || e2e_fail "renewal failed"
	e2e_stop "$E2E_KEYWATCH_PID"
	serial1=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	[ "$(stat -L -c %a "$E2E_CERTS/privkey.pem")" = 640 ] ||
	    e2e_fail "the new key is not group-readable"
	e2e_wait 10 sc_log_says "$l" "privkey.pem is readable by group|the key is readable by its group" ||
	    e2e_fail "smtlsd does not refuse the group-readable key: $(e2e_smtlsd_log_since "$l" | tr '\n' '|')"
	e2e_holds 2 sc_reloads_are 0 ||
	    e2e_fail "sendmail was reloaded into a group-readable key"
	sc_expect_serving "$serial0"
	e2e_log "group-readable key of $serial1: no reload, sendmail serves $serial0 with STARTTLS; smtlsd: $(e2e_smtlsd_log_since "$l" | grep -Ei 'readable by' | head -n 1)"
	# Fixed: one reload, the new certificate served.
	chmod 600 "$E2E_CERTS/privkey.pem"
	e2e_wait 30 e2e_serial_is "$serial1" ||
	    e2e_fail "after chmod 600 sendmail still serves $(e2e_tls_serial)"
	e2e_holds 1.5 sc_reloads_are 1 ||
	    e2e_fail "sendmail was reloaded $(sc_reloads) times after the fix"
	sc_expect_serving "$serial1"
	e2e_log "chmod 600: one reload, serving $serial1"

	# 2. A renewal in a directory made group-writable: held by safefile.
	e2e_pidtrack_start
	chmod g+w "$E2E_CERTS"
	l=$(e2e_smtlsd_log_lines)
	e2e_acme_renew || e2e_fail "second renewal failed"
	serial2=$(e2e_cert_serial "$E2E_CERTS/cert.pem")
	e2e_wait 10 sc_log_says "$l" "not reloading sendmail .*on its path is writable by its group" ||
	    e2e_fail "smtlsd does not hold the reload: $(e2e_smtlsd_log_since "$l" | tr '\n' '|')"
	e2e_holds 2 sc_reloads_are 0 ||
	    e2e_fail "sendmail was reloaded below a group-writable directory"
	[ "$(e2e_smtlsd_state)" = failed ] ||
	    e2e_fail "the status is not failed: $(e2e_smtlsd_status)"
	sc_expect_serving "$serial1"
	e2e_log "group-writable directory: held, sendmail serves $serial1 with STARTTLS; status: $(e2e_smtlsd_status)"
	chmod g-w "$E2E_CERTS"
	e2e_wait 30 e2e_serial_is "$serial2" ||
	    e2e_fail "after chmod g-w sendmail still serves $(e2e_tls_serial)"
	e2e_holds 1.5 sc_reloads_are 1 ||
	    e2e_fail "sendmail was reloaded $(sc_reloads) times after the fix"
	sc_expect_serving "$serial2"
	e2e_log "chmod g-w: one reload, serving $serial2"
}

# sc_rule DESC BREAK FIX REGEX: BREAK; smtlsd -C FAILs safefile with
# REGEX; sendmail, HUPed, drops STARTTLS; FIX; HUPed, offers it again.
sc_rule()
{
	sh -c "$2" || e2e_fail "cannot break: $2"
	if sc_check "$E2E/run/rule.out"; then
		e2e_fail "$1: smtlsd -C exits 0"
	fi
	grep -Eq "^FAIL safefile: .*$4" "$E2E/run/rule.out" ||
	    e2e_fail "$1: smtlsd -C does not say '$4': $(grep safefile "$E2E/run/rule.out" | tr '\n' '|')"
	e2e_sm_hup
	! e2e_starttls_offered ||
	    e2e_fail "$1: the real sendmail still offers STARTTLS"
	sh -c "$3" || e2e_fail "cannot fix: $3"
	e2e_sm_hup
	e2e_wait 5 e2e_starttls_offered ||
	    e2e_fail "$1: STARTTLS not back after the fix"
	e2e_log "$1: sendmail drops STARTTLS; smtlsd -C: $(grep '^FAIL safefile' "$E2E/run/rule.out" | head -n 1 | cut -c1-200)"
}

# sc_relaxed DESC M4-LINE BREAK FIX: with M4-LINE (a DontBlameSendmail
# or TrustedUser) sendmail keeps STARTTLS after BREAK, and smtlsd -C
# says ok.
sc_relaxed()
{
	sc_check_cf "$2"
	cp "$E2E/sm/check.cf" "$E2E/sm/test.cf"
	sh -c "$3" || e2e_fail "cannot break: $3"
	sc_check "$E2E/run/rule.out" ||
	    e2e_fail "$1, $2: smtlsd -C FAILs: $(grep '^FAIL' "$E2E/run/rule.out" | tr '\n' '|')"
	e2e_sm_hup
	e2e_wait 5 e2e_starttls_offered ||
	    e2e_fail "$1, $2: the real sendmail drops STARTTLS"
	sh -c "$4" || e2e_fail "cannot fix: $4"
	e2e_log "$1 with $2: sendmail keeps STARTTLS, smtlsd -C ok"
	sc_check_cf
	cp "$E2E/sm/check.cf" "$E2E/sm/test.cf"
	e2e_sm_hup
}

sc_safefile_rules()
{
	sc_setup
	sc_check_cf
	cp "$E2E/sm/check.cf" "$E2E/sm/test.cf"
	e2e_sm_hup
	sc_expect_serving "$SERIAL0"
	k=$(readlink -f "$E2E_CERTS/privkey.pem")
	c=$(readlink -f "$E2E_CERTS/fullchain.pem")
	d=$E2E_CERTS
	sc_rule "group-readable key" "chmod 640 $k" "chmod 600 $k" \
	    "key is readable by its group.*E_SM_GRFILE"
	sc_rule "world-readable key" "chmod 604 $k" "chmod 600 $k" \
	    "key is readable by others.*E_SM_WRFILE"
	sc_rule "group-writable certificate" "chmod 620 $c" "chmod 600 $c" \
	    "certificate is writable by its group.*E_SM_GWFILE"
	sc_rule "world-writable certificate" "chmod 602 $c" "chmod 600 $c" \
	    "certificate is writable by others.*E_SM_WWFILE"
	sc_rule "group-writable directory" "chmod g+w $d" "chmod g-w $d" \
	    "on its path is writable by its group.*E_SM_GWDIR"
	sc_rule "world-writable directory" "chmod o+w $d" "chmod o-w $d" \
	    "on its path is writable by others.*E_SM_WWDIR"
	sc_rule "key not root's" "chown nobody $k" "chown root $k" \
	    "owned by nobody.*not by root or TrustedUser"
	mkdir -m 0775 "$E2E/open"
	sc_rule "directory link into a group-writable directory" \
	    "mv $d $E2E/open/dom && ln -s $E2E/open/dom $d" \
	    "rm $d && mv $E2E/open/dom $d" \
	    "/open on its path is writable by its group"
	sc_relaxed "group-readable key" \
	    "define(\`confDONT_BLAME_SENDMAIL', \`GroupReadableKeyFile')dnl" \
	    "chmod 640 $k" "chmod 600 $k"
	sc_relaxed "group-writable directory" \
	    "define(\`confDONT_BLAME_SENDMAIL', \`GroupWritableDirPathSafe')dnl" \
	    "chmod g+w $d" "chmod g-w $d"
	sc_relaxed "key of TrustedUser" \
	    "define(\`confTRUSTED_USER', \`nobody')dnl" \
	    "chown nobody $k" "chown root $k"
	sc_expect_serving "$SERIAL0"
}

# ------------------------------------------------------------------ expiry
# pebble issues certificates for 10 days, expiry_warn is 14: the status is
# failed with "expires in 9 days (renewed last on ...; is dehydrated
# running?)", the warning is logged, and sendmail still serves the set
# (it is valid; the warning is about the renewals that did not come).
sc_expiry_short()
{
	E2E_PEBBLE_VALIDITY=864000
	E2E_VERIFY=127.0.0.1:$E2E_PORT
	E2E_CONF_EXTRA="expiry_warn 14"
	sc_setup
	_until=$(openssl x509 -in "$E2E_CERTS/cert.pem" -noout -enddate |
	    cut -d= -f2)
	e2e_log "pebble issued $SERIAL0 valid until $_until"
	e2e_wait 20 sc_expiry_said ||
	    e2e_fail "no expiry warning in the status: $(e2e_smtlsd_status)"
	_today=$(date -u +%Y-%m-%d)
	e2e_smtlsd_status | head -n 1 |
	    grep -q "renewed last on $_today; is dehydrated running?" ||
	    e2e_fail "the warning does not say when it was renewed: $(e2e_smtlsd_status)"
	sc_log_says 0 "the certificate expires in 9 days" ||
	    e2e_fail "the expiry warning is not in the log"
	sc_expect_serving "$SERIAL0"
	e2e_log "status: $(e2e_smtlsd_status | head -n 1)"
}

# sc_expiry_said: the status is failed with the expiry warning.
sc_expiry_said()
{
	[ "$(e2e_smtlsd_state)" = failed ] &&
	    e2e_smtlsd_status | head -n 1 |
	    grep -q "the certificate expires in 9 days"
}

# ------------------------------------------------------------------ main

case "${1:-}" in
first_start|renewal|renewal_repeat|broken_renewal|ca_dir_live|\
dh_param_deleted|stale_pidfile|check_setup|held_renewal|safefile_rules|\
verify_renewals|verify_wrong_cert|expiry_short)
	;;
*)
	echo "usage: scenarios.sh first_start|renewal|renewal_repeat|broken_renewal|ca_dir_live|dh_param_deleted|stale_pidfile|check_setup|held_renewal|safefile_rules|verify_renewals|verify_wrong_cert|expiry_short" >&2
	exit 2
	;;
esac
e2e_init || exit 1
e2e_trap
e2e_log "scenario $1 (scratch $E2E_OUTER, seen here as $E2E)"
"sc_$1"
e2e_log "scenario $1: passed"
