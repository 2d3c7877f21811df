# End-to-end harness for smtlsd: real sendmail, pebble and dehydrated on
# loopback, inside private namespaces.  POSIX sh; source it from atf-sh
# tests, from tests/e2e/selftest.sh and from the demo.
#
# The caller sets E2E to a scratch directory; every file the harness makes
# lives under it, except the unpacked sendmail cache ($E2E_CACHE).  Nothing
# is written under /etc/mail or /dev and nothing listens on port 25 outside
# the namespaces.
#
# Typical use (selftest.sh and demo.sh are complete examples):
#	. lib.sh		# E2E_CACHE, if not the default, set before
#	reason=$(e2e_skip_reason) && { echo "skipped: $reason"; exit 77; }
#	E2E=/some/dir; export E2E
#	e2e_ns_run sh my-scenario.sh	# enters the namespaces; inside:
#	    . lib.sh; e2e_init; e2e_trap
#	    e2e_syslog_start; e2e_pebble_start; e2e_acme_register
#	    e2e_acme_issue; e2e_sm_start "$certdir"; e2e_tls_serial ...
# Functions that cannot go on call e2e_fail, which exits: the EXIT trap
# (e2e_trap) stops every process by its pid.  Inside the namespaces the
# scratch directory is seen at $E2E_CACHE/ns (see e2e_ns_run).
#
# Linux only: it needs unshare(1) from util-linux.  Everything that waits
# polls with a deadline (e2e_wait); nothing sleeps a fixed time.

: "${E2E_CACHE:=/var/cache/smtlsd-e2e}"
: "${E2E_DOMAIN:=mail.example.test}"
: "${E2E_PORT:=2525}"
: "${E2E_ACME_PORT:=14000}"
: "${E2E_ACME_MGMT:=15000}"
E2E_SMROOT="$E2E_CACHE/root"
E2E_SMBIN="$E2E_SMROOT/usr/libexec/sendmail/sendmail"
E2E_SMCFDIR="$E2E_SMROOT/usr/share/sendmail/cf"
E2E_SMPKGS="sendmail-bin sendmail-base sendmail-cf"

# ---------------------------------------------------------------- basics

# e2e_now_ms: milliseconds since the epoch.
e2e_now_ms()
{
	date +%s%3N
}

# e2e_log MSG...: one narration line, with seconds since e2e_init.
e2e_log()
{
	_l_now=$(e2e_now_ms)
	_l_t=$(( _l_now - ${E2E_T0:-$_l_now} ))
	printf '[%3d.%03ds] %s\n' $((_l_t / 1000)) $((_l_t % 1000)) "$*"
}

# e2e_fail MSG...: report a failure with the tails of the logs, keep the
# reason in $E2E/run/failed, exit 1 (the EXIT trap cleans up).  Do not call
# it inside $(...): it would only leave the subshell.
e2e_fail()
{
	printf 'e2e: FAIL: %s\n' "$*"
	if [ -n "${E2E:-}" ] && [ -d "$E2E/run" ]; then
		printf '%s\n' "$*" >"$E2E/run/failed"
		e2e_diag
	fi
	exit 1
}

# e2e_skip MSG...: report why the scenario cannot run and exit 77.
e2e_skip()
{
	printf 'e2e: SKIP: %s\n' "$*"
	[ -n "${E2E:-}" ] && [ -d "$E2E/run" ] &&
	    printf 'e2e: SKIP: %s\n' "$*" >"$E2E/run/skipped"
	exit 77
}

# e2e_ms SECONDS: a decimal number of seconds as integer milliseconds.
e2e_ms()
{
	awk -v s="$1" 'BEGIN { printf "%d\n", s * 1000 }'
}

# e2e_wait SECONDS CMD [ARG...]: run CMD every 50 ms until it succeeds.
# Returns 0 as soon as it does, 1 once SECONDS have passed without success.
e2e_wait()
{
	_w_end=$(( $(e2e_now_ms) + $(e2e_ms "$1") ))
	shift
	while :; do
		"$@" && return 0
		[ "$(e2e_now_ms)" -ge "$_w_end" ] && return 1
		sleep 0.05
	done
}

# e2e_alive PID: the process exists and is not a zombie.
e2e_alive()
{
	case "$1" in
	''|*[!0-9]*)	return 1 ;;
	esac
	_a_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	case "$_a_st" in
	''|Z*|X*)	return 1 ;;
	esac
	return 0
}

# e2e_dead PID: the opposite of e2e_alive (for e2e_wait).
e2e_dead()
{
	! e2e_alive "$1"
}

# e2e_comm PID: the kernel's name for the process (/proc/PID/comm).
e2e_comm()
{
	cat "/proc/$1/comm" 2>/dev/null
}

# e2e_init: make the layout under $E2E.  Call once per scenario.
e2e_init()
{
	[ -n "${E2E:-}" ] || { echo "e2e_init: E2E is not set" >&2; return 1; }
	umask 022
	E2E_T0=$(e2e_now_ms)
	mkdir -p "$E2E/run" "$E2E/log" "$E2E/sm/queue" "$E2E/pebble" \
	    "$E2E/acme/wellknown" || return 1
	chmod 700 "$E2E/sm/queue"
	: >"$E2E/run/pids"
	E2E_ACMEDIR="$E2E/acme"
	E2E_CERTS="$E2E_ACMEDIR/certs/$E2E_DOMAIN"
	E2E_ROOT="$E2E/pebble/root.pem"
	E2E_SMPID="$E2E/sm/sendmail.pid"
	E2E_SYSLOG="$E2E/log/syslog"
}

# e2e_spawn NAME CMD [ARG...]: start CMD in the background, output to
# $E2E/log/NAME.log; its pid is recorded for e2e_cleanup and left in
# E2E_LASTPID.
e2e_spawn()
{
	_s_name=$1
	shift
	"$@" >>"$E2E/log/$_s_name.log" 2>&1 </dev/null &
	E2E_LASTPID=$!
	echo "$E2E_LASTPID $_s_name" >>"$E2E/run/pids"
}

