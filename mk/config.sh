#!/bin/sh
# Prints build settings for this platform, for the Makefile's != lines.
# Usage: sh mk/config.sh cflags|libs|osdep|watch
#
# OpenSSL and libevent come, in this order of preference, from
# OPENSSL_CFLAGS/OPENSSL_LIBS and LIBEVENT_CFLAGS/LIBEVENT_LIBS in the
# environment (a port passes USES=ssl's OPENSSLINC/OPENSSLLIB this way),
# from pkg-config, or from a fallback.  FreeBSD's base OpenSSL may have no
# .pc file: the fallback takes ports' OpenSSL when its headers and library
# are both in LOCALBASE, base's otherwise, and never one's headers with
# the other's libraries.  With base's OpenSSL, LOCALBASE/include (which
# libevent needs) is searched after the system's headers, so that a
# port's OpenSSL headers there cannot shadow base's.
#
# SMTLSD_OS (FreeBSD or Linux) overrides uname -s, LOCALBASE (default
# /usr/local) and PKG_CONFIG (default pkg-config) the obvious things, for
# the FreeBSD gate (mk/check-freebsd.sh) and the tests.

os=${SMTLSD_OS:-$(uname -s)}
lb=${LOCALBASE:-/usr/local}
pkgconfig=${PKG_CONFIG:-pkg-config}
case "$os" in
Linux)	osdep=linux watch=inotify extra="-D_GNU_SOURCE -DLIBBSD_NETBSD_VIS" ;;
*)	osdep=bsd watch=kqueue extra="" ;;
esac

# pc --cflags|--libs package: what pkg-config says, or nothing (status 1).
pc()
{
	"$pkgconfig" "$1" "$2" 2>/dev/null
}

# openssl --cflags|--libs
openssl()
{
	if [ -n "${OPENSSL_CFLAGS+set}${OPENSSL_LIBS+set}" ]; then
		case "$1" in
		--cflags) echo "${OPENSSL_CFLAGS:-}" ;;
		--libs)	echo "${OPENSSL_LIBS:--lssl -lcrypto}" ;;
		esac
		return
	fi
	pc "$1" openssl && return
	if [ "$os" != Linux ] && [ -r "$lb/include/openssl/opensslv.h" ] &&
	    { [ -e "$lb/lib/libssl.so" ] || [ -e "$lb/lib/libssl.a" ]; }; then
		# Ports' OpenSSL, headers and libraries.
		case "$1" in
		--cflags) echo "-I$lb/include" ;;
		--libs)	echo "-L$lb/lib -lssl -lcrypto" ;;
		esac
		return
	fi
	# Base's (or the system's).  On FreeBSD -L/usr/lib comes first, so
	# that a libssl in LOCALBASE/lib (named by libevent's -L) is not
	# linked against base's headers.
	case "$os:$1" in
	Linux:--libs) echo "-lssl -lcrypto" ;;
	*:--libs) echo "-L/usr/lib -lssl -lcrypto" ;;
	esac
}

# libevent --cflags|--libs: libevent and its OpenSSL part (the STARTTLS
# probe's bufferevent_openssl); FreeBSD's devel/libevent has both.
libevent()
{
	if [ -n "${LIBEVENT_CFLAGS+set}${LIBEVENT_LIBS+set}" ]; then
		case "$1" in
		--cflags) echo "${LIBEVENT_CFLAGS:-}" ;;
		--libs)	echo "${LIBEVENT_LIBS:--levent_openssl -levent}" ;;
		esac
		return
	fi
	pc "$1" libevent_openssl && return
	case "$1" in
	--cflags) echo "-I$lb/include" ;;
	--libs)	echo "-L$lb/lib -levent_openssl -levent" ;;
	esac
}

# base_openssl_first flags: with base's OpenSSL (flags that name no
# include directory but /usr/include, which compilers search anyway),
# turns -I$lb/include into -idirafter $lb/include.
base_openssl_first()
{
	for _f in $(openssl --cflags); do
		case "$_f" in
		-I/usr/include|-I/usr/include/) ;;
		-I*)	echo "$*"; return ;;
		esac
	done
	_out=""
	for _f in "$@"; do
		if [ "$_f" = "-I$lb/include" ]; then
			_out="$_out -idirafter $lb/include"
		else
			_out="$_out $_f"
		fi
	done
	echo "$_out"
}

out=""
case "$1" in
cflags)
	out="$(openssl --cflags) $(libevent --cflags)"
	if [ "$os" = Linux ]; then
		out="$out $(pc --cflags libbsd-overlay) $extra"
	else
		# shellcheck disable=SC2086
		out=$(base_openssl_first $out)
	fi
	;;
libs)
	out="$(openssl --libs) $(libevent --libs)"
	if [ "$os" = Linux ]; then
		out="$out $(pc --libs libbsd-overlay)"
	else
		out="$out -lutil"
	fi
	;;
osdep)	out=$osdep ;;
watch)	out=$watch ;;
esac
# shellcheck disable=SC2086
echo $out
