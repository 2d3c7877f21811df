# shellcheck shell=sh disable=SC2010,SC2012,SC2015
# (ls | grep on names the tests made; "[ test ] && ... || atf_fail".)
#
# Shared helpers for smtlsd's atf-sh tests.  Source it from a test
# program after atf-sh has set things up:
#	. "$(atf_get_srcdir)/lib.sh"
# Everything is made in the test case's own work directory (the current
# directory); certificates are generated with the openssl command.

SMTLSD="$(atf_get_srcdir)/../daemon/smtlsd"
T_TIMEOUT=${T_TIMEOUT:-30}
T_HASHRE='^[0-9a-f]{8}\.[0-9]+$'

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
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -subj "$2" -days "${3:-3650}" -keyout "$1.key" \
	    -out "$1.pem" -addext basicConstraints=critical,CA:TRUE \
	    >/dev/null 2>&1 || atf_fail "openssl req failed for $1 ($2)"
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

# t_pass CONF [ARGS...]: one pass (-1) that must succeed.
t_pass()
{
	_p_conf=$1
	shift
	t_run -f "$_p_conf" -1 "$@"
	if [ "$t_rc" -ne 0 ]; then
		cat err >&2
		atf_fail "smtlsd -1 -f $_p_conf exited $t_rc"
	fi
}

# t_pass_fails CONF: one pass (-1) that must exit 1.
t_pass_fails()
{
	t_run -f "$1" -1
	if [ "$t_rc" -ne 1 ]; then
		cat err >&2
		atf_fail "smtlsd -1 -f $1 exited $t_rc, expected 1"
	fi
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

# t_sets DIR: one line "<hash> <base64 of the block>" for every
# certificate in the hash-named files of DIR, sorted: two directories
# with equal sets hold, under each hash, the same certificates.
t_sets()
{
	(
		cd "$1" || exit 1
		_s_files=$(ls -A | grep -E "$T_HASHRE")
		[ -n "$_s_files" ] || exit 0
		# shellcheck disable=SC2086
		awk '
		    FNR == 1 { h = substr(FILENAME, 1, 8) }
		    { sub(/\r$/, "") }
		    /^-----BEGIN / { inb = 1; s = ""; next }
		    /^-----END / { if (inb) print h, s; inb = 0; next }
		    inb { s = s $0 }
		' $_s_files | LC_ALL=C sort
	)
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

# t_same_as_rehash DIR BUNDLE...: DIR holds the same names as openssl
# rehash of the split bundles, and under each hash the same certificates.
t_same_as_rehash()
{
	_m_dir=$1
	shift
	rm -rf ref.rehash
	t_rehash_ref ref.rehash "$@"
	t_names ref.rehash >names.want
	t_names "$_m_dir" >names.got
	[ -s names.want ] || atf_fail "openssl rehash made no names"
	if ! cmp -s names.want names.got; then
		diff -u names.want names.got >&2
		atf_fail "$_m_dir: names differ from openssl rehash"
	fi
	t_sets ref.rehash >sets.want
	t_sets "$_m_dir" >sets.got
	if ! cmp -s sets.want sets.got; then
		diff -u sets.want sets.got | cut -c1-100 >&2
		atf_fail "$_m_dir: certificates under some hash differ from" \
		    "openssl rehash"
	fi
}

# t_slots DIR: one line "<name> <base64 of the block>" for every
# hash-named file of DIR, sorted.
t_slots()
{
	(
		cd "$1" || exit 1
		_s_files=$(ls -A | grep -E "$T_HASHRE")
		[ -n "$_s_files" ] || exit 0
		# shellcheck disable=SC2086
		awk '
		    { sub(/\r$/, "") }
		    /^-----BEGIN / { inb = 1; s = ""; next }
		    /^-----END / { if (inb) print FILENAME, s; inb = 0; next }
		    inb { s = s $0 }
		' $_s_files | LC_ALL=C sort
	)
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

t_unpriv()
{
	if [ "$(id -u)" -ne 0 ]; then
		"$@"
	else
		setpriv --bounding-set=-dac_override,-dac_read_search "$@"
	fi
}

# t_strace_reason: why strace cannot trace smtlsd here, or nothing.
t_strace_reason()
{
	[ "$(uname -s)" = Linux ] ||
	    { echo "strace(1) is Linux-only"; return 0; }
	command -v strace >/dev/null 2>&1 ||
	    { echo "strace is not installed (sh mk/deps.sh test)"; return 0; }
	strace -f -o /dev/null true >/dev/null 2>&1 ||
	    echo "strace cannot trace here (ptrace not permitted)"
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
