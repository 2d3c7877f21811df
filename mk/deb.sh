#!/bin/sh
# make deb: builds a Debian package of smtlsd with dpkg-deb.
# Usage: sh mk/deb.sh [outdir]     (default: the top of the tree)
#
# The package holds what "make install PREFIX=/usr" installs on Linux
# (mk/install.sh): /usr/sbin/smtlsd, the systemd unit
# /usr/lib/systemd/system/smtlsd.service, /etc/smtlsd.conf.sample and the
# manual pages (gzipped, as Debian has them).  The sample is not a
# conffile: the package owns it outright, and "dpkg -r" removes it;
# /etc/smtlsd.conf, the administrator's, is never in the package and is
# left alone.  Depends: the packages of the libraries smtlsd is linked
# against.  The maintainer scripts only make systemd re-read its units
# and stop the service on removal; nothing is enabled or started.  No
# postrm (and no conffile), so that "dpkg -r" leaves no trace of the
# package, not even its "config-files" state.
# Prints the path of the .deb.

set -u
top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
out=${1:-$top}
prog=$top/daemon/smtlsd

fail()
{
	echo "deb.sh: $*" >&2
	exit 1
}

command -v dpkg-deb >/dev/null 2>&1 || fail "no dpkg-deb (not Debian?)"
[ -x "$prog" ] || fail "$prog is not built; run make first"
version=$(sed -n 's/^VERSION=[[:space:]]*//p' "$top/Makefile")
[ -n "$version" ] || fail "no VERSION= in $top/Makefile"
arch=$(dpkg --print-architecture) || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/smtlsd-deb.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
root=$work/root
SMTLSD_OS=Linux sh "$top/mk/install.sh" install "$root" /usr >/dev/null ||
    fail "mk/install.sh failed"
gzip -9n "$root"/usr/share/man/man*/* || exit 1

# The packages of the libraries smtlsd needs (its NEEDED entries).
needed=$(readelf -d "$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
    tr '\n' ' ')
depends=$(ldd "$prog" | while read -r so _arrow path _rest; do
	case " $needed " in
	*" $so "*) ;;
	*) continue ;;
	esac
	for p in "$path" "/usr$path" "${path#/usr}"; do
		dpkg -S "$p" 2>/dev/null && break
	done
done | cut -d: -f1 | LC_ALL=C sort -u | tr '\n' ',' | sed 's/,$//; s/,/, /g')
[ -n "$depends" ] || fail "found no package for the libraries of $prog"

mkdir -p "$root/DEBIAN" "$root/usr/share/doc/smtlsd" || exit 1
cp "$top/README.md" "$root/usr/share/doc/smtlsd/README.md" || exit 1
size=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: smtlsd
Version: $version
Architecture: $arch
Maintainer: smtlsd developers <root@localhost>
Installed-Size: $size
Depends: $depends
Section: mail
Priority: optional
Description: keeps sendmail's STARTTLS files right
 smtlsd keeps a directory an exact OpenSSL CApath of a CA bundle, creates
 DH parameters when they are missing, and makes sendmail reload after
 each complete and valid dehydrated renewal, watching with inotify.
CONTROL
cat > "$root/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
SCRIPT
cat > "$root/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl stop smtlsd.service >/dev/null 2>&1 || true
fi
SCRIPT
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm"

deb=$out/smtlsd_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null ||
    fail "dpkg-deb failed"
echo "$deb"