# e2e_stop PID [SECONDS]: SIGTERM, wait for it to go (default 5 s), then
# SIGKILL.  Reaps it when it is our child.
e2e_stop()
{
	e2e_alive "$1" || { wait "$1" 2>/dev/null; return 0; }
	kill -TERM "$1" 2>/dev/null
	if ! e2e_wait "${2:-5}" e2e_dead "$1"; then
		kill -KILL "$1" 2>/dev/null
		e2e_wait 2 e2e_dead "$1"
	fi
	wait "$1" 2>/dev/null
	return 0
}

# e2e_cleanup: stop everything this scenario started, by pid: sendmail
# (through its pidfile, as it forks away), then the spawned processes
# newest first.  Safe to call twice.
e2e_cleanup()
{
	_c_rc=$?
	set +e
	trap - EXIT INT TERM HUP
	[ -n "${E2E:-}" ] && [ -d "$E2E/run" ] || return $_c_rc
	e2e_sm_stop >/dev/null 2>&1
	if [ -s "$E2E/run/pids" ]; then
		sed -n '1!G;h;$p' "$E2E/run/pids" | while read -r _c_pid _c_name; do
			e2e_stop "$_c_pid" 3
		done
		: >"$E2E/run/pids"
	fi
	return $_c_rc
}

