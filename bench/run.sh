#!/bin/sh
# shellcheck disable=SC2154 # t_*, m_*, n_* are set through eval
# smtlsd benchmark: smtlsd -1 side by side with the alternatives.
#
# usage: sh bench/run.sh        (`make bench' builds daemon/smtlsd first)
#
# Inputs: the system CA bundle as it is, the same certificates in the form
# of FreeBSD's ca-root-nss.crt (text dump before each block), and a bundle
# of GEN_N generated certificates.  The last two are made once and kept
# in bench/cache/ (remove it to make them again).
#
# For every input and every case it runs several rounds, each under
# bench/out/measure (wall-clock time, peak RSS from wait4), and prints the
# medians, the ratios smtlsd / alternative and the targets of issue 11.
# The table goes to stdout and to bench/out/results.txt; the output of the
# commands themselves goes to bench/out/run.log.
#
# Environment:
#   SMTLSD=path        the binary (default daemon/smtlsd next to bench/)
#   CA_BUNDLE=path     the system bundle (default: the Debian or FreeBSD one)
#   ROUNDS=n           rounds of every case (default 7)
#   ROUNDS_BIG=n       rounds on the generated bundle (default 5)
#   ROUNDS_MANUAL=n    rounds of the manual method (default 3)
#   NOOP_PAIRS=n       no-op passes per round, each followed by the floors
#                      it is compared with (default 5): whichever process
#                      runs first after a full pass pays for it (seen: 2x
#                      the system time at 10,000 certificates, the floors
#                      alike), which one sample per round would let decide
#   GEN_N=n            size of the generated bundle (default 10000)
#   MANUAL_SUBSET=n    run the manual method on the generated bundle over
#                      its first n certificates only and scale the time
#                      (default 500; 0 runs all of it: minutes)
#   BENCH_TMP=dir      where to put the scratch directory smtlsd-bench.scratch
#                      (default bench/out); it is removed at the end
#   INPUTS="ca nss gen"  the inputs to run (default all three)
#   SCALE=0            skip the domain-directory and one-hash rows (scale.sh,
#                      which also reads SCALE_DOMAINS, SCALE_HASH)
#   DAEMON=0           skip the running daemon's measurements (daemon.sh,
#                      which also reads SETTLE, LAT_ROUNDS, IDLE_SECONDS)

set -u
LC_ALL=C
export LC_ALL

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
out=$here/out
cache=$here/cache
bin=$out
SMTLSD=${SMTLSD:-$top/daemon/smtlsd}
ROUNDS=${ROUNDS:-7}
ROUNDS_BIG=${ROUNDS_BIG:-5}
ROUNDS_MANUAL=${ROUNDS_MANUAL:-3}
NOOP_PAIRS=${NOOP_PAIRS:-5}
GEN_N=${GEN_N:-10000}
MANUAL_SUBSET=${MANUAL_SUBSET:-500}
scratch=${BENCH_TMP:-$out}/smtlsd-bench.scratch
INPUTS=${INPUTS:-ca nss gen}
log=$out/run.log
results=$out/results.txt
table=$out/results.tmp

if [ -z "${CA_BUNDLE:-}" ]; then
	for f in /etc/ssl/certs/ca-certificates.crt \
	    /usr/local/share/certs/ca-root-nss.crt; do
		[ -f "$f" ] && { CA_BUNDLE=$f; break; }
	done
fi
if [ -z "${CA_BUNDLE:-}" ] || [ ! -f "$CA_BUNDLE" ]; then
	echo "bench: no system CA bundle; set CA_BUNDLE" >&2
	exit 1
fi

mkdir -p "$out" "$cache" "$scratch" || exit 1
: > "$log"
: > "$table"

say()
{
	echo "$@" >&2
}

# Everything printed to the table goes through here.
tab()
{
	# shellcheck disable=SC2059 # the format is the caller's
	printf "$@" >> "$table"
}

# --- helpers --------------------------------------------------------------

(cd "$here" && MAKEFLAGS='' make -s) >> "$log" 2>&1 ||
    { say "bench: building the helpers failed (see $log)"; exit 1; }

# PEM blocks in a file.
blocks()
{
	grep -c -- '-----BEGIN CERTIFICATE-----' "$1"
}

