# Helpers for the tests of the running daemon (watch_test.sh,
# acme_test.sh, reload_test.sh, dh_test.sh, daemon_test.sh).  Source it
# from a test program:
#	. "$(atf_get_srcdir)/daemon_lib.sh"
# Everything lives in the test case's work directory (the current
# directory when a body or cleanup runs):
#	pki/		test CA: root, intermediate, leaves (openssl)
#	bundle.pem	the CA bundle: the root and two unrelated CAs
#	certs/		cert_dir
#	aux/		smtlsd's pidfile and status, dh.param, sendmail's pidfile
#	le/		dehydrated's BASEDIR; le/certs/mail.example.test/
#	bin/sendmail	the stand-in (tests/fake_sendmail), log aux/sendmail.log
#	conf		the configuration; daemon.log is smtlsd's stderr (-d -v)
#	pids		every process a test started, for daemon_cleanup
# Every test case that starts a process must have a cleanup part that
# calls daemon_cleanup.

SMTLSD="$(atf_get_srcdir)/../daemon/smtlsd"
D_FAKE="$(atf_get_srcdir)/fake_sendmail"
D_REPLAY="$(atf_get_srcdir)/dehydrated_replay.sh"
D_DOMAIN=mail.example.test
D_SETTLE=${D_SETTLE:-0.3}
# Generous deadlines: the machine may be busy with other tests.
D_DEADLINE=${D_DEADLINE:-15}

if date +%N | grep -q '^[0-9]\{9\}$'; then
	daemon_ms() { date +%s%3N; }
	daemon_now() { date +%s.%N; }
else
	daemon_ms() { perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000'; }
	daemon_now() { perl -MTime::HiRes=time -e 'printf "%.9f\n", time'; }
fi

# daemon_need: fails when the daemon or the stand-in has not been built.
daemon_need()
{
	[ -x "$SMTLSD" ] || atf_fail "$SMTLSD is missing: run make first"
	[ -x "$D_FAKE" ] ||
	    atf_fail "$D_FAKE is missing: run make check-tests first"
}

# daemon_wait SECONDS DESC CMD...: runs CMD until it succeeds, every 20
# ms; fails the test with DESC when SECONDS pass first.
daemon_wait()
{
	_w_end=$(($(daemon_ms) + $(echo "$1" | awk '{ printf "%d", $1 * 1000 }')))
	_w_desc=$2
	shift 2
	until "$@"; do
		if [ "$(daemon_ms)" -gt "$_w_end" ]; then
			daemon_show
			atf_fail "timed out waiting for: $_w_desc"
		fi
		sleep 0.02
	done
}

# daemon_show: the daemon's log and the stand-in's log, to stderr.
daemon_show()
{
	{
		echo "---- daemon.log"
		[ -f daemon.log ] && tail -n 60 daemon.log
		echo "---- status: $(cat aux/status 2>/dev/null)"
		[ -f aux/sendmail.log ] && { echo "---- aux/sendmail.log";
		    cat aux/sendmail.log; }
		[ -f timeline ] && { echo "---- timeline"; cat timeline; }
		echo "----"
	} >&2
}

# daemon_pki: a test CA in pki/: root.pem (self-signed), int.pem (an
# intermediate signed by the root), and bundle.pem holding the root and
# two unrelated self-signed CAs.
daemon_pki()
{
	mkdir -p pki/db
	: >pki/db/index.txt
	echo 1000 >pki/db/serial
	cp "$(atf_get_srcdir)/pki.cnf" pki/ca.cnf
	(
		cd pki || exit 1
		daemon_ossl req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/O=smtlsd test/CN=smtlsd Test Root CA" -days 3650 \
		    -keyout root.key -out root.pem \
		    -addext basicConstraints=critical,CA:TRUE \
		    -addext keyUsage=critical,keyCertSign,cRLSign || exit 1
		daemon_ossl req -new -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/O=smtlsd test/CN=smtlsd Test Intermediate CA" \
		    -keyout int.key -out int.csr || exit 1
		daemon_ossl ca -batch -config ca.cnf -extensions int \
		    -cert root.pem -keyfile root.key -in int.csr \
		    -out int.pem -days 3650 -notext || exit 1
		for n in other1 other2; do
			daemon_ossl req -x509 -newkey ec \
			    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			    -subj "/O=smtlsd test/CN=Unrelated CA $n" \
			    -days 3650 -keyout $n.key -out $n.pem \
			    -addext basicConstraints=critical,CA:TRUE || exit 1
		done
	) || atf_fail "making the test CA failed"
	cat pki/root.pem pki/other1.pem pki/other2.pem >bundle.pem
}

# daemon_int NAME: another intermediate, pki/NAME.pem, signed by the
# root.
daemon_int()
{
	(
		cd pki || exit 1
		daemon_ossl req -new -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/O=smtlsd test/CN=smtlsd Test CA $1" \
		    -keyout "$1.key" -out "$1.csr" || exit 1
		daemon_ossl ca -batch -config ca.cnf -extensions int \
		    -cert root.pem -keyfile root.key -in "$1.csr" \
		    -out "$1.pem" -days 3650 -notext
	) || atf_fail "making the intermediate $1 failed"
}

# daemon_ossl ARGS...: openssl, quiet unless it fails (then it returns
# 1 and shows why).
daemon_ossl()
{
	openssl "$@" >ossl.out 2>&1 && return 0
	cat ossl.out >&2
	echo "openssl $* failed" >&2
	return 1
}

# daemon_leaf NAME [expired|+SECONDS]: pki/NAME.key and pki/NAME.pem, a
# server certificate for mail.example.test signed by the intermediate
# pki/$D_ISSUER.pem (default int); with "expired" it ran out in 2021,
# with +SECONDS it runs out that many seconds from now.
daemon_leaf()
{
	_l_iss=${D_ISSUER:-int}
	case ${2:-} in
	expired)
		_l_dates="-startdate 20200101000000Z -enddate 20210101000000Z"
		;;
	+*)
		_l_dates="-enddate $(date -u -d "@$(($(date +%s) + ${2#+}))" \
		    +%Y%m%d%H%M%SZ)"
		;;
	*)	_l_dates="-days 825" ;;
	esac
	(
		cd pki || exit 1
		daemon_ossl req -new -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/CN=$D_DOMAIN" -keyout "$1.key" -out "$1.csr" ||
		    exit 1
		# shellcheck disable=SC2086
		daemon_ossl ca -batch -config ca.cnf -extensions leaf \
		    -cert "$_l_iss.pem" -keyfile "$_l_iss.key" -in "$1.csr" \
		    -out "$1.pem" $_l_dates -notext
	) || atf_fail "making the certificate $1 failed"
}