# e2e_trap: install e2e_cleanup for normal exit and for signals.
e2e_trap()
{
	trap e2e_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# ------------------------------------------------ can the e2e tests run?

# e2e_fetch_sendmail: make sure an unpacked sendmail is in $E2E_CACHE.
# Downloads the Debian packages with apt-get download (never installs them)
# and unpacks them with dpkg -x.  Needs the network: call it outside the
# namespaces.  Serialised with flock so parallel runs share one copy.
e2e_fetch_sendmail()
{
	[ -x "$E2E_SMBIN" ] && [ -f "$E2E_CACHE/root.ok" ] && return 0
	mkdir -p "$E2E_CACHE" || return 1
	(
		flock 9 || exit 1
		[ -x "$E2E_SMBIN" ] && [ -f "$E2E_CACHE/root.ok" ] && exit 0
		rm -rf "$E2E_CACHE/debs" "$E2E_CACHE/root.new"
		mkdir -p "$E2E_CACHE/debs" "$E2E_CACHE/root.new" || exit 1
		cd "$E2E_CACHE/debs" || exit 1
		# shellcheck disable=SC2086 # a list of package names
		if ! apt-get download -q $E2E_SMPKGS >../fetch.log 2>&1; then
			apt-get update -qq >>../fetch.log 2>&1
			# shellcheck disable=SC2086
			apt-get download -q $E2E_SMPKGS >>../fetch.log 2>&1 ||
			    exit 1
		fi
		for _f_d in ./*.deb; do
			dpkg -x "$_f_d" "$E2E_CACHE/root.new" || exit 1
		done
		rm -rf "$E2E_CACHE/root"
		mv "$E2E_CACHE/root.new" "$E2E_CACHE/root" &&
		    [ -x "$E2E_SMBIN" ] && : >"$E2E_CACHE/root.ok"
	) 9>"$E2E_CACHE/lock"
}

# e2e_skip_reason: when the e2e tests cannot run here, print why and
# return 0; when they can, print nothing and return 1.  Fetches sendmail.
e2e_skip_reason()
{
	if [ "$(uname -s)" != Linux ]; then
		echo "the e2e harness needs Linux namespaces (unshare); this is $(uname -s)"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "not root (uid $(id -u)): namespaces, /dev/log and sendmail need root"
		return 0
	fi
	_k_miss=""
	for _k_p in unshare mount ip hostname m4 openssl socat curl pebble \
	    dehydrated bash dpkg apt-get flock timeout; do
		command -v "$_k_p" >/dev/null 2>&1 || _k_miss="$_k_miss $_k_p"
	done
	if [ -n "$_k_miss" ]; then
		echo "missing programs:$_k_miss (install with: sh mk/deps.sh e2e)"
		return 0
	fi
	if ! unshare --net --uts --pid --fork --mount-proc true 2>/dev/null; then
		echo "unshare --net --uts --pid --mount-proc failed: no namespace support here (container without CAP_SYS_ADMIN?)"
		return 0
	fi
	if ! e2e_fetch_sendmail; then
		echo "could not fetch sendmail packages ($E2E_SMPKGS) with apt-get download: $(tail -n 1 "$E2E_CACHE/fetch.log" 2>/dev/null)"
		return 0
	fi
	_k_miss=$(ldd "$E2E_SMBIN" 2>&1 | awk '/not found/ { printf " %s", $1 }')
	if [ -n "$_k_miss" ]; then
		echo "the unpacked sendmail needs libraries that are not installed:$_k_miss (sh mk/deps.sh e2e)"
		return 0
	fi
	return 1
}

# e2e_ns_run CMD [ARG...]: run CMD in new network, UTS, pid and mount
# namespaces: only loopback, host name $E2E_DOMAIN, its own /proc and its
# own /dev.  When CMD (pid 1 there) ends or unshare is killed, the kernel
# kills every process left in the namespace and drops its mounts: nothing
# can leak.  Returns CMD's status.
#
# Inside, $E2E is bind-mounted on $E2E_CACHE/ns and E2E names that path
# (the real one is in E2E_OUTER): sendmail refuses certificate files below
# a world-writable directory such as /tmp, and test work directories live
# there.  /dev is a small tmpfs holding only null, zero, full, random,
# urandom and tty (bound from the real /dev), fd, stdin, stdout, stderr
# and shm, so that e2e_syslog_start can own /dev/log.  Both are private
# to the namespace: runs side by side do not see each other's.
e2e_ns_run()
{
	mkdir -p "$E2E_CACHE/ns" && chmod 755 "$E2E_CACHE" "$E2E_CACHE/ns" ||
	    return 125
	mkdir -p "$E2E/.dev" && E2E_OUTER=$(cd "$E2E" && pwd) || return 125
	export E2E_OUTER E2E_CACHE E2E_DOMAIN
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --net --uts --pid --fork --mount-proc --kill-child -- \
	    /bin/sh -c 'ip link set lo up && hostname "$E2E_DOMAIN" &&
		mount --bind "$E2E_OUTER" "$E2E_CACHE/ns" || exit 125
		d=$E2E_OUTER/.dev
		mount -t tmpfs -o mode=755,size=1m e2e-dev "$d" || exit 125
		for n in null zero full random urandom tty; do
			: >"$d/$n" && mount --bind "/dev/$n" "$d/$n" || exit 125
		done
		ln -s /proc/self/fd "$d/fd" && ln -s fd/0 "$d/stdin" &&
		    ln -s fd/1 "$d/stdout" && ln -s fd/2 "$d/stderr" &&
		    mkdir -m 1777 "$d/shm" && mount --move "$d" /dev || exit 125
		E2E=$E2E_CACHE/ns E2E_OWNDEV=yes exec "$@"' e2e-ns "$@"
}

# --------------------------------------------------------------- syslog

# e2e_syslog_start: bind a datagram socket on /dev/log (socat) that
# appends to $E2E_SYSLOG.  Only inside e2e_ns_run, whose /dev is private:
# the host's /dev/log, if any, is never touched.
e2e_syslog_start()
{
	[ "${E2E_OWNDEV:-}" = yes ] ||
	    e2e_fail "e2e_syslog_start: not inside e2e_ns_run (no private /dev)"
	: >"$E2E_SYSLOG"
	e2e_spawn syslog socat -u UNIX-RECV:/dev/log,mode=666 \
	    "OPEN:$E2E_SYSLOG,creat,append"
	: >"$E2E/run/devlog-ours"
	e2e_wait 5 test -S /dev/log || e2e_fail "socat did not bind /dev/log"
}

# e2e_syslog: the captured log, one message a line.
e2e_syslog()
{
	awk '{ gsub(/<[0-9]+>/, "\n"); printf "%s", $0 } END { print "" }' \
	    "$E2E_SYSLOG" 2>/dev/null | sed '/^$/d'
}

# ------------------------------------------------------- pebble (ACME CA)

# e2e_pebble_start: TLS certificate for 127.0.0.1, pebble.json, start
# pebble, wait until it answers, save its issuing root as $E2E_ROOT.
e2e_pebble_start()
{
	_p=$E2E/pebble
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$_p/tls.key" -out "$_p/tls.pem" -days 30 \
	    -subj "/CN=pebble e2e" \
	    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	    >/dev/null 2>&1 || e2e_fail "cannot make pebble's TLS certificate"
	# E2E_PEBBLE_VALIDITY (seconds): the lifetime of the certificates
	# pebble issues (its default is five years).
	_e2e_validity=
	[ -n "${E2E_PEBBLE_VALIDITY:-}" ] && _e2e_validity="
    \"certificateValidityPeriod\": $E2E_PEBBLE_VALIDITY,"
	cat >"$_p/pebble.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$E2E_ACME_PORT",
    "managementListenAddress": "127.0.0.1:$E2E_ACME_MGMT",
    "certificate": "$_p/tls.pem",
    "privateKey": "$_p/tls.key",
    "httpPort": 5002,
    "tlsPort": 5001,
    "ocspResponderURL": "",$_e2e_validity
    "externalAccountBindingRequired": false
  }
}
EOF
	e2e_spawn pebble env PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 \
	    PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=100 \
	    pebble -config "$_p/pebble.json"
	E2E_PEBBLE_PID=$E2E_LASTPID
	e2e_wait 20 _e2e_pebble_root ||
	    e2e_fail "pebble did not come up (see $E2E/log/pebble.log)"
}

_e2e_pebble_root()
{
	e2e_alive "$E2E_PEBBLE_PID" || e2e_fail "pebble died: $(tail -n 3 "$E2E/log/pebble.log")"
	curl -sf --cacert "$E2E/pebble/tls.pem" -o "$E2E_ROOT.tmp" \
	    "https://127.0.0.1:$E2E_ACME_MGMT/roots/0" &&
	    curl -sf --cacert "$E2E/pebble/tls.pem" \
	    -o "$E2E/pebble/intermediate.pem" \
	    "https://127.0.0.1:$E2E_ACME_MGMT/intermediates/0" &&
	    mv "$E2E_ROOT.tmp" "$E2E_ROOT"
}

# -------------------------------------------------------------- dehydrated

# e2e_acme_register: write dehydrated's config under $E2E/acme and register
# an account with pebble.  Certificates land in $E2E_CERTS.
e2e_acme_register()
{
	cat >"$E2E_ACMEDIR/config" <<EOF
CA="https://127.0.0.1:$E2E_ACME_PORT/dir"
BASEDIR="$E2E_ACMEDIR"
CERTDIR="$E2E_ACMEDIR/certs"
ACCOUNTDIR="$E2E_ACMEDIR/accounts"
WELLKNOWN="$E2E_ACMEDIR/wellknown"
DOMAINS_TXT="$E2E_ACMEDIR/domains.txt"
CHALLENGETYPE="http-01"
CURL_OPTS="--cacert $E2E/pebble/tls.pem"
KEY_ALGO=rsa
KEYSIZE=2048
EOF
	echo "$E2E_DOMAIN" >"$E2E_ACMEDIR/domains.txt"
	rm -rf "$E2E_ACMEDIR/accounts"
	dehydrated --config "$E2E_ACMEDIR/config" --register --accept-terms \
	    >>"$E2E/log/dehydrated.log" 2>&1 ||
	    e2e_fail "dehydrated --register failed (see $E2E/log/dehydrated.log)"
}

# e2e_acme_issue [--force]: dehydrated -c: issue (or, with --force, renew)
# the certificate for $E2E_DOMAIN.  Returns dehydrated's status; the time
# it took, in ms, is left in E2E_ACME_MS.
e2e_acme_issue()
{
	_i_t=$(e2e_now_ms)
	echo "=== dehydrated -c $* at $_i_t" >>"$E2E/log/dehydrated.log"
	dehydrated --config "$E2E_ACMEDIR/config" -c "$@" \
	    >>"$E2E/log/dehydrated.log" 2>&1
	_i_rc=$?
	# shellcheck disable=SC2034 # for the caller
	E2E_ACME_MS=$(( $(e2e_now_ms) - _i_t ))
	return $_i_rc
}

# e2e_acme_renew: dehydrated -c --force.
e2e_acme_renew()
{
	e2e_acme_issue --force
}

# e2e_acme_start_renew: dehydrated -c --force in the background (recorded
# for cleanup); its pid is left in E2E_ACME_PID.
e2e_acme_start_renew()
{
	e2e_spawn dehydrated dehydrated --config "$E2E_ACMEDIR/config" -c --force
	# shellcheck disable=SC2034 # for the caller
	E2E_ACME_PID=$E2E_LASTPID
}

# ------------------------------------------------------------------ sendmail

# e2e_sm_config CERT_DIR [DH_FILE]: build $E2E/sm/test.cf from an .mc with
# the sendmail cf macros: 127.0.0.1:$E2E_PORT, STARTTLS with dehydrated's
# files, confCACERT_PATH = CERT_DIR, DH parameters from DH_FILE (default
# CERT_DIR/dh.param), and a check_mail rule that answers
# "550 ... verify=<result>" to every MAIL FROM.
e2e_sm_config()
{
	_m=$E2E/sm
	: >"$_m/aliases"
	: >"$_m/relay-domains"
	: >"$_m/local-host-names"
	: >"$_m/statistics"
	printf 'hosts\tfiles\naliases\tfiles\n' >"$_m/service.switch"
	cp "$E2E_SMROOT/etc/mail/helpfile" "$_m/helpfile" 2>/dev/null ||
	    : >"$_m/helpfile"
	cat >"$_m/test.mc" <<EOF
divert(-1)
# smtlsd e2e test sendmail: loopback only, STARTTLS, private paths.
divert(0)dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$E2E_DOMAIN')dnl
define(\`confPID_FILE', \`$E2E_SMPID')dnl
define(\`QUEUE_DIR', \`$_m/queue')dnl
define(\`ALIAS_FILE', \`$_m/aliases')dnl
define(\`HELP_FILE', \`$_m/helpfile')dnl
define(\`STATUS_FILE', \`$_m/statistics')dnl
define(\`confCR_FILE', \`-o $_m/relay-domains')dnl
define(\`confCW_FILE', \`-o $_m/local-host-names')dnl
define(\`confSERVICE_SWITCH_FILE', \`$_m/service.switch')dnl
define(\`confHOSTS_FILE', \`/etc/hosts')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confCACERT_PATH', \`$1')dnl
define(\`confCACERT', \`$E2E_CERTS/chain.pem')dnl
define(\`confSERVER_CERT', \`$E2E_CERTS/fullchain.pem')dnl
define(\`confSERVER_KEY', \`$E2E_CERTS/privkey.pem')dnl
define(\`confDH_PARAMETERS', \`${2:-$1/dh.param}')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
DAEMON_OPTIONS(\`Port=$E2E_PORT, Addr=127.0.0.1, Name=MTA')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
LOCAL_RULESETS
SLocal_check_mail
R\$*	\$#error \$@ 5.7.0 \$: "550 verify=" \$&{verify}
EOF
	m4 -D_CF_DIR_="$E2E_SMCFDIR/" "$E2E_SMCFDIR/m4/cf.m4" "$_m/test.mc" \
	    >"$_m/test.cf" 2>"$E2E/log/m4.log" ||
	    e2e_fail "m4 could not build test.cf (see $E2E/log/m4.log)"
}

# e2e_sm_pid: sendmail's pid from the first line of its pidfile.
e2e_sm_pid()
{
	_p_pid=$(sed -n 1p "$E2E_SMPID" 2>/dev/null)
	case "$_p_pid" in
	''|*[!0-9]*)	return 1 ;;
	esac
	echo "$_p_pid"
}

# e2e_sm_running: the pidfile names a live process.
e2e_sm_running()
{
	e2e_alive "$(e2e_sm_pid)"
}

# e2e_sm_start: start sendmail -bd with test.cf by its absolute path (it
# forks into the background); wait until the pidfile names a live pid and
# the port accepts connections.  Leaves the pid in E2E_SM_PID.
e2e_sm_start()
{
	[ -f "$E2E/sm/test.cf" ] || e2e_sm_config "$@"
	rm -f "$E2E_SMPID"
	"$E2E_SMBIN" -C "$E2E/sm/test.cf" -bd >>"$E2E/log/sendmail.log" 2>&1 ||
	    e2e_fail "sendmail -bd failed: $(tail -n 3 "$E2E/log/sendmail.log")"
	e2e_wait 20 e2e_sm_running ||
	    e2e_fail "sendmail wrote no live pid to $E2E_SMPID"
	e2e_wait 10 e2e_port_open ||
	    e2e_fail "sendmail does not accept on 127.0.0.1:$E2E_PORT"
	E2E_SM_PID=$(e2e_sm_pid)
	echo "$E2E_SM_PID sendmail" >>"$E2E/run/pids"
}

# e2e_sm_stop: SIGTERM to the pid in the pidfile (if it is sendmail), wait
# for it to go.  The pidfile is left as sendmail leaves it.
e2e_sm_stop()
{
	_t_pid=$(e2e_sm_pid) || return 0
	e2e_alive "$_t_pid" || return 0
	case "$(e2e_comm "$_t_pid")" in
	sendmail*)	;;
	*)		return 0 ;;
	esac
	e2e_stop "$_t_pid" 10
}

# e2e_sm_hup: SIGHUP to sendmail, wait for the new live pid in the pidfile
# and the port to accept again.  Leaves the new pid in E2E_SM_PID.
e2e_sm_hup()
{
	_h_old=$(e2e_sm_pid) || e2e_fail "no sendmail pid to HUP"
	kill -HUP "$_h_old" || e2e_fail "kill -HUP $_h_old failed"
	e2e_wait 10 e2e_sm_newpid "$_h_old" ||
	    e2e_fail "sendmail did not come back with a new pid after SIGHUP"
	e2e_wait 10 e2e_port_open ||
	    e2e_fail "sendmail does not accept after SIGHUP"
	E2E_SM_PID=$(e2e_sm_pid)
	echo "$E2E_SM_PID sendmail" >>"$E2E/run/pids"
}

# e2e_sm_newpid OLDPID: the pidfile names a live pid other than OLDPID.
e2e_sm_newpid()
{
	_n_pid=$(e2e_sm_pid) && [ "$_n_pid" != "$1" ] && e2e_alive "$_n_pid"
}

# ------------------------------------------------------------------ probes

# e2e_port_open: something accepts TCP connections on 127.0.0.1:$E2E_PORT.
e2e_port_open()
{
	socat -u /dev/null "TCP:127.0.0.1:$E2E_PORT,connect-timeout=2" \
	    2>/dev/null
}

# e2e_s_client [ARG...]: openssl s_client -starttls smtp to the test
# sendmail, no input, all output (10 s limit).
e2e_s_client()
{
	timeout 10 openssl s_client -starttls smtp -connect \
	    "127.0.0.1:$E2E_PORT" -servername "$E2E_DOMAIN" "$@" </dev/null 2>&1
}

# e2e_tls_serial: serial number of the certificate sendmail serves now.
e2e_tls_serial()
{
	e2e_s_client | openssl x509 -noout -serial 2>/dev/null |
	    sed -n 's/^serial=//p' | grep .
}

# e2e_serial_is SERIAL: sendmail serves the certificate with this serial.
e2e_serial_is()
{
	[ "$(e2e_tls_serial)" = "$1" ]
}

# e2e_cert_serial FILE: serial number of the (first) certificate in FILE.
e2e_cert_serial()
{
	openssl x509 -noout -serial -in "$1" 2>/dev/null | sed -n 's/^serial=//p'
}

# e2e_tls_chain: the chain sendmail sends, one "depth subject" line per
# certificate, as s_client -showcerts reports it.
e2e_tls_chain()
{
	e2e_s_client -showcerts | sed -n 's/^ *\([0-9][0-9]*\) s:\(.*\)/\1 \2/p'
}

# e2e_tls_has_intermediate: the second certificate sendmail sends is the
# intermediate from dehydrated's chain.pem.
e2e_tls_has_intermediate()
{
	_hi=$(openssl x509 -noout -subject -in "$E2E_CERTS/chain.pem" |
	    sed 's/^subject=//')
	e2e_tls_chain | grep -qxF "1 $_hi"
}

# e2e_tls_verify: the chain sendmail serves verifies against pebble's root
# with the host name $E2E_DOMAIN checked.
e2e_tls_verify()
{
	e2e_s_client -CAfile "$E2E_ROOT" -no-CApath -no-CAstore \
	    -verify_hostname "$E2E_DOMAIN" \
	    -verify_return_error | grep -q 'Verify return code: 0 (ok)'
}

# e2e_tls_dh: the server's DH temp key when a DHE cipher is forced with
# TLS 1.2 ("DH, 3072 bits"); shows which DH parameters sendmail uses.
e2e_tls_dh()
{
	e2e_s_client -tls1_2 -cipher 'DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0' |
	    sed -n 's/^Server Temp Key: //p'
}

# e2e_ehlo: sendmail's answer to EHLO, one line each (a small SMTP chat
# through socat, no TLS; the chat script is a file because socat's address
# syntax would mangle quotes and backslashes).
e2e_ehlo()
{
	[ -f "$E2E/run/ehlo.sh" ] || cat >"$E2E/run/ehlo.sh" <<'EOF'
# stdin/stdout: the SMTP connection; stderr: the EHLO reply.
cr=$(printf '\r')
while IFS= read -r l; do
	case $l in 220-*) ;; 220*) break ;; *) exit 1 ;; esac
done
printf 'EHLO probe.example.test\r\n'
while IFS= read -r l; do
	printf '%s\n' "${l%"$cr"}" >&2
	case $l in 250-*) ;; *) break ;; esac
done
printf 'QUIT\r\n'
read -r l
EOF
	# shellcheck disable=SC2069 # the reply comes on stderr; drop stdout
	timeout 10 socat -T 5 "TCP:127.0.0.1:$E2E_PORT" \
	    "EXEC:sh $E2E/run/ehlo.sh" 2>&1 >/dev/null
}

# e2e_starttls_offered: EHLO lists STARTTLS.
e2e_starttls_offered()
{
	e2e_ehlo | grep -q '^250[- ]STARTTLS'
}

# e2e_client_verify CERT KEY: STARTTLS with this client certificate, then
# EHLO and MAIL FROM, one command at a time (sendmail rejects commands sent
# ahead after STARTTLS); prints sendmail's ${verify}: OK, FAIL, NO, ...
e2e_client_verify()
{
	[ -f "$E2E/run/mailfrom.sh" ] || cat >"$E2E/run/mailfrom.sh" <<'EOF'
# stdin/stdout: the SMTP session inside TLS; stderr: the MAIL FROM reply.
cr=$(printf '\r')
printf 'EHLO client.example.test\r\n'
while IFS= read -r l; do
	case $l in 250-*) ;; *) break ;; esac
done
printf 'MAIL FROM:<probe@example.test>\r\n'
IFS= read -r l
printf '%s\n' "${l%"$cr"}" >&2
printf 'QUIT\r\n'
IFS= read -r l
EOF
	[ -f "$E2E/run/tlsclient.sh" ] || cat >"$E2E/run/tlsclient.sh" <<'EOF'
exec openssl s_client -starttls smtp -connect "127.0.0.1:$E2E_PORT" \
    -servername "$E2E_DOMAIN" -cert "$E2E_TLSC_CERT" -key "$E2E_TLSC_KEY" \
    -quiet 2>/dev/null
EOF
	E2E_TLSC_CERT=$1 E2E_TLSC_KEY=$2 E2E_PORT=$E2E_PORT \
	    E2E_DOMAIN=$E2E_DOMAIN timeout 10 socat -T 5 \
	    "EXEC:sh $E2E/run/tlsclient.sh" "EXEC:sh $E2E/run/mailfrom.sh" \
	    2>&1 >/dev/null | sed -n 's/.*verify=\([A-Z]*\).*/\1/p' | head -n 1
}

# --------------------------------------------------------- helper CAs etc.

# e2e_make_ca NAME: a self-signed test CA in $E2E/ca/NAME.{pem,key}.
e2e_make_ca()
{
	mkdir -p "$E2E/ca"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$E2E/ca/$1.key" -out "$E2E/ca/$1.pem" -days 30 \
	    -subj "/O=smtlsd e2e/CN=$1" \
	    -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
}

# e2e_make_client CA NAME: a client certificate NAME signed by test CA CA,
# in $E2E/ca/NAME.{pem,key}.
e2e_make_client()
{
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$E2E/ca/$2.key" -subj "/O=smtlsd e2e/CN=$2" \
	    -out "$E2E/ca/$2.csr" >/dev/null 2>&1 &&
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' \
	    >"$E2E/ca/$2.ext" &&
	openssl x509 -req -in "$E2E/ca/$2.csr" -CA "$E2E/ca/$1.pem" \
	    -CAkey "$E2E/ca/$1.key" -CAcreateserial -days 30 \
	    -extfile "$E2E/ca/$2.ext" -out "$E2E/ca/$2.pem" >/dev/null 2>&1
}

# e2e_pem_split FILE DIR: one PEM certificate per file DIR/N.pem (text
# between certificates dropped).  Prints how many.
e2e_pem_split()
{
	rm -rf "$2" && mkdir -p "$2" || return 1
	awk -v d="$2" '
		/-----BEGIN CERTIFICATE-----/ { n++; f = d "/" n ".pem"; on = 1 }
		on { print > f }
		/-----END CERTIFICATE-----/ { if (on) close(f); on = 0 }
		END { print n + 0 }' "$1"
}

# e2e_fingerprint FILE: SHA-256 fingerprint of the first certificate.
e2e_fingerprint()
{
	openssl x509 -noout -fingerprint -sha256 -in "$1" 2>/dev/null |
	    sed 's/^.*=//'
}

# e2e_capath_has DIR PEMFILE: DIR holds the certificate of PEMFILE as
# <subject hash>.N, and every .N before it exists (OpenSSL stops looking at
# the first gap).
e2e_capath_has()
{
	_ch_h=$(openssl x509 -noout -hash -in "$2" 2>/dev/null) || return 1
	_ch_fp=$(e2e_fingerprint "$2")
	_ch_n=0
	while [ -f "$1/$_ch_h.$_ch_n" ]; do
		[ "$(e2e_fingerprint "$1/$_ch_h.$_ch_n")" = "$_ch_fp" ] &&
		    return 0
		_ch_n=$((_ch_n + 1))
	done
	return 1
}

# e2e_capath_verify DIR PEMFILE...: OpenSSL finds every one of these
# certificates through DIR's hashed names, the way sendmail looks them up
# (one openssl run for all: at ~30 ms an openssl start, per-file checks of
# a 150-certificate bundle would take seconds).  Prints the ones it does
# not find.
e2e_capath_verify()
{
	_cv_d=$1
	shift
	! openssl verify -CApath "$_cv_d" -no-CAfile -no-CAstore \
	    -partial_chain -no_check_time "$@" 2>&1 | grep -v ': OK$'
}

# e2e_capath_lacks DIR PEMFILE: no <hash>.N in DIR holds that certificate.
e2e_capath_lacks()
{
	_cl_h=$(openssl x509 -noout -hash -in "$2" 2>/dev/null) || return 1
	_cl_fp=$(e2e_fingerprint "$2")
	for _cl_f in "$1/$_cl_h".*; do
		[ -f "$_cl_f" ] || continue
		[ "$(e2e_fingerprint "$_cl_f")" = "$_cl_fp" ] && return 1
	done
	return 0
}

# e2e_holds SECONDS CMD [ARG...]: CMD stays true, checked every 50 ms, for
# SECONDS.  Returns 1 at the first check that fails.  For asserting that
# something does not happen (a second reload, say) over a bounded time.
e2e_holds()
{
	_hd_end=$(( $(e2e_now_ms) + $(e2e_ms "$1") ))
	shift
	while :; do
		"$@" || return 1
		[ "$(e2e_now_ms)" -ge "$_hd_end" ] && return 0
		sleep 0.05
	done
}

# ------------------------------------------------------------------ smtlsd

# The binary: E2E_SMTLSD (absolute path), set by the caller.

# e2e_bundle_write PEM...: write $E2E/bundle.pem (by rename, as a package
# upgrade would) from the given PEM files, with descriptive text between
# the certificates as in ca-root-nss.crt.
e2e_bundle_write()
{
	{
		echo "## smtlsd e2e CA bundle, written $(date)"
		for _b_f in "$@"; do
			echo
			echo "Certificate from $(basename "$_b_f"):"
			openssl x509 -noout -subject -in "$_b_f" 2>/dev/null
			cat "$_b_f"
		done
	} >"$E2E/bundle.pem.tmp" && mv -f "$E2E/bundle.pem.tmp" "$E2E/bundle.pem"
}

# e2e_smtlsd_conf [LINE...]: write $E2E/smtlsd.conf for the test set-up;
# each extra argument is one more configuration line.
#   cert_dir $E2E/certs (E2E_CERTDIR), ca_bundle $E2E/bundle.pem,
#   acme_cert = dehydrated's directory for $E2E_DOMAIN, settle 0.5,
#   dh_params $E2E/certs/dh.param from ffdhe2048 unless E2E_DH_SOURCE says
#   otherwise, reload_pidfile = sendmail's pidfile, reload_process sendmail.
e2e_smtlsd_conf()
{
	E2E_CERTDIR=$E2E/certs
	mkdir -p "$E2E_CERTDIR"
	{
		echo "# smtlsd e2e test configuration"
		echo "cert_dir $E2E_CERTDIR"
		echo "ca_bundle $E2E/bundle.pem"
		echo "pidfile $E2E/run/smtlsd.pid"
		echo "status_file $E2E/run/smtlsd.status"
		echo "acme_cert $E2E_CERTS"
		echo "settle 0.5"
		echo "dh_params $E2E_CERTDIR/dh.param"
		echo "dh_params_source ${E2E_DH_SOURCE:-ffdhe2048}"
		echo "reload_pidfile $E2E_SMPID"
		echo "reload_process sendmail"
		# The STARTTLS probe: off, unless a scenario names sendmail's
		# listener (E2E_VERIFY=127.0.0.1:$E2E_PORT).
		echo "verify_smtp ${E2E_VERIFY:-none}"
		for _c_l in "$@"; do
			echo "$_c_l"
		done
		# Extra lines from the environment, one a line: for trying the
		# scenarios against a deliberately wrong set-up.
		[ -n "${E2E_CONF_EXTRA:-}" ] && printf '%s\n' "$E2E_CONF_EXTRA"
	} >"$E2E/smtlsd.conf"
	chmod 644 "$E2E/smtlsd.conf"
}

# e2e_smtlsd_status: the status file's line.
e2e_smtlsd_status()
{
	cat "$E2E/run/smtlsd.status" 2>/dev/null
}

# e2e_smtlsd_pass: number of the last pass in the status file (0 if none).
e2e_smtlsd_pass()
{
	_sp=$(awk 'NR == 1 { print $2 }' "$E2E/run/smtlsd.status" 2>/dev/null)
	case "$_sp" in
	''|*[!0-9]*)	echo 0 ;;
	*)		echo "$_sp" ;;
	esac
}

