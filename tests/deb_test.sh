#! /usr/bin/env atf-sh
# shellcheck disable=SC2016
# (dpkg-query's ${...} are its own.)
#
# make deb (mk/deb.sh): the package holds the daemon, the systemd unit,
# the sample configuration and the manual pages; installed with dpkg the
# daemon runs and the unit verifies; "dpkg -r" leaves nothing of it but
# the administrator's /etc/smtlsd.conf.  Installs into the real system,
# so it runs as root only, refuses to touch a system that already has an
# smtlsd (package or files), and its cleanup removes what it installed.

# shellcheck disable=SC1091 # the harness, found at run time
. "$(atf_get_srcdir)/lib.sh"

# The files the package puts on the system.
files="/usr/sbin/smtlsd /usr/lib/systemd/system/smtlsd.service
/etc/smtlsd.conf.sample /usr/share/man/man8/smtlsd.8.gz
/usr/share/man/man5/smtlsd.conf.5.gz /usr/share/doc/smtlsd/README.md"

atf_test_case install_remove cleanup
install_remove_head()
{
	atf_set "descr" "The .deb installs with dpkg, smtlsd -n and" \
	    "systemd-analyze verify pass, dpkg -r leaves only the admin's" \
	    "configuration"
	atf_set "require.user" "root"
	atf_set "require.progs" "dpkg dpkg-deb systemd-analyze"
	atf_set "timeout" "120"
}
install_remove_body()
{
	[ -x "$T_TOP/daemon/smtlsd" ] || atf_fail "daemon/smtlsd is not built"
	if dpkg-query -W -f='${Status}' smtlsd 2>/dev/null |
	    grep -q 'installed\|config-files'; then
		atf_skip "an smtlsd package is installed here; not touched"
	fi
	for f in $files; do
		[ ! -e "$f" ] || atf_skip "$f exists (not ours); not touched"
	done

	deb=$(sh "$T_TOP/mk/deb.sh" "$PWD") || atf_fail "mk/deb.sh failed"
	atf_check -o match:'^smtlsd_[0-9.]+_[a-z0-9]+\.deb$' \
	    basename "$deb"
	dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\.||' > contents
	for f in $files; do
		grep -qx "$f" contents || atf_fail "$f is not in the package"
	done
	atf_check -o match:'libssl3' -o match:'libevent-2' \
	    dpkg-deb -f "$deb" Depends

	# The administrator's configuration, which dpkg -r must keep.
	if [ ! -e /etc/smtlsd.conf ]; then
		printf 'settle 3\n' > /etc/smtlsd.conf
		chmod 644 /etc/smtlsd.conf
		touch made.conf
	fi
	cp /etc/smtlsd.conf admin.conf
	touch installing
	atf_check -o ignore -e ignore dpkg -i "$deb"
	atf_check -o inline:"install ok installed" \
	    dpkg-query -W -f='${Status}' smtlsd
	atf_check -o empty -e match:'smtlsd.conf.sample: configuration OK' \
	    /usr/sbin/smtlsd -n -f /etc/smtlsd.conf.sample
	[ ! -e made.conf ] ||
	    atf_check -o empty -e match:'/etc/smtlsd.conf: configuration OK' \
	    /usr/sbin/smtlsd -n
	atf_check -s exit:0 -o empty -e empty systemd-analyze verify \
	    --man=no /usr/lib/systemd/system/smtlsd.service

	atf_check -o ignore -e ignore dpkg -r smtlsd
	for f in $files; do
		[ ! -e "$f" ] || atf_fail "dpkg -r left $f"
	done
	# Not even a "config-files" state: dpkg knows nothing of it.
	atf_check -s exit:1 -o empty -e match:'no packages found' \
	    dpkg-query -W smtlsd
	atf_check cmp /etc/smtlsd.conf admin.conf
}
install_remove_cleanup()
{
	if [ -e installing ] &&
	    dpkg-query -W smtlsd > /dev/null 2>&1; then
		dpkg --purge smtlsd > /dev/null 2>&1
	fi
	if [ -e made.conf ]; then
		rm -f /etc/smtlsd.conf
	fi
	return 0
}

atf_init_test_cases()
{
	atf_add_test_case install_remove
}
