# shellcheck shell=sh disable=SC2010,SC2012,SC2015
# (ls | grep on names the tests made; "[ test ] && ... || atf_fail".)
#
# The one harness of smtlsd's atf-sh tests.  Source it from a test
# program after atf-sh has set things up:
#	. "$(atf_get_srcdir)/lib.sh"
# t_* helpers make certificates, bundles and configurations and run
# smtlsd once; daemon_* helpers start the daemon, the sendmail stand-in
# and dehydrated's steps, wait for them with a deadline and end them.
# Everything is made in the test case's own work directory (the current
# directory); certificates are generated with the openssl command.
#
# The daemon tests' layout, in the work directory:
#	pki/		test CA: root, intermediate, leaves (openssl)
#	bundle.pem	the CA bundle: the root and two unrelated CAs
#	certs/		cert_dir
#	aux/		smtlsd's pidfile and status, dh.param, sendmail's
#			pidfile
#	le/		dehydrated's BASEDIR; le/certs/mail.example.test/
#	bin/sendmail	the stand-in (tests/fake_sendmail), log aux/sendmail.log
#	conf		the configuration; daemon.log is smtlsd's stderr (-d -v)
#	pids		every process a test started, for daemon_cleanup
# A test that keeps them elsewhere sets D_AUX (the directory of the
# status file), or D_STATUS (the status file itself), and D_WORK (the
# directory of daemon.log and pids).  Every test
# case that starts a process must have a cleanup part that calls
# daemon_cleanup.

T_SRC="$(atf_get_srcdir)"
T_TOP="$T_SRC/.."
SMTLSD="$T_TOP/daemon/smtlsd"
T_TIMEOUT=${T_TIMEOUT:-30}
T_HASHRE='^[0-9a-f]{8}\.[0-9]+$'
D_FAKE="$T_SRC/fake_sendmail"
D_REPLAY="$T_SRC/dehydrated_replay.sh"
D_DOMAIN=mail.example.test
D_SETTLE=${D_SETTLE:-0.3}
# Generous deadlines: the machine may be busy with other tests.
D_DEADLINE=${D_DEADLINE:-15}
D_AUX=${D_AUX:-aux}
D_WORK=${D_WORK:-.}

# t_need_bin: fails the test when the daemon has not been built.
t_need_bin()
{
	[ -x "$SMTLSD" ] || atf_fail "$SMTLSD is missing: run make first"
}

# t_cert NAME SUBJECT [DAYS]: a self-signed CA certificate NAME.pem and
# its key NAME.key.  Two calls with the same SUBJECT give two certificates
# with the same subject-name hash (a collision) and different keys.
t_cert()
{
	daemon_ossl req -x509 -newkey ec \
	    -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$2" \
	    -days "${3:-3650}" -keyout "$1.key" -out "$1.pem" \
	    -addext basicConstraints=critical,CA:TRUE ||
	    atf_fail "openssl req failed for $1 ($2)"
}

# t_hash NAME: the subject-name hash of NAME.pem, as openssl prints it.
t_hash()
{
	openssl x509 -noout -hash -in "$1.pem"
}

# t_bundle OUT NAME...: concatenates NAME.pem files into OUT.
t_bundle()
{
	_b_out=$1
	shift
	: >"$_b_out"
	for _b_n in "$@"; do
		cat "$_b_n.pem" >>"$_b_out"
	done
}

# t_nss OUT NAME...: a bundle in the shape of FreeBSD's ca-root-nss.crt:
# "##" header lines, then for each certificate its full text dump, a
# fingerprint line and the PEM block.
t_nss()
{
	_n_out=$1
	shift
	{
		echo "##"
		echo "## ca-root-nss.crt -- Bundle of CA Root Certificates"
		echo "##"
		echo "## This is a bundle of X.509 certificates of public"
		echo "## Certificate Authorities (CA)."
		echo "##"
		echo
		for _n_n in "$@"; do
			echo "Certificate data from Mozilla as of: Thu Jan  1"
			echo
			openssl x509 -in "$_n_n.pem" -noout -text ||
			    atf_fail "openssl x509 -text $_n_n"
			openssl x509 -in "$_n_n.pem" -noout -fingerprint \
			    -sha256
			openssl x509 -in "$_n_n.pem"
			echo
		done
	} >"$_n_out"
}

