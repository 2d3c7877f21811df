#!/bin/sh
# make check-freebsd: compiles and links what the FreeBSD build compiles,
# for FreeBSD 14 amd64, on a machine that is not FreeBSD.
#
# Usage: sh mk/check-freebsd.sh [make-program]
#
# The compiler is zig cc -target x86_64-freebsd (clang, with the FreeBSD
# 14 libc headers and libc/libm/libthr/libutil link stubs that zig ships).
# A copy of the tree is built by the project's own Makefile with
# SMTLSD_OS=FreeBSD (so mk/config.sh gives the FreeBSD flags, osdep-bsd.c
# and watch-kqueue.c) and the project's warnings and -Werror.  OpenSSL,
# libevent and ATF headers are Debian's (the same API as FreeBSD 14's
# base OpenSSL 3.0, ports' libevent 2.1 and base's ATF); their libraries
# are stub shared libraries made here from the symbols Debian's libraries
# export, so a function that none of FreeBSD's libc, libutil, libssl,
# libcrypto, libevent or libatf-c provides fails the link.  The bench
# programs and tests/hardening/capath_check.c are built and linked the
# same way; the libFuzzer targets are compiled only (zig has no libFuzzer
# for FreeBSD).
#
# Environment: FREEBSD_SRC (the tree to check; default this one),
# FREEBSD_OUT (work directory; default FREEBSD_SRC/obj-freebsd), ZIG (the
# zig command; default "python3 -m ziglang", then zig), ZIG_GLOBAL_CACHE_DIR.
# Exits 0 when everything compiled and linked, 1 when something did not,
# 3 when this machine cannot run the check (no zig, no Debian headers).

set -u

make=${1:-make}
src=${FREEBSD_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
out=${FREEBSD_OUT:-$src/obj-freebsd}
target=x86_64-freebsd.14.0

say()
{
	echo "check-freebsd: $*"
}

cannot()
{
	echo "check-freebsd: cannot run here: $*" >&2
	exit 3
}

failed()
{
	echo "check-freebsd: FAILED: $*" >&2
	exit 1
}

# The zig command.
if [ -n "${ZIG:-}" ]; then
	zig=$ZIG
elif python3 -m ziglang version >/dev/null 2>&1; then
	zig="python3 -m ziglang"
elif command -v zig >/dev/null 2>&1; then
	zig=zig
else
	cannot "no zig (python3 -m ziglang); install it with" \
	    "\"pip install ziglang\" or \"sh mk/deps.sh freebsd\" as root"
fi
zigv=$($zig version 2>/dev/null) || cannot "$zig does not run"

multi=$(gcc -print-multiarch 2>/dev/null ||
    dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
libdir=/usr/lib/$multi
for f in /usr/include/openssl/ssl.h /usr/include/event2/event.h \
    /usr/include/atf-c.h "$libdir/libssl.so" "$libdir/libcrypto.so" \
    "$libdir/libevent.so" "$libdir/libevent_openssl.so" \
    "$libdir/libatf-c.so"; do
	[ -e "$f" ] ||
	    cannot "no $f (sh mk/deps.sh build test installs it)"
done

rm -rf "${out:?}/include" "${out:?}/lib" "${out:?}/bin" "${out:?}/tree" ||
    exit 1
mkdir -p "$out/include/openssl" "$out/include/event2" \
    "$out/include/atf-c" "$out/lib" "$out/bin" || exit 1
out=$(cd "$out" && pwd)
inc=$out/include
lib=$out/lib
: "${ZIG_GLOBAL_CACHE_DIR:=$out/zig-cache}"
export ZIG_GLOBAL_CACHE_DIR

# The compiler, as one word for the Makefiles.
cc=$out/bin/cc-$target
cat > "$cc" <<EOF
#!/bin/sh
exec $zig cc -target $target "\$@"
EOF
chmod 755 "$cc"

# Debian's headers of the three libraries, without the rest of
# /usr/include (which is glibc's).
cp /usr/include/openssl/*.h "$inc/openssl/" &&
    cp "/usr/include/$multi/openssl/"*.h "$inc/openssl/" &&
    cp /usr/include/event2/*.h "$inc/event2/" &&
    cp /usr/include/atf-c.h "$inc/" &&
    cp /usr/include/atf-c/*.h "$inc/atf-c/" || exit 1

# stub name soname: lib<name>.so for FreeBSD, exporting what Debian's
# lib<name>.so exports (functions as empty functions, data as arrays of
# the same size).
stub()
{
	_so=$libdir/lib$1.so
	_c=$lib/lib$1.c
	nm -D --defined-only --format=posix "$_so" | sed 's/@[^ ]*//' |
	    awk 'function hex(s,   i, n) {
			n = 0
			for (i = 1; i <= length(s); i++)
				n = n * 16 + index("0123456789abcdef",
				    tolower(substr(s, i, 1))) - 1
			return n
		}
		$2 ~ /^[TWi]$/ { printf "void %s(void) {}\n", $1; next }
		$2 ~ /^[DBRVGS]$/ { n = hex($4)
			printf "char %s[%d];\n", $1, (n > 0 ? n : 1) }' |
	    sort -u > "$_c" || return 1
	[ -s "$_c" ] || { echo "no symbols in $_so" >&2; return 1; }
	"$cc" -shared -fPIC -w -fno-builtin -o "$lib/lib$1.so" \
	    -Wl,-soname,"$2" "$_c"
}

