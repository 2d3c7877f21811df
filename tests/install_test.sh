#! /usr/bin/env atf-sh
#
# make install / mk/install.sh: the exact files, modes and %%PREFIX%%
# substitution for the FreeBSD and the Linux layout, and an uninstall that
# removes exactly those (never the administrator's smtlsd.conf).

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

# Every non-directory under $1 as "mode path" (path without $1), sorted.
listing()
{
	(cd "$1" && find . ! -type d | sed 's|^\.||' | LC_ALL=C sort |
	    while read -r f; do
		echo "$(stat -c %a ".$f" 2>/dev/null ||
		    stat -f %Lp ".$f") $f"
	    done)
}

check_listing()
{
	LC_ALL=C sort -k 2 -o expected expected
	listing "$1" > got
	if ! diff -u expected got > diff.out; then
		cat diff.out >&2
		atf_fail "installed files differ from the expected list"
	fi
}

check_empty()
{
	listing "$1" > left
	[ ! -s left ] || atf_fail "left after uninstall: $(tr '\n' ' ' < left)"
}

# Fails unless the daemon is built; sets INST, the script under test.
setup()
{
	[ -x "$T_TOP/daemon/smtlsd" ] ||
	    atf_fail "$T_TOP/daemon/smtlsd is not built"
	INST="$T_TOP/mk/install.sh"
}

atf_test_case freebsd_layout
freebsd_layout_head()
{
	atf_set "descr" "FreeBSD: binary, rc.d script, sample and man pages" \
	    "under PREFIX; uninstall removes them"
}
freebsd_layout_body()
{
	setup
	D=$PWD/root
	atf_check -s exit:0 -o ignore -e empty \
	    env SMTLSD_OS=FreeBSD sh "$INST" install "$D" /usr/local
	cat > expected <<-EOF
	755 /usr/local/etc/periodic/daily/450.status-smtlsd
	644 /usr/local/etc/smtlsd.conf.sample
	755 /usr/local/etc/rc.d/smtlsd
	755 /usr/local/sbin/smtlsd
	644 /usr/local/share/man/man5/smtlsd.conf.5
	644 /usr/local/share/man/man8/smtlsd.8
	EOF
	check_listing "$D"
	rcd=$D/usr/local/etc/rc.d/smtlsd
	atf_check -s exit:1 grep -F '%%' "$rcd"
	# shellcheck disable=SC2016
	atf_check -o ignore grep -Fx 'command="/usr/local/sbin/${name}"' "$rcd"
	atf_check -o ignore \
	    grep -F 'smtlsd_config:=/usr/local/etc/smtlsd.conf}' "$rcd"
	atf_check cmp "$T_TOP/daemon/smtlsd" "$D/usr/local/sbin/smtlsd"

	atf_check -s exit:0 -o match:'^removed ' -e empty \
	    env SMTLSD_OS=FreeBSD sh "$INST" uninstall "$D" /usr/local
	check_empty "$D"
	# A second uninstall has nothing to do and does not fail.
	atf_check -s exit:0 -o empty -e empty \
	    env SMTLSD_OS=FreeBSD sh "$INST" uninstall "$D" /usr/local
}

atf_test_case linux_layout
linux_layout_head()
{
	atf_set "descr" "Linux: binary, systemd unit, /etc sample and man" \
	    "pages; the unit passes systemd-analyze verify"
	atf_set "require.progs" "systemd-analyze"
}
linux_layout_body()
{
	setup
	D=$PWD/root
	atf_check -s exit:0 -o ignore -e empty \
	    env SMTLSD_OS=Linux sh "$INST" install "$D" /usr
	cat > expected <<-EOF
	644 /etc/smtlsd.conf.sample
	644 /usr/lib/systemd/system/smtlsd.service
	755 /usr/sbin/smtlsd
	644 /usr/share/man/man5/smtlsd.conf.5
	644 /usr/share/man/man8/smtlsd.8
	EOF
	check_listing "$D"
	unit=$D/usr/lib/systemd/system/smtlsd.service
	atf_check -s exit:1 grep -F '%%' "$unit"
	atf_check -o ignore grep -Fx 'ExecStart=/usr/sbin/smtlsd -d' "$unit"
	# shellcheck disable=SC2016
	atf_check -o ignore grep -Fx 'ExecReload=/bin/kill -HUP $MAINPID' \
	    "$unit"

	# verify wants the programs it names: point them into DESTDIR.
	mkdir verify
	sed "s|=/usr/sbin/|=$D/usr/sbin/|" "$unit" > verify/smtlsd.service
	atf_check -s exit:0 -o empty -e empty \
	    systemd-analyze verify --man=no "$PWD/verify/smtlsd.service"

	atf_check -s exit:0 -o match:'^removed ' -e empty \
	    env SMTLSD_OS=Linux sh "$INST" uninstall "$D" /usr
	check_empty "$D"
}