# t_conf FILE CERT_DIR BUNDLE...: a configuration file, mode 0644, for
# the CA store alone: the rest of a pass (DH parameters from a built-in
# group, no ACME domain, no reload) is kept in ./aux and never touches
# anything outside the test's directory.
t_conf()
{
	_c_file=$1
	_c_dir=$2
	shift 2
	mkdir -p aux/acme
	{
		for _c_b in "$@"; do
			echo "ca_bundle $_c_b"
		done
		echo "cert_dir $_c_dir"
		echo "dh_params $(pwd)/aux/dh.param"
		echo "dh_params_source ffdhe2048"
		echo "acme_dir $(pwd)/aux/acme"
		echo "reload_signal none"
		echo "reload_pidfile $(pwd)/aux/sendmail.pid"
		echo "pidfile $(pwd)/aux/smtlsd.pid"
		echo "status_file $(pwd)/aux/smtlsd.status"
	} >"$_c_file"
	chmod 0644 "$_c_file"
}

# t_run ARGS...: runs smtlsd with a deadline; stdout goes to ./out,
# stderr to ./err, the exit status to $t_rc.  Never fails by itself.
t_run()
{
	t_rc=0
	timeout "$T_TIMEOUT" "$SMTLSD" "$@" >out 2>err || t_rc=$?
	[ "$t_rc" -ne 124 ] || atf_fail "smtlsd $* did not finish in" \
	    "${T_TIMEOUT}s"
	[ "$t_rc" -lt 128 ] || { cat err >&2; atf_fail "smtlsd $* died" \
	    "of a signal (status $t_rc)"; }
}

# t_pass CONF [ARGS...]: one pass (-1) that must succeed, within
# $T_TIMEOUT seconds; stdout is kept in ./out, stderr in ./err.
t_pass()
{
	_p_conf=$1
	shift
	atf_check -o save:out -e save:err \
	    timeout "$T_TIMEOUT" "$SMTLSD" -f "$_p_conf" -1 "$@"
}

# t_pass_exits STATUS CONF [REGEX...]: one pass (-1) that must exit
# STATUS within $T_TIMEOUT seconds, with stderr matching every extended
# REGEX; out and err as for t_pass.
t_pass_exits()
{
	_p_st=$1 _p_conf=$2
	shift 2
	_p_n=$#
	for _p_re in "$@"; do
		set -- "$@" -e "match:$_p_re"
	done
	shift "$_p_n"
	atf_check -s "exit:$_p_st" -o save:out -e save:err "$@" \
	    timeout "$T_TIMEOUT" "$SMTLSD" -f "$_p_conf" -1
}

# t_pass_says CONF REGEX...: t_pass, and stderr matches every REGEX.
t_pass_says()
{
	t_pass_exits 0 "$@"
}

# t_pass_fails CONF [REGEX...]: one pass that must exit 1, with stderr
# matching every REGEX.
t_pass_fails()
{
	t_pass_exits 1 "$@"
}

# t_err_has REGEX: stderr of the last run matches the extended REGEX.
t_err_has()
{
	grep -Eq -- "$1" err || { cat err >&2;
	    atf_fail "stderr does not match: $1"; }
}

# t_listing DIR: every entry of DIR (dot files, the index, and DIR
# itself) with inode, size, mode, link count, type, mtime in nanoseconds
# and, for symbolic links, the target.  Two equal listings mean nothing
# in DIR was created, removed, rewritten or touched.
t_listing()
{
	(
		cd "$1" || exit 1
		for _l_f in . $(ls -A | LC_ALL=C sort); do
			case $(uname -s) in
			Linux)	stat -c '%n %i %s %a %h %F %.9Y %.9Z' "$_l_f" ;;
			*)	stat -f '%N %i %z %Lp %l %HT %Fm %Fc' "$_l_f" ;;
			esac
			[ -L "$_l_f" ] && echo "  -> $(readlink "$_l_f")"
		done
	)
}

# t_names DIR: the hash-named entries of DIR, sorted.
t_names()
{
	ls -A "$1" | grep -E "$T_HASHRE" | LC_ALL=C sort
}