# e2e_smtlsd_state: the result word of the status line (ok, failed,
# starting, ...).  Taken as the first such word after the pass number, so
# that an extra counter before the time does not matter.
e2e_smtlsd_state()
{
	awk 'NR == 1 { for (i = 3; i <= NF; i++)
		if ($i ~ /^(ok|failed|starting|stopped)$/) { print $i; exit } }' \
	    "$E2E/run/smtlsd.status" 2>/dev/null
}

# e2e_smtlsd_passed N: the running daemon has finished pass N or a later
# one (status ok or failed).
e2e_smtlsd_passed()
{
	_sd_pid=$(awk 'NR == 1 { print $1 }' "$E2E/run/smtlsd.status" 2>/dev/null)
	[ "$_sd_pid" = "$E2E_SMTLSD_PID" ] || return 1
	[ "$(e2e_smtlsd_pass)" -ge "$1" ] || return 1
	case "$(e2e_smtlsd_state)" in
	ok|failed)	return 0 ;;
	esac
	return 1
}

# e2e_smtlsd_start [ARG...]: start "smtlsd -d -f $E2E/smtlsd.conf ARG..."
# in the background (log: $E2E/log/smtlsd.log) and wait until its first
# pass has finished.  Pid in E2E_SMTLSD_PID.
e2e_smtlsd_start()
{
	[ -x "${E2E_SMTLSD:-}" ] || e2e_fail "no smtlsd binary (E2E_SMTLSD='${E2E_SMTLSD:-}')"
	e2e_spawn smtlsd "$E2E_SMTLSD" -d -f "$E2E/smtlsd.conf" "$@"
	E2E_SMTLSD_PID=$E2E_LASTPID
	e2e_wait 30 _e2e_smtlsd_started || {
		e2e_alive "$E2E_SMTLSD_PID" ||
		    e2e_fail "smtlsd exited at start: $(tail -n 5 "$E2E/log/smtlsd.log")"
		e2e_fail "smtlsd finished no first pass in 30 s (status: $(e2e_smtlsd_status))"
	}
}

