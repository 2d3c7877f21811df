#!/bin/sh
# Replays one dehydrated renewal in a certs/<domain>/ directory, file by
# file, in dehydrated's order and timing as measured (../shared/E2E.md):
#
#	    0 ms  privkey-TS.pem written (TS = unix time)
#	   17 ms  cert-TS.csr written
#	   20 ms  cert-TS.pem created, left EMPTY for ~4 s (-w)
#	 4078 ms  leaf + intermediate written into cert-TS.pem
#	 4088 ms  renamed to fullchain-TS.pem; new cert-TS.pem (leaf),
#		  chain-TS.pem
#	 4101 ms  links replaced: privkey.pem, chain.pem, fullchain.pem,
#		  cert.csr
#	 4109 ms  cert.pem replaced last; the deploy hook runs ~4 ms later
#
# Files are mode 0600.  Links are relative, as dehydrated makes them.
#
# usage: dehydrated_replay.sh [-s debian|freebsd] [-w SEC] [-l LOCK]
#	     [-L SEC] [-P SEC] [-t TIMELINE] [-T TS] [-F]
#	     DOMAINDIR KEY CERT CHAIN
#   KEY, CERT, CHAIN  PEM files: the new private key, the new leaf, the
#		      intermediate(s)
#   -s debian	each link replaced atomically: a new link under a temp
#		name, then mv -f (rename) over the old one (default)
#   -s freebsd	each link deleted, then created (FreeBSD's ln -sf): the
#		name is briefly missing
#   -w SEC	how long cert-TS.pem stays empty (default 4)
#   -l LOCK	hold dehydrated's lock file (BASEDIR/lock) for the whole run
#   -L SEC	keep holding it this long after cert.pem (default 0.004)
#   -t FILE	append "STEP SECONDS.NANOSECONDS" for every step to FILE
#   -T TS	the timestamp (default: now, or one more than the newest
#		in DOMAINDIR if that is not older)
#   -F		a failed run: the key, the csr and the empty cert-TS.pem,
#		then nothing; no link changes
#   -P SEC	a slow run: pause SEC before each link is replaced and, in
#		the FreeBSD style, between deleting and creating it, so
#		that every half-done state lasts that long
# Exits 0, or 2 on a usage error.

set -eu
umask 077

style=debian
emptywait=4
lock=""
lockhold=0.004
timeline=/dev/null
ts=""
failed=0
pause=0

usage()
{
	echo "usage: dehydrated_replay.sh [-s debian|freebsd] [-w SEC]" \
	    "[-l LOCK] [-L SEC] [-P SEC] [-t TIMELINE] [-T TS] [-F]" \
	    "DOMAINDIR KEY CERT CHAIN" >&2
	exit 2
}

while getopts Fl:L:P:s:t:T:w: opt; do
	case $opt in
	F)	failed=1 ;;
	l)	lock=$OPTARG ;;
	L)	lockhold=$OPTARG ;;
	P)	pause=$OPTARG ;;
	s)	style=$OPTARG ;;
	t)	timeline=$OPTARG ;;
	T)	ts=$OPTARG ;;
	w)	emptywait=$OPTARG ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 4 ] || usage
case $style in debian|freebsd) ;; *) usage ;; esac
dir=$1 key=$2 cert=$3 chain=$4
for f in "$key" "$cert" "$chain"; do
	[ -r "$f" ] || { echo "dehydrated_replay: cannot read $f" >&2; exit 2; }
done
mkdir -p "$dir"

if date +%N | grep -q '^[0-9]\{9\}$'; then
	now() { date +%s.%N; }
else
	now() { perl -MTime::HiRes=time -e 'printf "%.9f\n", time'; }
fi

step()
{
	echo "$1 $(now)" >>"$timeline"
}

# The newest timestamp among the files dehydrated made in the directory.
newest()
{
	# shellcheck disable=SC2012 # dehydrated's names are plain
	ls "$dir" 2>/dev/null | sed -n 's/^[a-z]*-\([0-9][0-9]*\)\.[a-z]*$/\1/p' |
	    sort -n | tail -1
}

if [ -z "$ts" ]; then
	ts=$(date +%s)
	last=$(newest)
	if [ -n "$last" ] && [ "$last" -ge "$ts" ]; then
		ts=$((last + 1))
	fi
fi

# relink NAME TARGET: points NAME at TARGET, in the chosen style.
relink()
{
	[ "$pause" = 0 ] || sleep "$pause"
	if [ "$style" = debian ]; then
		ln -s "$2" "$dir/.$1.tmp.$$"
		mv -f "$dir/.$1.tmp.$$" "$dir/$1"
	else
		rm -f "$dir/$1"
		[ "$pause" = 0 ] || { step "unlink-$1"; sleep "$pause"; }
		ln -s "$2" "$dir/$1"
	fi
	step "link-$1"
}

if [ -n "$lock" ]; then
	: >"$lock"
	step lock
fi
step start

cat "$key" >"$dir/privkey-$ts.pem"
step privkey
sleep 0.017
printf '%s\n' "-----BEGIN CERTIFICATE REQUEST-----" \
    "(replayed by smtlsd's tests)" "-----END CERTIFICATE REQUEST-----" \
    >"$dir/cert-$ts.csr"
step csr
sleep 0.003
: >"$dir/cert-$ts.pem"
step empty-cert

if [ "$failed" -eq 1 ]; then
	step failed
	[ -z "$lock" ] || { rm -f "$lock"; step unlock; }
	exit 0
fi

sleep "$emptywait"
cat "$cert" "$chain" >"$dir/cert-$ts.pem"
step cert-written
sleep 0.010
mv "$dir/cert-$ts.pem" "$dir/fullchain-$ts.pem"
cat "$cert" >"$dir/cert-$ts.pem"
cat "$chain" >"$dir/chain-$ts.pem"
step split
sleep 0.013
relink privkey.pem "privkey-$ts.pem"
relink chain.pem "chain-$ts.pem"
relink fullchain.pem "fullchain-$ts.pem"
relink cert.csr "cert-$ts.csr"
sleep 0.008
relink cert.pem "cert-$ts.pem"
step end
if [ -n "$lock" ]; then
	sleep "$lockhold"
	rm -f "$lock"
	step unlock
fi
exit 0