# t_blocks DIR LEN: one line "<key> <base64 of the block>" for every
# PEM block in the hash-named files of DIR, sorted; the key is the
# first LEN characters of the file's name (0: all of it).
t_blocks()
{
	(
		cd "$1" || exit 1
		_s_files=$(ls -A | grep -E "$T_HASHRE")
		[ -n "$_s_files" ] || exit 0
		# shellcheck disable=SC2086
		awk -v len="$2" '
		    FNR == 1 { h = len ? substr(FILENAME, 1, len) : FILENAME }
		    { sub(/\r$/, "") }
		    /^-----BEGIN / { inb = 1; s = ""; next }
		    /^-----END / { if (inb) print h, s; inb = 0; next }
		    inb { s = s $0 }
		' $_s_files | LC_ALL=C sort
	)
}

# t_sets DIR: one line "<hash> <base64 of the block>" for every
# certificate in the hash-named files of DIR, sorted: two directories
# with equal sets hold, under each hash, the same certificates.
t_sets()
{
	t_blocks "$1" 8
}

# t_split BUNDLE DIR: splits the PEM blocks of BUNDLE into DIR/NNNNN.pem
# (in bundle order), one certificate per file, as an administrator
# following the seed page would.
t_split()
{
	mkdir -p "$2"
	awk -v dir="$2" '
	    /^-----BEGIN (TRUSTED |X509 )?CERTIFICATE-----/ {
		n++; f = sprintf("%s/%05d.pem", dir, n); inb = 1 }
	    inb { print > f }
	    /^-----END (TRUSTED |X509 )?CERTIFICATE-----/ { inb = 0; close(f) }
	' "$1"
}

# t_rehash_ref REFDIR BUNDLE...: what openssl rehash makes of the
# bundles split into single files (all bundles into one directory).
t_rehash_ref()
{
	_r_dir=$1
	shift
	mkdir -p "$_r_dir"
	_r_i=0
	for _r_b in "$@"; do
		_r_i=$((_r_i + 1))
		t_split "$_r_b" "$_r_dir/tmp"
		for _r_f in "$_r_dir"/tmp/*.pem; do
			[ -e "$_r_f" ] || continue
			mv "$_r_f" "$_r_dir/b${_r_i}-${_r_f##*/}"
		done
		rmdir "$_r_dir/tmp"
	done
	openssl rehash "$_r_dir" >/dev/null 2>&1 ||
	    atf_fail "openssl rehash $_r_dir failed"
}

# t_same_ref REF DIR WORK: DIR holds the names of REF and, under each
# hash, the same certificates; returns 1 and shows the difference (the
# lists are kept in WORK) when not.
t_same_ref()
{
	t_names "$1" >"$3/names.want"
	t_names "$2" >"$3/names.got"
	if ! cmp -s "$3/names.want" "$3/names.got"; then
		diff -u "$3/names.want" "$3/names.got" | head -n 40 >&2
		echo "$2: names differ from openssl rehash" >&2
		return 1
	fi
	t_sets "$1" >"$3/sets.want"
	t_sets "$2" >"$3/sets.got"
	if ! cmp -s "$3/sets.want" "$3/sets.got"; then
		diff -u "$3/sets.want" "$3/sets.got" | cut -c1-100 |
		    head -n 40 >&2
		echo "$2: certificates under some hash differ from openssl" \
		    "rehash" >&2
		return 1
	fi
}

# t_same_as_rehash DIR BUNDLE...: DIR holds the same names as openssl
# rehash of the split bundles, and under each hash the same certificates.
t_same_as_rehash()
{
	_m_dir=$1
	shift
	rm -rf ref.rehash
	t_rehash_ref ref.rehash "$@"
	[ -n "$(t_names ref.rehash)" ] ||
	    atf_fail "openssl rehash made no names"
	t_same_ref ref.rehash "$_m_dir" . ||
	    atf_fail "$_m_dir differs from openssl rehash (see stderr)"
}

# t_same_as_rehash_in DIR BUNDLE WORK: t_same_as_rehash for one bundle,
# the reference made in WORK/ref (a memory file system, say); returns 1
# instead of failing.
t_same_as_rehash_in()
{
	rm -rf "$3/ref"
	t_split "$2" "$3/ref"
	openssl rehash "$3/ref" >/dev/null 2>&1 ||
	    { echo "openssl rehash failed" >&2; return 1; }
	t_same_ref "$3/ref" "$1" "$3" || return 1
	rm -rf "$3/ref"
}

