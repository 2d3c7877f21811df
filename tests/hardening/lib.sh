# Helpers for the hardening tests (crash_test.sh, fault_test.sh,
# leak_test.sh).  Source it after atf-sh has set things up:
#	. "$(atf_get_srcdir)/hardening/lib.sh"
# Files live in the test case's work directory (the current directory)
# unless said otherwise; h_scratch gives a memory-backed directory for
# tests that write thousands of files.
# The names listed are smtlsd's (hex, digits, dots): ls is fine.
# shellcheck disable=SC2010,SC2013

# t_split, t_names and t_sets come from the suite's own helpers.
. "$(atf_get_srcdir)/lib.sh"

SMTLSD="$(atf_get_srcdir)/../daemon/smtlsd"
H_SRC="$(atf_get_srcdir)"
H_DEADLINE=${H_DEADLINE:-20}

if date +%N | grep -q '^[0-9]\{9\}$'; then
	h_ms() { date +%s%3N; }
else
	h_ms() { perl -MTime::HiRes=time -e 'printf "%d\n", time * 1000'; }
fi

# h_need: fails when the daemon has not been built; then runs a copy
# of it (./smtlsd), safe from a rebuild while the test runs.
h_need()
{
	[ -x "$SMTLSD" ] || atf_fail "$SMTLSD is missing: run make first"
	[ "$SMTLSD" = "$(pwd)/smtlsd" ] && return 0
	cp "$SMTLSD" ./smtlsd || atf_fail "cannot copy $SMTLSD"
	SMTLSD=$(pwd)/smtlsd
}

# h_root_reason: why a root-only test cannot run here, or nothing.
h_root_reason()
{
	[ "$(id -u)" -eq 0 ] || echo "needs root (mounts, chattr, other" \
	    "users' files); run the suite as root"
}

# h_need_root: skips, loudly, when not root.
h_need_root()
{
	_r=$(h_root_reason)
	[ -z "$_r" ] || atf_skip "SKIPPED: $_r"
}

# h_cc OUT SRC [LIBS...]: compiles a helper program against OpenSSL.
h_cc()
{
	_o=$1 _s=$2
	shift 2
	# shellcheck disable=SC2046
	${CC:-cc} -O2 $(pkg-config --cflags openssl 2>/dev/null) -o "$_o" \
	    "$_s" $(pkg-config --libs openssl 2>/dev/null ||
	    echo -lssl -lcrypto) "$@" >cc.log 2>&1 ||
	    { cat cc.log >&2; atf_fail "compiling $_s failed"; }
}

# h_tools: ./capath_check (tests/hardening/capath_check.c) and
# ./gencerts (bench/gencerts.c, used as it is).
h_tools()
{
	# shellcheck disable=SC2046
	h_cc capath_check "$H_SRC/hardening/capath_check.c" \
	    $(sh "$H_SRC/../mk/config.sh" libs)
	[ -f "$H_SRC/../bench/gencerts.c" ] ||
	    atf_fail "bench/gencerts.c is missing"
	h_cc gencerts "$H_SRC/../bench/gencerts.c"
}

# h_scratch NAME: sets H_S to a new directory, in /dev/shm when it is a
# writable memory file system (thousands of files, fast), else in the
# work directory; its path is kept in ./scratch for h_cleanup.
h_scratch()
{
	H_S=""
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		H_S=$(mktemp -d "/dev/shm/smtlsd-$1.XXXXXX") || H_S=""
	fi
	[ -n "$H_S" ] || { H_S=$(pwd)/scratch.d; mkdir -p "$H_S"; }
	echo "$H_S" >scratch
}

# h_remember PID: h_cleanup ends PID.
h_remember()
{
	echo "$1" >>"$(h_workdir)/pids"
}

h_workdir()
{
	echo "${H_WORK:-$(pwd)}"
}

# h_cleanup: ends the processes the test started (by pid, only when
# they still carry the name they had), removes the scratch directory.
h_cleanup()
{
	for _p in $(cat pids 2>/dev/null); do
		case $(ps -o comm= -p "$_p" 2>/dev/null) in
		smtlsd|memcheck*|valgrind*|sleep|sh|strace)
			kill -KILL "$_p" 2>/dev/null ;;
		esac
	done
	_d=$(cat scratch 2>/dev/null)
	case $_d in
	/dev/shm/smtlsd-*) rm -rf "$_d" ;;
	esac
	return 0
}