# daemon_setup: the directories, the test CA, the stand-in as
# bin/sendmail, and leaves leaf1 and leaf2.
daemon_setup()
{
	daemon_need
	mkdir -p certs aux bin tr "le/certs/$D_DOMAIN"
	cp "$D_FAKE" bin/sendmail
	daemon_pki
	daemon_leaf leaf1
	daemon_leaf leaf2
}

# daemon_conf [LINE...]: writes conf: the bundle, cert_dir, smtlsd's own
# files in aux/, acme_dir le/certs, settle $D_SETTLE, ffdhe2048, and the
# stand-in's pidfile, no verify_smtp (no listener); then the LINEs,
# which override (later lines win).
daemon_conf()
{
	_c_top=$(pwd)
	{
		echo "ca_bundle $_c_top/bundle.pem"
		echo "cert_dir $_c_top/certs"
		echo "pidfile $_c_top/aux/smtlsd.pid"
		echo "status_file $_c_top/aux/status"
		echo "acme_dir $_c_top/le/certs"
		echo "settle $D_SETTLE"
		echo "dh_params $_c_top/aux/dh.param"
		echo "dh_params_source ffdhe2048"
		echo "reload_pidfile $_c_top/aux/sendmail.pid"
		echo "verify_smtp none"
		for _c_l in "$@"; do
			echo "$_c_l"
		done
	} >conf.tmp
	chmod 0644 conf.tmp
	mv conf.tmp conf
}

# daemon_once: smtlsd -1 -f conf, which must succeed.
daemon_once()
{
	timeout 60 "$SMTLSD" -1 -f "$(pwd)/conf" >once.out 2>once.err || {
	    cat once.err >&2; atf_fail "smtlsd -1 failed"; }
}

# daemon_remember PID: daemon_cleanup ends PID.
daemon_remember()
{
	echo "$1" >>pids
}

# daemon_start [ARGS...]: starts smtlsd -d -v -f conf ARGS in the
# background, logging to daemon.log; D_PID is its pid.  Waits for the
# end of its first pass.
daemon_start()
{
	"$SMTLSD" -d -v -f "$(pwd)/conf" "$@" >>daemon.out 2>>daemon.log &
	D_PID=$!
	daemon_remember "$D_PID"
	daemon_wait "$D_DEADLINE" "the first pass of smtlsd" daemon_passed 1
}