_e2e_smtlsd_started()
{
	e2e_alive "$E2E_SMTLSD_PID" || return 1
	e2e_smtlsd_passed 1
}

# e2e_smtlsd_wait_pass N [SECONDS]: wait (default 10 s) for pass N to end.
e2e_smtlsd_wait_pass()
{
	e2e_wait "${2:-10}" e2e_smtlsd_passed "$1"
}

# e2e_smtlsd_log_since LINE: smtlsd's log from line LINE+1 on (take LINE
# from e2e_smtlsd_log_lines before the action).
e2e_smtlsd_log_since()
{
	sed -n "$(( $1 + 1 )),\$p" "$E2E/log/smtlsd.log"
}

# e2e_smtlsd_log_lines: how many lines smtlsd has logged so far.
e2e_smtlsd_log_lines()
{
	wc -l <"$E2E/log/smtlsd.log" | tr -d ' '
}

# ---------------------------------------------------- watching sendmail

# e2e_pidtrack_start: record every pid the sendmail pidfile names, with the
# time, in $E2E/run/pidtrack ("ms pid" lines, one per change), polling
# every 20 ms; a second call starts afresh.  Count reloads with e2e_reloads.
e2e_pidtrack_start()
{
	cat >"$E2E/run/pidtrack.sh" <<'EOF'
last=
trap 'exit 0' TERM
while :; do
	p=$(sed -n 1p "$1" 2>/dev/null)
	if [ -n "$p" ] && [ "$p" != "$last" ]; then
		echo "$(date +%s%3N) $p" >>"$2"
		last=$p
	fi
	sleep 0.02
done
EOF
	[ -n "${E2E_PIDTRACK_PID:-}" ] && e2e_stop "$E2E_PIDTRACK_PID"
	: >"$E2E/run/pidtrack"
	E2E_SM_STARTS0=$(e2e_sm_starts)
	e2e_spawn pidtrack sh "$E2E/run/pidtrack.sh" "$E2E_SMPID" \
	    "$E2E/run/pidtrack"
	E2E_PIDTRACK_PID=$E2E_LASTPID
	e2e_wait 5 test -s "$E2E/run/pidtrack" ||
	    e2e_fail "pid tracker saw no sendmail pid"
}

