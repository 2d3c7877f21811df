#!/bin/sh
# Prints build settings for this platform, for the Makefile's != lines.
# Usage: sh mk/config.sh cflags|libs|osdep
# FreeBSD's base OpenSSL has no .pc file: fall back to -lssl -lcrypto.

os=$(uname -s)
case "$os" in
Linux)	pkgs="openssl libevent libbsd-overlay"; osdep=linux watch=inotify
	extra="-D_GNU_SOURCE -DLIBBSD_NETBSD_VIS" ;;
*)	pkgs="openssl libevent"; osdep=bsd watch=kqueue extra="" ;;
esac

pc()
{
	pkg-config "$1" "$2" 2>/dev/null && return
	case "$1:$2" in
	--libs:openssl)	echo "-lssl -lcrypto" ;;
	--libs:libevent) echo "-L/usr/local/lib -levent" ;;
	--cflags:libevent) echo "-I/usr/local/include" ;;
	esac
}

out=""
case "$1" in
cflags|libs)
	for p in $pkgs; do
		out="$out $(pc --$1 $p)"
	done
	[ "$1" = cflags ] && out="$out $extra"
	[ "$1" = libs ] && [ "$os" != Linux ] && out="$out -lutil"
	;;
osdep)	out=$osdep ;;
watch)	out=$watch ;;
esac
echo $out
