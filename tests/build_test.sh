#! /usr/bin/env atf-sh
# The build: a copy of the working tree builds -Werror clean with GNU
# make and BSD make (bmake), each with gcc and clang (issue 2, "Layout
# and build").

# Copies the sources of the working tree (no build products) to ./tree.
copy_tree()
{
	top="$(atf_get_srcdir)/.."
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

atf_init_test_cases()
{
	atf_add_test_case gmake_gcc
	atf_add_test_case gmake_clang
	atf_add_test_case bmake_gcc
	atf_add_test_case bmake_clang
}