atf_test_case keeps_config
keeps_config_head()
{
	atf_set "descr" "install and uninstall leave smtlsd.conf alone"
}
keeps_config_body()
{
	setup
	D=$PWD/root
	mkdir -p "$D/usr/local/etc" "$D/etc"
	echo "cert_dir /srv/certs" > "$D/usr/local/etc/smtlsd.conf"
	echo "cert_dir /srv/certs" > "$D/etc/smtlsd.conf"
	for os in FreeBSD Linux; do
		atf_check -o ignore env SMTLSD_OS=$os sh "$INST" install "$D" /usr/local
		atf_check -o ignore env SMTLSD_OS=$os sh "$INST" uninstall "$D" /usr/local
	done
	printf '644 /etc/smtlsd.conf\n644 /usr/local/etc/smtlsd.conf\n' \
	    > expected
	check_listing "$D"
	atf_check -o inline:"cert_dir /srv/certs\n" \
	    cat "$D/usr/local/etc/smtlsd.conf"
}

atf_test_case odd_prefix
odd_prefix_head()
{
	atf_set "descr" "A PREFIX with sed's special characters is" \
	    "substituted as written; a relative PREFIX is refused"
}
odd_prefix_body()
{
	setup
	D=$PWD/root
	P='/opt/a&b|c\d'
	atf_check -o ignore env SMTLSD_OS=FreeBSD sh "$INST" install "$D" "$P"
	atf_check -o ignore grep -Fx "command=\"$P/sbin/\${name}\"" \
	    "$D$P/etc/rc.d/smtlsd"
	atf_check -o ignore env SMTLSD_OS=FreeBSD sh "$INST" uninstall "$D" "$P"
	check_empty "$D"

	atf_check -s exit:2 -e match:'absolute' \
	    env SMTLSD_OS=FreeBSD sh "$INST" install "$D" usr/local
	atf_check -s exit:2 -e match:'usage' \
	    sh "$INST" install "$D"
}

atf_test_case make_install
make_install_head()
{
	atf_set "descr" "make install and make uninstall with DESTDIR and" \
	    "PREFIX use this system's layout"
	atf_set "require.progs" "make"
}
make_install_body()
{
	setup
	D=$PWD/root
	case "$(uname -s)" in
	FreeBSD)
		cat > expected <<-EOF
		644 /opt/smtlsd/etc/smtlsd.conf.sample
		755 /opt/smtlsd/etc/rc.d/smtlsd
		755 /opt/smtlsd/sbin/smtlsd
		644 /opt/smtlsd/share/man/man5/smtlsd.conf.5
		644 /opt/smtlsd/share/man/man8/smtlsd.8
		EOF
		;;
	Linux)
		cat > expected <<-EOF
		644 /etc/smtlsd.conf.sample
		644 /opt/smtlsd/lib/systemd/system/smtlsd.service
		755 /opt/smtlsd/sbin/smtlsd
		644 /opt/smtlsd/share/man/man5/smtlsd.conf.5
		644 /opt/smtlsd/share/man/man8/smtlsd.8
		EOF
		;;
	*)	atf_skip "no layout defined for $(uname -s)" ;;
	esac
	atf_check -s exit:0 -o ignore -e ignore \
	    make -C "$T_TOP" install DESTDIR="$D" PREFIX=/opt/smtlsd
	check_listing "$D"
	atf_check -s exit:0 -o ignore -e ignore \
	    make -C "$T_TOP" uninstall DESTDIR="$D" PREFIX=/opt/smtlsd
	check_empty "$D"
}

atf_init_test_cases()
{
	atf_add_test_case freebsd_layout
	atf_add_test_case linux_layout
	atf_add_test_case keeps_config
	atf_add_test_case odd_prefix
	atf_add_test_case make_install
}
