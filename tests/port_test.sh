#! /usr/bin/env atf-sh
# shellcheck disable=SC2016,SC2086
# ($BM is a command line, split on purpose; ${...} are make's.)
#
# The FreeBSD port in dist/freebsd/mail/smtlsd: its pkg-plist lists
# exactly what the FreeBSD install puts under PREFIX (the rc script
# aside, which USE_RC_SUBR installs and lists), and its variables agree
# with the project's Makefile and files.

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

port()
{
	echo "$T_TOP/dist/freebsd/mail/smtlsd"
}

setup()
{
	[ -x "$T_TOP/daemon/smtlsd" ] || atf_fail "daemon/smtlsd is not built"
	for _m in bmake make; do
		if command -v "$_m" >/dev/null 2>&1 &&
		    ! "$_m" --version 2>/dev/null | grep -q 'GNU Make'; then
			# $BM -V NAME: the port Makefile's value, as BSD make
			# reads it, with an empty bsd.port.mk (so only what
			# the port itself sets).
			mkdir -p mk.empty
			: > mk.empty/sys.mk
			: > mk.empty/bsd.port.mk
			BM="$_m -C $(port) -m $PWD/mk.empty -f Makefile"
			return
		fi
	done
	atf_fail "no BSD make (bmake) to read the port's Makefile"
}

atf_test_case plist
plist_head()
{
	atf_set "descr" "pkg-plist lists exactly what mk/install.sh installs" \
	    "for FreeBSD, but the rc script; man pages compressed, the" \
	    "sample configuration with @sample"
}
plist_body()
{
	setup
	atf_check -o ignore -e empty env SMTLSD_OS=FreeBSD \
	    sh "$T_TOP/mk/install.sh" install "$PWD/stage" /usr/local
	(cd stage/usr/local && find . ! -type d) | sed 's|^\./||' |
	    grep -vx 'etc/rc.d/smtlsd' |
	    sed -e 's|^\(share/man/man[1-9]/.*\)$|\1.gz|' \
	    -e 's|^\(etc/.*\.sample\)$|@sample \1|' | LC_ALL=C sort > installed
	grep -v '^@dir\|^$' "$(port)/pkg-plist" | LC_ALL=C sort > listed
	if ! diff -u listed installed >&2; then
		atf_fail "pkg-plist (-) and the FreeBSD install (+) differ"
	fi
	# The rc script is installed, and the port does not list it.
	atf_check test -x stage/usr/local/etc/rc.d/smtlsd
	atf_check -s exit:1 grep 'rc.d' "$(port)/pkg-plist"
}

atf_test_case variables
variables_head()
{
	atf_set "descr" "The port's version, rc script, man pages, sample," \
	    "OpenSSL and libevent agree with the project"
}
variables_body()
{
	setup
	version=$(sed -n 's/^VERSION=[[:space:]]*//p' "$T_TOP/Makefile")
	[ -n "$version" ] || atf_fail "no VERSION= in the Makefile"
	atf_check -o inline:"$version\n" $BM -V DISTVERSION
	atf_check -o inline:"smtlsd\n" $BM -V PORTNAME
	# USE_RC_SUBR names the script the project ships, and its PROVIDE.
	atf_check -o inline:"smtlsd\n" $BM -V USE_RC_SUBR
	atf_check -o ignore grep -x '# PROVIDE: smtlsd' "$T_TOP/rc.d/smtlsd"
	atf_check -o ignore grep -x '	${CP} ${WRKSRC}/rc.d/smtlsd ${FILESDIR}/smtlsd.in' \
	    "$(port)/Makefile"
	# Every manual page of the project, and no other.
	(cd "$T_TOP" && ls daemon/*.[1-9] etc/*.[1-9]) | while read -r m; do
		f=${m##*/}
		echo "share/man/man${f##*.}/$f.gz"
	done | LC_ALL=C sort > pages
	grep '^share/man/' "$(port)/pkg-plist" | LC_ALL=C sort > listed
	atf_check -o empty diff pages listed
	atf_check -o ignore grep -x '@sample etc/smtlsd.conf.sample' \
	    "$(port)/pkg-plist"
	atf_check test -f "$T_TOP/etc/smtlsd.conf.sample"
	atf_check -o match:'(^| )ssl( |$)' $BM -V USES
	atf_check -o match:'libevent\.so:devel/libevent' $BM -V LIB_DEPENDS
	atf_check -o match:'OPENSSL_CFLAGS="-I\$\{OPENSSLINC\}"' \
	    -o match:'OPENSSL_LIBS="-L\$\{OPENSSLLIB\} -lssl -lcrypto"' \
	    $BM -V MAKE_ENV
	atf_check test -s "$(port)/pkg-descr"
}

atf_test_case message
message_head()
{
	atf_set "descr" "pkg-message has the seed's sendmail.mc lines (as the" \
	    "README gives them) and rc.conf steps"
}
message_body()
{
	msg="$(port)/pkg-message"
	grep 'define(`' "$T_TOP/README.md" | sed 's/^ *//' |
	    sed 's|CERT_DIR|/etc/mail/certs|g' > readme.mc
	[ -s readme.mc ] || atf_fail "no define lines in README.md"
	grep 'define(`' "$msg" | sed 's/^[[:space:]]*//' > message.mc
	atf_check -o empty diff readme.mc message.mc
	atf_check -o ignore grep -F 'sysrc sendmail_cert_create="NO"' "$msg"
	atf_check -o ignore grep -F 'sysrc smtlsd_enable="YES"' "$msg"
	atf_check -o ignore grep -F 'rm -f /etc/mail/certs/host.cert' "$msg"
	atf_check -o ignore grep -F 'service smtlsd start' "$msg"
	atf_check -o ignore grep -x '{ type: install' "$msg"
}

atf_init_test_cases()
{
	atf_add_test_case plist
	atf_add_test_case variables
	atf_add_test_case message
}
