#!/bin/sh
# Installs or removes smtlsd's files.
# Usage: sh mk/install.sh install|uninstall DESTDIR PREFIX
#
# FreeBSD (as a port would lay them out):
#   PREFIX/sbin/smtlsd
#   PREFIX/etc/rc.d/smtlsd                 %%PREFIX%% replaced by PREFIX
#   PREFIX/etc/smtlsd.conf.sample          rc.d/smtlsd reads PREFIX/etc/smtlsd.conf
#   PREFIX/etc/periodic/daily/450.status-smtlsd  daily_status_smtlsd_enable
#   PREFIX/share/man/man8/smtlsd.8
#   PREFIX/share/man/man5/smtlsd.conf.5
# Linux:
#   PREFIX/sbin/smtlsd
#   PREFIX/lib/systemd/system/smtlsd.service   %%PREFIX%% replaced by PREFIX;
#       systemd looks there for PREFIX=/usr/local and PREFIX=/usr (/lib is
#       /usr/lib on Debian 12); for any other PREFIX run
#       "systemctl link PREFIX/lib/systemd/system/smtlsd.service"
#   /etc/smtlsd.conf.sample                beside /etc/smtlsd.conf, which the
#       daemon reads on Linux whatever PREFIX is
#   PREFIX/share/man/man8/smtlsd.8, PREFIX/share/man/man5/smtlsd.conf.5
#
# Everything goes under DESTDIR.  "uninstall" removes exactly these files,
# never smtlsd.conf itself, and leaves directories alone.  SMTLSD_OS
# (FreeBSD or Linux) overrides uname -s, so that tests can check both.

set -u

usage()
{
	echo "usage: sh mk/install.sh install|uninstall DESTDIR PREFIX" >&2
	exit 2
}

[ $# -eq 3 ] || usage
action=$1
destdir=$2
prefix=$3
case "$action" in
install|uninstall) ;;
*) usage ;;
esac
case "$prefix" in
/*) ;;
*) echo "install.sh: PREFIX must be an absolute path, not '$prefix'" >&2
   exit 2 ;;
esac
prefix=${prefix%/}
top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
os=${SMTLSD_OS:-$(uname -s)}

# PREFIX as a sed replacement: escape \, & and the | delimiter.
prefix_sed=$(printf '%s\n' "$prefix" | sed 's/[\\&|]/\\&/g')
failed=0

# one mode plain|subst source destination: installs or removes one file.
one()
{
	dst=$destdir$4
	case "$action" in
	uninstall)
		if [ -e "$dst" ] || [ -L "$dst" ]; then
			if rm -f "$dst"; then
				echo "removed $dst"
			else
				failed=1
			fi
		fi
		return
		;;
	esac
	if ! install -d -m 0755 "${dst%/*}"; then
		failed=1
		return
	fi
	case "$2" in
	plain)
		install -m "$1" "$top/$3" "$dst" || { failed=1; return; }
		;;
	subst)
		tmp=$(mktemp "${dst%/*}/.smtlsd-install.XXXXXX") ||
		    { failed=1; return; }
		if sed "s|%%PREFIX%%|$prefix_sed|g" "$top/$3" > "$tmp" &&
		    install -m "$1" "$tmp" "$dst"; then
			rm -f "$tmp"
		else
			rm -f "$tmp"
			failed=1
			return
		fi
		;;
	esac
	echo "installed $dst"
}

if [ "$action" = install ] && [ ! -x "$top/daemon/smtlsd" ]; then
	echo "install.sh: $top/daemon/smtlsd is not built; run make first" >&2
	exit 1
fi

one 0755 plain daemon/smtlsd "$prefix/sbin/smtlsd"
case "$os" in
FreeBSD)
	one 0755 subst rc.d/smtlsd "$prefix/etc/rc.d/smtlsd"
	one 0644 plain etc/smtlsd.conf.sample "$prefix/etc/smtlsd.conf.sample"
	one 0755 plain etc/periodic/450.status-smtlsd \
	    "$prefix/etc/periodic/daily/450.status-smtlsd"
	;;
Linux)
	one 0644 subst etc/smtlsd.service \
	    "$prefix/lib/systemd/system/smtlsd.service"
	one 0644 plain etc/smtlsd.conf.sample /etc/smtlsd.conf.sample
	;;
*)
	echo "install.sh: no service files for $os; installing the rest" >&2
	one 0644 plain etc/smtlsd.conf.sample "$prefix/etc/smtlsd.conf.sample"
	;;
esac
one 0644 plain daemon/smtlsd.8 "$prefix/share/man/man8/smtlsd.8"
one 0644 plain etc/smtlsd.conf.5 "$prefix/share/man/man5/smtlsd.conf.5"

exit $failed
