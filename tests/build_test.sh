#! /usr/bin/env atf-sh
# The build: a copy of the working tree builds -Werror clean with GNU
# make and BSD make (bmake), each with gcc and clang (issue 2, "Layout
# and build").

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

# Copies the sources of the working tree (no build products) to ./tree.
copy_tree()
{
	top=$T_TOP
	[ -f "$top/Makefile" ] || atf_fail "no Makefile in $top"
	mkdir tree tree/lib tree/daemon tree/tests
	cp "$top/Makefile" tree/
	cp -R "$top/mk" tree/
	cp "$top"/lib/*.[ch] tree/lib/
	cp "$top"/daemon/*.[ch] tree/daemon/
	cp "$top"/tests/*.[ch] tree/tests/
}

# missing WHAT: fails on Debian, where mk/deps.sh installs every tool,
# skips elsewhere (FreeBSD has no gcc unless installed from ports).
missing()
{
	if [ "$(uname -s)" = Linux ]; then
		atf_fail "$1 is not installed (sh mk/deps.sh test)"
	fi
	atf_skip "$1 is not installed"
}

# gnumake, bsdmake: the command running each make, or nothing.
gnumake()
{
	for _m in gmake make; do
		if "$_m" --version 2>/dev/null | grep -q 'GNU Make'; then
			echo "$_m"
			return
		fi
	done
}

bsdmake()
{
	for _m in bmake make; do
		command -v "$_m" >/dev/null 2>&1 || continue
		if ! "$_m" --version 2>/dev/null | grep -q 'GNU Make'; then
			echo "$_m"
			return
		fi
	done
}

# build MAKE CC: builds the daemon and the test programs in a fresh copy.
build()
{
	_make=$1
	_cc=$2
	[ -n "$_make" ] || missing "GNU make or bmake"
	command -v "$_cc" >/dev/null 2>&1 || missing "$_cc"
	rm -rf tree
	copy_tree
	if ! (cd tree && "$_make" -j2 CC="$_cc" check-tests) >log 2>&1; then
		grep -E 'error|Error|warning' log | head -20 >&2
		atf_fail "$_make CC=$_cc failed"
	fi
	if grep -E 'warning:' log >&2; then
		atf_fail "$_make CC=$_cc printed warnings"
	fi
	grep -q -- '-Werror' log || atf_fail "$_make CC=$_cc without -Werror"
	grep -q -- "^$_cc .*-c lib/store.c" log ||
	    atf_fail "$_make did not compile with $_cc"
	for p in daemon/smtlsd tests/conf_test tests/bundle_test; do
		[ -x "tree/$p" ] || atf_fail "$_make CC=$_cc: no $p"
	done
	"tree/daemon/smtlsd" -h 2>&1 | grep -q '^usage: smtlsd' ||
	    atf_fail "$_make CC=$_cc: the binary does not run"
	# Nothing left to do: the dependencies are right.
	(cd tree && "$_make" CC="$_cc" check-tests) >log2 2>&1 ||
	    atf_fail "$_make CC=$_cc: second run failed"
	if grep -E "^$_cc " log2 >&2; then
		atf_fail "$_make CC=$_cc: a second run rebuilt something"
	fi
}

atf_test_case gmake_gcc
gmake_gcc_head()
{
	atf_set descr "GNU make with gcc builds -Werror clean"
	atf_set timeout 300
}
gmake_gcc_body()
{
	build "$(gnumake)" gcc
}

atf_test_case gmake_clang
gmake_clang_head()
{
	atf_set descr "GNU make with clang builds -Werror clean"
	atf_set timeout 300
}
gmake_clang_body()
{
	build "$(gnumake)" clang
}

atf_test_case bmake_gcc
bmake_gcc_head()
{
	atf_set descr "bmake with gcc builds -Werror clean"
	atf_set timeout 300
}
bmake_gcc_body()
{
	build "$(bsdmake)" gcc
}

atf_test_case bmake_clang
bmake_clang_head()
{
	atf_set descr "bmake with clang builds -Werror clean"
	atf_set timeout 300
}
bmake_clang_body()
{
	build "$(bsdmake)" clang
}

atf_test_case missing_library
missing_library_head()
{
	atf_set descr "Plain make on a machine without libbsd-dev or" \
	    "pkg-config names the packages to install and compiles nothing"
}
missing_library_body()
{
	copy_tree
	# A package tool that knows neither package as installed.
	mkdir bin
	case "$(uname -s)" in
	Linux)	cat > bin/dpkg-query <<-'EOF2'
		#!/bin/sh
		for a; do p=$a; done
		case "$p" in
		libbsd-dev|pkg-config) exit 1 ;;
		esac
		exec /usr/bin/dpkg-query "$@"
		EOF2
		chmod 755 bin/dpkg-query
		first=pkg-config second=libbsd-dev how="apt-get install"
		;;
	FreeBSD) cat > bin/pkg <<-'EOF2'
		#!/bin/sh
		case "$3" in
		libevent|pkgconf) exit 1 ;;
		esac
		exec /usr/sbin/pkg "$@"
		EOF2
		chmod 755 bin/pkg
		first=pkgconf second=libevent how="pkg install"
		;;
	*)	atf_skip "no package tool known for $(uname -s)" ;;
	esac
	PATH=$PWD/bin:$PATH
	export PATH
	atf_check -s not-exit:0 -o not-match:'lib/.*\.c' \
	    -e match:"missing packages: .*$first" \
	    -e match:"missing packages: .*$second" \
	    -e match:"$how .*$second" -e not-match:'No such file' \
	    make -C tree
	atf_check test ! -e tree/lib/log.o
}

atf_test_case openssl_pairing
openssl_pairing_head()
{
	atf_set descr "On FreeBSD without pkg-config, OpenSSL's headers and" \
	    "libraries come from the same place; the environment's" \
	    "OPENSSL_* and LIBEVENT_* (a port's) win"
}
openssl_pairing_body()
{
	L=$PWD/local
	C="$T_TOP/mk/config.sh"
	mkdir -p local/include/event2 local/lib
	touch local/lib/libevent.so
	# env for FreeBSD without pkg-config, LOCALBASE ./local.
	set -- env SMTLSD_OS=FreeBSD PKG_CONFIG=false LOCALBASE="$L"
	# Base's OpenSSL: its libraries first, LOCALBASE/include after the
	# system's headers (a port's OpenSSL headers there cannot shadow).
	atf_check -o inline:"-idirafter $L/include\n" "$@" sh "$C" cflags
	atf_check \
	    -o inline:"-L/usr/lib -lssl -lcrypto -L$L/lib -levent_openssl -levent -lutil\n" \
	    "$@" sh "$C" libs
	# Ports' OpenSSL installed: its headers with its libraries.
	mkdir local/include/openssl
	touch local/include/openssl/opensslv.h local/lib/libssl.so
	atf_check -o inline:"-I$L/include -I$L/include\n" "$@" sh "$C" cflags
	atf_check \
	    -o inline:"-L$L/lib -lssl -lcrypto -L$L/lib -levent_openssl -levent -lutil\n" \
	    "$@" sh "$C" libs
	# A port's USES=ssl: OPENSSLINC/OPENSSLLIB through the environment
	# win over what is in LOCALBASE.
	set -- "$@" OPENSSL_CFLAGS=-I/usr/include \
	    OPENSSL_LIBS="-L/usr/lib -lssl -lcrypto"
	atf_check -o inline:"-I/usr/include -idirafter $L/include\n" \
	    "$@" sh "$C" cflags
	atf_check \
	    -o inline:"-L/usr/lib -lssl -lcrypto -L$L/lib -levent_openssl -levent -lutil\n" \
	    "$@" sh "$C" libs
	atf_check -o inline:"-I/usr/include -I/opt/ev/include\n" \
	    "$@" LIBEVENT_CFLAGS=-I/opt/ev/include sh "$C" cflags
	atf_check -o inline:"-L/usr/lib -lssl -lcrypto -levent_openssl -levent -lutil\n" \
	    "$@" LIBEVENT_CFLAGS= sh "$C" libs
}

atf_init_test_cases()
{
	atf_add_test_case missing_library
	atf_add_test_case openssl_pairing
	atf_add_test_case gmake_gcc
	atf_add_test_case gmake_clang
	atf_add_test_case bmake_gcc
	atf_add_test_case bmake_clang
}
