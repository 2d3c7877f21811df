#!/bin/sh
# Install what building and testing smtlsd needs, if it is missing.
# Usage: sh mk/deps.sh group...   (groups: build test e2e bench fuzz)
# Debian uses apt-get, FreeBSD uses pkg.  Only installs as root; otherwise
# names the missing packages and fails.

set -u

os=$(uname -s)
want=""
for g in "$@"; do
	case "$os:$g" in
	Linux:build)	want="$want gcc make pkg-config libssl-dev libevent-dev libbsd-dev" ;;
	Linux:test)	want="$want libatf-dev atf-sh kyua bmake clang libclang-rt-14-dev openssl mandoc shellcheck strace systemd valgrind" ;;
	Linux:e2e)	want="$want m4 liblockfile1 libwrap0 libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2 mount openssl pebble dehydrated curl socat util-linux iproute2" ;;
	Linux:bench)	want="$want openssl strace" ;;
	Linux:fuzz)	want="$want clang libclang-rt-14-dev" ;;
	FreeBSD:build)	want="$want pkgconf libevent" ;;
	FreeBSD:test)	want="$want atf kyua valgrind" ;;
	FreeBSD:e2e)	want="$want pebble dehydrated curl socat" ;;
	FreeBSD:bench)	;;
	FreeBSD:fuzz)	;;
	*)		echo "deps.sh: unknown group '$g' on $os" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	case "$os" in
	Linux)	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p" ;;
	FreeBSD) pkg info -e "$p" 2>/dev/null || missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "smtlsd: missing packages:$missing" >&2
	echo "smtlsd: install them as root, or run this target as root" >&2
	exit 1
fi
echo "smtlsd: installing:$missing"
case "$os" in
Linux)
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null &&
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	;;
FreeBSD)
	env ASSUME_ALWAYS_YES=yes pkg install -y $missing >/dev/null
	;;
esac
rc=$?
[ $rc -eq 0 ] || echo "smtlsd: installing$missing failed" >&2
exit $rc