# h_conf FILE DIR CERT_DIR [LINE...]: a configuration (mode 0644): the
# bundle DIR/bundle.pem, cert_dir CERT_DIR, smtlsd's own files and the
# DH parameters (a built-in group) in DIR/aux, no ACME domain, no
# reload; then the LINEs, which override.
h_conf()
{
	_f=$1 _d=$2 _c=$3
	shift 3
	mkdir -p "$_d/aux/acme"
	{
		echo "ca_bundle $_d/bundle.pem"
		echo "cert_dir $_c"
		echo "pidfile $_d/aux/smtlsd.pid"
		echo "status_file $_d/aux/status"
		echo "acme_dir $_d/aux/acme"
		echo "dh_params $_d/aux/dh.param"
		echo "dh_params_source ffdhe2048"
		echo "reload_pidfile $_d/aux/sendmail.pid"
		echo "reload_signal none"
		echo "settle 0.1"
		echo "verify_smtp none"
		for _l in "$@"; do
			echo "$_l"
		done
	} >"$_f.tmp"
	chmod 0644 "$_f.tmp"
	mv "$_f.tmp" "$_f"
}

# h_wait SECONDS DESC CMD...: runs CMD every 20 ms until it succeeds;
# fails the test with DESC when SECONDS pass first.
h_wait()
{
	_end=$(($(h_ms) + $(echo "$1" | awk '{ printf "%d", $1 * 1000 }')))
	_desc=$2
	shift 2
	until "$@"; do
		if [ "$(h_ms)" -gt "$_end" ]; then
			h_show
			atf_fail "timed out waiting for: $_desc"
		fi
		sleep 0.02
	done
}

# h_show: the daemon's log and status, to stderr.
h_show()
{
	{
		echo "---- daemon.log (last lines)"
		tail -n 40 "$(h_workdir)/daemon.log" 2>/dev/null
		echo "---- status: $(cat "$H_AUX/status" 2>/dev/null)"
	} >&2
}

# h_status FIELD: a field of the status file in $H_AUX ("pid passes
# resyncs time result message"), or nothing.
h_status()
{
	# read(1), not awk: it is polled often, and forks cost CPU that the
	# daemon under test (valgrind, say) needs.
	{ read -r _s1 _s2 _s3 _s4 _s5 _s6 <"$H_AUX/status"; } 2>/dev/null ||
	    return 0
	eval "echo \"\$_s$1\""
}

# h_passed N: the status file is the daemon's ($H_PID) and counts at
# least N passes.
h_passed()
{
	{ read -r _s1 _s2 _s3 <"$H_AUX/status"; } 2>/dev/null || return 1
	[ "$_s1" = "$H_PID" ] && [ "$_s2" -ge "$1" ] 2>/dev/null
}

# h_alive PID: a live process (not a zombie).
h_alive()
{
	_st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $_st in Z*|"") return 1 ;; esac
	return 0
}

h_dead()
{
	! h_alive "$1"
}

# h_logged N REGEX: daemon.log has at least N lines matching REGEX.
h_logged()
{
	[ "$(grep -Ec -- "$2" "$(h_workdir)/daemon.log" 2>/dev/null)" \
	    -ge "$1" ]
}

h_count()
{
	grep -Ec -- "$1" "$(h_workdir)/daemon.log" 2>/dev/null
}

# h_start CONF [ARGS...]: smtlsd -d -v -f CONF in the background, stderr
# to daemon.log; H_PID is its pid.  Waits for its first pass.
h_start()
{
	_cf=$1
	shift
	"$SMTLSD" -d -v -f "$_cf" "$@" >>"$(h_workdir)/daemon.out" \
	    2>>"$(h_workdir)/daemon.log" &
	H_PID=$!
	h_remember "$H_PID"
	h_wait "$H_DEADLINE" "the first pass of smtlsd" h_passed 1
}

# h_stop: SIGTERM to the daemon; waits for it to end with status 0.
h_stop()
{
	kill -TERM "$H_PID" 2>/dev/null || true
	h_wait "$H_DEADLINE" "smtlsd to exit after SIGTERM" h_dead "$H_PID"
	_rc=0
	wait "$H_PID" 2>/dev/null || _rc=$?
	[ "$_rc" -eq 0 ] || { h_show; atf_fail "smtlsd exited $_rc after" \
	    "SIGTERM"; }
}

# h_pass_sig SIG: sends SIG to the daemon and waits for one more pass.
h_pass_sig()
{
	_n=$(h_status 2)
	kill "-$1" "$H_PID"
	h_wait "$H_DEADLINE" "a pass after SIG$1" h_passed $((_n + 1))
}