# Average DER size of the certificates in a file, from the base64 length.
der_avg()
{
	awk '/^-----BEGIN CERTIFICATE-----/ { inb = 1; n++; next }
	    /^-----END CERTIFICATE-----/ { inb = 0; next }
	    inb { gsub(/[ \r=]/, ""); b += length($0) }
	    END { if (n) printf "%d", b * 3 / 4 / n; else print 0 }' "$1"
}

# --- inputs ---------------------------------------------------------------

sum=$(cksum < "$CA_BUNDLE" | awk '{ print $1 }')
in_ca=$cache/ca-$sum.pem
in_nss=$cache/ca-root-nss-$sum.crt
in_gen=$cache/gen$GEN_N.pem
in_sub=$cache/gen$GEN_N-first$MANUAL_SUBSET.pem

if [ ! -s "$in_ca" ]; then
	# Only the PEM blocks, whatever form the system bundle has.
	awk '/^-----BEGIN CERTIFICATE-----/ { p = 1 } p { print }
	    /^-----END CERTIFICATE-----/ { p = 0 }' "$CA_BUNDLE" \
	    > "$in_ca.tmp" && mv "$in_ca.tmp" "$in_ca" || exit 1
fi
if [ ! -s "$in_nss" ]; then
	say "bench: writing $in_nss (once)"
	sh "$here/nssform.sh" "$in_ca" > "$in_nss.tmp" 2>>"$log" &&
	    mv "$in_nss.tmp" "$in_nss" || exit 1
fi
if [ ! -s "$in_gen" ]; then
	say "bench: generating $GEN_N certificates into $in_gen (once)"
	"$bin/gencerts" -n "$GEN_N" -o "$in_gen.tmp" 2>>"$log" &&
	    mv "$in_gen.tmp" "$in_gen" || exit 1
fi
if [ "$MANUAL_SUBSET" -gt 0 ] && [ ! -s "$in_sub" ]; then
	awk -v max="$MANUAL_SUBSET" '
	    /^-----BEGIN CERTIFICATE-----/ { if (++n > max) exit }
	    { print }' "$in_gen" > "$in_sub.tmp" &&
	    mv "$in_sub.tmp" "$in_sub" || exit 1
fi

# --- measuring ------------------------------------------------------------

# prep functions run before every round, untimed.  $dst is the output
# directory of the case.
#
# Old output is moved aside and deleted only at the end of the run: on an
# ext4 without a journal (as on the machine this was written on) every new
# inode is checked against the inodes deleted in the last minutes, and
# after deleting 10,000 files creating 10,000 others costs seconds of
# system time, whoever does it.
trash=$scratch/trash
ntrash=0
prep_fresh()
{
	if [ -e "$dst" ]; then
		ntrash=$((ntrash + 1))
		mkdir -p "$trash" && mv "$dst" "$trash/$ntrash" || exit 1
	fi
	rm -rf "$dst.split"
	mkdir -p "$dst" && sync
}

prep_none()
{
	:
}

# Prints "median_seconds median_rss_kib failed_rounds median_cpu_seconds"
# of a result file.
stats()
{
	awk '{ t[NR] = $1; m[NR] = $2; c[NR] = $4; if ($3 != 0) f++ }
	    function med(a, n,    i, j, x) {
		for (i = 2; i <= n; i++) {
			x = a[i]
			for (j = i - 1; j > 0 && a[j] > x; j--)
				a[j + 1] = a[j]
			a[j + 1] = x
		}
		if (n % 2)
			return (a[(n + 1) / 2])
		return ((a[n / 2] + a[n / 2 + 1]) / 2)
	    }
	    END { if (NR == 0) { print "- - 0 -"; exit }
		printf "%.6f %d %d %.6f\n", med(t, NR), med(m, NR), f + 0,
		    med(c, NR) }' "$1"
}

fmt_time()
{
	awk -v t="$1" 'BEGIN { if (t == "-") print "-";
	    else if (t >= 10) printf "%.1f s", t;
	    else if (t >= 1) printf "%.2f s", t;
	    else printf "%.1f ms", t * 1000 }'
}

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0)
	    print "-"; else printf "%.2f", a / b }'
}

