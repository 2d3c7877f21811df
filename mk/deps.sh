#!/bin/sh
# Install what building and testing smtlsd needs, if it is missing.
# Usage: sh mk/deps.sh [check] group...
#   groups: build test e2e bench fuzz freebsd
# Debian uses apt-get, FreeBSD uses pkg.  Only installs as root; otherwise
# names the missing packages and fails.  "check" installs nothing, even as
# root: it names what is missing and how to install it, and fails (plain
# make does this before it compiles anything).
# The freebsd group (make check-freebsd, tests/freebsd_test.sh) also wants
# zig, from PyPI's ziglang package (pip); when that cannot be installed,
# this says what failed and goes on: the gate's tests then fail, saying so.

set -u

os=$(uname -s)
check=no
if [ "${1:-}" = check ]; then
	check=yes
	shift
fi
want=""
zig=no
for g in "$@"; do
	case "$os:$g" in
	Linux:build)	want="$want gcc make pkg-config libssl-dev libevent-dev libbsd-dev" ;;
	Linux:test)	want="$want libatf-dev atf-sh kyua bmake clang libclang-rt-14-dev openssl mandoc shellcheck strace systemd valgrind python3" ;;
	Linux:e2e)	want="$want m4 liblockfile1 libwrap0 libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2 mount openssl pebble dehydrated curl socat util-linux iproute2" ;;
	Linux:bench)	want="$want openssl strace" ;;
	Linux:fuzz)	want="$want clang libclang-rt-14-dev" ;;
	Linux:freebsd)	want="$want binutils python3-pip"; zig=yes ;;
	FreeBSD:build)	want="$want pkgconf libevent" ;;
	FreeBSD:test)	want="$want atf kyua valgrind python3" ;;
	FreeBSD:e2e)	want="$want pebble dehydrated curl socat" ;;
	FreeBSD:bench)	;;
	FreeBSD:fuzz)	;;
	FreeBSD:freebsd) ;;
	*)		echo "deps.sh: unknown group '$g' on $os" >&2; exit 2 ;;
	esac
done

# A system without the package tool this knows: nothing to say.
case "$os" in
Linux)	command -v dpkg-query >/dev/null 2>&1 || exit 0 ;;
FreeBSD) command -v pkg >/dev/null 2>&1 || exit 0 ;;
*)	exit 0 ;;
esac

missing=""
for p in $want; do
	# A missing compiler or make says so itself.
	case "$check:$p" in
	yes:gcc|yes:make) continue ;;
	esac
	case "$os" in
	Linux)	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p" ;;
	FreeBSD) pkg info -e "$p" 2>/dev/null || missing="$missing $p" ;;
	esac
done

# zig for the FreeBSD gate: python3 -m ziglang, installed by pip.
zig()
{
	[ "$zig" = yes ] || return 0
	python3 -m ziglang version >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "smtlsd: zig is missing (make check-freebsd needs it):" \
		    "pip install ziglang" >&2
		return 0
	fi
	echo "smtlsd: installing: ziglang (pip, for make check-freebsd)"
	_log=$(mktemp) || return 0
	# Debian's pip refuses to touch the system's Python (PEP 668)
	# unless told; ziglang is one self-contained package.
	if python3 -m pip install -q ziglang >"$_log" 2>&1 ||
	    python3 -m pip install -q --break-system-packages ziglang \
	    >"$_log" 2>&1; then
		python3 -m ziglang version >/dev/null 2>&1 && {
			rm -f "$_log"
			return 0
		}
		echo "smtlsd: pip installed ziglang, but" \
		    "\"python3 -m ziglang version\" does not run" >>"$_log"
	fi
	echo "smtlsd: \"python3 -m pip install ziglang\" failed:" >&2
	tail -n 5 "$_log" | sed 's/^/smtlsd:   /' >&2
	echo "smtlsd: going on without zig; make check-freebsd and" \
	    "tests/freebsd_test.sh will fail" >&2
	rm -f "$_log"
	return 0
}

if [ -z "$missing" ]; then
	[ "$check" = yes ] || zig
	exit 0
fi

if [ "$check" = yes ]; then
	echo "smtlsd: cannot build: missing packages:$missing" >&2
	case "$os" in
	Linux)	echo "smtlsd: install them with" \
		    "\"apt-get install$missing\", or \"make deps\" as root" >&2 ;;
	FreeBSD) echo "smtlsd: install them with" \
		    "\"pkg install$missing\", or \"make deps\" as root" >&2 ;;
	esac
	exit 1
fi

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
[ $rc -eq 0 ] && zig
exit $rc
