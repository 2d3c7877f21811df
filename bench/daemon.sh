#!/bin/sh
# The running daemon: reaction times and idleness.  Called by run.sh.
#
# usage: sh daemon.sh smtlsd bindir scratchdir bundle
#
# Starts `smtlsd -d' on a configuration under scratchdir (CA store from
# bundle plus a private test root, one dehydrated-style certificate
# directory, reload_command that leaves a marker file), then measures:
#  - bundle: the bundle replaced (rename) with one certificate more or
#    less; time from that rename to the new <hash>.N appearing or the old
#    one going, and to status_file being rewritten (the pass finished);
#  - renewal: a dehydrated renewal replayed (new timestamped files, then
#    the links swapped by rename, cert.pem last); time from the last swap
#    to reload_command having run (its marker file appearing);
#  - idle: system calls of the daemon over IDLE_SECONDS with nothing
#    changing (strace -c on Linux, truss -c on FreeBSD), and its RSS.
# Prints the lines of its part of the table on stdout; the daemon's log
# and the tools' output go to scratchdir/daemon/log.
#
# Environment: SETTLE (seconds, default 0.5), LAT_ROUNDS (default 5),
# IDLE_SECONDS (default 60; 0 skips the idle measurement).

set -u
[ $# -eq 4 ] || { echo "usage: sh daemon.sh smtlsd bindir scratch bundle" >&2
    exit 2; }
smtlsd=$1
bin=$2
d=$3/daemon
bundle=$4
SETTLE=${SETTLE:-0.5}
LAT_ROUNDS=${LAT_ROUNDS:-5}
IDLE_SECONDS=${IDLE_SECONDS:-60}
dom=mail.example.test
live=$d/base/certs/$dom
log=$d/log
pid=""

rm -rf "$d"
# The bundle, the run files and the trace each in a directory of their
# own: the daemon watches the bundle's directory, and files written next to
# it during the idle measurement would wake it up.
mkdir -p "$d/pki" "$d/certs" "$d/in" "$d/run" "$live" || exit 1
: > "$log"

stop()
{
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=""
	fi
}
trap 'stop' EXIT
trap 'exit 1' INT TERM

fail()
{
	echo "  daemon: not measured: $* (see $log)"
	exit 0
}

# waitfor seconds command...: poll every 0.1 s until it succeeds.
waitfor()
{
	_w=$(awk -v s="$1" 'BEGIN { printf "%d", s * 10 }')
	shift
	while ! "$@" 2>/dev/null; do
		[ "$_w" -le 0 ] && return 1
		_w=$((_w - 1))
		sleep 0.1
	done
}

status_ok()
{
	awk -v p="$1" '$2 >= p && $5 == "ok" { f = 1 } END { exit !f }' \
	    "$d/run/smtlsd.status"
}