# h_same_as_rehash DIR BUNDLE WORK: DIR holds the names and, under each
# hash, the certificates that openssl rehash makes of BUNDLE split into
# single files (in WORK/ref).  Returns 1 and shows the difference when
# not.
h_same_as_rehash()
{
	rm -rf "$3/ref"
	t_split "$2" "$3/ref"
	openssl rehash "$3/ref" >/dev/null 2>&1 ||
	    { echo "openssl rehash failed" >&2; return 1; }
	t_names "$3/ref" >"$3/names.want"
	t_names "$1" >"$3/names.got"
	if ! cmp -s "$3/names.want" "$3/names.got"; then
		diff "$3/names.want" "$3/names.got" | head -n 20 >&2
		echo "$1: names differ from openssl rehash" >&2
		return 1
	fi
	t_sets "$3/ref" >"$3/sets.want"
	t_sets "$1" >"$3/sets.got"
	if ! cmp -s "$3/sets.want" "$3/sets.got"; then
		diff "$3/sets.want" "$3/sets.got" | cut -c1-80 | head >&2
		echo "$1: certificates under some hash differ from openssl" \
		    "rehash" >&2
		return 1
	fi
	rm -rf "$3/ref"
	return 0
}

# h_rand MAX: a random integer in [0, MAX).
h_rand()
{
	_v=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $((_v % $1))
}

# h_ossl ARGS...: openssl, quiet unless it fails.
h_ossl()
{
	openssl "$@" >ossl.out 2>&1 && return 0
	cat ossl.out >&2
	echo "openssl $* failed" >&2
	return 1
}

# h_pki DIR N: a test CA in DIR: root.pem (self-signed), int.pem (signed
# by the root), and N server certificates leafI.pem/leafI.key (I from 1)
# for mail.example.test signed by the intermediate.
h_pki()
{
	mkdir -p "$1/db"
	: >"$1/db/index.txt"
	echo 1000 >"$1/db/serial"
	cp "$(atf_get_srcdir)/pki.cnf" "$1/ca.cnf"
	(
		cd "$1" || exit 1
		ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
		# shellcheck disable=SC2086
		h_ossl req -x509 $ec -subj "/O=smtlsd test/CN=Hardening Root" \
		    -days 3650 -keyout root.key -out root.pem \
		    -addext basicConstraints=critical,CA:TRUE \
		    -addext keyUsage=critical,keyCertSign,cRLSign || exit 1
		# shellcheck disable=SC2086
		h_ossl req -new $ec -subj "/O=smtlsd test/CN=Hardening Int" \
		    -keyout int.key -out int.csr || exit 1
		h_ossl ca -batch -config ca.cnf -extensions int \
		    -cert root.pem -keyfile root.key -in int.csr \
		    -out int.pem -days 3650 -notext || exit 1
		i=1
		while [ "$i" -le "$2" ]; do
			# shellcheck disable=SC2086
			h_ossl req -new $ec -subj "/CN=mail.example.test" \
			    -keyout "leaf$i.key" -out "leaf$i.csr" || exit 1
			h_ossl ca -batch -config ca.cnf -extensions leaf \
			    -cert int.pem -keyfile int.key -in "leaf$i.csr" \
			    -out "leaf$i.pem" -days 825 -notext || exit 1
			i=$((i + 1))
		done
	) || atf_fail "making the test CA failed"
}

# h_renew DOMAINDIR PKI I TS: a renewal to leaf I in the way dehydrated
# leaves it: privkey-TS.pem (0600), cert-, chain-, fullchain-TS.pem,
# then the links swapped one by one (rename over the old), cert.pem
# last; the files of older renewals but the last are removed.
h_renew()
{
	_d=$1 _p=$2 _i=$3 _ts=$4
	mkdir -p "$_d"
	(umask 077; cp "$_p/leaf$_i.key" "$_d/privkey-$_ts.pem")
	cp "$_p/leaf$_i.pem" "$_d/cert-$_ts.pem"
	cp "$_p/int.pem" "$_d/chain-$_ts.pem"
	cat "$_p/leaf$_i.pem" "$_p/int.pem" >"$_d/fullchain-$_ts.pem"
	chmod 0644 "$_d/cert-$_ts.pem" "$_d/chain-$_ts.pem" \
	    "$_d/fullchain-$_ts.pem"
	for _n in privkey chain fullchain cert; do
		ln -s "$_n-$_ts.pem" "$_d/.$_n.new"
		mv -f "$_d/.$_n.new" "$_d/$_n.pem"
	done
	for _f in "$_d"/*-*.pem; do
		_t=${_f##*-}
		_t=${_t%.pem}
		[ "$_t" -ge $((_ts - 1)) ] 2>/dev/null || rm -f "$_f"
	done
}
