#! /usr/bin/env atf-sh
#
# The FreeBSD gate (make check-freebsd, mk/check-freebsd.sh): everything
# the FreeBSD build compiles compiles -Werror clean against FreeBSD 14's
# headers and links against FreeBSD's libraries (zig's libc stubs, stubs
# of OpenSSL, libevent and ATF); and a Linux-only call that leaks into a
# FreeBSD file fails it, at compile time without a declaration and at
# link time with one.

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

# gate [args]: runs the gate on ./src (or the tree) into ./out.
gate()
{
	case "$(uname -s)" in
	FreeBSD) atf_skip "this is FreeBSD: make test builds natively" ;;
	esac
	# One zig cache for every run (kyua gives each test its own HOME).
	ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$T_TOP/obj-freebsd/zig-cache}
	export ZIG_GLOBAL_CACHE_DIR
	env FREEBSD_SRC="${1:-$T_TOP}" FREEBSD_OUT="$PWD/out" \
	    sh "$T_TOP/mk/check-freebsd.sh" > gate.out 2> gate.err
	echo $? > gate.rc
	if [ "$(cat gate.rc)" -eq 3 ]; then
		cat gate.err >&2
		atf_fail "the gate cannot run here (sh mk/deps.sh freebsd" \
		    "installs zig)"
	fi
}

# copy_src: the sources the gate reads, in ./src.
copy_src()
{
	mkdir -p src/tests src/bench
	cp -R "$T_TOP/Makefile" "$T_TOP/mk" "$T_TOP/lib" "$T_TOP/daemon" src/
	cp "$T_TOP"/tests/*.[ch] src/tests/
	cp -R "$T_TOP/tests/fuzz" "$T_TOP/tests/hardening" src/tests/
	cp "$T_TOP"/bench/*.c "$T_TOP/bench/Makefile" src/bench/
	rm -f src/lib/*.o src/lib/*.a src/daemon/*.o src/daemon/smtlsd
}

atf_test_case gate
gate_head()
{
	atf_set "descr" "make check-freebsd compiles and links everything" \
	    "for FreeBSD 14, -Werror clean"
	atf_set "timeout" "300"
}
gate_body()
{
	gate
	cat gate.out
	[ "$(cat gate.rc)" -eq 0 ] || { cat gate.err >&2
	    atf_fail "the FreeBSD gate failed"; }
	atf_check -o match:'ok: [0-9]+ compiler runs, -Werror clean; daemon/smtlsd and 8 more programs link for FreeBSD 14' \
	    cat gate.out
	atf_check -o match:"headers are Debian's" cat gate.out
	# What was compiled is FreeBSD's choice of files.
	atf_check -o ignore grep -- '-c lib/watch-kqueue.c' out/build.log
	atf_check -o ignore grep -- '-c lib/osdep-bsd.c' out/build.log
	atf_check -s exit:1 grep -- 'inotify\|osdep-linux' out/build.log
	atf_check -o ignore grep -- '-target x86_64-freebsd' \
	    out/bin/cc-x86_64-freebsd.14.0
}

atf_test_case linux_call_declared
linux_call_declared_head()
{
	atf_set "descr" "syncfs(2), declared by hand in lib/osdep-bsd.c," \
	    "fails the link: FreeBSD's libc has no such function"
	atf_set "timeout" "300"
}
linux_call_declared_body()
{
	copy_src
	cat >> src/lib/osdep-bsd.c <<-'EOC'

	int	syncfs(int);
	int	osdep_leak(int);

	int
	osdep_leak(int fd)
	{
		return (syncfs(fd));
	}
	EOC
	# osdep-bsd.o is linked into smtlsd: its undefined symbols count.
	gate src
	[ "$(cat gate.rc)" -eq 1 ] || atf_fail "the gate did not fail" \
	    "(exit $(cat gate.rc)): $(cat gate.out)"
	atf_check -o match:'undefined symbol: syncfs' cat gate.err
	atf_check -o match:'FAILED: make check-tests' cat gate.err
}

atf_test_case linux_call_undeclared
linux_call_undeclared_head()
{
	atf_set "descr" "pidfd_open(2) in lib/watch-kqueue.c fails the" \
	    "compilation: FreeBSD's headers do not declare it"
	atf_set "timeout" "300"
}
linux_call_undeclared_body()
{
	copy_src
	cat >> src/lib/watch-kqueue.c <<-'EOC'

	int	watch_kqueue_leak(int);

	int
	watch_kqueue_leak(int pid)
	{
		return (pidfd_open(pid, 0));
	}
	EOC
	gate src
	[ "$(cat gate.rc)" -eq 1 ] || atf_fail "the gate did not fail" \
	    "(exit $(cat gate.rc)): $(cat gate.out)"
	atf_check -o match:"lib/watch-kqueue.c:.*undeclared function 'pidfd_open'" \
	    cat gate.err
}

atf_init_test_cases()
{
	atf_add_test_case gate
	atf_add_test_case linux_call_declared
	atf_add_test_case linux_call_undeclared
}