# row key label resfile [scale] [note]: one line of the table; keeps the
# median time in t_<key> and the RSS in m_<key>.
row()
{
	set -- "$1" "$2" "$3" "${4:-1}" "${5:-}"
	[ -f "$3" ] || : > "$3"
	read -r _t _m _f _c <<-EOF
	$(stats "$3")
	EOF
	_r=$(wc -l < "$3" | tr -d ' ')
	_t=$(scale "$_t" "$4")
	_c=$(scale "$_c" "$4")
	_n=$5
	if [ "$_f" -gt 0 ]; then
		_t=-
		_c=-
		_m=-
		_n="FAILED in $_f of $_r rounds, see $log"
	fi
	eval "t_$1=\$_t; m_$1=\$_m"
	tab "  %-44s %10s %10s %9s %3s   %s\n" "$2" "$(fmt_time "$_t")" \
	    "$(fmt_time "$_c")" "$(awk -v m="$_m" 'BEGIN { if (m == "-")
	    print "-"; else printf "%.1f MiB", m / 1024 }')" "$_r" "$_n"
}

scale()
{
	awk -v t="$1" -v k="$2" 'BEGIN { if (t == "-") print "-";
	    else printf "%.6f", t * k }'
}

# --- smtlsd -----------------------------------------------------------------

# smtlsd_conf dir bundle: configurations touching nothing outside dir.
# smtlsd.conf names one (empty) certificate directory with acme_cert, as a
# real set-up names dehydrated's; noacme.conf has an acme_dir without any
# domain in it, so that the pass is the CA store (and dh.param) alone.
smtlsd_conf()
{
	mkdir -p "$1/acme-empty" "$1/certs" || return 1
	cat > "$1/smtlsd.conf" <<EOF
# written by bench/run.sh
ca_bundle "$2"
cert_dir "$1/certs"
dh_params_source ffdhe2048
dh_params "$1/dh.param"
acme_cert "$1/acme-empty"
reload_signal none
verify_smtp none
pidfile "$1/smtlsd.pid"
status_file "$1/smtlsd.status"
EOF
	sed 's/^acme_cert /acme_dir /' "$1/smtlsd.conf" > "$1/noacme.conf"
	chmod 600 "$1/smtlsd.conf" "$1/noacme.conf"
}

have_smtlsd=0
if [ -x "$SMTLSD" ]; then
	probe=$scratch/probe
	rm -rf "$probe" && mkdir -p "$probe/certs" &&
	    smtlsd_conf "$probe" "$in_ca" &&
	    "$SMTLSD" -1 -f "$probe/smtlsd.conf" >> "$log" 2>&1 &&
	    [ "$(ls "$probe/certs" | wc -l)" -gt 0 ] && have_smtlsd=1
	rm -rf "$probe"
	[ $have_smtlsd = 1 ] ||
	    say "bench: $SMTLSD -1 does not work yet (see $log): skipped"
else
	say "bench: $SMTLSD is not built: smtlsd cases skipped"
fi

# --- one input --------------------------------------------------------------

# m case command [arg ...]: one measured round of a case of this input.
m()
{
	_c=$1
	shift
	echo "+ $*" >> "$log"
	"$bin/measure" -o "$r-$_c" "$@" >> "$log" 2>&1
}