# e2e_pidtrack_count: how many different pids the pidfile has named.
e2e_pidtrack_count()
{
	wc -l <"$E2E/run/pidtrack" | tr -d ' '
}

# e2e_reloads: how many times sendmail restarted since e2e_pidtrack_start:
# the larger of the pid changes seen in the pidfile and the "starting
# daemon" lines in its log (the poll could miss a pid that lived < 20 ms).
e2e_reloads()
{
	_r_p=$(( $(e2e_pidtrack_count) - 1 ))
	_r_s=$(e2e_sm_starts)
	if [ -n "$_r_s" ] && [ -n "${E2E_SM_STARTS0:-}" ] &&
	    [ $((_r_s - E2E_SM_STARTS0)) -gt "$_r_p" ]; then
		_r_p=$((_r_s - E2E_SM_STARTS0))
	fi
	echo "$_r_p"
}

# e2e_sm_starts: how many times sendmail logged "starting daemon" (its
# start and every SIGHUP re-exec); empty when there is no captured log.
e2e_sm_starts()
{
	[ -f "$E2E/run/devlog-ours" ] || return 0
	e2e_syslog | grep -c 'starting daemon'
}

# e2e_connprobe_start: a bash loop that looks every 2 ms whether a socket
# listens on 127.0.0.1:$E2E_PORT (in /proc/net/tcp, so the probe itself
# makes no connections, no sendmail children and no log lines) and writes
# each change between "up" and "refused" with its time in microseconds to
# $E2E/run/connprobe.  With no listener the kernel refuses connections, so
# these are exactly the refused windows.  e2e_connprobe_windows reads it.
e2e_connprobe_start()
{
	cat >"$E2E/run/connprobe.bash" <<'EOF'
trap 'exit 0' TERM
want=$(printf '0100007F:%04X' "$1")
rm -f "$2.fifo" && mkfifo "$2.fifo" && exec 9<>"$2.fifo"	# sleep without fork
prev=
while :; do
	s=refused
	while read -r _ local _ st _; do
		if [[ $local == "$want" && $st == 0A ]]; then
			s=up
			break
		fi
	done </proc/net/tcp
	if [[ $s != "$prev" ]]; then
		echo "${EPOCHREALTIME/./} $s" >>"$2"
		prev=$s
	fi
	read -r -t 0.002 -u 9
done
EOF
	: >"$E2E/run/connprobe"
	e2e_spawn connprobe bash "$E2E/run/connprobe.bash" "$E2E_PORT" \
	    "$E2E/run/connprobe"
	e2e_wait 5 test -s "$E2E/run/connprobe" || e2e_fail "connprobe wrote nothing"
}