# t_slots DIR: one line "<name> <base64 of the block>" for every
# hash-named file of DIR, sorted.
t_slots()
{
	t_blocks "$1" 0
}

# t_same_slots_as_rehash DIR BUNDLE...: t_same_as_rehash, and each name
# holds the certificate openssl rehash gives it (colliding certificates
# are numbered in bundle order).
t_same_slots_as_rehash()
{
	_q_dir=$1
	shift
	t_same_as_rehash "$_q_dir" "$@"
	t_slots ref.rehash >slots.want
	t_slots "$_q_dir" >slots.got
	if ! cmp -s slots.want slots.got; then
		diff -u slots.want slots.got | cut -c1-60 >&2
		atf_fail "$_q_dir: numbers differ from openssl rehash"
	fi
}

# t_check_files DIR: every hash-named file is a regular file, mode 0644,
# holding exactly one PEM block.
t_check_files()
{
	for _k_f in $(t_names "$1"); do
		_k_p="$1/$_k_f"
		[ -f "$_k_p" ] && [ ! -L "$_k_p" ] ||
		    atf_fail "$_k_p is not a regular file"
		case $(uname -s) in
		Linux)	_k_m=$(stat -c %a "$_k_p") ;;
		*)	_k_m=$(stat -f %Lp "$_k_p") ;;
		esac
		[ "$_k_m" = 644 ] || atf_fail "$_k_p has mode $_k_m"
		[ "$(grep -c -- '-----BEGIN' "$_k_p")" = 1 ] ||
		    atf_fail "$_k_p does not hold exactly one block"
	done
	# (That each decodes, under its own hash, t_same_as_rehash shows.)
}

# t_unpriv CMD...: runs CMD without the power to ignore file permissions:
# directly when not root, as root without CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH otherwise (setpriv drops them from the bounding
# set, so the command keeps every other right, even over root's files).
# t_unpriv_reason prints why that is impossible here, or nothing.
t_unpriv_reason()
{
	[ "$(id -u)" -ne 0 ] && return 0
	command -v setpriv >/dev/null 2>&1 ||
	    { echo "running as root and setpriv(1) is missing"; return 0; }
	: >unpriv.probe
	chmod 000 unpriv.probe
	if setpriv --bounding-set=-dac_override,-dac_read_search \
	    cat unpriv.probe >/dev/null 2>&1; then
		echo "setpriv cannot drop CAP_DAC_OVERRIDE here"
	elif ! setpriv --bounding-set=-dac_override,-dac_read_search \
	    true >/dev/null 2>&1; then
		echo "setpriv --bounding-set is not permitted here"
	fi
	rm -f unpriv.probe
}

# t_need_unpriv: skips when t_unpriv cannot drop the rights here.
t_need_unpriv()
{
	_r=$(t_unpriv_reason)
	[ -z "$_r" ] || atf_skip "cannot run without file access rights: $_r"
}

t_unpriv()
{
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	else
		setpriv --bounding-set=-dac_override,-dac_read_search "$@"
	fi
}

# t_slot DIR NAME: the hash-named file of DIR that holds NAME.pem (our
# header line, then the PEM block exactly as openssl writes it).
t_slot()
{
	for _t_f in $(t_names "$1"); do
		if tail -n +2 "$1/$_t_f" | cmp -s - "$2.pem"; then
			echo "$_t_f"
			return 0
		fi
	done
	atf_fail "$2 is not in $1"
}

# t_members DIR NAME...: NAME... ordered by their number in DIR.
t_members()
{
	_m_d=$1
	shift
	for _m_n in "$@"; do
		echo "$(t_slot "$_m_d" "$_m_n") $_m_n"
	done | LC_ALL=C sort | cut -d' ' -f2
}

# t_rand MAX: a random integer in [0, MAX).
t_rand()
{
	_v=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $((_v % $1))
}