for s in ssl:libssl.so.30 crypto:libcrypto.so.30 \
    event:libevent-2.1.so.7 event_openssl:libevent_openssl-2.1.so.7 \
    atf-c:libatf-c.so.1; do
	stub "${s%%:*}" "${s#*:}" ||
	    failed "could not make the stub lib${s%%:*}.so"
done
nsym=$(cat "$lib"/lib*.c | wc -l | tr -d ' ')
say "zig $zigv, target $target: FreeBSD 14 libc headers and libc," \
    "libutil stubs from zig"
say "OpenSSL $(sed -n 's/^# *define OPENSSL_FULL_VERSION_STR "\(.*\)"/\1/p' \
    "$inc/openssl/opensslv.h"), libevent" \
    "$(sed -n 's/^#define EVENT__VERSION "\(.*\)"/\1/p' \
    "$inc/event2/event-config.h") and ATF headers are Debian's (the same" \
    "API as FreeBSD's); their libraries are stubs of the $nsym symbols" \
    "Debian's export"

# The tree to build: sources only.
tr=$out/tree
mkdir -p "$tr/lib" "$tr/daemon" "$tr/tests/fuzz" "$tr/tests/hardening" \
    "$tr/bench" || exit 1
cp "$src/Makefile" "$tr/" && cp -R "$src/mk" "$tr/" &&
    cp "$src"/lib/*.[ch] "$tr/lib/" && cp "$src"/daemon/*.[ch] "$tr/daemon/" &&
    cp "$src"/tests/*.[ch] "$tr/tests/" &&
    cp "$src"/tests/fuzz/*.[ch] "$tr/tests/fuzz/" &&
    cp "$src"/tests/hardening/*.c "$tr/tests/hardening/" &&
    cp "$src"/bench/*.c "$src/bench/Makefile" "$tr/bench/" || exit 1

# The project's warnings, as the top Makefile spells them.
warns=$(sed -n '/^WARNS=/,/[^\\]$/p' "$src/Makefile" |
    sed 's/^WARNS=//; s/\\$//' | tr '\n\t' '  ')
case "$warns" in
*-Werror*) ;;
*)	failed "no -Werror in the Makefile's WARNS ($warns)" ;;
esac

OPENSSL_CFLAGS="-I$inc"
OPENSSL_LIBS="-L$lib -lssl -lcrypto"
LIBEVENT_CFLAGS="-I$inc"
LIBEVENT_LIBS="-L$lib -levent_openssl -levent"
SMTLSD_OS=FreeBSD
PKG_CONFIG=false
export OPENSSL_CFLAGS OPENSSL_LIBS LIBEVENT_CFLAGS LIBEVENT_LIBS \
    SMTLSD_OS PKG_CONFIG

log=$out/build.log
: > "$log"
# step what command...: runs it in the tree, its output in the log.
step()
{
	_what=$1
	shift
	if ! (cd "$tr" && "$@") >> "$log" 2>&1; then
		grep -E '(error|warning):|>>> ' "$log" | head -n 30 >&2
		failed "$_what (the whole log: $log)"
	fi
}

step "make check-tests (lib, daemon, tests' C programs)" \
    "$make" -j2 CC="$cc" ATF_CFLAGS="-I$inc" ATF_LIBS="-L$lib -latf-c" \
    check-tests
grep -q -- "-c lib/watch-kqueue.c" "$log" ||
    failed "lib/watch-kqueue.c was not compiled"
grep -q -- "-c lib/osdep-bsd.c" "$log" ||
    failed "lib/osdep-bsd.c was not compiled"
step "bench" "$make" -C bench CC="$cc" WARNS="$warns" \
    SSL_CFLAGS="-I$inc" SSL_LIBS="-L$lib -lssl -lcrypto"

cflags=$(sh "$tr/mk/config.sh" cflags)
libs=$(sh "$tr/mk/config.sh" libs)
# shellcheck disable=SC2086
step "tests/hardening/capath_check.c" "$cc" -O2 $warns $cflags \
    -o tests/hardening/capath_check tests/hardening/capath_check.c $libs
for f in "$tr"/tests/fuzz/*.c; do
	f=tests/fuzz/${f##*/}
	# shellcheck disable=SC2086
	step "$f (compiled only)" "$cc" -O1 $warns -Ilib $cflags \
	    -c "$f" -o "${f%.c}.o"
done
grep -E 'warning:' "$log" >&2 && failed "warnings (the log: $log)"

# What came out: FreeBSD executables, and what they need at run time.
for p in daemon/smtlsd tests/conf_test tests/bundle_test tests/storelib_test \
    tests/fake_sendmail tests/hardening/capath_check bench/out/gencerts \
    bench/out/bare bench/out/measure bench/out/lat; do
	[ -x "$tr/$p" ] || failed "$p was not built"
	if ! readelf -n "$tr/$p" | grep -q '^ *FreeBSD .*NT_VERSION' ||
	    ! readelf -l "$tr/$p" | grep -q '/libexec/ld-elf.so.1'; then
		failed "$p is not a FreeBSD executable"
	fi
done
needed=$(readelf -d "$tr/daemon/smtlsd" |
    sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
nsrc=$(grep -c "^$cc " "$log")
say "ok: $nsrc compiler runs, -Werror clean; daemon/smtlsd and 8 more" \
    "programs link for FreeBSD 14 (smtlsd needs: ${needed% })"