# e2e_connprobe_windows: one line per time connections were refused:
# "start_ms duration_ms" (duration -1 when still refused at the end).
e2e_connprobe_windows()
{
	awk '$2 == "refused" { t = $1 }
	    $2 == "up" && t { printf "%.0f %.1f\n", t / 1000, ($1 - t) / 1000; t = 0 }
	    END { if (t) printf "%.0f -1\n", t / 1000 }' "$E2E/run/connprobe"
}

# e2e_tlsprobe_start: a loop of full STARTTLS handshakes (one every
# ~250 ms); each result goes to $E2E/run/tlsprobe as "ms ok SERIAL",
# "ms refused" or "ms FAIL reason".
e2e_tlsprobe_start()
{
	cat >"$E2E/run/tlsprobe.sh" <<'EOF'
trap 'exit 0' TERM
while :; do
	t=$(date +%s%3N)
	out=$(timeout 10 openssl s_client -starttls smtp \
	    -connect "127.0.0.1:$1" -servername "$2" </dev/null 2>&1)
	s=$(printf '%s\n' "$out" | openssl x509 -noout -serial 2>/dev/null)
	if [ -n "$s" ]; then
		echo "$t ok ${s#serial=}"
	elif printf '%s\n' "$out" | grep -q 'errno=111'; then
		echo "$t refused"
	else
		echo "$t FAIL $(printf '%s\n' "$out" | grep -v '^CONNECTED' |
		    head -n 2 | tr '\n' ' ')"
	fi >>"$3"
	sleep 0.25
done
EOF
	: >"$E2E/run/tlsprobe"
	e2e_spawn tlsprobe sh "$E2E/run/tlsprobe.sh" "$E2E_PORT" \
	    "$E2E_DOMAIN" "$E2E/run/tlsprobe"
}

# e2e_probes_stop: stop the probe loops (so their files are complete).
e2e_probes_stop()
{
	while read -r _ps_pid _ps_name; do
		case "$_ps_name" in
		connprobe|tlsprobe|pidtrack)	e2e_stop "$_ps_pid" 3 ;;
		esac
	done <"$E2E/run/pids"
}

# e2e_diag: the tails of the logs, for a failure report.
e2e_diag()
{
	for _d_f in smtlsd dehydrated pebble sendmail; do
		[ -s "$E2E/log/$_d_f.log" ] || continue
		echo "---- last lines of $_d_f.log"
		tail -n 25 "$E2E/log/$_d_f.log"
	done
	if [ -s "$E2E_SYSLOG" ]; then
		echo "---- last lines of sendmail's syslog"
		e2e_syslog | tail -n 25
	fi
	[ -f "$E2E/run/smtlsd.status" ] &&
	    echo "---- smtlsd status: $(e2e_smtlsd_status)"
	return 0
}
