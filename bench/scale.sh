#!/bin/sh
# How one pass grows with what someone else may pile up: domain
# directories (dehydrated's owner can make thousands) and certificates
# under one subject hash (a bundle may hold many of one name).  For each,
# smtlsd -1 at n and at 10 n: a ratio near 10 is linear, near 100
# quadratic.  Prints table lines; run by bench/run.sh.
#
# usage: sh scale.sh SMTLSD BINDIR SCRATCH CA_BUNDLE ROUNDS
#   SCALE_DOMAINS="1000 10000"    domain directories
#   SCALE_HASH="300 3000"         certificates of one subject

set -u
smtlsd=$1 bin=$2 w=$3/scale ca=$4 rounds=$5
SCALE_DOMAINS=${SCALE_DOMAINS:-1000 10000}
SCALE_HASH=${SCALE_HASH:-300 3000}

rm -rf "$w" && mkdir -p "$w" || exit 1

# conf DIR BUNDLE MAXDOMAINS: a configuration touching nothing outside DIR.
conf()
{
	mkdir -p "$1/certs" "$1/le/certs" || return 1
	cat > "$1/smtlsd.conf" <<EOF
# written by bench/scale.sh
ca_bundle "$2"
cert_dir "$1/certs"
acme_dir "$1/le/certs"
max_domains $3
dh_params_source ffdhe2048
dh_params "$1/dh.param"
reload_signal none
verify_smtp none
pidfile "$1/smtlsd.pid"
status_file "$1/smtlsd.status"
EOF
	chmod 600 "$1/smtlsd.conf"
}

# median FILE: the median of the first column.
median()
{
	sort -n "$1" | awk '{ t[NR] = $1 } END { if (NR == 0) print "-";
	    else if (NR % 2) print t[(NR + 1) / 2];
	    else print (t[NR / 2] + t[NR / 2 + 1]) / 2 }'
}

# run KEY DIR: ROUNDS no-op passes of DIR's configuration (after one that
# fills cert_dir), the median in t_KEY.
run()
{
	"$smtlsd" -1 -f "$2/smtlsd.conf" >/dev/null 2>&1
	: > "$w/$1.res"
	_i=0
	while [ $_i -lt "$rounds" ]; do
		"$bin/measure" -o "$w/$1.res" "$smtlsd" -1 -f "$2/smtlsd.conf" \
		    >/dev/null 2>&1
		_i=$((_i + 1))
	done
	eval "t_$1=\$(median \"\$w/\$1.res\")"
}

ms()
{
	awk -v t="$1" 'BEGIN { if (t == "-") print "-";
	    else printf "%.1f ms", t * 1000 }'
}

line()
{
	awk -v a="$2" -v b="$3" -v l="$1" 'BEGIN {
	    r = (a == "-" || b == "-" || a == 0) ? "-" : sprintf("%.1f", b / a);
	    printf "  %-52s %s\n", l, r }'
}

set -- $SCALE_DOMAINS
d1=$1 d2=$2
for n in "$d1" "$d2"; do
	c=$w/dom$n
	conf "$c" "$ca" "$n" || exit 1
	# Each directory as dehydrated leaves one it has not filled yet.
	i=0
	while [ $i -lt "$n" ]; do
		mkdir "$c/le/certs/d$i.example.test"
		i=$((i + 1))
	done
	run "dom$n" "$c"
	eval "t=\$t_dom$n"
	printf "  %-52s %10s\n" "pass with $n domain directories (waiting)" \
	    "$(ms "$t")"
done
eval "a=\$t_dom$d1 b=\$t_dom$d2"
line "ratio $d2 / $d1 domains (linear 10, quadratic 100)" "$a" "$b"

set -- $SCALE_HASH
h1=$1 h2=$2
for n in "$h1" "$h2"; do
	c=$w/hash$n
	conf "$c" "$c/one.pem" 1 || exit 1
	"$bin/gencerts" -1 -n "$n" -o "$c/one.pem" 2>/dev/null || exit 1
	run "hash$n" "$c"
	eval "t=\$t_hash$n"
	printf "  %-52s %10s\n" "no-op pass, $n certificates under one hash" \
	    "$(ms "$t")"
done
eval "a=\$t_hash$h1 b=\$t_hash$h2"
line "ratio $h2 / $h1 under one hash (linear 10, quadratic 100)" "$a" "$b"
rm -rf "$w"