# bench_input key file description
#
# The fast cases run in turn, round after round, so that whatever else
# the machine is doing weighs on all of them alike.
bench_input()
{
	key=$1
	file=$2
	nb=$(blocks "$file")
	sz=$(wc -c < "$file" | tr -d ' ')
	eval "n_$key=\$nb"
	say "bench: $3 ($nb certificates)"
	tab "\n%s: %s certificates, %s bytes, %s\n" "$key" "$nb" "$sz" "$3"
	tab "  %-44s %10s %10s %9s %3s\n" "case" "wall" "cpu" "peak RSS" "n"
	w=$scratch/$key
	r=$out/res-$key
	rm -f "$r"-*
	if [ $have_smtlsd = 1 ]; then
		dst=$w/smtlsd
		prep_fresh
		smtlsd_conf "$w/smtlsd" "$file"
	fi

	# The manual method first; on a big bundle only over a subset.
	dst=$w/manual
	mfile=$file
	mnote=""
	mscale=1
	mrounds=$ROUNDS_MANUAL
	rounds=$ROUNDS
	if [ "$nb" -gt 1000 ]; then
		mrounds=1
		rounds=$ROUNDS_BIG
		if [ "$MANUAL_SUBSET" -gt 0 ]; then
			mfile=$in_sub
			sb=$(blocks "$in_sub")
			mscale=$(awk -v a="$nb" -v b="$sb" \
			    'BEGIN { printf "%.4f", a / b }')
			mnote="(*) 1 round over the first $sb, times $nb/$sb"
		fi
	fi
	i=0
	while [ $i -lt "$mrounds" ]; do
		prep_fresh
		m manual sh "$here/manual.sh" "$mfile" "$dst"
		i=$((i + 1))
	done

	i=0
	while [ $i -lt "$rounds" ]; do
		dst=$w/rehash
		prep_fresh
		m rehash sh "$here/rehash.sh" "$file" "$dst"
		dst=$w/rehashsync
		prep_fresh
		m rehashsync sh "$here/rehash.sh" -s "$file" "$dst"
		dst=$w/bare
		prep_fresh
		m bare "$bin/bare" "$file" "$dst"
		dst=$w/barename
		prep_fresh
		m barename "$bin/bare" -n "$file" "$dst"
		dst=$w/baresync
		prep_fresh
		m baresync "$bin/bare" -s "$file" "$dst"
		m readhash "$bin/bare" -r "$file"
		if [ $have_smtlsd = 1 ]; then
			dst=$w/smtlsd/certs
			prep_fresh
			m full "$SMTLSD" -1 -f "$w/smtlsd/smtlsd.conf"
			sync
			j=0
			while [ $j -lt "$NOOP_PAIRS" ]; do
				m noop "$SMTLSD" -1 -f "$w/smtlsd/smtlsd.conf"
				m readstat "$bin/bare" -r "$file" \
				    "$w/smtlsd/certs"
				m readder "$bin/bare" -r -d "$file" \
				    "$w/smtlsd/certs"
				j=$((j + 1))
			done
			prep_fresh
			m fullna "$SMTLSD" -1 -f "$w/smtlsd/noacme.conf"
			sync
			j=0
			while [ $j -lt "$NOOP_PAIRS" ]; do
				m noopna "$SMTLSD" -1 \
				    -f "$w/smtlsd/noacme.conf"
				m readder "$bin/bare" -r -d "$file" \
				    "$w/smtlsd/certs"
				j=$((j + 1))
			done
		fi
		i=$((i + 1))
	done

	row "manual_$key" "manual: split + openssl x509 -hash${mnote:+ (*)}" \
	    "$r-manual" "$mscale" "$mnote"
	row "rehash_$key" "split + openssl rehash" "$r-rehash"
	row "rehashsync_$key" "split + openssl rehash, flush" \
	    "$r-rehashsync"
	row "bare_$key" "bare C: d2i_X509, hash, write" "$r-bare"
	row "barename_$key" "bare C: subject name only, hash, write" \
	    "$r-barename"
	row "baresync_$key" "bare C: d2i_X509, hash, write, flush" \
	    "$r-baresync"
	row "readhash_$key" "bare C: read + SHA-256 per block" "$r-readhash"
	bare_names=$(ls "$w/bare" | cksum)

	eval "t_full_$key=-; t_noop_$key=-; m_full_$key=-"
	eval "t_fullna_$key=-; t_noopna_$key=-; t_readstat_$key=-"
	eval "t_readder_$key=-"
	wrote=""
	if [ $have_smtlsd = 1 ]; then
		# The floor of a no-op pass that also checks its files are
		# untouched, which smtlsd does (one lstat each); not a target.
		row "readstat_$key" \
		    "bare C: read + SHA-256 + lstat of the store" \
		    "$r-readstat"
		# The same knowing certificates by the SHA-256 of their DER
		# (base64 decoded), not of their text: issue 11's floor, the
		# no-op pass's target.
		row "readder_$key" \
		    "bare C: read + base64 + SHA-256 DER + lstat" \
		    "$r-readder"
		row "full_$key" "smtlsd -1: full pass, empty cert_dir" \
		    "$r-full"
		row "noop_$key" "smtlsd -1: no-op pass (nothing changed)" \
		    "$r-noop"
		row "fullna_$key" "smtlsd -1: full pass, acme_dir, no domain" \
		    "$r-fullna"
		row "noopna_$key" "smtlsd -1: no-op pass, acme_dir, no domain" \
		    "$r-noopna"
		same=no
		[ "$(ls "$dst" | cksum)" = "$bare_names" ] && same=yes
		# Did a no-op pass write anything?  (A second apart, for
		# file systems with coarse time stamps.)
		touch "$w/smtlsd/marker"
		sleep 1
		"$SMTLSD" -1 -f "$w/smtlsd/smtlsd.conf" >> "$log" 2>&1
		wrote=$(find "$dst" \( -newer "$w/smtlsd/marker" -o \
		    -cnewer "$w/smtlsd/marker" \) -print | wc -l | tr -d ' ')
		tab "  smtlsd's file names = bare C's: %s;" "$same"
		tab " files written by a no-op pass: %s\n" "$wrote"
	fi
	verdicts "acme_cert" full noop
	verdicts "no domain" fullna noopna
}