# daemon_status FIELD: a field of the status file ("pid passes resyncs
# time result message"), or nothing.
daemon_status()
{
	awk -v f="$1" '{ print $f; exit }' aux/status 2>/dev/null
}

# daemon_passed N: the status file is smtlsd's ($D_PID) and counts at
# least N passes.
daemon_passed()
{
	[ "$(daemon_status 1)" = "$D_PID" ] &&
	    [ "$(daemon_status 2)" -ge "$1" ] 2>/dev/null
}

# daemon_passes: the pass count in the status file.
daemon_passes()
{
	daemon_status 2
}

# daemon_alive PID: PID is a live process (not a zombie).
daemon_alive()
{
	_a_s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $_a_s in Z*|"") return 1 ;; esac
	return 0
}

# daemon_dead PID
daemon_dead()
{
	! daemon_alive "$1"
}

# daemon_logged N REGEX: daemon.log has at least N lines matching REGEX.
daemon_logged()
{
	[ "$(grep -Ec -- "$2" daemon.log 2>/dev/null)" -ge "$1" ]
}

# daemon_count REGEX: how many lines of daemon.log match REGEX.
daemon_count()
{
	grep -Ec -- "$1" daemon.log 2>/dev/null
}

# daemon_wait_log REGEX [SECONDS]: waits for a line matching REGEX.
daemon_wait_log()
{
	daemon_wait "${2:-$D_DEADLINE}" "a log line matching: $1" \
	    daemon_logged 1 "$1"
}

# daemon_sendmail [ARGS...]: starts the stand-in (bin/sendmail -p
# aux/sendmail.pid -l aux/sendmail.log ARGS); it has written its pidfile
# when this returns.
daemon_sendmail()
{
	"$(pwd)/bin/sendmail" -p "$(pwd)/aux/sendmail.pid" \
	    -l "$(pwd)/aux/sendmail.log" "$@" ||
	    atf_fail "the sendmail stand-in did not start"
	daemon_remember "$(head -n 1 aux/sendmail.pid)"
}

# daemon_hups: how many SIGHUPs the stand-in received.
daemon_hups()
{
	grep -c '^hup ' aux/sendmail.log 2>/dev/null || true
}

# daemon_hups_are N: the stand-in received exactly N SIGHUPs so far.
daemon_hups_are()
{
	[ "$(daemon_hups)" -eq "$1" ]
}

# daemon_sendmail_pid: the pid the stand-in's pidfile names.
daemon_sendmail_pid()
{
	head -n 1 aux/sendmail.pid 2>/dev/null
}

# daemon_sendmail_ok: the stand-in's pidfile names a live process called
# sendmail.
daemon_sendmail_ok()
{
	_s_p=$(daemon_sendmail_pid)
	[ -n "$_s_p" ] && daemon_alive "$_s_p" &&
	    [ "$(ps -o comm= -p "$_s_p")" = sendmail ]
}

# daemon_sendmail_back N: the stand-in has started N+1 times (N reloads)
# and is alive.
daemon_sendmail_back()
{
	[ "$(grep -c '^start ' aux/sendmail.log)" -ge $(($1 + 1)) ] &&
	    daemon_sendmail_ok
}

# daemon_replay [OPTS...]: tests/dehydrated_replay.sh on the domain
# directory, with -t timeline; the last three arguments name the key,
# the leaf and the chain, as for the script.
daemon_replay()
{
	sh "$D_REPLAY" -t "$(pwd)/timeline" "$@" ||
	    atf_fail "dehydrated_replay.sh $* failed"
}

# daemon_install NAME: a finished set for leaf NAME in the domain
# directory at once, as a previous renewal left it.
daemon_install()
{
	daemon_replay -w 0 "le/certs/$D_DOMAIN" "pki/$1.key" "pki/$1.pem" \
	    pki/int.pem
}

# daemon_when STEP: the time of the last STEP in the timeline.
daemon_when()
{
	awk -v s="$1" '$1 == s { t = $2 } END { print t }' timeline
}

# daemon_hup_times: the times of the SIGHUPs the stand-in received.
daemon_hup_times()
{
	awk '$1 == "hup" { print $3 }' aux/sendmail.log 2>/dev/null
}