# t_copy_bin: fails when smtlsd has not been built; then runs a copy of
# it (./smtlsd), safe from a rebuild while the test runs.
t_copy_bin()
{
	t_need_bin
	[ "$SMTLSD" = "$(pwd)/smtlsd" ] && return 0
	cp "$SMTLSD" ./smtlsd || atf_fail "cannot copy $SMTLSD"
	SMTLSD=$(pwd)/smtlsd
}

# t_root_reason: why a root-only test cannot run here, or nothing.
t_root_reason()
{
	[ "$(id -u)" -eq 0 ] || echo "needs root (mounts, chattr, other" \
	    "users' files); run the suite as root"
}

# t_need_root: skips, loudly, when not root.
t_need_root()
{
	_r=$(t_root_reason)
	[ -z "$_r" ] || atf_skip "SKIPPED: $_r"
}

# t_cc OUT SRC [LIBS...]: compiles a helper program against OpenSSL.
t_cc()
{
	_o=$1 _s=$2
	shift 2
	# shellcheck disable=SC2046
	${CC:-cc} -O2 $(pkg-config --cflags openssl 2>/dev/null) -o "$_o" \
	    "$_s" $(pkg-config --libs openssl 2>/dev/null ||
	    echo -lssl -lcrypto) "$@" >cc.log 2>&1 ||
	    { cat cc.log >&2; atf_fail "compiling $_s failed"; }
}

# t_tools: ./capath_check (tests/hardening/capath_check.c) and
# ./gencerts (bench/gencerts.c, used as it is).
t_tools()
{
	# shellcheck disable=SC2046
	t_cc capath_check "$T_SRC/hardening/capath_check.c" \
	    $(sh "$T_SRC/../mk/config.sh" libs)
	[ -f "$T_SRC/../bench/gencerts.c" ] ||
	    atf_fail "bench/gencerts.c is missing"
	t_cc gencerts "$T_SRC/../bench/gencerts.c"
}

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
	t_need_bin
	[ -x "$D_FAKE" ] ||
	    atf_fail "$D_FAKE is missing: run make check-tests first"
}