median()
{
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-";
	    else if (NR % 2) printf "%.1f", v[(NR + 1) / 2];
	    else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- a small PKI: root (in the bundle), intermediate, leaves -------------
{
cat > "$d/pki/ext.cnf" <<EOF
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[int]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$dom
authorityKeyIdentifier = keyid
EOF
cd "$d/pki" &&
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout root.key -out root.pem -days 3650 -subj "/CN=smtlsd bench root" \
    -config ext.cnf -extensions ca &&
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout int.key -out int.csr -subj "/CN=smtlsd bench intermediate" &&
openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -set_serial 2 \
    -days 3650 -out int.pem -extfile ext.cnf -extensions int &&
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout extra.key -out extra.pem -days 3650 \
    -subj "/CN=smtlsd bench extra root" -config ext.cnf -extensions ca
} >> "$log" 2>&1 || fail "openssl could not make the test certificates"

# leaf ts: a renewal's four files in $live, named with timestamp ts.
leaf()
{
	(cd "$d/pki" &&
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$live/privkey-$1.pem" -out "leaf-$1.csr" \
	    -subj "/CN=$dom" &&
	openssl x509 -req -in "leaf-$1.csr" -CA int.pem -CAkey int.key \
	    -set_serial "$1" -days 90 -out "$live/cert-$1.pem" \
	    -extfile ext.cnf -extensions leaf &&
	cp int.pem "$live/chain-$1.pem" &&
	cat "$live/cert-$1.pem" int.pem > "$live/fullchain-$1.pem") \
	    >> "$log" 2>&1
}

# links ts: new links for timestamp ts at temporary names, and the -r
# arguments of lat that swap them in, cert.pem last as dehydrated does.
links()
{
	swaps=""
	for f in chain fullchain privkey cert; do
		ln -s "$f-$1.pem" "$live/.new.$f.pem" || return 1
		swaps="$swaps -r $live/.new.$f.pem:$live/$f.pem"
	done
}

ts=1700000000
leaf $ts || fail "openssl could not make a leaf certificate"
for f in chain fullchain privkey cert; do
	ln -s "$f-$ts.pem" "$live/$f.pem"
done

# Two bundles: A = the input plus the test root, B = A plus one more.
cat "$bundle" "$d/pki/root.pem" > "$d/bundle-a.pem"
cat "$d/bundle-a.pem" "$d/pki/extra.pem" > "$d/bundle-b.pem"
cp "$d/bundle-a.pem" "$d/in/bundle.pem"
extra=$d/certs/$(openssl x509 -hash -noout -in "$d/pki/extra.pem").0

cat > "$d/smtlsd.conf" <<EOF
ca_bundle "$d/in/bundle.pem"
cert_dir "$d/certs"
dh_params_source ffdhe2048
dh_params "$d/dh.param"
acme_cert "$live"
settle $SETTLE
reload_command ": > $d/run/reloaded"
verify_smtp none
pidfile "$d/run/smtlsd.pid"
status_file "$d/run/smtlsd.status"
EOF
chmod 600 "$d/smtlsd.conf"

"$smtlsd" -d -f "$d/smtlsd.conf" >> "$log" 2>&1 &
pid=$!
waitfor 60 status_ok 1 || fail "the daemon's first pass did not finish"
# Let a reload for the initial set (if the daemon makes one) go by.
sleep 1
waitfor 10 status_ok 1 || fail "the daemon is not ok after its first pass"
rm -f "$d/run/reloaded"

# --- bundle changes --------------------------------------------------------
vis=""
done_=""
i=0
while [ $i -lt "$LAT_ROUNDS" ]; do
	if [ $((i % 2)) -eq 0 ]; then
		cp "$d/bundle-b.pem" "$d/in/bundle.new" && want="-e $extra"
	else
		cp "$d/bundle-a.pem" "$d/in/bundle.new" && want="-g $extra"
	fi
	sync
	# shellcheck disable=SC2086 # $want is two words
	r=$("$bin/lat" -t 30 -r "$d/in/bundle.new:$d/in/bundle.pem" $want \
	    -c "$d/run/smtlsd.status") || fail "a bundle change was not applied"
	echo "bundle round $i: $r" | tr '\n' ' ' >> "$log"
	echo >> "$log"
	vis="$vis $(echo "$r" | awk 'NR == 1 { print $1 }')"
	done_="$done_ $(echo "$r" | awk 'NR == 2 { print $1 }')"
	waitfor 10 status_ok 1 || fail "a pass after a bundle change failed"
	i=$((i + 1))
done
mv=$(echo "$vis" | tr ' ' '\n' | grep . | median)
md=$(echo "$done_" | tr ' ' '\n' | grep . | median)

# --- renewals ----------------------------------------------------------------
sig=""
i=0
while [ $i -lt "$LAT_ROUNDS" ]; do
	ts=$((ts + 100))
	if ! leaf $ts || ! links $ts; then
		fail "could not prepare a renewal"
	fi
	sync
	# shellcheck disable=SC2086 # $swaps is a list of -r arguments
	r=$("$bin/lat" -t 30 $swaps -e "$d/run/reloaded") ||
	    fail "a renewal did not lead to a reload"
	echo "renewal round $i: $r" >> "$log"
	sig="$sig ${r%% *}"
	rm -f "$d/run/reloaded"
	waitfor 10 status_ok 1 || fail "a pass after a renewal failed"
	i=$((i + 1))
done
ms=$(echo "$sig" | tr ' ' '\n' | grep . | median)

settle_ms=$(awk -v s="$SETTLE" 'BEGIN { printf "%d", s * 1000 }')
verdict()
{
	awk -v v="$1" -v lim="$((settle_ms + 50))" 'BEGIN { if (v == "-")
	    print "-"; else if (v <= lim) print "met"; else print "MISSED" }'
}
printf "  settle %s s; medians of %s rounds, from the last write to:\n" \
    "$SETTLE" "$LAT_ROUNDS"
printf "  %-56s %8s ms   target <= %d ms: %s\n" \
    "bundle replaced -> <hash>.N added/removed" "$mv" \
    $((settle_ms + 50)) "$(verdict "$mv")"
printf "  %-56s %8s ms\n" "bundle replaced -> pass finished (status_file)" \
    "$md"
printf "  %-56s %8s ms   target <= %d ms: %s\n" \
    "renewal (cert.pem swapped last) -> reload_command ran" "$ms" \
    $((settle_ms + 50)) "$(verdict "$ms")"

# --- idle ---------------------------------------------------------------------
sleep 1
rss=$(ps -o rss= -p "$pid" | tr -d ' ')
mkdir -p "$d/trace"
trace=$d/trace/idle
tool=""
if [ "$IDLE_SECONDS" = 0 ]; then
	:	# a tracer stopped as soon as started may not have attached
elif command -v strace > /dev/null 2>&1; then
	tool=strace
	tasks=""
	for t in /proc/"$pid"/task/*; do
		tasks="$tasks -p ${t##*/}"
	done
	# shellcheck disable=SC2086 # $tasks is a list of -p arguments
	strace -c -f -o "$trace" $tasks 2>> "$log" &
elif command -v truss > /dev/null 2>&1; then
	tool=truss
	truss -c -f -o "$trace" -p "$pid" 2>> "$log" &
fi
if [ "$IDLE_SECONDS" = 0 ]; then
	printf "  idle: not measured (IDLE_SECONDS=0); RSS %s KiB\n" "${rss:-?}"
elif [ -n "$tool" ]; then
	tpid=$!
	sleep "$IDLE_SECONDS"
	kill -INT "$tpid" 2>/dev/null
	wait "$tpid" 2>/dev/null
	cat "$trace" >> "$log"
	# strace: "100.00 s usecs calls [errors] total"; truss: "... total".
	calls=$(awk '$NF == "total" { print ($1 ~ /%|\./) ? $4 : $3 }
	    ' "$trace" | head -n 1)
	names=$(awk '$NF != "total" && $NF ~ /^[a-z_0-9]+$/ && NF >= 4 &&
	    $1 ~ /^[0-9.]+$/ { printf "%s%s", sep, $NF; sep = " " }' \
	    "$trace")
	printf "  idle %s s (%s -c): %s system calls%s; RSS %s KiB\n" \
	    "$IDLE_SECONDS" "$tool" "${calls:-0}" \
	    "${names:+ ($names)}" \
	    "${rss:-?}"
else
	printf "  idle: no strace or truss; RSS %s KiB\n" "${rss:-?}"
fi
stop