# verdicts label full noop: ratios and targets of one smtlsd configuration
# of the current input.
verdicts()
{
	[ $have_smtlsd = 1 ] || return 0
	eval "tf=\$t_$2_$key tn=\$t_$3_$key tb=\$t_bare_$key" \
	    "tbs=\$t_baresync_$key trs=\$t_rehashsync_$key" \
	    "tr=\$t_rehash_$key th=\$t_readhash_$key tm=\$t_manual_$key" \
	    "ts=\$t_readstat_$key td=\$t_readder_$key"
	tab "  smtlsd (%s) / alternative: full/bare %s, full/bare+flush %s," \
	    "$1" "$(ratio "$tf" "$tb")" "$(ratio "$tf" "$tbs")"
	tab " full/rehash %s, full/rehash+flush %s," "$(ratio "$tf" "$tr")" \
	    "$(ratio "$tf" "$trs")"
	tab " full/manual %s, no-op/read+hash %s, no-op/rehash %s," \
	    "$(ratio "$tf" "$tm")" "$(ratio "$tn" "$th")" \
	    "$(ratio "$tn" "$tr")"
	tab " no-op/read+hash+lstat %s, no-op/read+b64+hash+lstat %s\n" \
	    "$(ratio "$tn" "$ts")" "$(ratio "$tn" "$td")"
	tab "    targets: full <= 1.2 x bare %s, full < rehash %s," \
	    "$(verdict "$tf" "$tb" 1.2)" "$(verdict "$tf" "$tr" 1)"
	tab " no-op <= 1.3 x read+b64+hash+lstat %s, no-op writes nothing" \
	    "$(verdict "$tn" "$td" 1.3)"
	tab " %s\n" \
	    "$([ "$wrote" = 0 ] && echo met || echo MISSED)"
	tab "    the same, all as durable as smtlsd's: full <= 1.2 x bare+flush"
	tab " %s, full < rehash+flush %s\n" "$(verdict "$tf" "$tbs" 1.2)" \
	    "$(verdict "$tf" "$trs" 1)"
}

# verdict a b k: "met" when a <= k * b.
verdict()
{
	awk -v a="$1" -v b="$2" -v k="$3" 'BEGIN { if (a == "-" || b == "-")
	    print "-"; else if (a <= k * b) print "met"; else print "MISSED" }'
}

# --- the run ------------------------------------------------------------------

started=$(date +%s)
rm -rf "$trash"
tab "smtlsd benchmark, %s\n" "$(date -u '+%Y-%m-%d %H:%M UTC')"
tab "machine: %s %s %s, %s CPUs, %s\n" "$(uname -s)" "$(uname -r)" \
    "$(uname -m)" "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')" \
    "$(openssl version | cut -d' ' -f1-2)"
tab "scratch: %s (%s)\n" "$scratch" \
    "$(df -T "$scratch" 2>/dev/null | awk 'NR == 2 { print $2 }')"
tab "smtlsd: %s (git %s)\n" "$SMTLSD" \
    "$(git -C "$top" describe --always --dirty 2>/dev/null || echo '?')"