# daemon_before A B: time A is earlier than time B (seconds, decimals).
daemon_before()
{
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# daemon_fp FILE: the SHA-256 fingerprint of the (first) certificate in
# FILE.
daemon_fp()
{
	openssl x509 -noout -fingerprint -sha256 -in "$1" 2>/dev/null
}

# daemon_in_store NAME: cert_dir holds pki/NAME.pem in a hash-named file.
daemon_in_store()
{
	_i_h=$(openssl x509 -noout -hash -in "pki/$1.pem")
	_i_fp=$(daemon_fp "pki/$1.pem")
	for _i_f in certs/"$_i_h".*; do
		[ -f "$_i_f" ] || continue
		[ "$(daemon_fp "$_i_f")" = "$_i_fp" ] && return 0
	done
	return 1
}

# daemon_not_in_store NAME
daemon_not_in_store()
{
	! daemon_in_store "$1"
}

# daemon_stop: SIGTERM to smtlsd, and waits for it to end.
daemon_stop()
{
	kill -TERM "$D_PID" 2>/dev/null || true
	daemon_wait "$D_DEADLINE" "smtlsd to exit after SIGTERM" \
	    daemon_dead "$D_PID"
	wait "$D_PID" 2>/dev/null || true
}

# daemon_cleanup: ends every process the test started (smtlsd, the
# stand-in under all its pids, sleep), by pid, only when it still has
# the name it had.
daemon_cleanup()
{
	_k_pids=$(cat pids 2>/dev/null)
	[ -f aux/sendmail.log ] &&
	    _k_pids="$_k_pids $(awk '{ print $2 }' aux/sendmail.log)"
	for _k_p in $_k_pids; do
		case $(ps -o comm= -p "$_k_p" 2>/dev/null) in
		smtlsd|sendmail|sleep|sh|timeout|usr1prog) kill -TERM "$_k_p" 2>/dev/null ;;
		esac
	done
	_k_i=0
	while [ $_k_i -lt 100 ]; do
		_k_left=""
		for _k_p in $_k_pids; do
			case $(ps -o comm=,stat= -p "$_k_p" 2>/dev/null) in
			*Z*) ;;
			smtlsd*|sendmail*|sleep*|sh*|timeout*|usr1prog*)
				_k_left="$_k_left $_k_p" ;;
			esac
		done
		[ -z "$_k_left" ] && break
		sleep 0.05
		_k_i=$((_k_i + 1))
	done
	for _k_p in $_k_left; do
		kill -KILL "$_k_p" 2>/dev/null
	done
	# A stand-in between its re-exec and its pidfile is in no list;
	# its absolute path names this test's directory only.
	pkill -KILL -f "^$(pwd)/bin/sendmail " 2>/dev/null
	return 0
}

# daemon_strace_reason: why strace cannot trace smtlsd here, or nothing.
daemon_strace_reason()
{
	command -v strace >/dev/null 2>&1 ||
	    { echo "strace is not installed (sh mk/deps.sh test)"; return 0; }
	strace -f -o /dev/null true >/dev/null 2>&1 ||
	    echo "strace cannot trace here (ptrace not permitted)"
}

# daemon_slow SYSCALL MICROSECONDS OUT: attaches strace to the running
# smtlsd ($D_PID), which then waits MICROSECONDS before each SYSCALL;
# SYSCALL and openat go to OUT.  Returns once strace is attached; its pid
# is D_STRACE.
daemon_slow()
{
	timeout 60 strace -p "$D_PID" -o "$3" -e trace="$1",openat \
	    -e inject="$1":delay_enter="$2" 2>"$3.err" &
	D_STRACE=$!
	daemon_remember "$D_STRACE"
	daemon_wait 10 "strace to attach" grep -q attached "$3.err"
}

# daemon_at_certdir OUT: the strace log OUT shows smtlsd opening
# cert_dir, which a pass does once it has read the bundles.
daemon_at_certdir()
{
	grep -q "\"$(pwd)/certs\", O_RDONLY" "$1"
}

# daemon_syscalls PID SECONDS OUT: traces PID (and its children) for
# SECONDS with strace into OUT (outside every watched directory), and
# prints how many system calls completed.  The call that was blocked
# when strace attached is not counted.
daemon_syscalls()
{
	timeout -s INT "$2" strace -f -p "$1" -o "$3" 2>/dev/null || true
	grep -v -e '<detached \.\.\.>' -e '^[0-9]* *+++' -e '^[0-9]* *---' \
	    -e 'resumed> *<detached' "$3" | grep -c . || true
}