# daemon_wait SECONDS DESC CMD...: runs CMD until it succeeds, every 20
# ms; fails the test with DESC when SECONDS pass first.
daemon_wait()
{
	_w_end=$(($(daemon_ms) +
	    $(echo "$1" | awk '{ printf "%d", $1 * 1000 }')))
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

# daemon_show: the daemon's log and status and the stand-in's log, to
# stderr.
daemon_show()
{
	{
		echo "---- daemon.log (last lines)"
		tail -n 60 "$D_WORK/daemon.log" 2>/dev/null
		echo "---- status:" \
		    "$(cat "${D_STATUS:-$D_AUX/status}" 2>/dev/null)"
		[ -f aux/sendmail.log ] && { echo "---- aux/sendmail.log";
		    cat aux/sendmail.log; }
		[ -f timeline ] && { echo "---- timeline"; cat timeline; }
		echo "----"
	} >&2
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

# daemon_ca DIR: a test CA in DIR: root.pem (self-signed) and int.pem
# (an intermediate signed by the root), with their keys and the
# database of openssl ca.
daemon_ca()
{
	mkdir -p "$1/db"
	: >"$1/db/index.txt"
	echo 1000 >"$1/db/serial"
	cp "$T_SRC/pki.cnf" "$1/ca.cnf"
	daemon_ca_pair "$1" root int "smtlsd test" "smtlsd Test"
}

# daemon_ca_pair DIR ROOT INT ORG NAME: another CA in DIR (made by
# daemon_ca): ROOT.pem, self-signed, "/O=ORG/CN=NAME Root CA", and
# INT.pem, "NAME Intermediate CA" signed by it.
daemon_ca_pair()
{
	(
		cd "$1" || exit 1
		daemon_ossl req -x509 -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/O=$4/CN=$5 Root CA" -days 3650 \
		    -keyout "$2.key" -out "$2.pem" \
		    -addext basicConstraints=critical,CA:TRUE \
		    -addext keyUsage=critical,keyCertSign,cRLSign || exit 1
		daemon_ossl req -new -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/O=$4/CN=$5 Intermediate CA" \
		    -keyout "$3.key" -out "$3.csr" || exit 1
		daemon_ossl ca -batch -config ca.cnf -extensions int \
		    -cert "$2.pem" -keyfile "$2.key" -in "$3.csr" \
		    -out "$3.pem" -days 3650 -notext
	) || atf_fail "making the CA $2, $3 in $1 failed"
}

# daemon_pki: the test CA in pki/ (daemon_ca), and bundle.pem holding
# the root and two unrelated self-signed CAs, pki/other1.pem and
# pki/other2.pem.
daemon_pki()
{
	daemon_ca pki
	t_cert pki/other1 "/O=smtlsd test/CN=Unrelated CA other1"
	t_cert pki/other2 "/O=smtlsd test/CN=Unrelated CA other2"
	cat pki/root.pem pki/other1.pem pki/other2.pem >bundle.pem
}

# daemon_pki_leaves DIR N: the test CA in DIR (daemon_ca) and N server
# certificates DIR/leafI.pem and DIR/leafI.key (I from 1).
daemon_pki_leaves()
{
	daemon_ca "$1"
	_p_i=1
	while [ "$_p_i" -le "$2" ]; do
		daemon_leaf_in "$1" "leaf$_p_i" int
		_p_i=$((_p_i + 1))
	done
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

# daemon_leaf_in DIR NAME ISSUER [expired|+SECONDS]: DIR/NAME.key and
# DIR/NAME.pem, a server certificate for mail.example.test signed by
# DIR/ISSUER.pem; with "expired" it ran out in 2021, with +SECONDS it
# runs out that many seconds from now.
daemon_leaf_in()
{
	case ${4:-} in
	expired)
		_l_dates="-startdate 20200101000000Z -enddate 20210101000000Z"
		;;
	+*)
		_l_dates="-enddate $(date -u -d "@$(($(date +%s) + ${4#+}))" \
		    +%Y%m%d%H%M%SZ)"
		;;
	*)	_l_dates="-days 825" ;;
	esac
	(
		cd "$1" || exit 1
		daemon_ossl req -new -newkey ec \
		    -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -subj "/CN=$D_DOMAIN" -keyout "$2.key" -out "$2.csr" ||
		    exit 1
		# shellcheck disable=SC2086
		daemon_ossl ca -batch -config ca.cnf -extensions leaf \
		    -cert "$3.pem" -keyfile "$3.key" -in "$2.csr" \
		    -out "$2.pem" $_l_dates -notext
	) || atf_fail "making the certificate $2 failed"
}

# daemon_leaf NAME [expired|+SECONDS]: daemon_leaf_in in pki/, signed by
# the intermediate pki/$D_ISSUER.pem (default int).
daemon_leaf()
{
	daemon_leaf_in pki "$1" "${D_ISSUER:-int}" "${2:-}"
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

# daemon_conf_in FILE DIR CERT_DIR ACME_DIR [LINE...]: writes FILE (mode
# 0644, through a temporary file): the bundle DIR/bundle.pem, CERT_DIR,
# ACME_DIR, smtlsd's own files and the DH parameters (a built-in group)
# in DIR/aux, settle $D_SETTLE, the stand-in's pidfile DIR/aux/
# sendmail.pid, no verify_smtp (no listener); then the LINEs, which
# override (later lines win).
daemon_conf_in()
{
	_c_file=$1 _c_top=$2 _c_certs=$3 _c_acme=$4
	shift 4
	{
		echo "ca_bundle $_c_top/bundle.pem"
		echo "cert_dir $_c_certs"
		echo "pidfile $_c_top/aux/smtlsd.pid"
		echo "status_file $_c_top/aux/status"
		echo "acme_dir $_c_acme"
		echo "settle $D_SETTLE"
		echo "dh_params $_c_top/aux/dh.param"
		echo "dh_params_source ffdhe2048"
		echo "reload_pidfile $_c_top/aux/sendmail.pid"
		echo "verify_smtp none"
		for _c_l in "$@"; do
			echo "$_c_l"
		done
	} >"$_c_file.tmp"
	chmod 0644 "$_c_file.tmp"
	mv "$_c_file.tmp" "$_c_file"
}

# daemon_conf [LINE...]: writes conf for the layout above (daemon_conf_in
# with the work directory, certs/ and le/certs).
daemon_conf()
{
	daemon_conf_in conf "$(pwd)" "$(pwd)/certs" "$(pwd)/le/certs" "$@"
}

# daemon_conf_alone FILE DIR CERT_DIR [LINE...]: a configuration for the
# CA store alone: daemon_conf_in with an empty acme_dir DIR/aux/acme, no
# reload and settle 0.1, then the LINEs.
daemon_conf_alone()
{
	_c_f=$1 _c_d=$2 _c_c=$3
	shift 3
	mkdir -p "$_c_d/aux/acme"
	daemon_conf_in "$_c_f" "$_c_d" "$_c_c" "$_c_d/aux/acme" \
	    "reload_signal none" "settle 0.1" "$@"
}

# daemon_once: smtlsd -1 -f conf, which must succeed.
daemon_once()
{
	atf_check -o save:once.out -e save:once.err \
	    timeout 60 "$SMTLSD" -1 -f "$(pwd)/conf"
}

# daemon_elsewhere DIR: the daemon's status file is in DIR/aux (the
# layout of daemon_conf_in DIR), daemon.log and pids stay in the work
# directory.
daemon_elsewhere()
{
	D_AUX=$1/aux
	D_WORK=$(pwd)
}

# daemon_remember PID: daemon_cleanup ends PID.
daemon_remember()
{
	echo "$1" >>"$D_WORK/pids"
}

# daemon_start_conf CONF [ARGS...]: starts smtlsd -d -v -f CONF ARGS in
# the background, logging to daemon.log; D_PID is its pid.  Waits for
# the end of its first pass.
daemon_start_conf()
{
	_d_conf=$1
	shift
	"$SMTLSD" -d -v -f "$_d_conf" "$@" >>"$D_WORK/daemon.out" \
	    2>>"$D_WORK/daemon.log" &
	D_PID=$!
	daemon_remember "$D_PID"
	daemon_wait "$D_DEADLINE" "the first pass of smtlsd" daemon_passed 1
}

# daemon_start [ARGS...]: daemon_start_conf with ./conf.
daemon_start()
{
	daemon_start_conf "$(pwd)/conf" "$@"
}

# daemon_status FIELD: a field of the status file ("pid passes resyncs
# time result message"), or nothing.
daemon_status()
{
	# read(1), not awk: it is polled often, and forks cost CPU that the
	# daemon under test (valgrind, say) needs.
	{ read -r _s1 _s2 _s3 _s4 _s5 _s6 _s7 \
	    <"${D_STATUS:-$D_AUX/status}"; } 2>/dev/null || return 0
	eval "echo \"\${_s$1:-}\""
}

# daemon_passed N: the status file is smtlsd's ($D_PID) and counts at
# least N passes.
daemon_passed()
{
	{ read -r _s1 _s2 _s3 <"${D_STATUS:-$D_AUX/status}"; } 2>/dev/null ||
	    return 1
	[ "$_s1" = "$D_PID" ] && [ "$_s2" -ge "$1" ] 2>/dev/null
}

# daemon_passes: the pass count in the status file.
daemon_passes()
{
	daemon_status 2
}

# daemon_pass_sig SIG: sends SIG to the daemon and waits for one more
# pass.
daemon_pass_sig()
{
	_g_n=$(daemon_status 2)
	kill "-$1" "$D_PID"
	daemon_wait "$D_DEADLINE" "a pass after SIG$1" \
	    daemon_passed $((_g_n + 1))
}

# daemon_alive PID: PID is a live process (not a zombie).
daemon_alive()
{
	_a_s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $_a_s in Z*|"") return 1 ;; esac
	return 0
}

# daemon_running PID [NAME]: PID is a live process called NAME (default
# smtlsd), not another that took its pid.
daemon_running()
{
	daemon_alive "$1" &&
	    [ "$(ps -o comm= -p "$1" 2>/dev/null)" = "${2:-smtlsd}" ]
}

# daemon_dead PID: PID is gone, or a zombie.
daemon_dead()
{
	! daemon_alive "$1"
}

# daemon_logged N REGEX: daemon.log has at least N lines matching REGEX.
daemon_logged()
{
	[ "$(grep -Ec -- "$2" "$D_WORK/daemon.log" 2>/dev/null)" -ge "$1" ]
}

# daemon_count REGEX: how many lines of daemon.log match REGEX.
daemon_count()
{
	grep -Ec -- "$1" "$D_WORK/daemon.log" 2>/dev/null
}

# daemon_wait_log REGEX [SECONDS]: waits for a line matching REGEX.
daemon_wait_log()
{
	daemon_wait "${2:-$D_DEADLINE}" "a log line matching: $1" \
	    daemon_logged 1 "$1"
}

# daemon_stop: SIGTERM to smtlsd, and waits for it to end; its exit
# status is D_RC.
daemon_stop()
{
	kill -TERM "$D_PID" 2>/dev/null || true
	daemon_wait "$D_DEADLINE" "smtlsd to exit after SIGTERM" \
	    daemon_dead "$D_PID"
	D_RC=0
	wait "$D_PID" 2>/dev/null || D_RC=$?
}

# daemon_stop_ok: daemon_stop, and smtlsd must have exited 0.
daemon_stop_ok()
{
	daemon_stop
	[ "$D_RC" -eq 0 ] || { daemon_show; atf_fail "smtlsd exited $D_RC" \
	    "after SIGTERM"; }
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

# daemon_renew DOMAINDIR PKI I TS: a renewal to PKI/leafI in the way
# dehydrated leaves it, without a process per step: privkey-TS.pem
# (0600), cert-, chain-, fullchain-TS.pem, then the links swapped one by
# one (rename over the old), cert.pem last; the files of older renewals
# but the last are removed.
daemon_renew()
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

# daemon_not_in_store NAME: cert_dir does not hold pki/NAME.pem.
daemon_not_in_store()
{
	! daemon_in_store "$1"
}

# daemon_scratch NAME: sets D_S to a new directory, in /dev/shm when it
# is a writable memory file system (thousands of files, fast), else in
# the work directory; its path is kept in ./scratch for daemon_cleanup.
daemon_scratch()
{
	D_S=""
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		D_S=$(mktemp -d "/dev/shm/smtlsd-$1.XXXXXX") || D_S=""
	fi
	[ -n "$D_S" ] || { D_S=$(pwd)/scratch.d; mkdir -p "$D_S"; }
	echo "$D_S" >scratch
}

# daemon_cleanup: ends every process the test started (smtlsd, the
# stand-in under all its pids, sleep, strace, valgrind), by pid, only
# when it still has the name it had: SIGTERM, then SIGKILL to those left
# after 5 seconds.  Removes the scratch directory.
daemon_cleanup()
{
	_k_pids=$(cat pids 2>/dev/null)
	[ -f aux/sendmail.log ] &&
	    _k_pids="$_k_pids $(awk '{ print $2 }' aux/sendmail.log)"
	for _k_p in $_k_pids; do
		case $(ps -o comm= -p "$_k_p" 2>/dev/null) in
		smtlsd|sendmail|sleep|sh|timeout|usr1prog|strace|memcheck*|\
		valgrind*)
			kill -TERM "$_k_p" 2>/dev/null ;;
		esac
	done
	_k_i=0
	while [ $_k_i -lt 100 ]; do
		_k_left=""
		for _k_p in $_k_pids; do
			case $(ps -o comm=,stat= -p "$_k_p" 2>/dev/null) in
			*Z*) ;;
			smtlsd*|sendmail*|sleep*|sh*|timeout*|usr1prog*|\
			strace*|memcheck*|valgrind*)
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
	_k_d=$(cat scratch 2>/dev/null)
	case $_k_d in
	/dev/shm/smtlsd-*) rm -rf "$_k_d" ;;
	esac
	return 0
}

# daemon_strace_reason: why strace cannot trace smtlsd here, or nothing.
daemon_strace_reason()
{
	[ "$(uname -s)" = Linux ] ||
	    { echo "strace(1) is Linux-only"; return 0; }
	command -v strace >/dev/null 2>&1 ||
	    { echo "strace is not installed (sh mk/deps.sh test)"; return 0; }
	strace -f -o /dev/null true >/dev/null 2>&1 ||
	    echo "strace cannot trace here (ptrace not permitted)"
}

# daemon_need_strace: skips when strace cannot trace smtlsd here.
daemon_need_strace()
{
	_r=$(daemon_strace_reason)
	[ -z "$_r" ] || atf_skip "$_r"
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