tab "command: make bench (sh bench/run.sh); rounds %s (%s on gen, %s manual);" \
    "$ROUNDS" "$ROUNDS_BIG" "$ROUNDS_MANUAL"
tab " medians of wall-clock and CPU time, peak RSS from wait4\n"
load=$(uptime | sed 's/.*load average[s]*: *//')
tab "load average at start: %s" "$load"
awk -v l="${load%%,*}" -v n="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)" \
    'BEGIN { exit !(l + 0 > n / 4) }' &&
    tab " -- the machine is busy: the wall-clock times are noisy"
tab "\n"

n_ca=0
n_gen=0
m_full_ca=-
m_full_gen=-
m_fullna_ca=-
m_fullna_gen=-
for i in $INPUTS; do
	case $i in
	ca)	bench_input ca "$in_ca" \
		    "system bundle ($CA_BUNDLE), PEM blocks only" ;;
	nss)	bench_input nss "$in_nss" \
		    "the same in ca-root-nss.crt form (text dumps)" ;;
	gen)	bench_input gen "$in_gen" \
		    "generated by bench/gencerts (bench/cache)" ;;
	*)	say "bench: unknown input $i" ;;
	esac
done

# Memory: peak RSS against the certificate data.  growth = extra RSS per
# extra certificate between the ca input and the generated one.
memline()
{
	awk -v label="$1" -v mg="$2" -v mc="$3" -v ng="$n_gen" -v nc="$n_ca" \
	    'BEGIN { if (mg == "-" || mc == "-") exit
		printf "  %-36s %6.1f MiB at %d, %6.1f MiB at %d:" \
		    " %5d bytes/cert, growth %5d bytes/cert\n", label,
		    mg / 1024, ng, mc / 1024, nc, mg * 1024 / ng,
		    (mg - mc) * 1024 / (ng - nc) }' >> "$table"
}
if [ "$n_gen" -gt 0 ] && [ "$n_ca" -gt 0 ]; then
	tab "\nmemory (peak RSS of full passes; a certificate is %s bytes DER," \
	    "$(der_avg "$in_gen")"
	tab " %s bytes PEM):\n" "$(awk -v s="$(wc -c < "$in_gen")" \
	    -v n="$n_gen" 'BEGIN { printf "%d", s / n }')"
	memline "smtlsd -1 (acme_cert)" "$m_full_gen" "$m_full_ca"
	memline "smtlsd -1 (acme_dir, no domain)" "$m_fullna_gen" \
	    "$m_fullna_ca"
	memline "bare C: d2i_X509, hash, write" "$m_bare_gen" "$m_bare_ca"
	memline "split + openssl rehash" "$m_rehash_gen" "$m_rehash_ca"
else
	tab "\nmemory: not measured (needs the inputs ca and gen)\n"
fi

# How a pass grows with domain directories and with certificates under
# one hash (bench/scale.sh).
if [ $have_smtlsd = 1 ] && [ "${SCALE:-1}" != 0 ]; then
	say "bench: scale (domain directories, one hash)"
	tab "\nscale (smtlsd -1, no-op passes, medians of %s; ca input):\n" \
	    "$ROUNDS_BIG"
	sh "$here/scale.sh" "$SMTLSD" "$bin" "$scratch" "$in_ca" \
	    "$ROUNDS_BIG" >> "$table"
else
	tab "\nscale: not measured\n"
fi

# The running daemon: reaction to a bundle change and to a renewal, and
# system calls while idle (bench/daemon.sh).
if [ $have_smtlsd = 1 ] && [ "${DAEMON:-1}" != 0 ]; then
	say "bench: the running daemon (idle for ${IDLE_SECONDS:-60} s)"
	tab "\ndaemon (smtlsd -d, CA store from the ca input):\n"
	sh "$here/daemon.sh" "$SMTLSD" "$bin" "$scratch" "$in_ca" >> "$table"
	cat "$scratch/daemon/log" >> "$log" 2>/dev/null
else
	tab "\ndaemon: not measured\n"
fi

rm -rf "$scratch"
tab "\nrun took %s s; command output in %s\n" \
    "$(( $(date +%s) - started ))" "$log"
cp "$table" "$results" && rm -f "$table"
cat "$results"
